"""Gateway side of the party service: keep the ``Events`` stream open, attach the characters.

Strategy: :class:`PartyEvents` owns the gateway's list of attached characters (their latest
member record). It keeps one ``Events`` stream open and, after every ``subscribed`` event
(first connect, or a reconnect after the service restarted or dropped us), attaches every
character again: the service detaches them when a stream ends. ``Attach``, ``UpdateMember`` and
``Detach`` go through one lock so they reach the service in the order they were made, replay
included. Reconnecting with backoff and handing events to a callback that may fail are
:class:`gateway_core.streams.ReconnectingStream`'s. :func:`event_packet` turns an event into
the one packet its recipients are sent.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import anyio
import grpc
from gateway_protos.v1 import party_pb2

from gateway_core.api import (
    TEXT_ENCODING,
    Packet,
    PartyMember,
    PartyMemberAction,
    PartyReplyType,
    ReconnectingStream,
    SrvPartyChat,
    SrvPartyMember,
    SrvPartyMemberUpdate,
    SrvPartyReply,
    SrvPartyReq,
    SrvPartyRule,
)

if TYPE_CHECKING:
    from gateway_protos.v1.party_pb2_grpc import PartyAsyncStub

log = logging.getLogger(__name__)

EventCallback = Callable[[party_pb2.PartyEvent], Awaitable[None] | None]
#: Called with the attached character's party state after every (re)attach.
AttachedCallback = Callable[[int, party_pb2.PartyState], Awaitable[None] | None]

#: Replies that are about a character next to the recipient (source: its object id); the
#: others name a member anywhere (source: its tag, the character id's low 32 bits).
_NEARBY_ANSWERS = frozenset(
    {
        PartyReplyType.NOT_FOUND,
        PartyReplyType.BUSY,
        PartyReplyType.ACCEPT_CREATE,
        PartyReplyType.ACCEPT_JOIN,
        PartyReplyType.REJECT_JOIN,
        PartyReplyType.FULL,
    }
)


class PartyEvents(ReconnectingStream):
    """Keeps a gateway subscribed to the party service and its characters attached.

    ``stub`` is a ``PartyStub`` on a ``grpc.aio`` channel; ``on_event`` receives every event
    but ``subscribed``; ``on_attached`` the party state each attach answered.
    """

    def __init__(
        self,
        stub: PartyAsyncStub,
        gateway_id: str,
        on_event: EventCallback,
        *,
        on_attached: AttachedCallback | None = None,
        initial_backoff: float = 0.1,
        max_backoff: float = 5.0,
        call_timeout: float = 5.0,
    ) -> None:
        super().__init__(
            label="party: event stream",
            callback_label="party: event",
            task_name=f"party-events-{gateway_id}",
            logger=log,
            initial_backoff=initial_backoff,
            max_backoff=max_backoff,
        )
        self._stub = stub
        self.gateway_id = gateway_id
        self._on_event = on_event
        self._on_attached = on_attached
        self._call_timeout = call_timeout
        self.attached: dict[int, party_pb2.PartyMember] = {}
        #: Whether the gateway is closing its connections for a shutdown (Detach skipped).
        self.stopping: Callable[[], bool] = lambda: False
        self._lock = anyio.Lock()
        self._subscribed = False

    def stream_lost(self) -> None:
        """Attach calls wait for the next stream (whose replay attaches everyone)."""
        self._subscribed = False
        super().stream_lost()

    async def stream_once(self) -> None:
        """One ``Events`` stream: replay the attached characters after ``subscribed``, hand
        the events over."""
        call = self._stub.Events(party_pb2.PartyEventsRequest(gateway_id=self.gateway_id))
        async with anyio.create_task_group() as tg:
            try:
                async for event in call:
                    if event.HasField("subscribed"):
                        self.connections += 1
                        self._subscribed = True
                        tg.start_soon(self._replay)
                    else:
                        await self.dispatch(self._on_event, event)
            finally:
                tg.cancel_scope.cancel()
                call.cancel()

    async def _replay(self) -> None:
        for character_id in list(self.attached):
            async with self._lock:
                member = self.attached.get(character_id)
                if member is not None:
                    await self._attach_locked(member)
        self._ready.set()

    async def _attach_locked(self, member: party_pb2.PartyMember) -> None:
        try:
            state = await self._stub.Attach(
                party_pb2.PartyAttachRequest(gateway_id=self.gateway_id, member=member),
                timeout=self._call_timeout,
            )
        except grpc.aio.AioRpcError as exc:
            log.info("party: attach %d deferred: %s", member.character_id, exc.details())
            return
        if self._on_attached is not None:
            await self.dispatch(lambda s: self._callback(member.character_id, s), state)

    def _callback(self, character_id: int, state: party_pb2.PartyState) -> Awaitable[None] | None:
        assert self._on_attached is not None
        return self._on_attached(character_id, state)

    async def attach(self, member: party_pb2.PartyMember) -> None:
        """Attach (or update the place of) a character; remembered first, so a reconnect
        attaches it again. While disconnected the call returns at once."""
        copy = party_pb2.PartyMember()
        copy.CopyFrom(member)
        self.attached[member.character_id] = copy
        async with self._lock:
            if not self._subscribed or self.attached.get(member.character_id) is not copy:
                return
            await self._attach_locked(copy)

    async def update(self, member: party_pb2.PartyMember) -> None:
        """New vitals of an attached character (dropped while disconnected: the replay
        attaches it with its latest values)."""
        if member.character_id not in self.attached:
            return
        copy = party_pb2.PartyMember()
        copy.CopyFrom(member)
        self.attached[member.character_id] = copy
        async with self._lock:
            if not self._subscribed or self.attached.get(member.character_id) is not copy:
                return
            try:
                await self._stub.UpdateMember(
                    party_pb2.PartyUpdateMemberRequest(gateway_id=self.gateway_id, member=copy),
                    timeout=self._call_timeout,
                )
            except grpc.aio.AioRpcError as exc:
                log.info("party: update %d skipped: %s", member.character_id, exc.details())

    async def detach(self, character_id: int) -> None:
        """Detach a character (left the world). Never raises for transport errors. Only
        forgotten here once :attr:`stopping` says so (asked when its turn comes): the stream
        is about to end, and the service detaches every character of a stream that ended."""
        if self.attached.pop(character_id, None) is None:
            return
        async with self._lock:
            if not self._subscribed or self.stopping():
                return
            try:
                await self._stub.Detach(
                    party_pb2.PartyDetachRequest(
                        gateway_id=self.gateway_id, character_id=character_id
                    ),
                    timeout=self._call_timeout,
                )
            except grpc.aio.AioRpcError as exc:
                log.info("party: detach %d failed: %s", character_id, exc.details())
            except grpc.aio.UsageError as exc:
                # The channel closed under us (stopping): the stream ends and detaches anyway.
                log.info("party: detach %d skipped: %s", character_id, exc)


def _text(value: str) -> bytes:
    return value.encode(TEXT_ENCODING, "replace")


def tag_of(character_id: int) -> int:
    """A member's tag on the wire: the character id's low 32 bits."""
    return character_id & 0xFFFFFFFF


def wire_member(member: party_pb2.PartyMember) -> PartyMember:
    """The protocol's ``PartyMember`` of a member record: its object id on its own map (0
    while offline), HP, maximum HP and CON; the rest is zero."""
    return PartyMember(
        tag=tag_of(member.character_id),
        id=member.object_id & 0xFFFF if member.online else 0,
        max_hp=min(member.max_hp, 0xFFFFFFFF),
        hp=min(member.hp, 0xFFFFFFFF) if member.online else 0,
        status=0,
        con=min(member.con, 0xFFFF),
        hp_recovery=0,
        mp_recovery=0,
        stamina=0,
        name=_text(member.name),
    )


def event_packet(event: party_pb2.PartyEvent) -> Packet | None:
    """The packet an event becomes (None for ``party`` and ``subscribed``, which are for the
    gateway itself)."""
    kind = event.WhichOneof("event")
    if kind == "invited":
        inviter = event.invited.inviter
        return SrvPartyReq(type=event.invited.type, source=inviter.object_id,
                           name=_text(inviter.name))
    if kind == "answered":
        answered = event.answered
        source = 0
        if answered.HasField("subject"):
            subject = answered.subject
            nearby = answered.type in _NEARBY_ANSWERS
            source = subject.object_id if nearby else tag_of(subject.character_id)
        return SrvPartyReply(type=answered.type, source=source)
    if kind == "member":
        change = event.member
        action = PartyMemberAction.ADD if change.add else PartyMemberAction.REMOVE
        return SrvPartyMember(rule=change.rule, action=action, member=wire_member(change.member))
    if kind == "member_update":
        return SrvPartyMemberUpdate(member=wire_member(event.member_update))
    if kind == "rule":
        return SrvPartyRule(rule=event.rule)
    if kind == "chat":
        return SrvPartyChat(char_id=event.chat.sender.object_id & 0xFFFF,
                            message=_text(event.chat.message))
    return None
