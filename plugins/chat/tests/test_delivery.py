"""The gateway side of the chat service (:class:`ChatDelivery`) against the real service on
loopback: retracting a character never raises once the channel is gone (a stopping gateway)."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from gateway_chat.delivery import ChatDelivery
from gateway_protos.v1 import chat_pb2, chat_pb2_grpc

from .conftest import EVENT_TIMEOUT, ChatHarness

pytestmark = pytest.mark.anyio


async def test_unhost_after_the_channel_closed_forgets_the_character_without_raising(
    chat: ChatHarness,
) -> None:
    channel = grpc.aio.insecure_channel(chat.address)
    delivery = ChatDelivery(chat_pb2_grpc.ChatStub(channel), "gw-stopping", lambda d: None)
    delivery.start()
    try:
        await asyncio.wait_for(delivery.wait_connected(), EVENT_TIMEOUT)
        await delivery.host(chat_pb2.HostedCharacter(character_id=7, name="Alice", map_id=1))
        await channel.close()  # the gateway closes its channels while sessions still close
        await delivery.unhost(7)
        assert 7 not in delivery.hosted
    finally:
        await delivery.aclose()
