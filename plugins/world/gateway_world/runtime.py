"""The world plugin's runtime on one gateway: its world stream and the sessions of its
characters.

At start-up each gateway opens its one ``Connect`` stream to the world service
(:class:`WorldLink`). Events for its characters become packets sent to their sessions. A
session entering the world is put on its map (:meth:`WorldRuntime.entered`), on the channel it
picked at server select; one that leaves the world or closes is taken off it.

The placement record (:data:`WORLD_PLACEMENT`, what the character plugin saves) follows the
world service, never the client: the service's ``placed`` events (after each move and stop,
with the corrected point when the client's was refused), the answers to teleports and warp
gates, and the answer to the enter: a character stored at an impossible point (outside its
map, or on no map coordinate) lands on its map's spawn point, which the placement takes (so
the next save repairs the stored position; counted as ``position_relocated``). The GM
operations (:meth:`WorldRuntime.teleport`, :meth:`WorldRuntime.locate`,
:meth:`WorldRuntime.remove_monster`) are for the commands built on this plugin.

With WORLD_SHARDS the world is sharded by map (:mod:`gateway_world.shards`): one stream per
shard, each character's requests on the stream of the shard it was entered on
(:meth:`WorldRuntime.link_of`), every shard's events to the one :class:`Delivery`, and a warp
to another shard's map handed over (:meth:`WorldRuntime.hand_over`).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from typing import Final

import grpc
from gateway_protos.v1 import character_pb2, world_pb2, world_pb2_grpc

from gateway_core.api import (
    CHARACTER_PROGRESS,
    SELECTED_CHARACTER,
    WORLD_PLACEMENT,
    CharacterProgress,
    ConnectionRegistry,
    GatewayView,
    InWorldRuntime,
    Key,
    NumberingProfile,
    Position,
    Session,
    SrvReviveReply,
    SrvTeleportReply,
    WorldPlacement,
    client_at,
    get_profile,
)
from gateway_world.delivery import (
    ConnectStub,
    Delivery,
    WorldLink,
    WorldMetrics,
    WorldRequestError,
)
from gateway_world.local import LocalWorldStub
from gateway_world.service import WorldReferenceService
from gateway_world.shards import ShardedLinks, ShardedWorldMetrics, parse_shards

log = logging.getLogger(__name__)

#: Backend service name of the world contract.
SERVICE = "world"


#: osIROSE's base run and attack speeds, shown to others when the character data has none.
BASE_RUN_SPEED: Final = 425
BASE_ATTACK_SPEED: Final = 100
_MAX_U8, _MAX_U16 = 0xFF, 0xFFFF
_I16 = (-0x8000, 0x7FFF)
#: Largest world object id (16-bit, 0 is never used).
MAX_OBJECT_ID: Final = _MAX_U16
_object_ids = itertools.count()


def allocate_object_id(connections: ConnectionRegistry) -> int | None:
    """A world object id no connection of this gateway uses (None when all are taken): what
    a character entering the world asks the world service for."""
    for _ in range(MAX_OBJECT_ID):
        candidate = next(_object_ids) % MAX_OBJECT_ID + 1
        if connections.by_world_object_id(candidate) is None:
            return candidate
    return None


def _clamp(value: int, low: int, high: int) -> int:
    return min(max(int(value), low), high)


@dataclass(slots=True)
class WorldPresence:
    """What the world plugin keeps per world connection (``session.plugin_data[PRESENCE]``).

    ``entered``: the world service has the character on its map; ``ready``: the client loaded
    the map (PAKCS_CHANGE_MAP_REQ) and the world exchanged spawns. The vitals feed
    PAKWC_CHANGE_MAP_REPLY (0 where the character data is unknown).
    """

    look: world_pb2.PlayerLook
    hp: int = 0
    mp: int = 0
    xp: int = 0
    penalty_xp: int = 0
    team: int = 0
    entered: bool = False
    ready: bool = False
    #: What the character service stored of its growth and vitals, kept up to date by the
    #: world's progress events (None: unknown; the world starts it at level 1).
    combatant: world_pb2.Combatant | None = None


#: The world state of a session in the world.
PRESENCE = Key[WorldPresence]("world.presence")


def presence_from_character(state: character_pb2.CharacterState | None) -> WorldPresence:
    """The look others see and the vitals of a character (untrusted backend data, clamped into
    the fields of PAKWC_PLAYER_CHAR); defaults when the character data is unavailable."""
    if state is None:
        return WorldPresence(
            world_pb2.PlayerLook(run_speed=BASE_RUN_SPEED, atk_speed=BASE_ATTACK_SPEED)
        )
    look = world_pb2.PlayerLook(
        hp=_clamp(state.hp, -(2**31), 2**31 - 1),
        race=_clamp(state.race, 0, _MAX_U8),
        run_speed=BASE_RUN_SPEED,
        atk_speed=BASE_ATTACK_SPEED,
        face=state.face,
        hair=state.hair,
        equipment=list(state.equipped_items[:8]),
        job=_clamp(state.job, *_I16),
        level=_clamp(state.level, 0, _MAX_U8),
    )
    stats = state.stats
    combatant = world_pb2.Combatant(
        level=_clamp(state.level, 1, _MAX_U8),
        job=_clamp(state.job, 0, _I16[1]),
        xp=state.xp,
        hp=state.hp,
        mp=state.mp,
        stats=[_clamp(v, 0, _I16[1]) for v in (stats.str, stats.dex, stats.int_, stats.con,
                                              stats.charm, stats.sense)],
        stat_points=state.stat_points,
        skill_points=state.skill_points,
        penalty_xp=state.penalty_xp,
        skills=[_clamp(v, 0, _MAX_U16) for v in state.skills[:120]],
        stamina=state.stamina,
    )
    return WorldPresence(look, hp=state.hp, mp=state.mp, xp=state.xp, penalty_xp=state.penalty_xp,
                         combatant=combatant)


def wire_position(x: float, y: float, z: float | int = 0) -> world_pb2.Position | None:
    """A map point for the world service, or None when it is not one (NaN, infinite)."""
    if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
        return None
    return world_pb2.Position(x=x, y=y, z=_clamp(int(z), 0, _MAX_U16))


def _world_stub(app: GatewayView) -> ConnectStub:
    """What the world link opens its stream with: the embedded service itself when it is in
    this process (WORLD_IN_PROCESS), else the gRPC stub."""
    lookup = getattr(app.clients, "embedded_service", None)
    service = lookup(SERVICE) if lookup is not None else None
    if isinstance(service, WorldReferenceService) and app.settings.WORLD_IN_PROCESS:
        return LocalWorldStub(service)
    stub: ConnectStub = app.clients[SERVICE]
    return stub


class WorldRuntime(InWorldRuntime):
    """One gateway's world glue: its stream and the sessions of its characters.

    ``drops`` counts (by reason) the client requests the world plugin could not carry out:
    ``gateway_world_drops_total{reason}`` on the gateway's metrics registry.
    """

    PLUGIN = "world"
    SERVICE = SERVICE
    WITHOUT_SERVICE = "world events are disabled"
    DROPS_HELP = (
        "Client requests the world plugin dropped, by reason (backend unavailable, not on "
        "the map yet, bad values)."
    )

    def __init__(self, app: GatewayView) -> None:
        super().__init__(app)
        self.profile: NumberingProfile = get_profile(app.settings.PACKET_PROFILE)
        #: World events -> packets, a whole batch at a time (one write per connection).
        self.delivery = Delivery(
            self.sessions.get,
            app.connections.broadcast,
            self.profile,
            on_placed=self.placed,
            on_rejected=self.rejected,
            on_progress=self.progressed,
            on_teleported=self.teleported,
        )
        table = parse_shards(str(getattr(app.settings, "WORLD_SHARDS", "") or ""))
        #: The shards' links when the world is sharded by map (WORLD_SHARDS), else None.
        self.shards: ShardedLinks | None = None
        self._shard_stubs: list[world_pb2_grpc.WorldAsyncStub] = []
        metrics: WorldMetrics | ShardedWorldMetrics
        if table is None:
            #: The world stream (with shards: the first shard's; requests use :meth:`link_of`).
            self.link = self._new_link(_world_stub(app))
            metrics = WorldMetrics(self.link, self.delivery)
        else:
            # The core's channels (its interceptors, metrics, TLS settings), one per shard.
            self._shard_stubs = [client_at(app.clients, SERVICE, address)
                                 for address in table.addresses]
            self.shards = ShardedLinks(
                table, [self._new_link(stub) for stub in self._shard_stubs])
            self.link = self.shards.links[0]
            metrics = ShardedWorldMetrics(self.shards, self.delivery)
            log.info("world: sharded by map over %s", ", ".join(table.addresses))
        registry = getattr(app, "metrics_registry", None)
        if registry is not None:
            registry.register(metrics)

    def _new_link(self, stub: ConnectStub | world_pb2_grpc.WorldAsyncStub) -> WorldLink:
        settings = self.app.settings
        return WorldLink(
            stub,
            self.app.gateway_id,
            self.deliver,
            on_batch=self.delivery.deliver_batch,
            max_backoff=float(settings.WORLD_RECONNECT_MAX_DELAY),
            request_timeout=settings.call_deadline(SERVICE),
        )

    @property
    def links(self) -> tuple[WorldLink, ...]:
        """Every world stream of this gateway (one per shard)."""
        return (self.link,) if self.shards is None else self.shards.links

    def link_of(self, character_id: int) -> WorldLink | None:
        """The stream carrying ``character_id``'s requests: the shard it was entered on
        (None: on no shard), or the one world stream."""
        shards = self.shards
        return self.link if shards is None else shards.of_character(character_id)

    def link_for_map(self, map_id: int) -> WorldLink | None:
        """The stream of the shard owning ``map_id`` (None: no shard lists it)."""
        shards = self.shards
        return self.link if shards is None else shards.link_for(map_id)

    def start(self) -> None:
        """Open the world stream (one per shard)."""
        for link in self.links:
            link.start()

    async def stop(self) -> None:
        """Close the world streams (the services take this gateway's characters off their
        maps)."""
        for link in self.links:
            await link.aclose()

    def deliver(self, event: world_pb2.WorldEvent) -> None:
        """Send an event's packet to the sessions it lists (encoded once); batches go to
        :meth:`Delivery.deliver_batch` directly."""
        self.delivery.deliver(event)

    def placed(self, session: Session, placed: world_pb2.Placed) -> None:
        """The world's position of the session's character: kept as its placement (what is
        saved); a correction of the client's claim is counted (``position_corrected``)."""
        placement = session.records.get(WORLD_PLACEMENT)
        if placement is None or placement.object_id != placed.object_id:
            return  # stale: it changed map (or left) since
        point = placed.position
        self.records.set(
            session,
            WORLD_PLACEMENT,
            replace(placement, position=Position(point.x, point.y, float(point.z))),
        )
        if placed.corrected:
            self.drop(session, "position_corrected", f"at ({point.x:.0f}, {point.y:.0f})")

    def teleported(self, session: Session, ack: world_pb2.Ack) -> None:
        """The world moved the session's character (a return scroll): as after a gate."""
        presence = session.plugin_data.get(PRESENCE)
        placement = session.records.get(WORLD_PLACEMENT)
        if presence is None or placement is None or placement.object_id != ack.object_id:
            return  # stale: it changed map (or left) since
        self._landed(session, presence, ack)

    def progressed(self, session: Session, progress: world_pb2.Progress) -> None:
        """The world changed the character's growth or vitals: kept as the progress record
        (what the character plugin stores), as the vitals of the next map reply, and for a
        replay after a reconnect."""
        placement = session.records.get(WORLD_PLACEMENT)
        character = session.records.get(SELECTED_CHARACTER)
        presence = session.plugin_data.get(PRESENCE)
        if (placement is None or placement.object_id != progress.object_id or character is None
                or presence is None):
            return  # stale: it changed map (or left) since
        combatant = progress.combatant
        stats = tuple(combatant.stats[:6]) + (0,) * max(0, 6 - len(combatant.stats))
        self.records.set(session, CHARACTER_PROGRESS, CharacterProgress(
            level=combatant.level, xp=combatant.xp, hp=combatant.hp, mp=combatant.mp,
            stats=(stats[0], stats[1], stats[2], stats[3], stats[4], stats[5]),
            stat_points=combatant.stat_points, skill_points=combatant.skill_points,
            penalty_xp=combatant.penalty_xp, skills=tuple(combatant.skills),
            max_hp=progress.max_hp, max_mp=progress.max_mp,
        ))
        presence.hp, presence.mp = combatant.hp, combatant.mp
        presence.xp, presence.penalty_xp = combatant.xp, combatant.penalty_xp
        if presence.combatant is None:
            presence.combatant = world_pb2.Combatant()
        presence.combatant.CopyFrom(combatant)
        link = self.link_of(character.character_id)
        if link is not None:
            link.progressed(character.character_id, combatant)

    def rejected(self, rejected: world_pb2.Rejected) -> None:
        """A fire-and-forget request the world refused: counted by the service's reason
        (``out_of_bounds`` ...) when it gave one."""
        session = self.sessions.get(rejected.character_id)
        if session is not None and rejected.reason:
            self.drop(session, rejected.reason, rejected.message)

    async def use_gate(self, session: Session, gate_id: int) -> bool:
        """Take warp gate ``gate_id`` (PAKCS_TELEPORT_REQ): on success the client gets
        PAKWC_TELEPORT_REPLY with the destination and reloads the map; a refusal is counted
        by its reason (``unknown_gate``, ``gate_on_other_map``, ``gate_out_of_range``) and
        changes nothing."""
        entered = self._entered(session, "gate")
        if entered is None:
            return False
        ack = await self._ask(session, f"gate {gate_id}",
                              entered[2].use_gate(entered[0], gate_id))
        if ack is None:
            return False
        if ack.elsewhere:
            return await self.hand_over(session, entered[2], ack)
        self._landed(session, entered[1], ack)
        return True

    def _entered(self, session: Session, what: str
                 ) -> tuple[int, WorldPresence, WorldLink] | None:
        """The character id, presence and world stream of a session on its map, else None
        (counted)."""
        character = session.records.get(SELECTED_CHARACTER)
        presence = session.plugin_data.get(PRESENCE)
        link = self.link_of(character.character_id) if character is not None else None
        if character is None or presence is None or not presence.entered or link is None:
            self.drop(session, "not_on_map", what)
            return None
        return character.character_id, presence, link

    async def _ask(self, session: Session, what: str,
                   request: Awaitable[world_pb2.Ack]) -> world_pb2.Ack | None:
        """The world's answer to ``request``, or None with the refusal counted by its reason."""
        try:
            return await request
        except WorldRequestError as exc:
            self.drop(session, exc.reason or "world_unavailable", f"{what}: {exc}")
            return None

    async def revive(self, session: Session, revive_type: int) -> bool:
        """PAKCS_REVIVE_REQ of a dead character: PAKWC_REVIVE_REPLY with the map, then
        PAKWC_TELEPORT_REPLY with the point; the client reloads the map. A living character's
        request is refused (counted ``alive``) and changes nothing."""
        entered = self._entered(session, "revive")
        if entered is None:
            return False
        ack = await self._ask(session, "revive", entered[2].revive(entered[0], revive_type))
        if ack is None:
            return False
        session.send(SrvReviveReply(map_id=ack.map_id))
        if ack.elsewhere:
            return await self.hand_over(session, entered[2], ack)
        self._landed(session, entered[1], ack)
        return True

    async def adjust(self, session: Session, *, level: int = 0, heal: bool = False) -> bool:
        """Set the level and/or heal the character of ``session`` (GM commands): the world
        changes it and sends the packets; False (counted by the world's reason) when refused
        or unavailable."""
        entered = self._entered(session, "adjust")
        if entered is None:
            return False
        ack = await self._ask(session, "adjust",
                              entered[2].adjust(entered[0], level=level, heal=heal))
        return ack is not None

    async def teleport(self, session: Session, map_id: int, x: float, y: float) -> bool:
        """Take the character of ``session`` to a point of any map (a GM command; gates use
        :meth:`use_gate`): PAKWC_TELEPORT_REPLY, then the client reloads the map. False (and
        counted) when it is not on a map, the point is no point of that map, or the world
        refused."""
        entered = self._entered(session, "teleport")
        if entered is None:
            return False
        character_id, presence, link = entered
        placement = session.records.get(WORLD_PLACEMENT)
        z = placement.position.z if placement is not None else 0.0
        position = wire_position(x, y, z)
        if position is None or not 0 <= map_id <= _MAX_U16:
            self.drop(session, "bad_position", "teleport")
            return False
        try:
            ack = await link.teleport_to(character_id, map_id, position)
        except WorldRequestError as exc:
            self.drop(session, exc.reason or "world_unavailable", f"teleport: {exc}")
            return False
        if ack.elsewhere:
            return await self.hand_over(session, link, ack)
        self._landed(session, presence, ack)
        return True

    async def hand_over(self, session: Session, old: WorldLink, ack: world_pb2.Ack) -> bool:
        """Move the character of ``session`` to the shard owning the map of ``ack`` (the
        old shard's answer to a warp there, ``ack.elsewhere``): entered there at the
        destination first, then taken off the old shard, then PAKWC_TELEPORT_REPLY as after any
        warp (the client reloads the map, and the placement, what is saved, is the new map).
        When the new shard cannot take it (down, no shard for the map), nothing changes and the
        refusal is counted (``world_unavailable``, ``no_shard``)."""
        character = session.records.get(SELECTED_CHARACTER)
        presence = session.plugin_data.get(PRESENCE)
        placement = session.records.get(WORLD_PLACEMENT)
        shards = self.shards
        if character is None or presence is None or placement is None or shards is None:
            self.drop(session, "not_on_map", "hand over")
            return False
        new = shards.link_for(ack.map_id)
        if new is None or new is old:
            self.drop(session, "no_shard", f"map {ack.map_id}")
            return False
        point = ack.position
        enter = self._enter_request(session, presence, ack.map_id,
                                    Position(point.x, point.y, float(point.z)),
                                    placement.object_id)
        if enter is None:
            return False
        character_id = character.character_id
        try:
            landed = await new.enter(enter)
        except WorldRequestError as exc:
            self.drop(session, exc.reason or "world_unavailable",
                      f"hand over to map {ack.map_id} ({shards.address_of(new)}): {exc}")
            return False
        if self.sessions.get(character_id) is not session:
            await new.leave(character_id)  # it left the world meanwhile
            return False
        shards.entered(character_id, new)
        await old.leave(character_id)
        address = shards.address_of(new)
        log.info("world: character %d handed over to %s (map %d)", character_id, address,
                 landed.map_id)
        self._landed(session, presence, landed, world_address=address)
        return True

    def _landed(self, session: Session, presence: WorldPresence, ack: world_pb2.Ack, *,
                world_address: str | None = None) -> None:
        """The world moved the character (gate or teleport): keep where (on the shard of
        ``world_address`` after a hand-over, else the one it was on), tell the client; it is
        hidden until it has loaded the map again (PAKCS_CHANGE_MAP_REQ)."""
        point = ack.position
        if world_address is None:
            before = session.records.get(WORLD_PLACEMENT)
            world_address = before.world_address if before is not None else ""
        self.records.set(
            session,
            WORLD_PLACEMENT,
            WorldPlacement(ack.map_id, Position(point.x, point.y, float(point.z)), ack.object_id,
                           world_address),
        )
        presence.ready = False
        session.send(
            SrvTeleportReply(
                id=ack.object_id, map=ack.map_id, x=point.x, y=point.y, move_mode=0, ride_mode=0
            )
        )

    async def locate(self, name: str) -> tuple[int, float, float] | None:
        """Where the character called ``name`` is, on any gateway: ``(map_id, x, y)``, or None
        when it is on no map (or the world service cannot say)."""
        stubs = self._shard_stubs or [self.app.clients[SERVICE]]
        found = await asyncio.gather(*(self._find(stub, name) for stub in stubs))
        for presence in found:
            if presence is not None:
                return presence.map_id, presence.position.x, presence.position.y
        return None

    async def _find(self, stub: world_pb2_grpc.WorldAsyncStub, name: str
                    ) -> world_pb2.Presence | None:
        # One shard's answer (with shards, every shard is asked: a name is on one of them).
        try:
            presence: world_pb2.Presence = await stub.FindCharacter(
                world_pb2.FindCharacterRequest(name=name),
                timeout=self.app.settings.call_deadline(SERVICE),
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() is not grpc.StatusCode.NOT_FOUND:
                log.warning("world: locating %r failed: %s", name, exc.code().name)
            return None
        return presence

    async def remove_monster(self, map_id: int, object_id: int, *, channel_id: int = 1) -> bool:
        """Remove (kill) the monster ``object_id`` of a map instance; it respawns after its
        spawn's respawn time. False when there is no such monster (or no world)."""
        link = self.link_for_map(map_id)
        if link is None:
            log.info("world: no shard has map %d", map_id)
            return False
        try:
            await link.remove_monster(channel_id, map_id, object_id)
        except WorldRequestError as exc:
            log.info("world: removing monster %d of map %d failed: %s", object_id, map_id, exc)
            return False
        return True

    async def _character(self, session: Session) -> character_pb2.CharacterState | None:
        # The character data comes from whichever plugin declared a character client (the core
        # shares one channel per service); without one, spawns show a default look.
        clients = getattr(self.app, "clients", None)
        stub = clients.get("character") if clients is not None else None
        character = session.records.get(SELECTED_CHARACTER)
        if stub is None or character is None:
            return None
        try:
            state: character_pb2.CharacterState = await stub.GetCharacter(
                character_pb2.GetCharacterRequest(character_id=character.character_id)
            )
        except grpc.aio.AioRpcError as exc:
            log.warning(
                "world: character %d not loaded (%s); default look",
                character.character_id,
                exc.code().name,
            )
            return None
        return state

    async def entered(self, session: Session) -> None:
        """Track a session that entered the world and put its character on its map.

        The placement record starts where the character was stored, with a gateway-local
        object id, which the world service is asked for; when the world gives another one
        (taken on that map by another gateway's player), the placement takes the world's. A
        world that is unavailable is logged and counted; PAKCS_CHANGE_MAP_REQ tries again.
        """
        character = session.records.get(SELECTED_CHARACTER)
        if character is None:
            return
        object_id = allocate_object_id(self.app.connections)
        if object_id is None:
            self.drop(session, "no_object_id", "every object id of this gateway is taken")
            return
        self.records.set(
            session,
            WORLD_PLACEMENT,
            WorldPlacement(character.map_id, character.position, object_id),
        )
        # A change of character keeps the session: the last one's progress is not this one's.
        self.records.clear(session, CHARACTER_PROGRESS)
        self.sessions[character.character_id] = session
        presence = session.plugin_data.get(PRESENCE)
        if presence is None:
            presence = presence_from_character(await self._character(session))
            session.plugin_data.set(PRESENCE, presence)
        await self.enter(session, presence)

    async def enter(self, session: Session, presence: WorldPresence) -> bool:
        """Put the character of ``session`` on its map, where its placement record says
        (``presence.entered`` on success)."""
        character = session.records.get(SELECTED_CHARACTER)
        placement = session.records.get(WORLD_PLACEMENT)
        if character is None or placement is None:
            return False
        character_id = character.character_id
        point = placement.position
        enter = self._enter_request(session, presence, placement.map_id, point,
                                    placement.object_id)
        link = self.link_for_map(placement.map_id)
        if enter is None:
            return False
        if link is None:
            self.drop(session, "no_shard", f"enter: no shard has map {placement.map_id}")
            return False
        try:
            ack = await link.enter(enter)
        except WorldRequestError as exc:
            self.drop(session, "world_unavailable", f"enter: {exc}")
            return False
        if self.sessions.get(character_id) is not session:
            # The connection left the world while the enter was on its way.
            await link.leave(character_id)
            return False
        placement = session.records.get(WORLD_PLACEMENT) or placement
        if self.shards is not None:
            self.shards.entered(character_id, link)
            placement = replace(placement, world_address=self.shards.address_of(link))
            self.records.set(session, WORLD_PLACEMENT, placement)
        landed = Position(ack.position.x, ack.position.y, float(ack.position.z))
        if ack.map_id != placement.map_id or not math.hypot(
                landed.x - placement.position.x, landed.y - placement.position.y) <= 1.0:
            # The stored point was impossible (outside its map): the world put the character
            # on the map's spawn point, which is what the next save stores.
            self.drop(session, "position_relocated",
                      f"enter at ({point.x:.0f}, {point.y:.0f}) on map {placement.map_id}: "
                      f"landed at ({landed.x:.0f}, {landed.y:.0f}) on map {ack.map_id}")
            placement = replace(placement, map_id=ack.map_id, position=landed)
            self.records.set(session, WORLD_PLACEMENT, placement)
        if ack.object_id != placement.object_id:
            log.info(
                "world: connection #%d is object %d on map %d (asked for %s)",
                session.connection_id,
                ack.object_id,
                ack.map_id,
                placement.object_id,
            )
            self.records.set(session, WORLD_PLACEMENT, replace(placement, object_id=ack.object_id))
        presence.entered = True
        presence.ready = False
        return True

    @staticmethod
    def _enter_request(session: Session, presence: WorldPresence, map_id: int, point: Position,
                       object_id: int | None) -> world_pb2.EnterMap | None:
        """What puts the character of ``session`` on ``map_id`` at ``point``, asking for
        ``object_id`` (None without a selected character)."""
        character = session.records.get(SELECTED_CHARACTER)
        if character is None:
            return None
        position = wire_position(point.x, point.y, point.z)
        enter = world_pb2.EnterMap(
            character_id=character.character_id,
            name=character.name,
            map_id=_clamp(map_id, 0, _MAX_U16),
            position=position if position is not None else world_pb2.Position(),
            look=presence.look,
            requested_object_id=_clamp(object_id or 0, 0, _MAX_U16),
            channel_id=_clamp(character.channel_id, 1, _MAX_U8),
        )
        if presence.combatant is not None:
            enter.combatant.CopyFrom(presence.combatant)
        return enter

    async def left(self, session: Session) -> None:
        """Take the character of a session that left the world off its map. Its placement
        keeps where it was (what the character plugin saves) without an object id."""
        character = session.records.get(SELECTED_CHARACTER)
        presence = session.plugin_data.pop(PRESENCE)
        if presence is not None:
            presence.entered = presence.ready = False
        placement = session.records.get(WORLD_PLACEMENT)
        if placement is not None and placement.object_id is not None:
            self.records.set(session, WORLD_PLACEMENT, replace(placement, object_id=None))
        if character is not None and self.sessions.get(character.character_id) is session:
            del self.sessions[character.character_id]
            link = self.link if self.shards is None else self.shards.left(character.character_id)
            if link is not None:
                await link.leave(character.character_id)
