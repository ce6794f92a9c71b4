"""``Kick``: the chat service tells the gateway hosting a character to close its connection
(what ``/kick`` and ``gateway kick`` use), over a real loopback gRPC server; and the gateway
side hands the event to its callback."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from gateway_chat.delivery import ChatDelivery
from gateway_protos.v1 import chat_pb2

from ..conftest import EVENT_TIMEOUT, ChatHarness

pytestmark = pytest.mark.anyio


async def test_kick_goes_to_the_hosting_gateway_only(chat: ChatHarness) -> None:
    a, b = await chat.subscribe("gw-a"), await chat.subscribe("gw-b")
    await chat.host("gw-a", 1, "Alice")
    await chat.host("gw-b", 2, "Bob")
    reply = await chat.stub.Kick(chat_pb2.KickRequest(target_name="bob", reason="spam"))
    assert (reply.kicked, reply.target_name) == (True, "Bob")
    event = await b.next()
    assert (event.kick.character_id, event.kick.reason) == (2, "spam")
    # A got nothing: its next event is the announcement sent after the kick.
    await chat.stub.Announce(chat_pb2.AnnounceRequest(sender_name="S", message="marker"))
    assert (await a.next_delivery()).message == "marker"
    assert (await chat.stub.GetStats(chat_pb2.ChatStatsRequest())).kicks == 1


async def test_kick_of_a_name_nobody_plays_is_not_an_error(chat: ChatHarness) -> None:
    await chat.subscribe("gw-a")
    reply = await chat.stub.Kick(chat_pb2.KickRequest(target_name="Nobody"))
    assert (reply.kicked, reply.target_name) == (False, "")


@pytest.mark.parametrize("request_", [
    chat_pb2.KickRequest(target_name=""),
    chat_pb2.KickRequest(target_name="x" * 33),
    chat_pb2.KickRequest(target_name="Bob", reason="\0"),
    chat_pb2.KickRequest(target_name="Bob", reason="r" * 1901),
])
async def test_kick_refuses_bad_arguments(chat: ChatHarness,
                                          request_: chat_pb2.KickRequest) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await chat.stub.Kick(request_)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_delivery_stream_hands_kicks_to_its_callback(chat: ChatHarness) -> None:
    kicks: asyncio.Queue[chat_pb2.Kick] = asyncio.Queue()
    delivery = ChatDelivery(chat.stub, "gw-a", lambda d: None, on_kick=kicks.put_nowait)
    delivery.start()
    try:
        await asyncio.wait_for(delivery.wait_connected(), EVENT_TIMEOUT)
        await delivery.host(chat_pb2.HostedCharacter(character_id=7, name="Carol", map_id=1))
        await chat.stub.Kick(chat_pb2.KickRequest(target_name="CAROL", reason="bye"))
        kick = await asyncio.wait_for(kicks.get(), EVENT_TIMEOUT)
        assert (kick.character_id, kick.reason) == (7, "bye")
    finally:
        await delivery.aclose()
