"""The reference party service: a grpc.aio servicer over the in-memory :class:`PartyRegistry`.

Parties live in the service's memory: they outlive any gateway's restart (its characters are
offline for the grace, then attached again by the restarted gateway), and a restart of the
party service dissolves them all.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import grpc
from gateway_protos.v1 import party_pb2, party_pb2_grpc

from gateway_core.api import (
    ServiceError,
    abort,
    check_character_id,
    check_gateway_id,
    check_text,
)
from gateway_party.service.registry import (
    DEFAULT_MAX_MEMBERS,
    DEFAULT_OFFLINE_GRACE,
    DEFAULT_QUEUE_LIMIT,
    PartyRegistry,
)

if TYPE_CHECKING:
    from grpc.aio import ServicerContext

    _Context = ServicerContext[Any, Any]

log = logging.getLogger(__name__)

#: Longest character name, in UTF-8 bytes.
MAX_NAME_BYTES = 32
#: Longest party chat line, in UTF-8 bytes (what a chat packet always carries back).
MAX_MESSAGE_BYTES = 1900
#: Largest map id, object id and channel id (16-bit on the wire).
MAX_U16 = 0xFFFF


def check_member(member: party_pb2.PartyMember) -> party_pb2.PartyMember:
    """A member record as a gateway sends it."""
    check_character_id(member.character_id)
    check_text(member.name, "name", MAX_NAME_BYTES)
    for name in ("channel_id", "map_id", "object_id", "con"):
        if getattr(member, name) > MAX_U16:
            raise ServiceError(grpc.StatusCode.INVALID_ARGUMENT,
                               f"{name} {getattr(member, name)} does not fit 16 bits")
    return member


class PartyServicer(party_pb2_grpc.PartyServicer):
    """Implements every RPC of ``rose.gateway.v1.Party``; see party.proto for the contract."""

    def __init__(self, registry: PartyRegistry) -> None:
        self.registry = registry

    async def Events(
        self, request: party_pb2.PartyEventsRequest, context: _Context
    ) -> AsyncIterator[party_pb2.PartyEvent]:
        """Register the gateway's stream and yield its events until it ends."""
        try:
            gateway_id = check_gateway_id(request.gateway_id)
        except ServiceError as exc:
            await abort(context, exc)
        subscriber = self.registry.subscribe(gateway_id)
        log.info("party: gateway %r subscribed", gateway_id)
        try:
            async for event in subscriber.drain(context, log, "party"):
                yield event
        finally:
            # Cancelled (the gateway went away) or ended: its characters go offline.
            self.registry.release(subscriber)

    async def Attach(
        self, request: party_pb2.PartyAttachRequest, context: _Context
    ) -> party_pb2.PartyState:
        """Attach or update a character."""
        try:
            gateway_id = check_gateway_id(request.gateway_id)
            return self.registry.attach(gateway_id, check_member(request.member))
        except ServiceError as exc:
            await abort(context, exc)

    async def Detach(
        self, request: party_pb2.PartyDetachRequest, context: _Context
    ) -> party_pb2.PartyDetachReply:
        """Detach a character."""
        try:
            gateway_id = check_gateway_id(request.gateway_id)
            character_id = check_character_id(request.character_id)
        except ServiceError as exc:
            await abort(context, exc)
        return party_pb2.PartyDetachReply(detached=self.registry.detach(gateway_id, character_id))

    async def Invite(
        self, request: party_pb2.PartyInviteRequest, context: _Context
    ) -> party_pb2.PartyInviteReply:
        """Invite a character."""
        try:
            check_character_id(request.character_id)
            check_character_id(request.target_character_id, "target_character_id")
            return self.registry.invite(request.character_id, request.target_character_id)
        except ServiceError as exc:
            await abort(context, exc)

    async def Reply(
        self, request: party_pb2.PartyReplyRequest, context: _Context
    ) -> party_pb2.PartyReply:
        """Answer the pending invite."""
        try:
            check_character_id(request.character_id)
            return self.registry.reply(request.character_id, request.type)
        except ServiceError as exc:
            await abort(context, exc)

    async def Leave(
        self, request: party_pb2.PartyLeaveRequest, context: _Context
    ) -> party_pb2.PartyReply:
        """Leave the party."""
        try:
            return self.registry.leave(check_character_id(request.character_id))
        except ServiceError as exc:
            await abort(context, exc)

    async def Kick(
        self, request: party_pb2.PartyKickRequest, context: _Context
    ) -> party_pb2.PartyReply:
        """Remove a member."""
        try:
            check_character_id(request.character_id)
            check_character_id(request.target_character_id, "target_character_id")
            return self.registry.kick(request.character_id, request.target_character_id)
        except ServiceError as exc:
            await abort(context, exc)

    async def ChangeLeader(
        self, request: party_pb2.PartyChangeLeaderRequest, context: _Context
    ) -> party_pb2.PartyReply:
        """Hand the party on."""
        try:
            check_character_id(request.character_id)
            check_character_id(request.target_character_id, "target_character_id")
            return self.registry.change_leader(request.character_id, request.target_character_id)
        except ServiceError as exc:
            await abort(context, exc)

    async def SetRule(
        self, request: party_pb2.PartySetRuleRequest, context: _Context
    ) -> party_pb2.PartyReply:
        """Set the rule."""
        try:
            check_character_id(request.character_id)
            return self.registry.set_rule(request.character_id, request.rule)
        except ServiceError as exc:
            await abort(context, exc)

    async def Chat(
        self, request: party_pb2.PartyChatRequest, context: _Context
    ) -> party_pb2.PartyReply:
        """Party chat."""
        try:
            check_character_id(request.character_id)
            message = check_text(request.message, "message", MAX_MESSAGE_BYTES)
            return self.registry.chat(request.character_id, message)
        except ServiceError as exc:
            await abort(context, exc)

    async def UpdateMember(
        self, request: party_pb2.PartyUpdateMemberRequest, context: _Context
    ) -> party_pb2.PartyReply:
        """New vitals or place of a character."""
        try:
            gateway_id = check_gateway_id(request.gateway_id)
            return self.registry.update(gateway_id, check_member(request.member))
        except ServiceError as exc:
            await abort(context, exc)

    async def GetParty(
        self, request: party_pb2.PartyGetPartyRequest, context: _Context
    ) -> party_pb2.PartyState:
        """The party of a character."""
        try:
            return self.registry.party_of(check_character_id(request.character_id))
        except ServiceError as exc:
            await abort(context, exc)

    async def GetStats(
        self, request: party_pb2.PartyStatsRequest, context: _Context
    ) -> party_pb2.PartyStats:
        """The service counters."""
        return self.registry.stats()


class PartyReferenceService:
    """The party service as a :class:`gateway_core.service_host.ReferenceService`.

    Its parties live in memory: they survive a gateway restart (the gateway's characters are
    offline for ``offline_grace`` seconds, PARTY_OFFLINE_GRACE, and attached again when they
    come back), and a restart of this service dissolves them. ``max_members`` is
    PARTY_MAX_MEMBERS, ``queue_limit`` PARTY_SUBSCRIBER_QUEUE.
    """

    def __init__(
        self,
        *,
        queue_limit: int = DEFAULT_QUEUE_LIMIT,
        max_members: int = DEFAULT_MAX_MEMBERS,
        offline_grace: float = DEFAULT_OFFLINE_GRACE,
    ) -> None:
        self.registry = PartyRegistry(
            queue_limit=queue_limit, max_members=max_members, offline_grace=offline_grace
        )
        self.servicer = PartyServicer(self.registry)

    def add_to_server(self, server: grpc.aio.Server) -> None:
        """Register the servicer on ``server``."""
        party_pb2_grpc.add_PartyServicer_to_server(self.servicer, server)

    async def start(self) -> None:
        """Nothing to open: parties live in memory."""

    async def stop(self) -> None:
        """End every event stream with UNAVAILABLE (the parties end with the process)."""
        self.registry.close_all(grpc.StatusCode.UNAVAILABLE, "party service shutting down")
