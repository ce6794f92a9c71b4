"""Every RPC of the reference chat service over a real loopback grpc.aio server."""

from __future__ import annotations

import grpc
import pytest
from gateway_protos.v1 import chat_pb2, chat_pb2_grpc

from ..conftest import QUEUE_LIMIT, ChatHarness

pytestmark = pytest.mark.anyio


async def _status(awaitable: object) -> grpc.aio.AioRpcError:
    try:
        await awaitable  # type: ignore[misc]
    except grpc.aio.AioRpcError as exc:
        return exc
    raise AssertionError("the call succeeded")


# -- Subscribe ------------------------------------------------------------------------------


async def test_subscribe_starts_with_subscribed_event(chat: ChatHarness) -> None:
    call = chat.stub.Subscribe(chat_pb2.SubscribeRequest(gateway_id="gw-a"))
    first = await call.read()
    assert isinstance(first, chat_pb2.ChatEvent)
    assert first.subscribed.gateway_id == "gw-a"
    assert first.subscribed.queue_limit == QUEUE_LIMIT
    call.cancel()


@pytest.mark.parametrize("gateway_id", ["", "g" * 65, "a\x00b"])
async def test_subscribe_rejects_bad_gateway_id(chat: ChatHarness, gateway_id: str) -> None:
    call = chat.stub.Subscribe(chat_pb2.SubscribeRequest(gateway_id=gateway_id))
    exc = await _status(call.read())
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "gateway_id" in (exc.details() or "")


async def test_second_subscribe_of_same_gateway_replaces_first(chat: ChatHarness) -> None:
    old = await chat.subscribe("gw-a")
    await chat.host("gw-a", 1, "Alice")
    await chat.subscribe("gw-a")
    assert await old.code() == grpc.StatusCode.ABORTED
    # The old stream's characters are gone; the gateway re-announces them on the new one.
    stats = await chat.stub.GetStats(chat_pb2.ChatStatsRequest())
    assert (stats.subscribers, stats.hosted_characters, stats.replaced_subscribers) == (1, 0, 1)


async def test_dropped_stream_unhosts_its_characters(chat: ChatHarness) -> None:
    a = await chat.subscribe("gw-a")
    b = await chat.subscribe("gw-b")
    await chat.host("gw-a", 1, "Alice")
    await chat.host("gw-b", 2, "Bob")
    a.call.cancel()
    for _ in range(200):  # bounded: the server notices the cancel within a few event-loop turns
        stats = await chat.stub.GetStats(chat_pb2.ChatStatsRequest())
        if stats.hosted_characters == 1:
            break
    assert stats.hosted_characters == 1 and stats.subscribers == 1
    reply = await chat.stub.Whisper(
        chat_pb2.WhisperRequest(sender_character_id=2, target_name="Alice", message="hi")
    )
    assert reply.result == chat_pb2.WHISPER_RESULT_TARGET_NOT_FOUND
    del b


async def test_service_stop_ends_streams_with_unavailable(chat: ChatHarness) -> None:
    a = await chat.subscribe("gw-a")
    await chat.service.stop()
    assert await a.code() == grpc.StatusCode.UNAVAILABLE


# -- Host / Unhost --------------------------------------------------------------------------


async def test_host_requires_open_stream(chat: ChatHarness) -> None:
    exc = await _status(chat.host("gw-x", 1, "Alice"))
    assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION


@pytest.mark.parametrize(
    ("character", "field"),
    [
        (chat_pb2.HostedCharacter(character_id=0, name="Alice"), "character_id"),
        (chat_pb2.HostedCharacter(character_id=1, name=""), "name"),
        (chat_pb2.HostedCharacter(character_id=1, name="n" * 33), "name"),
        (chat_pb2.HostedCharacter(character_id=1, name="Al\x00ice"), "name"),
        (chat_pb2.HostedCharacter(character_id=1, name="Alice", map_id=65536), "map_id"),
        (chat_pb2.HostedCharacter(character_id=1, name="Alice", object_id=70000), "object_id"),
        (None, "character"),
    ],
)
async def test_host_rejects_bad_arguments(
    chat: ChatHarness, character: chat_pb2.HostedCharacter | None, field: str
) -> None:
    await chat.subscribe("gw-a")
    request = chat_pb2.HostRequest(gateway_id="gw-a")
    if character is not None:
        request.character.CopyFrom(character)
    exc = await _status(chat.stub.Host(request))
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in (exc.details() or "")


async def test_host_moves_character_to_latest_gateway(chat: ChatHarness) -> None:
    a = await chat.subscribe("gw-a")
    b = await chat.subscribe("gw-b")
    assert (await chat.host("gw-a", 1, "Alice")).moved is False
    assert (await chat.host("gw-a", 1, "Alice", map_id=2)).moved is False
    await chat.host("gw-b", 2, "Bob")
    assert (await chat.host("gw-b", 1, "Alice")).moved is True
    await chat.stub.Whisper(
        chat_pb2.WhisperRequest(sender_character_id=2, target_name="alice", message="moved?")
    )
    delivery = await b.next_delivery()
    assert list(delivery.recipient_character_ids) == [1]
    assert a.events.empty()


async def test_unhost_removes_only_own_characters(chat: ChatHarness) -> None:
    await chat.subscribe("gw-a")
    await chat.subscribe("gw-b")
    await chat.host("gw-a", 1, "Alice")
    other = await chat.stub.Unhost(chat_pb2.UnhostRequest(gateway_id="gw-b", character_id=1))
    assert other.removed is False
    mine = await chat.stub.Unhost(chat_pb2.UnhostRequest(gateway_id="gw-a", character_id=1))
    assert mine.removed is True
    again = await chat.stub.Unhost(chat_pb2.UnhostRequest(gateway_id="gw-a", character_id=1))
    assert again.removed is False


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (chat_pb2.UnhostRequest(gateway_id="", character_id=1), "gateway_id"),
        (chat_pb2.UnhostRequest(gateway_id="gw-a", character_id=0), "character_id"),
    ],
)
async def test_unhost_rejects_bad_arguments(
    chat: ChatHarness, request_: chat_pb2.UnhostRequest, field: str
) -> None:
    exc = await _status(chat.stub.Unhost(request_))
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in (exc.details() or "")


# -- Whisper --------------------------------------------------------------------------------


async def test_whisper_reaches_only_target_gateway(chat: ChatHarness) -> None:
    a = await chat.subscribe("gw-a")
    b = await chat.subscribe("gw-b")
    await chat.host("gw-a", 1, "Alice")
    await chat.host("gw-b", 2, "Bob")
    reply = await chat.stub.Whisper(
        chat_pb2.WhisperRequest(sender_character_id=1, target_name="BOB", message="psst")
    )
    assert reply.result == chat_pb2.WHISPER_RESULT_DELIVERED
    assert reply.target_name == "Bob"
    delivery = await b.next_delivery()
    assert delivery.kind == chat_pb2.CHAT_KIND_WHISPER
    assert list(delivery.recipient_character_ids) == [2]
    assert (delivery.sender_name, delivery.sender_character_id, delivery.message) == (
        "Alice",
        1,
        "psst",
    )
    # Nothing reached gateway A: the next thing it gets is the marker shout below.
    await chat.stub.Shout(chat_pb2.ShoutRequest(sender_character_id=1, message="marker"))
    assert (await a.next_delivery()).message == "marker"


async def test_whisper_to_unknown_name_is_not_found(chat: ChatHarness) -> None:
    await chat.subscribe("gw-a")
    await chat.host("gw-a", 1, "Alice")
    reply = await chat.stub.Whisper(
        chat_pb2.WhisperRequest(sender_character_id=1, target_name="Nobody", message="hello?")
    )
    assert reply.result == chat_pb2.WHISPER_RESULT_TARGET_NOT_FOUND


async def test_whisper_from_unhosted_sender_is_not_found_error(chat: ChatHarness) -> None:
    exc = await _status(
        chat.stub.Whisper(
            chat_pb2.WhisperRequest(sender_character_id=9, target_name="Bob", message="hi")
        )
    )
    assert exc.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (chat_pb2.WhisperRequest(sender_character_id=0, target_name="B", message="m"), "sender"),
        (chat_pb2.WhisperRequest(sender_character_id=1, target_name="", message="m"), "target"),
        (chat_pb2.WhisperRequest(sender_character_id=1, target_name="B", message=""), "message"),
        (
            chat_pb2.WhisperRequest(sender_character_id=1, target_name="B", message="x" * 1901),
            "message",
        ),
        # 950 two-byte characters = 1900 bytes fit; 951 do not.
        (
            chat_pb2.WhisperRequest(sender_character_id=1, target_name="B", message="é" * 951),
            "message",
        ),
        (chat_pb2.WhisperRequest(sender_character_id=1, target_name="B", message="a\x00"), "NUL"),
    ],
)
async def test_whisper_rejects_bad_arguments(
    chat: ChatHarness, request_: chat_pb2.WhisperRequest, field: str
) -> None:
    exc = await _status(chat.stub.Whisper(request_))
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in (exc.details() or "")


async def test_whisper_accepts_longest_message(chat: ChatHarness) -> None:
    b = await chat.subscribe("gw-b")
    await chat.host("gw-b", 2, "Bob")
    reply = await chat.stub.Whisper(
        chat_pb2.WhisperRequest(sender_character_id=2, target_name="Bob", message="é" * 950)
    )
    assert reply.result == chat_pb2.WHISPER_RESULT_DELIVERED
    assert (await b.next_delivery()).message == "é" * 950


# -- Shout ----------------------------------------------------------------------------------


async def test_shout_reaches_same_map_on_every_gateway(chat: ChatHarness) -> None:
    a = await chat.subscribe("gw-a")
    b = await chat.subscribe("gw-b")
    await chat.host("gw-a", 1, "Alice", map_id=5)
    await chat.host("gw-a", 3, "Carol", map_id=5)
    await chat.host("gw-b", 2, "Bob", map_id=5)
    await chat.host("gw-b", 4, "Dave", map_id=6)
    reply = await chat.stub.Shout(chat_pb2.ShoutRequest(sender_character_id=1, message="hey"))
    assert reply.recipients == 3
    on_a = await a.next_delivery()
    assert on_a.kind == chat_pb2.CHAT_KIND_SHOUT
    assert sorted(on_a.recipient_character_ids) == [1, 3]
    on_b = await b.next_delivery()
    assert list(on_b.recipient_character_ids) == [2]
    assert on_b.sender_name == "Alice"


async def test_shout_rejects_bad_arguments(chat: ChatHarness) -> None:
    await chat.subscribe("gw-a")
    await chat.host("gw-a", 1, "Alice")
    exc = await _status(chat.stub.Shout(chat_pb2.ShoutRequest(sender_character_id=1, message="")))
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
    exc = await _status(chat.stub.Shout(chat_pb2.ShoutRequest(sender_character_id=5, message="x")))
    assert exc.code() == grpc.StatusCode.NOT_FOUND


# -- GroupChat ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "field"),
    [
        (chat_pb2.CHAT_KIND_PARTY, "party_id"),
        (chat_pb2.CHAT_KIND_CLAN, "clan_id"),
        (chat_pb2.CHAT_KIND_ALLIED, "team_id"),
    ],
)
async def test_group_chat_reaches_group_members(
    chat: ChatHarness, kind: chat_pb2.ChatKind, field: str
) -> None:
    a = await chat.subscribe("gw-a")
    b = await chat.subscribe("gw-b")
    await chat.host("gw-a", 1, "Alice", **{field: 7})
    await chat.host("gw-b", 2, "Bob", **{field: 7})
    await chat.host("gw-b", 3, "Carol", **{field: 8})
    reply = await chat.stub.GroupChat(
        chat_pb2.GroupChatRequest(sender_character_id=1, kind=kind, message="team!")
    )
    assert reply.recipients == 2
    assert list((await a.next_delivery()).recipient_character_ids) == [1]
    on_b = await b.next_delivery()
    assert on_b.kind == kind
    assert list(on_b.recipient_character_ids) == [2]
    assert on_b.sender_object_id == 1
    if kind == chat_pb2.CHAT_KIND_ALLIED:
        assert on_b.sender_team_id == 7


async def test_group_chat_without_group_reaches_nobody(chat: ChatHarness) -> None:
    await chat.subscribe("gw-a")
    await chat.host("gw-a", 1, "Alice")
    reply = await chat.stub.GroupChat(
        chat_pb2.GroupChatRequest(
            sender_character_id=1, kind=chat_pb2.CHAT_KIND_PARTY, message="anyone?"
        )
    )
    assert reply.recipients == 0


@pytest.mark.parametrize(
    "kind", [chat_pb2.CHAT_KIND_UNSPECIFIED, chat_pb2.CHAT_KIND_WHISPER, chat_pb2.CHAT_KIND_SHOUT]
)
async def test_group_chat_rejects_non_group_kind(
    chat: ChatHarness, kind: chat_pb2.ChatKind
) -> None:
    await chat.subscribe("gw-a")
    await chat.host("gw-a", 1, "Alice")
    exc = await _status(
        chat.stub.GroupChat(
            chat_pb2.GroupChatRequest(sender_character_id=1, kind=kind, message="x")
        )
    )
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT


# -- Announce -------------------------------------------------------------------------------


async def test_announce_reaches_everyone(chat: ChatHarness) -> None:
    a = await chat.subscribe("gw-a")
    b = await chat.subscribe("gw-b")
    await chat.host("gw-a", 1, "Alice", map_id=1)
    await chat.host("gw-b", 2, "Bob", map_id=2)
    reply = await chat.stub.Announce(
        chat_pb2.AnnounceRequest(sender_name="GM", message="server restarts soon")
    )
    assert reply.recipients == 2
    for stream, expected in ((a, [1]), (b, [2])):
        delivery = await stream.next_delivery()
        assert delivery.kind == chat_pb2.CHAT_KIND_ANNOUNCE
        assert list(delivery.recipient_character_ids) == expected
        assert (delivery.sender_name, delivery.sender_character_id) == ("GM", 0)


async def test_announce_rejects_bad_arguments(chat: ChatHarness) -> None:
    exc = await _status(chat.stub.Announce(chat_pb2.AnnounceRequest(sender_name="", message="x")))
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
    exc = await _status(
        chat.stub.Announce(chat_pb2.AnnounceRequest(sender_name="GM", message="x" * 2000))
    )
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT


# -- backpressure ---------------------------------------------------------------------------


async def test_slow_subscriber_is_dropped_without_delaying_others(chat: ChatHarness) -> None:
    # The slow gateway never reads; a small HTTP/2 window makes its backlog reach the
    # service's queue after a few messages instead of megabytes.
    slow_channel = grpc.aio.insecure_channel(
        chat.address, options=[("grpc.http2.bdp_probe", 0), ("grpc.http2.lookahead_bytes", 1024)]
    )
    try:
        slow_stub = chat_pb2_grpc_stub(slow_channel)
        slow_call = slow_stub.Subscribe(chat_pb2.SubscribeRequest(gateway_id="gw-slow"))
        await slow_call.read()
        await chat.host("gw-slow", 1, "Slow")
        fast = await chat.subscribe("gw-fast")
        await chat.host("gw-fast", 2, "Fast")
        sent = 0
        while sent < 2000:  # bounded; the drop comes after a few dozen
            sent += 1
            reply = await chat.stub.Shout(
                chat_pb2.ShoutRequest(sender_character_id=2, message="x" * 1900)
            )
            assert (await fast.next_delivery()).message == "x" * 1900
            if reply.recipients == 1:
                break
        stats = await chat.stub.GetStats(chat_pb2.ChatStatsRequest())
        assert stats.dropped_subscribers == 1
        assert stats.subscribers == 1 and stats.hosted_characters == 1
        assert sent > QUEUE_LIMIT
        # The fast gateway got every shout and still gets the next one.
        await chat.stub.Shout(chat_pb2.ShoutRequest(sender_character_id=2, message="after"))
        assert (await fast.next_delivery()).message == "after"
        slow_call.cancel()
    finally:
        await slow_channel.close()


def chat_pb2_grpc_stub(channel: grpc.aio.Channel) -> chat_pb2_grpc.ChatAsyncStub:
    return chat_pb2_grpc.ChatStub(channel)
