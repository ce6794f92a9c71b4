"""Two gateways on one chat service running in its own process, at the gRPC level.

Each "gateway" is a :class:`ChatDelivery` with its own gateway id hosting one or two characters.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from gateway_chat.delivery import ChatDelivery, delivery_packet, not_found_packet
from gateway_protos.v1 import chat_pb2, chat_pb2_grpc

from gateway_core.protocol.packets import SrvShoutChat, SrvWhisperChat
from gateway_core.testing import service_process, start_service

from .conftest import EVENT_TIMEOUT

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

#: The service process: small per-gateway queues.
SERVICE_SETTINGS = {"CHAT_SUBSCRIBER_QUEUE": 64}


class Gateway:
    """A delivery client plus what it received."""

    def __init__(self, address: str, gateway_id: str) -> None:
        self.channel = grpc.aio.insecure_channel(address)
        self.stub: chat_pb2_grpc.ChatAsyncStub = chat_pb2_grpc.ChatStub(self.channel)
        self.received: asyncio.Queue[chat_pb2.Delivery] = asyncio.Queue()
        self.delivery = ChatDelivery(
            self.stub, gateway_id, self.received.put_nowait, initial_backoff=0.05, max_backoff=0.2
        )

    async def next(self) -> chat_pb2.Delivery:
        return await asyncio.wait_for(self.received.get(), EVENT_TIMEOUT)

    async def close(self) -> None:
        await self.delivery.aclose()
        await self.channel.close()


@pytest.fixture
async def service() -> AsyncIterator[str]:
    with service_process("chat", SERVICE_SETTINGS) as process:
        yield process.address


async def _two_gateways(address: str) -> tuple[Gateway, Gateway]:
    a, b = Gateway(address, "gw-a"), Gateway(address, "gw-b")
    for gateway in (a, b):
        gateway.delivery.start()
        await asyncio.wait_for(gateway.delivery.wait_connected(), EVENT_TIMEOUT)
    await a.delivery.host(chat_pb2.HostedCharacter(character_id=1, name="Alice", map_id=1))
    await b.delivery.host(chat_pb2.HostedCharacter(character_id=2, name="Bob", map_id=1))
    await b.delivery.host(chat_pb2.HostedCharacter(character_id=3, name="Carol", map_id=2))
    return a, b


async def test_whisper_crosses_to_hosting_gateway_only(service: str) -> None:
    a, b = await _two_gateways(service)
    try:
        reply = await a.stub.Whisper(
            chat_pb2.WhisperRequest(sender_character_id=1, target_name="bob", message="hi Bob")
        )
        assert reply.result == chat_pb2.WHISPER_RESULT_DELIVERED
        delivery = await b.next()
        assert list(delivery.recipient_character_ids) == [2]
        assert delivery_packet(delivery) == SrvWhisperChat(sender=b"Alice", message=b"hi Bob")
        # A's next delivery is its own shout: the whisper never reached A.
        await a.stub.Shout(chat_pb2.ShoutRequest(sender_character_id=1, message="marker"))
        assert (await a.next()).message == "marker"
        # An offline name: the gateway answers the sender from the server sender name.
        reply = await a.stub.Whisper(
            chat_pb2.WhisperRequest(sender_character_id=1, target_name="Zed", message="?")
        )
        assert reply.result == chat_pb2.WHISPER_RESULT_TARGET_NOT_FOUND
        assert not_found_packet("Zed") == SrvWhisperChat(
            sender=b"server msg", message=b"Zed is not online."
        )
    finally:
        await a.close()
        await b.close()


async def test_shout_reaches_both_gateways_on_same_map_only(service: str) -> None:
    a, b = await _two_gateways(service)
    try:
        reply = await b.stub.Shout(chat_pb2.ShoutRequest(sender_character_id=2, message="yo"))
        assert reply.recipients == 2
        on_a, on_b = await a.next(), await b.next()
        assert list(on_a.recipient_character_ids) == [1]
        assert list(on_b.recipient_character_ids) == [2]  # Carol is on map 2
        assert delivery_packet(on_a) == SrvShoutChat(sender=b"Bob", message=b"yo")
    finally:
        await a.close()
        await b.close()


async def test_gateway_reannounces_characters_after_service_restart() -> None:
    process = start_service("chat", SERVICE_SETTINGS)
    address = process.address
    a = b = None
    try:
        a, b = await _two_gateways(address)
        process.stop()
        # Same port again, so the gateways' channels find the new process.
        port = address.rpartition(":")[2]
        process = start_service("chat", SERVICE_SETTINGS, listen=address)
        assert process.address.rpartition(":")[2] == port
        for _ in range(100):  # bounded: reconnects back off to at most 0.2 s
            if a.delivery.connections >= 2 and a.delivery.connected:
                if b.delivery.connections >= 2 and b.delivery.connected:
                    break
            await asyncio.sleep(0.05)
        reply = await a.stub.Whisper(
            chat_pb2.WhisperRequest(sender_character_id=1, target_name="Carol", message="back")
        )
        assert reply.result == chat_pb2.WHISPER_RESULT_DELIVERED
        assert (await b.next()).message == "back"
    finally:
        for gateway in (a, b):
            if gateway is not None:
                await gateway.close()
        process.stop()
