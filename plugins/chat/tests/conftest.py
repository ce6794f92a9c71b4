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

#: Per-gateway queue bound in these tests (small, so overflow is cheap to provoke).
QUEUE_LIMIT = 8
#: Longest a test waits for one event: generous, only reached when something is broken.
EVENT_TIMEOUT = 5.0


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """asyncio (grpc.aio); module scope keeps one event loop per module, so no grpc callback
    of a finished test ever targets a closed loop."""
    return "asyncio"


@dataclass
class Stream:
    """A gateway's Subscribe stream, read in the background into a queue."""

    call: grpc.aio.UnaryStreamCall[chat_pb2.SubscribeRequest, chat_pb2.ChatEvent]
    events: asyncio.Queue[chat_pb2.ChatEvent] = field(default_factory=asyncio.Queue)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    async def _pump(self) -> None:
        try:
            while True:
                event = await self.call.read()
                if event is grpc.aio.EOF:
                    return
                assert isinstance(event, chat_pb2.ChatEvent)
                self.events.put_nowait(event)
        except grpc.aio.AioRpcError:
            return
        finally:
            self.ended.set()

    async def next_delivery(self) -> chat_pb2.Delivery:
        """The next delivery (fails after EVENT_TIMEOUT)."""
        event = await asyncio.wait_for(self.events.get(), EVENT_TIMEOUT)
        assert event.HasField("delivery"), event
        return event.delivery

    async def code(self) -> grpc.StatusCode:
        """Wait for the stream to end; its final status."""
        await asyncio.wait_for(self.ended.wait(), EVENT_TIMEOUT)
        return await self.call.code()


@dataclass
class ChatHarness:
    stub: chat_pb2_grpc.ChatAsyncStub
    service: ChatReferenceService
    address: str
    streams: list[Stream] = field(default_factory=list)

    async def subscribe(self, gateway_id: str) -> Stream:
        """Open a stream and wait for its `subscribed` event."""
        stream = Stream(self.stub.Subscribe(chat_pb2.SubscribeRequest(gateway_id=gateway_id)))
        first = await asyncio.wait_for(stream.call.read(), EVENT_TIMEOUT)
        assert isinstance(first, chat_pb2.ChatEvent) and first.HasField("subscribed")
        stream.task = asyncio.get_running_loop().create_task(stream._pump())
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


async def start_chat(
    queue_limit: int = QUEUE_LIMIT,
) -> tuple[ChatReferenceService, grpc.aio.Server, str]:
    """The chat service on a loopback port: (service, server, address)."""
    service = ChatReferenceService(queue_limit=queue_limit)
    await service.start()
    server = grpc.aio.server()
    service.add_to_server(server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return service, server, f"127.0.0.1:{port}"


@pytest.fixture
async def chat() -> AsyncIterator[ChatHarness]:
    service, server, address = await start_chat()
    channel = grpc.aio.insecure_channel(address)
    harness = ChatHarness(chat_pb2_grpc.ChatStub(channel), service, address)
    try:
        yield harness
    finally:
        for stream in harness.streams:
            stream.call.cancel()
        tasks = [s.task for s in harness.streams if s.task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)
        await channel.close()
        await service.stop()
        await server.stop(None)
