"""Live world state: maps, object ids, positions, who sees whom, and the gateway queues.

Strategy: all of it is synchronous and runs on the service's event loop, so there are no
locks. Each map keeps a grid of square cells one view radius wide; the characters that may see
a point are in the 3 x 3 cells around it, and the exact test is the Euclidean distance.
Visibility is a symmetric relation kept in ``Entity.seen``: whenever a character appears,
moves, teleports or leaves, its set is recomputed and the differences produce spawn and
removal events both ways. Walking is simulated lazily (position = start + direction * speed *
elapsed) and :meth:`WorldState.tick` advances the walkers so visibility follows them (for each
walker when it arrives and every sixteenth of the view radius on the way, so a long walk costs
a few visibility updates, not one per tick).

Events are grouped by the gateway stream hosting the recipients: one event per gateway, listing
its recipients, written straight into that stream's open :class:`~world_pb2.WorldEventBatch`.
One timer (the delivery tick, ``flush_interval``) moves every open batch onto its stream's
queue, so a gateway gets one message per tick however many events it has; after a quiet spell
(no flush for a tick) the first event is sent at the next turn of the loop, so batching costs
latency only under load. A batch holding the answer to a request is moved at once
(:meth:`WorldState.flush_stream`). Each stream counts the
events it holds and has not written (``pending``). From half of ``queue_limit`` on, the
servicer stops reading that gateway's requests (:meth:`WorldStream.wait_room`); at
``queue_limit``, further events for it are dropped (answers are never dropped) and counted, and
for the spawns, removals and movements among them the recipients are marked with the objects
concerned (``WorldStream.resync``). When the gateway has read the queue down to half, the
marked views are rebuilt (:meth:`WorldState.resync`): a removal of each marked object the
character no longer sees, a removal and a fresh spawn of each it sees.

Content: a map is kept per channel (an *instance*, keyed ``(channel_id, map_id)``), created
when its first character enters, with the content pack's NPCs and monsters of that map as
entities of their own (``kind``), in the same grid and object-id space as the characters (ids
from :data:`CONTENT_FIRST_ID` up, so characters, whose gateways ask for low ids, rarely have to
take another). Visibility between a character and an NPC or monster works as between two
characters; NPCs and monsters do not see each other. The tick also walks monsters: a standing
monster starts a walk to a random point of its spawn circle every ``wander_interval`` seconds
or so (``rng``: a seedable :class:`random.Random`), and a removed monster is spawned again
``respawn_seconds`` after, at a random point of its circle with a new id.

Positions are the service's: a stop point farther than ``position_tolerance`` from where the
service has the character (its last accepted position, walked on at its speed since) is
replaced by the service's position and the character's gateway told (a ``placed`` event with
``corrected``); points outside the bounds of a map the pack defines are refused
(:class:`Refused`, reason ``out_of_bounds``). Every accepted move and stop is reported to the
character's own gateway as ``placed``, which keeps the character's placement record.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import random
import struct
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import grpc
from gateway_protos.v1 import world_pb2

from gateway_core.api import ContentPack, MapDef, ServiceError, SpawnDef
from gateway_core.api import GatewayStream as _GatewayStream

#: Map units per second when the look gives no run speed (osIROSE's base move speed).
DEFAULT_RUN_SPEED = 425.0
#: Object ids are 16-bit; 0 means "no object" on the wire and is never allocated.
MAX_OBJECT_ID = 0xFFFF

#: First object id handed to NPCs and monsters (characters' gateways ask for ids from 1 up).
CONTENT_FIRST_ID = 0x8000
#: Mean seconds between two walks of a standing monster (WORLD_WANDER_INTERVAL).
DEFAULT_WANDER_INTERVAL = 8.0

#: Entity kinds.
PLAYER, NPC, MONSTER = "player", "npc", "monster"

#: Event kinds that change what a client shows; when one is dropped its recipients' views are
#: rebuilt. (A dropped chat line or game action is only lost.)
VIEW_KINDS = frozenset({"spawn", "npc_spawn", "monster_spawn", "removed", "moved", "stopped"})


class Refused(ServiceError):
    """A request the service refuses for a reason gateways count (``Rejected.reason``)."""

    def __init__(self, code: grpc.StatusCode, reason: str, message: str) -> None:
        super().__init__(code, message)
        self.reason = reason


@dataclass(eq=False, slots=True)
class WorldStream(_GatewayStream[world_pb2.WorldEventBatch]):
    """One open ``Connect`` stream of a gateway: the queue of batches to write (unbounded; the
    bound is on ``pending`` events), the batch being filled, and the views to rebuild."""

    #: The batch being filled until the next flush.
    batch: world_pb2.WorldEventBatch = field(default_factory=world_pb2.WorldEventBatch)
    #: Events in ``batch`` and in the queued batches, not written to the gateway yet.
    pending: int = 0
    #: The batch holds an answer: flush it at the end of the request batch.
    urgent: bool = False
    #: Character id -> object ids whose events it missed (views to rebuild).
    resync: dict[int, set[int]] = field(default_factory=dict)
    #: Set while ``pending`` is below the pacing mark (the reader may go on).
    room: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_room(self, mark: int) -> None:
        """Wait until fewer than ``mark`` events are pending (or the stream is closing)."""
        while self.pending >= mark and not self.closed:
            self.room.clear()
            await self.room.wait()

    def close(self, code: grpc.StatusCode, details: str) -> None:
        """End the stream (see :class:`GatewayStream`) and wake a paused reader."""
        _GatewayStream.close(self, code, details)
        self.resync.clear()
        self.room.set()


#: One open ``Connect`` stream of a gateway (the name the servicer uses).
GatewayStream = WorldStream


@dataclass(eq=False, slots=True)
class Entity:
    """A character on a map, or an NPC or monster of the content pack (``kind``; those have no
    gateway and character id 0)."""

    character_id: int
    name: str
    gateway: WorldStream | None
    map_id: int
    object_id: int
    look: world_pb2.PlayerLook
    x: float
    y: float
    z: int
    dest_x: float = 0.0
    dest_y: float = 0.0
    dest_z: int = 0
    moving: bool = False
    move_started: float = 0.0
    target_object_id: int = 0
    ready: bool = False
    cell: tuple[int, int] | None = None
    seen: set[Entity] = field(default_factory=set)
    #: Where its visibility was last computed.
    seen_from: tuple[float, float] = (math.inf, math.inf)

    #: Walking speed in map units per second (from the look when not given).
    speed: float = 0.0
    #: The channel of its map instance.
    channel_id: int = 1
    #: PLAYER, NPC or MONSTER.
    kind: str = PLAYER
    #: NPCs and monsters: the client's NPC number (model).
    type_number: int = 0
    #: NPCs: facing in degrees.
    direction: float = 0.0
    #: NPCs and monsters: hit points.
    hp: int = 0
    #: Monsters: the spawn circle it belongs to (wanders in, respawns from).
    home: SpawnDef | None = None
    #: Monsters: when a standing monster starts its next walk.
    next_wander: float = math.inf

    def __post_init__(self) -> None:
        if self.speed <= 0:
            run_speed = self.look.run_speed
            self.speed = float(run_speed) if run_speed > 0 else DEFAULT_RUN_SPEED

    @property
    def is_player(self) -> bool:
        """A character (hosted by a gateway), not an NPC or monster."""
        return self.kind == PLAYER

    def advance(self, now: float) -> None:
        """Move the position along the walk up to ``now``; stop on arrival."""
        if not self.moving:
            return
        dx, dy = self.dest_x - self.x, self.dest_y - self.y
        remaining = math.hypot(dx, dy)
        step = self.speed * max(0.0, now - self.move_started)
        if step >= remaining:
            self.x, self.y, self.z = self.dest_x, self.dest_y, self.dest_z
            self.moving = False
        else:
            self.x += dx * step / remaining
            self.y += dy * step / remaining
        self.move_started = now

    def position(self) -> world_pb2.Position:
        """Where it is (as of the last :meth:`advance`)."""
        return world_pb2.Position(x=self.x, y=self.y, z=self.z)

    def destination(self) -> world_pb2.Position:
        """Where it walks to (its position when standing)."""
        if not self.moving:
            return self.position()
        return world_pb2.Position(x=self.dest_x, y=self.dest_y, z=self.dest_z)

    def spawn(self) -> world_pb2.PlayerSpawn:
        """The data of PAKWC_PLAYER_CHAR for this character."""
        return world_pb2.PlayerSpawn(
            object_id=self.object_id,
            character_id=self.character_id,
            name=self.name,
            position=self.position(),
            destination=self.destination(),
            moving=self.moving,
            target_object_id=self.target_object_id,
            look=self.look,
        )

    def spawn_event(self) -> tuple[str, Any]:
        """The event kind and body that show this entity (PAKWC_PLAYER_CHAR, PAKWC_NPC_CHAR or
        PAKWC_MOB_CHAR)."""
        if self.kind == PLAYER:
            return "spawn", self.spawn()
        if self.kind == NPC:
            return "npc_spawn", world_pb2.NpcSpawn(
                object_id=self.object_id,
                npc_type=self.type_number,
                position=self.position(),
                direction=self.direction,
                hp=self.hp,
            )
        return "monster_spawn", world_pb2.MonsterSpawn(
            object_id=self.object_id,
            monster_type=self.type_number,
            position=self.position(),
            destination=self.destination(),
            moving=self.moving,
            hp=self.hp,
            target_object_id=self.target_object_id,
        )


class MapState:
    """One map instance (a map of one channel): its live object ids, the cell grid of its
    ready characters, NPCs and monsters, and the monsters waiting to respawn."""

    def __init__(
        self, map_id: int, cell_size: float, *, channel_id: int = 1, map_def: MapDef | None = None
    ) -> None:
        self.map_id = map_id
        self.channel_id = channel_id
        self.cell_size = cell_size
        #: The pack's definition of the map (bounds), None for a map the pack does not know.
        self.map_def = map_def
        self.objects: dict[int, Entity] = {}
        self.grid: dict[tuple[int, int], set[Entity]] = {}
        #: Live monsters by object id.
        self.monsters: dict[int, Entity] = {}
        #: NPCs by object id.
        self.npcs: dict[int, Entity] = {}
        #: (due, sequence, spawn): monsters to spawn again.
        self.respawns: list[tuple[float, int, SpawnDef]] = []
        self._next_id = 1
        self._next_content_id = CONTENT_FIRST_ID

    def allocate(self, entity: Entity, requested: int = 0, *, content: bool = False) -> int:
        """Give ``entity`` a free object id: ``requested`` when free, else the next free one
        after the last allocated (so a released id is not handed out again at once); NPCs and
        monsters (``content``) count from :data:`CONTENT_FIRST_ID`."""
        if 0 < requested <= MAX_OBJECT_ID and requested not in self.objects:
            object_id = requested
        else:
            if len(self.objects) >= MAX_OBJECT_ID:
                raise ServiceError(
                    grpc.StatusCode.RESOURCE_EXHAUSTED, f"map {self.map_id} has no free object id"
                )
            object_id = self._next_content_id if content else self._next_id
            while object_id in self.objects:
                object_id = object_id % MAX_OBJECT_ID + 1
            if content:
                self._next_content_id = object_id % MAX_OBJECT_ID + 1
            else:
                self._next_id = object_id % MAX_OBJECT_ID + 1
        self.objects[object_id] = entity
        return object_id

    def check_point(self, position: world_pb2.Position, field: str) -> None:
        """Refuse (``out_of_bounds``) a point outside the map's bounds (any point of a map the
        pack does not define is accepted)."""
        if self.map_def is not None and not self.map_def.bounds.contains(position.x, position.y):
            raise Refused(
                grpc.StatusCode.INVALID_ARGUMENT,
                "out_of_bounds",
                f"{field} ({position.x:.0f}, {position.y:.0f}) is outside map {self.map_id}",
            )

    def release(self, object_id: int) -> None:
        """Free an object id."""
        self.objects.pop(object_id, None)

    def cell_of(self, x: float, y: float) -> tuple[int, int]:
        """The grid cell holding a point."""
        return (math.floor(x / self.cell_size), math.floor(y / self.cell_size))

    def place(self, entity: Entity) -> None:
        """Put ``entity`` in (or move it to) the cell of its position."""
        cell = self.cell_of(entity.x, entity.y)
        if cell == entity.cell:
            return
        self.unplace(entity)
        self.grid.setdefault(cell, set()).add(entity)
        entity.cell = cell

    def unplace(self, entity: Entity) -> None:
        """Take ``entity`` out of the grid."""
        if entity.cell is None:
            return
        members = self.grid.get(entity.cell)
        if members is not None:
            members.discard(entity)
            if not members:
                del self.grid[entity.cell]
        entity.cell = None

    def around(self, x: float, y: float) -> Iterable[Entity]:
        """The ready characters in the 3 x 3 cells around a point."""
        cx, cy = self.cell_of(x, y)
        for gx in (cx - 1, cx, cx + 1):
            for gy in (cy - 1, cy, cy + 1):
                yield from self.grid.get((gx, gy), ())


#: A game-action handler: (state, acting entity, payload) -> None; raises ServiceError to reject.
ActionHandler = Callable[["WorldState", Entity, bytes], None]

_SET_ANIMATION_IN = struct.Struct("<HH")  # PAKCS_SET_ANIMATION: u16 id, u16 value
_SET_ANIMATION_OUT = struct.Struct("<HHH")  # PACWC_SET_ANIMATION: u16 id, u16 value, u16 object


def _on_set_animation(state: WorldState, entity: Entity, payload: bytes) -> None:
    """Emotes and sitting: relay to the characters around, the actor included."""
    if len(payload) < _SET_ANIMATION_IN.size:
        raise ServiceError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"PAKCS_SET_ANIMATION payload is {len(payload)} bytes, needs {_SET_ANIMATION_IN.size}",
        )
    animation, value = _SET_ANIMATION_IN.unpack_from(payload)
    state.send(
        [entity, *entity.seen],
        "action",
        world_pb2.GameActionDelivery(
            packet_name="PACWC_SET_ANIMATION",
            payload=_SET_ANIMATION_OUT.pack(animation, value, entity.object_id),
        ),
        entity.object_id,
    )


#: The game actions the reference world implements; any other is rejected UNIMPLEMENTED.
DEFAULT_ACTION_HANDLERS: dict[str, ActionHandler] = {"PAKCS_SET_ANIMATION": _on_set_animation}


class WorldState:
    """All maps, characters and gateway streams of the world service, with its counters.

    ``clock`` returns monotonic seconds (the event loop's time in the service);
    ``flush_interval`` is the delivery tick in seconds of the event loop's own clock (0: at the
    next turn of the loop).
    """

    def __init__(
        self,
        *,
        view_radius: float,
        queue_limit: int,
        clock: Callable[[], float],
        flush_interval: float = 0.0,
        action_handlers: dict[str, ActionHandler] | None = None,
        content: ContentPack | None = None,
        position_tolerance: float = math.inf,
        wander_interval: float = DEFAULT_WANDER_INTERVAL,
        rng: random.Random | None = None,
    ) -> None:
        if not view_radius > 0:
            raise ValueError("view_radius must be positive")
        if queue_limit < 1:
            raise ValueError("queue_limit must be at least 1")
        if not flush_interval >= 0:
            raise ValueError("flush_interval must not be negative")
        if not position_tolerance > 0:
            raise ValueError("position_tolerance must be positive")
        if not wander_interval > 0:
            raise ValueError("wander_interval must be positive")
        #: The content pack (maps, gates, NPCs, spawns); None: bare maps.
        self.content = content
        #: Farthest a claimed stop point may be from the service's position (map units).
        self.position_tolerance = position_tolerance
        self.wander_interval = wander_interval
        self.rng = rng if rng is not None else random.Random()
        self._sequence = itertools.count()
        self.view_radius = view_radius
        #: How far a walker goes between two visibility updates by the tick.
        self.visibility_step = view_radius / 16
        self.queue_limit = queue_limit
        #: From this many pending events on, a gateway's requests are not read.
        self.pace_mark = max(1, queue_limit // 2)
        self.clock = clock
        self.flush_interval = flush_interval
        self.action_handlers = dict(
            DEFAULT_ACTION_HANDLERS if action_handlers is None else action_handlers
        )
        self.gateways: dict[str, WorldStream] = {}
        self.characters: dict[int, Entity] = {}
        #: Map instances by (channel id, map id).
        self.maps: dict[tuple[int, int], MapState] = {}
        self._dirty: dict[WorldStream, None] = {}
        self._flush_handle: asyncio.Handle | None = None
        self._last_flush = -math.inf
        self.events = 0
        self.batches = 0
        self.dropped_events = 0
        self.resynced_views = 0
        self.paced_streams = 0
        self.replaced_gateways = 0
        self.rejected_requests = 0
        self.corrected_positions = 0
        self.removed_monsters = 0
        self.respawned_monsters = 0

    # -- streams ---------------------------------------------------------------------------

    def connect(self, gateway_id: str) -> WorldStream:
        """Register a stream for ``gateway_id``, replacing (and ending) an older one."""
        old = self.gateways.get(gateway_id)
        if old is not None:
            old.close(grpc.StatusCode.ABORTED, f"gateway {gateway_id!r} connected again")
            self.release(old)
            self.replaced_gateways += 1
        stream = WorldStream(gateway_id, asyncio.Queue())
        stream.room.set()
        self.gateways[gateway_id] = stream
        welcome = stream.batch.events.add().welcome
        welcome.gateway_id = gateway_id
        welcome.view_radius = self.view_radius
        welcome.queue_limit = self.queue_limit
        stream.pending += 1
        self.flush_stream(stream)
        return stream

    def release(self, stream: WorldStream) -> None:
        """The stream is gone: take its characters off their maps."""
        if self.gateways.get(stream.gateway_id) is stream:
            del self.gateways[stream.gateway_id]
        self._dirty.pop(stream, None)
        for character_id in list(stream.characters):
            entity = self.characters.get(character_id)
            if entity is not None and entity.gateway is stream:
                self._remove(entity)
        stream.characters.clear()

    def close_all(self, code: grpc.StatusCode, details: str) -> None:
        """End every stream (service shutdown)."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        for stream in list(self.gateways.values()):
            stream.close(code, details)
            self.release(stream)

    def send(self, recipients: Iterable[Entity], kind: str, body: Any, subject: int) -> None:
        """Queue the event ``kind`` (``body`` is its message, about object ``subject``) once
        per gateway hosting some of ``recipients``, listing them."""
        by_stream: dict[WorldStream, list[int]] = {}
        for entity in recipients:
            gateway = entity.gateway
            if gateway is None:
                continue  # an NPC or monster: nobody to tell
            ids = by_stream.get(gateway)
            if ids is None:
                by_stream[gateway] = [entity.character_id]
            else:
                ids.append(entity.character_id)
        for stream, ids in by_stream.items():
            self._offer(stream, kind, body, subject, ids)

    def _offer(
        self, stream: WorldStream, kind: str, body: Any, subject: int, ids: list[int]
    ) -> None:
        if stream.closed:
            return
        if stream.pending >= self.queue_limit:
            self.dropped_events += 1
            if kind in VIEW_KINDS or kind == "placed":  # a lost "placed": the own object's id
                resync = stream.resync
                for character_id in ids:
                    marked = resync.get(character_id)
                    if marked is None:
                        resync[character_id] = {subject}
                    else:
                        marked.add(subject)
            return
        event = stream.batch.events.add()
        event.recipient_character_ids.extend(ids)
        getattr(event, kind).CopyFrom(body)
        stream.pending += 1
        self.events += 1
        self._dirty[stream] = None
        if self._flush_handle is None:
            self._schedule_flush()

    def answer(self, stream: WorldStream, kind: str, body: Any) -> None:
        """Queue an ack or rejection for the gateway itself (never dropped); the servicer
        flushes it at the end of the request batch."""
        if kind == "rejected":
            self.rejected_requests += 1
        if stream.closed:
            return
        getattr(stream.batch.events.add(), kind).CopyFrom(body)
        stream.pending += 1
        stream.urgent = True
        self.events += 1

    # -- delivery ticks --------------------------------------------------------------------

    def _schedule_flush(self) -> None:
        # Leading edge: after a quiet spell the first event goes at the next turn of the loop
        # (with whatever joins it meanwhile); under load the batches leave one tick apart.
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a synchronous caller): flush() by hand
        delay = self._last_flush + self.flush_interval - loop.time()
        if delay > 0:
            self._flush_handle = loop.call_later(delay, self.flush)
        else:
            self._flush_handle = loop.call_soon(self.flush)

    def flush(self) -> None:
        """The delivery tick: queue every stream's open batch."""
        self._flush_handle = None
        with contextlib.suppress(RuntimeError):  # no loop: called by hand
            self._last_flush = asyncio.get_running_loop().time()
        dirty, self._dirty = self._dirty, {}
        for stream in dirty:
            self.flush_stream(stream)

    def flush_stream(self, stream: WorldStream) -> None:
        """Queue ``stream``'s open batch now (answers must not wait for the tick)."""
        stream.urgent = False
        batch = stream.batch
        if not batch.events or stream.closed:
            return
        stream.batch = world_pb2.WorldEventBatch()
        stream.queue.put_nowait(batch)
        self.batches += 1

    def written(self, stream: WorldStream, count: int) -> None:
        """``count`` events of ``stream`` were written to the gateway: let its reader go on
        below the pacing mark, rebuild the marked views once half the queue is free."""
        stream.pending -= count
        if stream.pending < self.pace_mark and not stream.room.is_set():
            stream.room.set()
        if stream.resync and stream.pending <= self.pace_mark and not stream.closed:
            self.resync(stream)

    def resync(self, stream: WorldStream) -> None:
        """Rebuild the views marked on ``stream`` as far as its queue has room: each marked
        object the character no longer sees is removed, each it sees is removed and spawned
        afresh (the client may hold it stale, or not at all); its own object marked means its
        position (``placed``) was lost, and the service's is sent again."""
        now = self.clock()
        resync = stream.resync
        for character_id in list(resync):
            if stream.pending >= self.queue_limit:
                break  # what does not fit is marked again: the next rebuild goes on
            objects = resync.pop(character_id)
            entity = self.characters.get(character_id)
            if entity is None or entity.gateway is not stream or not entity.ready:
                continue  # gone, or not on its map: the next ready spawns everything afresh
            seen = {other.object_id: other for other in entity.seen}
            ids = [character_id]
            for object_id in sorted(objects):
                if object_id == entity.object_id:
                    # Its own movement echo or position was lost: the gateway (which saves
                    # the character where this says) gets the service's position afresh.
                    entity.advance(now)
                    where = entity.destination() if entity.moving else entity.position()
                    placed = world_pb2.Placed(object_id=object_id, position=where)
                    self._offer(stream, "placed", placed, object_id, ids)
                    continue
                self._offer(
                    stream, "removed", world_pb2.ObjectRemoved(object_id=object_id), object_id, ids
                )
                other = seen.get(object_id)
                if other is not None:
                    other.advance(now)
                    kind, body = other.spawn_event()
                    self._offer(stream, kind, body, object_id, ids)
            self.resynced_views += 1

    # -- presence --------------------------------------------------------------------------

    def instance(self, channel_id: int, map_id: int) -> MapState:
        """The instance of a map on a channel, created (with the pack's NPCs and monsters of
        the map) on first use."""
        key = (channel_id, map_id)
        state = self.maps.get(key)
        if state is None:
            map_def = self.content.maps.get(map_id) if self.content is not None else None
            state = self.maps[key] = MapState(
                map_id, self.view_radius, channel_id=channel_id, map_def=map_def
            )
            self._populate(state)
        return state

    def _map(self, entity: Entity) -> MapState:
        return self.instance(entity.channel_id, entity.map_id)

    def _populate(self, instance: MapState) -> None:
        content = self.content
        if content is None:
            return
        for npc in content.npcs_on(instance.map_id):
            entity = Entity(
                character_id=0,
                name=npc.name,
                gateway=None,
                map_id=instance.map_id,
                object_id=0,
                look=world_pb2.PlayerLook(),
                x=npc.position.x,
                y=npc.position.y,
                z=0,
                channel_id=instance.channel_id,
                kind=NPC,
                type_number=npc.type,
                direction=npc.direction,
                hp=1,
                ready=True,
            )
            entity.object_id = instance.allocate(entity, content=True)
            instance.npcs[entity.object_id] = entity
            instance.place(entity)
        now = self.clock()
        for spawn in content.spawns_on(instance.map_id):
            for _ in range(spawn.count):
                self._spawn_monster(instance, spawn, now)

    def _random_point(self, instance: MapState, spawn: SpawnDef) -> tuple[float, float]:
        """A uniformly random point of ``spawn``'s circle (inside the map's bounds)."""
        angle = self.rng.uniform(0.0, 2 * math.pi)
        distance = spawn.radius * math.sqrt(self.rng.random())
        x = spawn.centre.x + distance * math.cos(angle)
        y = spawn.centre.y + distance * math.sin(angle)
        bounds = instance.map_def.bounds if instance.map_def is not None else None
        if bounds is not None:
            x = min(max(x, bounds.min_x), bounds.max_x)
            y = min(max(y, bounds.min_y), bounds.max_y)
        return x, y

    def _next_wander(self, now: float) -> float:
        return now + self.wander_interval * self.rng.uniform(0.5, 1.5)

    def _spawn_monster(self, instance: MapState, spawn: SpawnDef, now: float) -> Entity:
        assert self.content is not None
        kind = self.content.monsters[spawn.monster]
        x, y = self._random_point(instance, spawn)
        entity = Entity(
            character_id=0,
            name=kind.name,
            gateway=None,
            map_id=instance.map_id,
            object_id=0,
            look=world_pb2.PlayerLook(),
            x=x,
            y=y,
            z=0,
            speed=kind.move_speed,
            channel_id=instance.channel_id,
            kind=MONSTER,
            type_number=kind.type,
            hp=kind.hp,
            home=spawn,
            next_wander=self._next_wander(now),
            ready=True,
        )
        entity.object_id = instance.allocate(entity, content=True)
        instance.monsters[entity.object_id] = entity
        instance.place(entity)
        self.update_visibility(entity)
        return entity

    def remove_monster(self, channel_id: int, map_id: int, object_id: int) -> Entity:
        """Take a monster off its instance (killed, or a GM command): those who saw it get a
        removal; it spawns again ``respawn_seconds`` later. NOT_FOUND when there is none."""
        instance = self.maps.get((channel_id, map_id))
        monster = instance.monsters.get(object_id) if instance is not None else None
        if instance is None or monster is None or monster.home is None:
            raise Refused(
                grpc.StatusCode.NOT_FOUND,
                "unknown_monster",
                f"no monster {object_id} on map {map_id} of channel {channel_id}",
            )
        self._hide(monster)
        instance.release(object_id)
        del instance.monsters[object_id]
        due = self.clock() + monster.home.respawn_seconds
        heapq.heappush(instance.respawns, (due, next(self._sequence), monster.home))
        self.removed_monsters += 1
        return monster

    def _wander(self, monster: Entity, now: float) -> None:
        """Start a walk of a standing monster to a random point of its spawn circle."""
        home = monster.home
        if home is None:
            monster.next_wander = math.inf
            return
        x, y = self._random_point(self._map(monster), home)
        monster.dest_x, monster.dest_y, monster.dest_z = x, y, monster.z
        monster.move_started = now
        distance = math.hypot(x - monster.x, y - monster.y)
        monster.moving = distance > 0
        monster.next_wander = self._next_wander(now + distance / monster.speed)
        self.send(
            monster.seen,
            "moved",
            world_pb2.Moved(
                object_id=monster.object_id,
                distance=min(MAX_OBJECT_ID, round(distance)),
                destination=world_pb2.Position(x=x, y=y, z=monster.z),
                speed=monster.speed,
            ),
            monster.object_id,
        )

    def owned(self, stream: WorldStream, character_id: int) -> Entity:
        """The character, which must be on a map through ``stream``."""
        entity = self.characters.get(character_id)
        if entity is None:
            raise ServiceError(
                grpc.StatusCode.NOT_FOUND, f"character {character_id} is not on any map"
            )
        if entity.gateway is not stream:
            host = entity.gateway.gateway_id if entity.gateway is not None else ""
            raise ServiceError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"character {character_id} is hosted by gateway {host!r}",
            )
        return entity

    def enter(
        self,
        stream: WorldStream,
        *,
        character_id: int,
        name: str,
        map_id: int,
        position: world_pb2.Position,
        look: world_pb2.PlayerLook,
        requested_object_id: int = 0,
        channel_id: int = 1,
    ) -> Entity:
        """Put a character on a map of a channel (not yet visible); the latest enter wins."""
        old = self.characters.get(character_id)
        if old is not None:
            self._remove(old)
        look_copy = world_pb2.PlayerLook()
        look_copy.CopyFrom(look)
        entity = Entity(
            character_id=character_id,
            name=name,
            gateway=stream,
            map_id=map_id,
            object_id=0,
            look=look_copy,
            x=position.x,
            y=position.y,
            z=position.z,
            channel_id=channel_id or 1,
        )
        entity.object_id = self._map(entity).allocate(entity, requested_object_id)
        self.characters[character_id] = entity
        stream.characters.add(character_id)
        return entity

    def make_ready(self, entity: Entity) -> None:
        """The client loaded the map: place it and exchange spawns with those around."""
        if entity.ready:
            return
        entity.ready = True
        self._map(entity).place(entity)
        self.update_visibility(entity)

    def move(self, entity: Entity, target_object_id: int, destination: world_pb2.Position) -> None:
        """Start walking to ``destination``; everyone who sees it (and itself) is told."""
        self._require_ready(entity)
        instance = self._map(entity)
        instance.check_point(destination, "destination")
        now = self.clock()
        entity.advance(now)
        entity.dest_x, entity.dest_y, entity.dest_z = destination.x, destination.y, destination.z
        entity.moving = (entity.dest_x, entity.dest_y) != (entity.x, entity.y)
        entity.move_started = now
        target = instance.objects.get(target_object_id)
        entity.target_object_id = target_object_id if target is not None else 0
        distance = math.hypot(entity.dest_x - entity.x, entity.dest_y - entity.y)
        self.send(
            [entity, *entity.seen],
            "moved",
            world_pb2.Moved(
                object_id=entity.object_id,
                target_object_id=entity.target_object_id,
                distance=min(MAX_OBJECT_ID, round(distance)),
                destination=destination,
                speed=entity.speed,
            ),
            entity.object_id,
        )
        self._placed(entity, destination, corrected=False)

    def stop(self, entity: Entity, position: world_pb2.Position) -> bool:
        """Stand at ``position``; the others that see it are told. A point farther than the
        tolerance from the service's position of the character is not taken: it stands where
        the service has it, and its gateway is told (``placed`` with ``corrected``). True when
        the position was corrected."""
        self._require_ready(entity)
        instance = self._map(entity)
        instance.check_point(position, "position")
        entity.advance(self.clock())
        corrected = (
            math.hypot(position.x - entity.x, position.y - entity.y) > self.position_tolerance
        )
        if corrected:
            self.corrected_positions += 1
            position = entity.position()
        entity.moving = False
        entity.x, entity.y, entity.z = position.x, position.y, position.z
        instance.place(entity)
        self.send(
            entity.seen,
            "stopped",
            world_pb2.Stopped(object_id=entity.object_id, position=position),
            entity.object_id,
        )
        self._placed(entity, position, corrected=corrected)
        self.update_visibility(entity)
        return corrected

    def _placed(self, entity: Entity, position: world_pb2.Position, *, corrected: bool) -> None:
        self.send(
            [entity],
            "placed",
            world_pb2.Placed(object_id=entity.object_id, position=position, corrected=corrected),
            entity.object_id,
        )

    def teleport(
        self, entity: Entity, map_id: int, position: world_pb2.Position, *, reload: bool = False
    ) -> None:
        """Jump to a point; another map means a new object id and waiting for ``ready``, and so
        does the same map with ``reload`` (the object id is kept). A point outside the bounds
        of the target map is refused, and so is another map the pack does not define (a
        character may stand on one it was saved on, but nothing sends it to one)."""
        if (map_id != entity.map_id and self.content is not None
                and map_id not in self.content.maps):
            raise Refused(grpc.StatusCode.NOT_FOUND, "unknown_map", f"no map {map_id}")
        self.instance(entity.channel_id, map_id).check_point(position, "position")
        entity.moving = False
        entity.target_object_id = 0
        if map_id == entity.map_id and reload:
            self._hide(entity)
        entity.x, entity.y, entity.z = position.x, position.y, position.z
        if map_id == entity.map_id:
            if entity.ready:
                still_seeing = set(entity.seen)
                self._map(entity).place(entity)
                self.update_visibility(entity)
                # Those who saw it before and still do must learn where it landed.
                self.send(
                    still_seeing & entity.seen,
                    "stopped",
                    world_pb2.Stopped(object_id=entity.object_id, position=position),
                    entity.object_id,
                )
            return
        self._hide(entity)
        old_map = self._map(entity)
        old_map.release(entity.object_id)
        entity.map_id = map_id
        entity.object_id = self._map(entity).allocate(entity)

    def use_gate(self, entity: Entity, gate_id: int) -> None:
        """Take the pack's warp gate ``gate_id``: the character must be on the gate's map
        within its radius (where the service has it); it lands on the gate's destination and
        reloads the map. Refused, with nothing changed, otherwise."""
        gate = self.content.gates.get(gate_id) if self.content is not None else None
        if gate is None:
            raise Refused(grpc.StatusCode.NOT_FOUND, "unknown_gate", f"no gate {gate_id}")
        if gate.map != entity.map_id:
            raise Refused(
                grpc.StatusCode.FAILED_PRECONDITION,
                "gate_on_other_map",
                f"gate {gate_id} is on map {gate.map}, character on map {entity.map_id}",
            )
        entity.advance(self.clock())
        distance = math.hypot(entity.x - gate.position.x, entity.y - gate.position.y)
        if distance > gate.radius:
            raise Refused(
                grpc.StatusCode.FAILED_PRECONDITION,
                "gate_out_of_range",
                f"gate {gate_id} is {distance:.0f} units away (radius {gate.radius:.0f})",
            )
        destination = gate.destination
        self.teleport(
            entity,
            destination.map,
            world_pb2.Position(x=destination.x, y=destination.y, z=entity.z),
            reload=True,
        )

    def leave(self, entity: Entity) -> None:
        """Take a character off its map."""
        self._remove(entity)

    def say(self, entity: Entity, message: str) -> None:
        """Normal chat to the characters around, the speaker included."""
        self._require_ready(entity)
        self.send(
            [entity, *entity.seen],
            "said",
            world_pb2.ChatSaid(object_id=entity.object_id, message=message),
            entity.object_id,
        )

    def act(self, entity: Entity, packet_name: str, payload: bytes) -> None:
        """Run the handler of a routed game action."""
        handler = self.action_handlers.get(packet_name)
        if handler is None:
            raise ServiceError(
                grpc.StatusCode.UNIMPLEMENTED,
                f"the world service does not handle {packet_name}",
            )
        self._require_ready(entity)
        handler(self, entity, payload)

    def tick(self) -> None:
        """Advance every walker and let visibility follow: recomputed for a walker that
        arrived, or walked a sixteenth of the view radius since it was last computed."""
        now = self.clock()
        step = self.visibility_step * self.visibility_step
        for entity in [e for e in self.characters.values() if e.moving]:
            entity.advance(now)
            if entity.ready:
                self._map(entity).place(entity)
                fx, fy = entity.seen_from
                dx, dy = entity.x - fx, entity.y - fy
                if not entity.moving or dx * dx + dy * dy >= step:
                    self.update_visibility(entity)
        for instance in list(self.maps.values()):
            self._tick_monsters(instance, now, step)

    def _tick_monsters(self, instance: MapState, now: float, step: float) -> None:
        """Respawn what is due, walk the walking monsters, start the walks that are due."""
        respawns = instance.respawns
        while respawns and respawns[0][0] <= now:
            _, _, spawn = heapq.heappop(respawns)
            self._spawn_monster(instance, spawn, now)
            self.respawned_monsters += 1
        for monster in instance.monsters.values():
            if monster.moving:
                monster.advance(now)
                instance.place(monster)
                fx, fy = monster.seen_from
                dx, dy = monster.x - fx, monster.y - fy
                if not monster.moving or dx * dx + dy * dy >= step:
                    self.update_visibility(monster)
            elif now >= monster.next_wander:
                self._wander(monster, now)

    # -- visibility ------------------------------------------------------------------------

    def _require_ready(self, entity: Entity) -> None:
        if not entity.ready:
            raise ServiceError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"character {entity.character_id} has not loaded map {entity.map_id} (ready)",
            )

    def _nearby(self, entity: Entity) -> set[Entity]:
        now = self.clock()
        limit = self.view_radius * self.view_radius
        x, y = entity.x, entity.y
        found: set[Entity] = set()
        players_only = not entity.is_player
        for other in self._map(entity).around(x, y):
            if other is entity or (players_only and not other.is_player):
                continue
            if other.moving:
                other.advance(now)
            dx, dy = other.x - x, other.y - y
            if dx * dx + dy * dy <= limit:
                found.add(other)
        return found

    def update_visibility(self, entity: Entity) -> None:
        """Recompute who ``entity`` sees; spawn and remove both ways for the differences."""
        if not entity.ready:
            return
        entity.seen_from = (entity.x, entity.y)
        now_seen = self._nearby(entity)
        seen = entity.seen
        if now_seen == seen:
            return
        appeared = now_seen - seen
        vanished = seen - now_seen
        for other in vanished:
            seen.discard(other)
            other.seen.discard(entity)
            self.send(
                [entity],
                "removed",
                world_pb2.ObjectRemoved(object_id=other.object_id),
                other.object_id,
            )
        if vanished:
            self.send(
                vanished,
                "removed",
                world_pb2.ObjectRemoved(object_id=entity.object_id),
                entity.object_id,
            )
        for other in appeared:
            seen.add(other)
            other.seen.add(entity)
            if entity.gateway is not None:
                kind, body = other.spawn_event()
                self.send([entity], kind, body, other.object_id)
        if appeared:
            kind, body = entity.spawn_event()
            self.send(appeared, kind, body, entity.object_id)

    def _hide(self, entity: Entity) -> None:
        """Make ``entity`` invisible: the others that saw it get a removal, it leaves the grid."""
        if entity.seen:
            self.send(
                entity.seen,
                "removed",
                world_pb2.ObjectRemoved(object_id=entity.object_id),
                entity.object_id,
            )
        for other in entity.seen:
            other.seen.discard(entity)
        entity.seen.clear()
        self._map(entity).unplace(entity)
        entity.ready = False
        # Its client reloads the map (or leaves): nothing of the old view to rebuild.
        if entity.gateway is not None:
            entity.gateway.resync.pop(entity.character_id, None)

    def _remove(self, entity: Entity) -> None:
        self._hide(entity)
        self._map(entity).release(entity.object_id)
        if self.characters.get(entity.character_id) is entity:
            del self.characters[entity.character_id]
        if entity.gateway is not None:
            entity.gateway.characters.discard(entity.character_id)

    # -- queries ---------------------------------------------------------------------------

    def presence(self, character_id: int) -> world_pb2.Presence:
        """Where a character is, or NOT_FOUND."""
        entity = self.characters.get(character_id)
        if entity is None:
            raise ServiceError(
                grpc.StatusCode.NOT_FOUND, f"character {character_id} is not on any map"
            )
        return self._presence(entity)

    def find(self, name: str) -> world_pb2.Presence:
        """Where the character called ``name`` (case-insensitive) is, or NOT_FOUND."""
        wanted = name.casefold()
        for entity in self.characters.values():
            if entity.name.casefold() == wanted:
                return self._presence(entity)
        raise ServiceError(grpc.StatusCode.NOT_FOUND, f"no character {name!r} is on a map")

    def _presence(self, entity: Entity) -> world_pb2.Presence:
        entity.advance(self.clock())
        return world_pb2.Presence(
            character_id=entity.character_id,
            gateway_id=entity.gateway.gateway_id if entity.gateway is not None else "",
            map_id=entity.map_id,
            object_id=entity.object_id,
            position=entity.position(),
            ready=entity.ready,
            moving=entity.moving,
            channel_id=entity.channel_id,
            name=entity.name,
        )

    def stats(self) -> world_pb2.WorldStats:
        """The service counters."""
        return world_pb2.WorldStats(
            gateways=len(self.gateways),
            characters=len(self.characters),
            events=self.events,
            replaced_gateways=self.replaced_gateways,
            rejected_requests=self.rejected_requests,
            dropped_events=self.dropped_events,
            resynced_views=self.resynced_views,
            paced_streams=self.paced_streams,
            batches=self.batches,
            channels=[
                world_pb2.ChannelCount(channel_id=channel, characters=count)
                for channel, count in sorted(
                    Counter(e.channel_id for e in self.characters.values()).items()
                )
            ],
            monsters=sum(len(i.monsters) for i in self.maps.values()),
            npcs=sum(len(i.npcs) for i in self.maps.values()),
            corrected_positions=self.corrected_positions,
            removed_monsters=self.removed_monsters,
            respawned_monsters=self.respawned_monsters,
        )
