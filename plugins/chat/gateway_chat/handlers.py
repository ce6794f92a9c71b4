"""Client-facing packet handlers of the chat plugin: whisper, shout, and clan and allied chat
(docs/protocol.md §7.5, §10). Party chat is the party plugin's (the party service knows the
members).

Every message goes to the chat service, which works out the recipients on every gateway and
pushes the deliveries on each gateway's stream (:mod:`gateway_chat.delivery`), so a whisper
reaches its target wherever it is connected. A whisper to a name nobody plays gets a
``PAKWC_WHISPER_CHAT`` back from ``server msg`` saying so (unlike osIROSE, which stays silent).
A shout reaches the sender's map. Clan and allied chat reach the sender's group when the
character is announced with one (its hosted record's ``clan_id``, ``team_id``); without one the
line is dropped and counted. Normal chat is the world plugin's.

Strategy: every line goes through the core's chat guard first (``ctx.chat_line``: control
characters removed, the player's chat rate limits, shouts with their own); a line that is
empty or longer than a chat packet can carry back is refused before any backend call
(counted). The sender must be hosted by the chat service: a handler waits briefly (the chat
service's call deadline at most) for the delivery stream after a reconnect, and announces the
character again when its map or object id changed since it was announced. Any backend fault
(service down, slow, or not knowing the sender) is counted and answered with a whisper from
``server msg`` saying chat is unavailable; nothing is raised and nothing is remembered, so the
next line works once the service is back.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final, TypeAlias, cast

import anyio
import grpc
from gateway_protos.v1 import chat_pb2

from gateway_chat.delivery import SERVER_SENDER, not_found_packet
from gateway_chat.runtime import SERVICE, ChatRuntime
from gateway_chat.service.limits import MAX_MESSAGE_BYTES, MAX_NAME_BYTES
from gateway_core.api import (
    TEXT_ENCODING,
    ChatKind,
    CliAlliedChat,
    CliClanChat,
    CliShoutChat,
    CliWhisperChat,
    SessionState,
    SrvWhisperChat,
)

if TYPE_CHECKING:
    from gateway_protos.v1.chat_pb2_grpc import ChatAsyncStub

    from gateway_core.api import PacketContext, PacketRegistrar

log = logging.getLogger("gateway.chat")

if TYPE_CHECKING:
    #: What the handlers get: the runtime is this gateway's (None without the backend).
    Ctx: TypeAlias = PacketContext[ChatRuntime | None]


#: What a client whose chat line could not be carried is told.
CHAT_UNAVAILABLE: Final = "Chat is unavailable right now; please try again later."

#: Group chat kinds: the hosted record's field naming the group, and the reason of a drop.
_GROUPS: Final = {
    chat_pb2.CHAT_KIND_CLAN: ("clan_id", "no_clan"),
    chat_pb2.CHAT_KIND_ALLIED: ("team_id", "no_team"),
}


def server_message(text: str) -> SrvWhisperChat:
    """A whisper from the server (sender ``server msg``) carrying ``text``."""
    return SrvWhisperChat(
        sender=SERVER_SENDER.encode(TEXT_ENCODING),
        message=text.encode(TEXT_ENCODING, "replace"),
    )


def chat_message(raw: bytes) -> str | None:
    """The text of a client's chat line, or None when it is empty or longer than the chat
    service accepts (:data:`MAX_MESSAGE_BYTES` UTF-8 bytes, which always fit the packet that
    carries it to the recipients)."""
    text = raw.decode(TEXT_ENCODING, "replace")
    if not text or len(text.encode("utf-8")) > MAX_MESSAGE_BYTES:
        return None
    return text


def character_name(raw: bytes) -> str | None:
    """A whisper target as a character name, or None when it cannot name any character
    (empty, or longer than the longest name the chat service knows)."""
    name = raw.decode(TEXT_ENCODING, "replace")
    if not name or len(name.encode("utf-8")) > MAX_NAME_BYTES:
        return None
    return name


def _stub(ctx: Ctx) -> ChatAsyncStub | None:
    stub = ctx.clients.get(SERVICE)
    return cast("ChatAsyncStub", stub) if stub is not None else None


async def _sender(
    ctx: Ctx, what: str
) -> tuple[ChatRuntime, ChatAsyncStub, chat_pb2.HostedCharacter] | None:
    """The runtime, stub and hosted record of the speaking character; None (counted, and the
    client told chat is unavailable) when the chat service cannot take a line now."""
    session = ctx.session
    runtime = ctx.runtime
    stub = _stub(ctx)
    if runtime is None or stub is None:
        log.info("chat: %s of connection #%d: no chat service", what, session.connection_id)
        ctx.reply(server_message(CHAT_UNAVAILABLE))
        return None
    if not runtime.delivery.connected:
        # Reconnecting: the hosted characters are announced again as soon as it is back.
        with anyio.move_on_after(ctx.settings.call_deadline(SERVICE)):
            await runtime.delivery.wait_connected()
    hosted: chat_pb2.HostedCharacter | None = None
    if runtime.delivery.connected:
        try:
            hosted = await runtime.refresh(session)
        except grpc.aio.AioRpcError as exc:
            log.warning(
                "chat: announcing connection #%d failed: %s", session.connection_id, exc.details()
            )
    if hosted is None:
        runtime.drop(session, "chat_unavailable", what)
        ctx.reply(server_message(CHAT_UNAVAILABLE))
        return None
    return runtime, stub, hosted


def _failed(ctx: Ctx, runtime: ChatRuntime, exc: grpc.aio.AioRpcError, what: str) -> None:
    """A chat call failed: count it, and tell the client unless the line itself was bad."""
    if exc.code() is grpc.StatusCode.INVALID_ARGUMENT:
        runtime.drop(ctx.session, "bad_message", f"{what}: {exc.details()}")
        return
    runtime.drop(ctx.session, "chat_unavailable", f"{what}: {exc.code().name} {exc.details()}")
    ctx.reply(server_message(CHAT_UNAVAILABLE))


def _refuse(ctx: Ctx, size: int, what: str) -> None:
    runtime = ctx.runtime
    if runtime is not None:
        runtime.drop(ctx.session, "bad_message", f"{what} of {size} bytes")


# --- handlers -----------------------------------------------------------------------------------


async def on_whisper_chat(ctx: Ctx, packet: CliWhisperChat) -> None:
    """Whisper to a character by name, on whichever gateway it plays (§7.5): the target gets
    ``PAKWC_WHISPER_CHAT`` from the sender's name. An unknown or offline name (or one no
    character can have) gets a whisper from ``server msg`` saying the name is not online."""
    line = ctx.chat_line(packet.message, ChatKind.WHISPER)
    if line is None:
        return
    message = chat_message(line)
    if message is None:
        _refuse(ctx, len(packet.message), "whisper")
        return
    target = character_name(packet.target)
    if target is None:
        ctx.reply(not_found_packet(packet.text("target")[:MAX_NAME_BYTES]))
        return
    sender = await _sender(ctx, "whisper")
    if sender is None:
        return
    runtime, stub, hosted = sender
    try:
        reply = await stub.Whisper(
            chat_pb2.WhisperRequest(
                sender_character_id=hosted.character_id, target_name=target, message=message
            )
        )
    except grpc.aio.AioRpcError as exc:
        _failed(ctx, runtime, exc, "whisper")
        return
    if reply.result != chat_pb2.WHISPER_RESULT_DELIVERED:
        ctx.reply(not_found_packet(target))


async def on_shout_chat(ctx: Ctx, packet: CliShoutChat) -> None:
    """Shout to every player on the sender's map, the sender included, on every gateway
    (``PAKWC_SHOUT_CHAT``, §7.5)."""
    line = ctx.chat_line(packet.message, ChatKind.SHOUT)
    if line is None:
        return
    message = chat_message(line)
    if message is None:
        _refuse(ctx, len(packet.message), "shout")
        return
    sender = await _sender(ctx, "shout")
    if sender is None:
        return
    runtime, stub, hosted = sender
    try:
        await stub.Shout(
            chat_pb2.ShoutRequest(sender_character_id=hosted.character_id, message=message)
        )
    except grpc.aio.AioRpcError as exc:
        _failed(ctx, runtime, exc, "shout")


async def _group_chat(ctx: Ctx, raw: bytes, kind: chat_pb2.ChatKind) -> None:
    group = chat_pb2.ChatKind.Name(kind).removeprefix("CHAT_KIND_").lower()
    what = group + "_chat"
    line = ctx.chat_line(raw, ChatKind(group))
    if line is None:
        return
    message = chat_message(line)
    if message is None:
        _refuse(ctx, len(raw), what)
        return
    sender = await _sender(ctx, what)
    if sender is None:
        return
    runtime, stub, hosted = sender
    field, reason = _GROUPS[kind]
    if not getattr(hosted, field):
        runtime.drop(ctx.session, reason, f"{what} of {hosted.name!r} without {field}")
        return
    try:
        await stub.GroupChat(
            chat_pb2.GroupChatRequest(
                sender_character_id=hosted.character_id, kind=kind, message=message
            )
        )
    except grpc.aio.AioRpcError as exc:
        _failed(ctx, runtime, exc, what)


async def on_clan_chat(ctx: Ctx, packet: CliClanChat) -> None:
    """Clan chat: ``PAKWC_CLAN_CHAT`` to the sender's clan, the sender included; dropped
    (counted) for a character without a clan."""
    await _group_chat(ctx, packet.message, chat_pb2.CHAT_KIND_CLAN)


async def on_allied_chat(ctx: Ctx, packet: CliAlliedChat) -> None:
    """Allied chat: ``PAKWC_ALLIED_CHAT`` to the sender's allied team, the sender included;
    dropped (counted) for a character without a team."""
    await _group_chat(ctx, packet.message, chat_pb2.CHAT_KIND_ALLIED)


def register_packets(register: PacketRegistrar) -> None:
    """Claim the chat packets, each accepted in the world only."""
    world = {SessionState.IN_WORLD}
    register(CliWhisperChat.NAME, on_whisper_chat, states=world)
    register(CliShoutChat.NAME, on_shout_chat, states=world)
    register(CliClanChat.NAME, on_clan_chat, states=world)
    register(CliAlliedChat.NAME, on_allied_chat, states=world)
