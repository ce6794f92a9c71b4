"""Client-facing packet handlers of the party plugin (docs/protocol.md §10.19).

``PAKCS_PARTY_REQ`` by its type: CREATE and JOIN invite the object ``target`` of the sender's
map (resolved to a character by the world service's ``FindObject``), LEAVE leaves, CHANGE_OWNER
hands the party to the member ``target``, BAN removes it. ``PAKCS_PARTY_REPLY`` answers the
pending invite, ``PAKCS_PARTY_RULE`` sets the rule, ``PAKCS_PARTY_CHAT`` talks to the party.
Every request goes to the party service, which pushes what each member must see to its
gateway (:mod:`gateway_party.runtime`).

Refusals: what the protocol has a reply for is answered with ``PAKWC_PARTY_REPLY`` (an invite
of an object that is no player of the map, or whose character is offline: NOT_FOUND; of a
character in a party or with a pending invite: BUSY; from a full party: FULL; an accept of an
invite whose inviter is gone: NOT_FOUND to the replier). The rest is dropped and counted in
``gateway_party_drops_total{reason}``: ``self_invite``, ``not_leader``, ``no_party``,
``no_invite``, ``not_member``, ``bad_request``, ``bad_message``; a backend fault is
``party_unavailable`` and the player is whispered that parties are unavailable. Nothing is
raised.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final, TypeAlias, cast

import grpc
from gateway_protos.v1 import party_pb2, world_pb2

from gateway_core.api import (
    TEXT_ENCODING,
    WORLD_PLACEMENT,
    ChatKind,
    CliPartyChat,
    CliPartyReply,
    CliPartyReq,
    CliPartyRule,
    PartyReplyType,
    PartyReqType,
    SessionState,
    SrvPartyReply,
    client_at,
    server_message,
)
from gateway_party.runtime import SERVICE, WORLD_SERVICE, PartyRuntime
from gateway_party.service.registry import ANSWERS, RULE_BITS
from gateway_party.service.servicer import MAX_MESSAGE_BYTES

if TYPE_CHECKING:
    from gateway_protos.v1.party_pb2_grpc import PartyAsyncStub
    from gateway_protos.v1.world_pb2_grpc import WorldAsyncStub

    from gateway_core.api import PacketContext, PacketRegistrar

    #: What the handlers get: the runtime is this gateway's (None without the backend).
    Ctx: TypeAlias = PacketContext[PartyRuntime | None]

log = logging.getLogger("gateway.party")

#: What a player whose party request could not be carried is told.
PARTY_UNAVAILABLE: Final = "Parties are unavailable right now; please try again later."

#: Refusals of an invite the protocol has a reply for.
_INVITE_REPLIES: Final = {
    party_pb2.INVITE_RESULT_NOT_FOUND: PartyReplyType.NOT_FOUND,
    party_pb2.INVITE_RESULT_BUSY: PartyReplyType.BUSY,
    party_pb2.INVITE_RESULT_FULL: PartyReplyType.FULL,
}
#: Refusals that are only counted, by reason.
_INVITE_DROPS: Final = {
    party_pb2.INVITE_RESULT_SELF: "self_invite",
    party_pb2.INVITE_RESULT_NOT_LEADER: "not_leader",
}
_RESULT_DROPS: Final = {
    party_pb2.PARTY_RESULT_NO_PARTY: "no_party",
    party_pb2.PARTY_RESULT_NOT_LEADER: "not_leader",
    party_pb2.PARTY_RESULT_NOT_MEMBER: "not_member",
}


class _Unavailable(Exception):
    """The party or world service cannot take the request now."""


async def _begin(ctx: Ctx, what: str) -> tuple[PartyRuntime, PartyAsyncStub, int] | None:
    """The runtime, party stub and character id of the sender, attached; None (counted, and
    the player told) when the party service cannot take a request now."""
    runtime = ctx.runtime
    stub = ctx.clients.get(SERVICE)
    if runtime is None or stub is None:
        log.info("party: %s of connection #%d: no party service", what,
                 ctx.session.connection_id)
        ctx.reply(server_message(PARTY_UNAVAILABLE))
        return None
    member = await runtime.ensure(ctx.session)
    if member is None:
        runtime.drop(ctx.session, "party_unavailable", what)
        ctx.reply(server_message(PARTY_UNAVAILABLE))
        return None
    return runtime, cast("PartyAsyncStub", stub), member.character_id


def _failed(ctx: Ctx, runtime: PartyRuntime, exc: grpc.aio.AioRpcError, what: str) -> None:
    if exc.code() is grpc.StatusCode.INVALID_ARGUMENT:
        runtime.drop(ctx.session, "bad_request", f"{what}: {exc.details()}")
        return
    runtime.drop(ctx.session, "party_unavailable", f"{what}: {exc.code().name} {exc.details()}")
    ctx.reply(server_message(PARTY_UNAVAILABLE))


def _result(ctx: Ctx, runtime: PartyRuntime, result: party_pb2.PartyResult,
            what: str) -> None:
    reason = _RESULT_DROPS.get(result)
    if reason is not None:
        runtime.drop(ctx.session, reason, what)


async def _character_at(ctx: Ctx, runtime: PartyRuntime, character_id: int,
                        object_id: int) -> int | None:
    """The character id of the player ``object_id`` of the sender's map (None: nobody), asked
    of the world service process (shard) the sender's map is on."""
    if ctx.clients.get(WORLD_SERVICE) is None:
        raise _Unavailable("no world service")
    placement = ctx.session.records.get(WORLD_PLACEMENT)
    world = cast("WorldAsyncStub", client_at(
        ctx.clients, WORLD_SERVICE, placement.world_address if placement is not None else ""))
    if object_id == 0:
        return None
    try:
        found = await world.FindObject(
            world_pb2.FindObjectRequest(character_id=character_id, object_id=object_id),
            timeout=runtime.world_timeout,
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
            return None
        raise _Unavailable(exc.details() or exc.code().name) from exc
    return int(found.character_id)


# --- handlers -----------------------------------------------------------------------------------


async def on_party_req(ctx: Ctx, packet: CliPartyReq) -> None:
    """Invite (CREATE, JOIN), leave, hand the party on (CHANGE_OWNER) or remove a member
    (BAN)."""
    kind = packet.type
    if kind not in (PartyReqType.CREATE, PartyReqType.JOIN, PartyReqType.LEAVE,
                    PartyReqType.CHANGE_OWNER, PartyReqType.BAN):
        if ctx.runtime is not None:
            ctx.runtime.drop(ctx.session, "bad_request", f"party request type {kind}")
        return
    what = f"party_req {PartyReqType(kind).name.lower()}"
    begun = await _begin(ctx, what)
    if begun is None:
        return
    runtime, stub, character_id = begun
    try:
        if kind == PartyReqType.LEAVE:
            reply = await stub.Leave(party_pb2.PartyLeaveRequest(character_id=character_id))
            _result(ctx, runtime, reply.result, what)
            return
        target = await _character_at(ctx, runtime, character_id, packet.target)
        if kind in (PartyReqType.CREATE, PartyReqType.JOIN):
            await _invite(ctx, runtime, stub, character_id, target, packet.target, what)
            return
        if target is None:
            runtime.drop(ctx.session, "not_member", f"{what}: no player {packet.target}")
            return
        if kind == PartyReqType.CHANGE_OWNER:
            reply = await stub.ChangeLeader(party_pb2.PartyChangeLeaderRequest(
                character_id=character_id, target_character_id=target))
        else:
            reply = await stub.Kick(party_pb2.PartyKickRequest(
                character_id=character_id, target_character_id=target))
        _result(ctx, runtime, reply.result, what)
    except grpc.aio.AioRpcError as exc:
        _failed(ctx, runtime, exc, what)
    except _Unavailable as exc:
        runtime.drop(ctx.session, "party_unavailable", f"{what}: {exc}")
        ctx.reply(server_message(PARTY_UNAVAILABLE))


async def _invite(ctx: Ctx, runtime: PartyRuntime, stub: PartyAsyncStub, character_id: int,
                  target: int | None, object_id: int, what: str) -> None:
    if target is None:
        ctx.reply(SrvPartyReply(type=PartyReplyType.NOT_FOUND, source=object_id))
        return
    reply = await stub.Invite(party_pb2.PartyInviteRequest(
        character_id=character_id, target_character_id=target))
    answer = _INVITE_REPLIES.get(reply.result)
    if answer is not None:
        ctx.reply(SrvPartyReply(type=answer, source=object_id))
        return
    reason = _INVITE_DROPS.get(reply.result)
    if reason is not None:
        runtime.drop(ctx.session, reason, what)


async def on_party_reply(ctx: Ctx, packet: CliPartyReply) -> None:
    """Answer the pending invite: accept (ACCEPT_CREATE, ACCEPT_JOIN), reject (REJECT_JOIN) or
    BUSY; any other type is dropped."""
    if packet.type not in ANSWERS:
        if ctx.runtime is not None:
            ctx.runtime.drop(ctx.session, "bad_request", f"party reply type {packet.type}")
        return
    what = f"party_reply {PartyReplyType(packet.type).name.lower()}"
    begun = await _begin(ctx, what)
    if begun is None:
        return
    runtime, stub, character_id = begun
    try:
        reply = await stub.Reply(party_pb2.PartyReplyRequest(
            character_id=character_id, type=packet.type))
    except grpc.aio.AioRpcError as exc:
        _failed(ctx, runtime, exc, what)
        return
    if reply.result == party_pb2.PARTY_RESULT_NO_PARTY:
        runtime.drop(ctx.session, "no_invite", what)
    elif reply.result == party_pb2.PARTY_RESULT_GONE:
        ctx.reply(SrvPartyReply(type=PartyReplyType.NOT_FOUND, source=packet.target))
    elif reply.result == party_pb2.PARTY_RESULT_FULL:
        ctx.reply(SrvPartyReply(type=PartyReplyType.FULL, source=packet.target))


async def on_party_rule(ctx: Ctx, packet: CliPartyRule) -> None:
    """The leader sets how XP and drops are shared (bits 0x01 and 0x80 only)."""
    rule = int(packet.rule)
    if rule & ~RULE_BITS:
        if ctx.runtime is not None:
            ctx.runtime.drop(ctx.session, "bad_request", f"party rule {rule:#x}")
        return
    begun = await _begin(ctx, "party_rule")
    if begun is None:
        return
    runtime, stub, character_id = begun
    try:
        reply = await stub.SetRule(party_pb2.PartySetRuleRequest(
            character_id=character_id, rule=rule))
    except grpc.aio.AioRpcError as exc:
        _failed(ctx, runtime, exc, "party_rule")
        return
    _result(ctx, runtime, reply.result, "party_rule")


async def on_party_chat(ctx: Ctx, packet: CliPartyChat) -> None:
    """Party chat: ``PAKWC_PARTY_CHAT`` to every online member, wherever it plays, the sender
    included; dropped (counted ``no_party``) for a character without a party. The line goes
    through the core's chat guard first (``ctx.chat_line``: control characters, rate limits).
    """
    line = ctx.chat_line(packet.message, ChatKind.PARTY)
    if line is None:
        return
    message = line.decode(TEXT_ENCODING, "replace")
    if not message or len(message.encode("utf-8")) > MAX_MESSAGE_BYTES:
        if ctx.runtime is not None:
            ctx.runtime.drop(ctx.session, "bad_message",
                             f"party chat of {len(packet.message)} bytes")
        return
    begun = await _begin(ctx, "party_chat")
    if begun is None:
        return
    runtime, stub, character_id = begun
    try:
        reply = await stub.Chat(party_pb2.PartyChatRequest(
            character_id=character_id, message=message))
    except grpc.aio.AioRpcError as exc:
        _failed(ctx, runtime, exc, "party_chat")
        return
    _result(ctx, runtime, reply.result, "party_chat")


def register_packets(register: PacketRegistrar) -> None:
    """Claim the party packets and party chat, each accepted in the world only."""
    world = {SessionState.IN_WORLD}
    register(CliPartyReq.NAME, on_party_req, states=world)
    register(CliPartyReply.NAME, on_party_reply, states=world)
    register(CliPartyRule.NAME, on_party_rule, states=world)
    register(CliPartyChat.NAME, on_party_chat, states=world)
