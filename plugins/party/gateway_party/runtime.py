"""The party plugin's runtime on one gateway: its event stream, its attached characters, and
what it tells the party and world services about them.

Strategy: a session that enters the world is attached to the party service with its member
record (name, channel, map, object id, level, vitals), read from the session records; it is
attached again at once when its map or object id changes (the world placement record's
watcher), and its vitals follow the progress record's watcher, throttled: at most one
``UpdateMember`` per character per PARTY_UPDATE_INTERVAL, carrying the latest values (the
changes in between are coalesced, so a fight does not flood the party service). Events become
packets sent to the recipients this gateway hosts; a ``party`` event (and the answer of every
attach) is the character's party as it is now, which the world service is told
(``SetParty``), and told again after every world join, since the world forgets it when the
character leaves a map.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import grpc
from gateway_protos.v1 import party_pb2, world_pb2

from gateway_core.api import (
    CHARACTER_PROGRESS,
    SELECTED_CHARACTER,
    WORLD_PLACEMENT,
    CharacterProgress,
    GatewayView,
    InWorldRuntime,
    Key,
    Session,
    WorldPlacement,
    client_at,
)
from gateway_party.delivery import PartyEvents, event_packet

if TYPE_CHECKING:
    from gateway_protos.v1.world_pb2_grpc import WorldAsyncStub

log = logging.getLogger(__name__)

#: Backend service name of the party contract, and of the world contract it also uses.
SERVICE = "party"
WORLD_SERVICE = "world"
#: Default of PARTY_UPDATE_INTERVAL (seconds between two member updates of one character).
DEFAULT_UPDATE_INTERVAL = 0.5

#: ``SetParty`` of a character the world service does not have on a map yet is tried again
#: this often, this many seconds apart (the world join is on its way).
WORLD_RETRIES = 50
WORLD_RETRY_SECONDS = 0.1

_U32 = 0xFFFFFFFF
_U16 = 0xFFFF


@dataclass(eq=False, slots=True)
class _Tracked:
    """A session this runtime attached: where it was attached, its throttle."""

    runtime: PartyRuntime
    character_id: int
    place: tuple[int, int]
    last_sent: float = -math.inf
    timer: asyncio.TimerHandle | None = None
    sent: tuple[int, ...] = ()


#: The runtime's record of a session it attached.
TRACKED = Key[_Tracked]("party.tracked")


def _vitals(progress: CharacterProgress | None) -> tuple[int, ...]:
    if progress is None:
        return ()
    return (progress.level, progress.hp, progress.max_hp, progress.mp, progress.max_mp,
            progress.stats[3])


def _where(session: Session) -> tuple[int, int]:
    placement = session.records.get(WORLD_PLACEMENT)
    if placement is not None:
        return placement.map_id, placement.object_id or 0
    selected = session.records.get(SELECTED_CHARACTER)
    return (selected.map_id if selected is not None else 0), 0


def member_of(session: Session) -> party_pb2.PartyMember | None:
    """The member record of a session's character (None before a character is selected)."""
    selected = session.records.get(SELECTED_CHARACTER)
    if selected is None or not selected.name:
        return None
    map_id, object_id = _where(session)
    member = party_pb2.PartyMember(
        character_id=selected.character_id,
        name=selected.name,
        online=True,
        channel_id=min(max(selected.channel_id, 0), _U16),
        map_id=min(map_id, _U16),
        object_id=min(object_id, _U16),
    )
    progress = session.records.get(CHARACTER_PROGRESS)
    if progress is not None:
        member.level = min(max(progress.level, 0), _U32)
        member.hp = min(max(progress.hp, 0), _U32)
        member.max_hp = min(max(progress.max_hp, 0), _U32)
        member.mp = min(max(progress.mp, 0), _U32)
        member.max_mp = min(max(progress.max_mp, 0), _U32)
        member.con = min(max(progress.stats[3], 0), _U16)
    return member


class PartyRuntime(InWorldRuntime):
    """One gateway's party glue: its event stream and its attached characters.

    ``drops`` counts (by reason) the party requests that were not carried out:
    ``gateway_party_drops_total{reason}`` on the gateway's metrics registry. ``parties`` is
    the latest party state of each attached character (party_id 0: none).
    """

    PLUGIN = "party"
    SERVICE = SERVICE
    WITHOUT_SERVICE = "parties are disabled"
    DROPS_HELP = (
        "Party requests the party plugin dropped, by reason (backend unavailable, no party, "
        "not the leader, bad request)."
    )

    def __init__(self, app: GatewayView) -> None:
        super().__init__(app)
        self.events = PartyEvents(
            app.clients[SERVICE],
            app.gateway_id,
            self.deliver,
            on_attached=self.attached,
            max_backoff=float(app.settings.PARTY_RECONNECT_MAX_DELAY),
            call_timeout=app.settings.call_deadline(SERVICE),
        )
        # At a shutdown the stream ends with the gateway (the service then detaches all its
        # characters): one Detach per player, in order through one lock, would hold the
        # close of thousands of connections (and their saves) for seconds.
        self.events.stopping = lambda: app.closing
        self.interval = float(app.settings.PARTY_UPDATE_INTERVAL)
        self.call_timeout = app.settings.call_deadline(SERVICE)
        self.world_timeout = app.settings.call_deadline(WORLD_SERVICE)
        self.parties: dict[int, party_pb2.PartyState] = {}
        #: Member updates sent to the party service (after throttling).
        self.updates = 0
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def world(self) -> WorldAsyncStub | None:
        """The world stub (None on a gateway without the world service)."""
        return cast("WorldAsyncStub | None", self.app.clients.get(WORLD_SERVICE))

    def world_at(self, address: str) -> WorldAsyncStub | None:
        """The world stub of the world service process at ``address`` (a shard: what a
        placement's ``world_address`` says; empty: the one world service)."""
        if self.world is None:
            return None
        return cast("WorldAsyncStub", client_at(self.app.clients, WORLD_SERVICE, address))

    def start(self) -> None:
        """Open the event stream."""
        self.events.start()

    async def stop(self) -> None:
        """Close the event stream and forget the pending work."""
        for task in list(self._tasks):
            task.cancel()
        await self.events.aclose()

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` in the background (kept referenced until it ends)."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the world and the stream ----------------------------------------------------------

    def deliver(self, event: party_pb2.PartyEvent) -> None:
        """Send an event's packet to the hosted recipients (encoded once); a party state is
        remembered and told to the world service."""
        if event.HasField("party"):
            for character_id in event.recipient_character_ids:
                self.attached(character_id, event.party)
            return
        packet = event_packet(event)
        if packet is None:
            return
        sessions = [
            s for cid in event.recipient_character_ids if (s := self.sessions.get(cid)) is not None
        ]
        if sessions:
            self.app.connections.broadcast(sessions, packet)

    def attached(self, character_id: int, state: party_pb2.PartyState) -> None:
        """The party of an attached character as the service has it now."""
        session = self.sessions.get(character_id)
        if session is None:
            return
        self.parties[character_id] = state
        self.spawn(self.tell_world(session, character_id, state))

    async def tell_world(self, session: Session, character_id: int,
                         state: party_pb2.PartyState) -> None:
        """``SetParty`` of a character on a map (a character not on a map yet is told after
        its world join)."""
        request = world_pb2.SetPartyRequest(
            character_id=character_id, party_id=state.party_id, rule=state.rule
        )
        for _ in range(WORLD_RETRIES):
            placement = session.records.get(WORLD_PLACEMENT)
            # The shard its map is on (a hand-over re-attaches it, and the new shard is told).
            world = self.world_at(placement.world_address) if placement is not None else None
            if (world is None or placement is None or placement.object_id is None
                    or self.sessions.get(character_id) is not session
                    or self.parties.get(character_id) is not state):
                return  # not on a map (told after its join), gone, or a newer state is told
            try:
                await world.SetParty(request, timeout=self.world_timeout)
                return
            except grpc.aio.AioRpcError as exc:
                if exc.code() is not grpc.StatusCode.NOT_FOUND:
                    log.info("party: SetParty of %d failed: %s", character_id, exc.details())
                    return
            # The world plugin writes the placement before the world service has the
            # character on its map: try again shortly.
            await asyncio.sleep(WORLD_RETRY_SECONDS)
        log.info("party: SetParty of %d: not on a map of the world service", character_id)

    # -- sessions --------------------------------------------------------------------------

    async def entered(self, session: Session) -> None:
        """Attach a session that entered the world."""
        member = member_of(session)
        if member is None:
            return
        character_id = member.character_id
        self.sessions[character_id] = session
        tracked = _Tracked(self, character_id, (member.map_id, member.object_id))
        tracked.sent = _vitals(session.records.get(CHARACTER_PROGRESS))
        session.plugin_data.set(TRACKED, tracked)
        await self.events.attach(member)

    async def left(self, session: Session) -> None:
        """Detach a session that left the world: offline for its party."""
        tracked = session.plugin_data.pop(TRACKED)
        if tracked is None or self.sessions.get(tracked.character_id) is not session:
            return
        if tracked.timer is not None:
            tracked.timer.cancel()
        del self.sessions[tracked.character_id]
        self.parties.pop(tracked.character_id, None)
        await self.events.detach(tracked.character_id)

    async def ensure(self, session: Session) -> party_pb2.PartyMember | None:
        """The session's member record, attached (again) when the service does not have it;
        None when the party service cannot take requests now."""
        member = member_of(session)
        if member is None or self.sessions.get(member.character_id) is not session:
            return None
        if not self.events.connected:
            try:
                await asyncio.wait_for(self.events.wait_connected(), self.call_timeout)
            except TimeoutError:
                return None
        if member.character_id not in self.events.attached:
            await self.events.attach(member)
        return member

    # -- watchers --------------------------------------------------------------------------

    def placed(self, session: Session, tracked: _Tracked) -> None:
        """The map or object id may have changed: attach again at once when it did."""
        where = _where(session)
        if where == tracked.place:
            return
        tracked.place = where
        member = member_of(session)
        if member is not None:
            self.spawn(self.events.attach(member))

    def progressed(self, session: Session, tracked: _Tracked) -> None:
        """Vitals may have changed: an update now, or when the throttle allows (coalesced)."""
        if _vitals(session.records.get(CHARACTER_PROGRESS)) == tracked.sent:
            return
        if tracked.timer is not None:
            return  # the pending update will carry the latest values
        loop = asyncio.get_running_loop()
        due = tracked.last_sent + self.interval
        now = loop.time()
        if now >= due:
            self._send_update(session, tracked)
        else:
            tracked.timer = loop.call_later(due - now, self._fire, session, tracked)

    def _fire(self, session: Session, tracked: _Tracked) -> None:
        tracked.timer = None
        if session.plugin_data.get(TRACKED) is tracked:
            self._send_update(session, tracked)

    def _send_update(self, session: Session, tracked: _Tracked) -> None:
        tracked.last_sent = asyncio.get_running_loop().time()
        tracked.sent = _vitals(session.records.get(CHARACTER_PROGRESS))
        member = member_of(session)
        if member is not None:
            self.updates += 1
            self.spawn(self.events.update(member))


def on_placement(session: Session, old: WorldPlacement | None,
                 new: WorldPlacement | None) -> None:
    """Watcher of :data:`WORLD_PLACEMENT`: a new map or object id is attached again."""
    tracked = session.plugin_data.get(TRACKED)
    if tracked is not None:
        tracked.runtime.placed(session, tracked)


def on_progress(session: Session, old: CharacterProgress | None,
                new: CharacterProgress | None) -> None:
    """Watcher of :data:`CHARACTER_PROGRESS`: vitals reach the party, throttled."""
    tracked = session.plugin_data.get(TRACKED)
    if tracked is not None:
        tracked.runtime.progressed(session, tracked)
