"""Fixtures of the chat plugin tests: the reference chat service on a real loopback grpc.aio
server, and delivery-stream readers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
import pytest
from gateway_chat.service import ChatReferenceService
from gateway_protos.v1 import chat_pb2, chat_pb2_grpc

from gateway_core.testing import StreamReader, serve_on_loopback

#: Per-gateway queue bound in these tests (small, so overflow is cheap to provoke).
QUEUE_LIMIT = 8
#: Longest a test waits for one event: generous, only reached when something is broken.
EVENT_TIMEOUT = 5.0


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """asyncio (grpc.aio); module scope keeps one event loop per module, so no grpc callback
    of a finished test ever targets a closed loop."""
    return "asyncio"


class Stream(StreamReader[chat_pb2.ChatEvent]):
    """A gateway's Subscribe stream, read in the background into a queue."""

    async def next_delivery(self) -> chat_pb2.Delivery:
        """The next delivery (fails after EVENT_TIMEOUT)."""
        event = await self.next()
        assert event.HasField("delivery"), event
        return event.delivery


@dataclass
class ChatHarness:
    stub: chat_pb2_grpc.ChatAsyncStub
    service: ChatReferenceService
    address: str
    streams: list[Stream] = field(default_factory=list)

    async def subscribe(self, gateway_id: str) -> Stream:
        """Open a stream and wait for its `subscribed` event."""
        call = self.stub.Subscribe(chat_pb2.SubscribeRequest(gateway_id=gateway_id))
        stream = Stream(call, timeout=EVENT_TIMEOUT)
        first = await asyncio.wait_for(stream.call.read(), EVENT_TIMEOUT)
        assert isinstance(first, chat_pb2.ChatEvent) and first.HasField("subscribed")
        stream.start()
        self.streams.append(stream)
        return stream

    async def host(
        self, gateway_id: str, character_id: int, name: str, map_id: int = 1, **extra: int
    ) -> chat_pb2.HostReply:
        """Announce a character."""
        return await self.stub.Host(
            chat_pb2.HostRequest(
                gateway_id=gateway_id,
                character=chat_pb2.HostedCharacter(
                    character_id=character_id,
                    name=name,
                    map_id=map_id,
                    object_id=character_id % 1000,
                    **extra,
                ),
            )
        )


@pytest.fixture
async def chat() -> AsyncIterator[ChatHarness]:
    service = ChatReferenceService(queue_limit=QUEUE_LIMIT)
    async with (
        serve_on_loopback(service, "chat") as host,
        grpc.aio.insecure_channel(host.address) as channel,
    ):
        harness = ChatHarness(chat_pb2_grpc.ChatStub(channel), service, host.address)
        try:
            yield harness
        finally:
            for stream in harness.streams:
                await stream.aclose()
