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

An enter at an impossible point (one outside the bounds of a map the pack defines, or no map
coordinate at all: not finite, or beyond ``MAX_COORDINATE``) is not refused, which would lock
the character out for good: the character lands on its map's spawn point instead (a map the
pack does not define: the first map of the pack, at its spawn point; bare maps: the origin).
The enter's answer carries where it landed, which the gateway keeps as the placement (what
its next save stores), and it is counted (``relocated_positions``).
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
from typing import Any

import grpc
from gateway_protos.v1 import world_pb2

from gateway_core.api import ContentPack, ServiceError, SpawnDef
from gateway_world.service import shard
from gateway_world.service.combat import Combat, monster_fighter, player_fighter
from gateway_world.service.entities import (
    CONTENT_FIRST_ID,
    DEFAULT_RUN_SPEED,
    DEFAULT_WANDER_INTERVAL,
    ITEM,
    MAX_OBJECT_ID,
    MONSTER,
    NPC,
    PLAYER,
    VIEW_KINDS,
    Entity,
    GatewayStream,
    GroundDrop,
    MapState,
    Refused,
    WorldStream,
)
from gateway_world.service.limits import MAX_COORDINATE
from gateway_world.service.stalls import Stalls

__all__ = [
    "CONTENT_FIRST_ID",
    "DEFAULT_RUN_SPEED",
    "DEFAULT_WANDER_INTERVAL",
    "ITEM",
    "MAX_OBJECT_ID",
    "MONSTER",
    "NPC",
    "PLAYER",
    "VIEW_KINDS",
    "ActionHandler",
    "Entity",
    "GatewayStream",
    "MapState",
    "Refused",
    "WorldState",
    "WorldStream",
]

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
        revive_in_place: bool = False,
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
        #: The maps this service owns when the world is sharded (WORLD_SERVICE_MAPS); None:
        #: every map (:mod:`gateway_world.service.shard`).
        self.owned_maps: frozenset[int] | None = None
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
        #: Enters at an impossible point moved to a spawn point (:meth:`landing`).
        self.relocated_positions = 0
        self.removed_monsters = 0
        self.respawned_monsters = 0
        #: The combat rules; its packets go through this state's :meth:`send`.
        #: The personal shops; their hooks run on moves, deaths, leaves and new views.
        self.stalls = Stalls(self)
        self.combat = Combat(self, revive_in_place=revive_in_place)
        for name, handler in self.combat_actions().items():
            self.action_handlers.setdefault(name, handler)

    def combat_actions(self) -> dict[str, ActionHandler]:
        """The game actions the combat rules answer (a caller's own handlers win)."""
        combat = self.combat

        def refuse_damage(state: WorldState, entity: Entity, payload: bytes) -> None:
            raise Refused(grpc.StatusCode.PERMISSION_DENIED, "untrusted_damage",
                          "a client's damage claim is never taken")

        return {
            "PAKCS_ATTACK": lambda _s, e, p: combat.attack(e, p),
            "PAKCS_HP_REQ": lambda _s, e, p: combat.hp_request(e, p),
            "PAKCS_STAT_ADD_REQ": lambda _s, e, p: combat.add_stat(e, p),
            "PAKCS_TOGGLE_MOVE": lambda _s, e, p: combat.toggle_move(e, p),
            "PAKCS_SKILL_LEVEL_REQ": lambda _s, e, p: combat.learn_skill(e, p),
            "PAKCS_SKILL_CAST_SELF": lambda _s, e, p: combat.cast_self(e, p),
            "PAKCS_SKILL_CAST_TARGET": lambda _s, e, p: combat.cast_target(e, p),
            "PAKCS_SKILL_CAST_POSITION": lambda _s, e, p: combat.cast_position(e, p),
            "PAKCS_DAMAGE": refuse_damage,
        }

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

    def wake(self) -> None:
        """Make sure a delivery tick comes (something will be sent at it)."""
        if self._flush_handle is None:
            self._schedule_flush()

    def flush(self) -> None:
        """The delivery tick: queue every stream's open batch (with the characters'
        progress since the last one)."""
        self.combat.emit_progress()
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
                    kind, body = self.spawn_of(other)
                    self._offer(stream, kind, body, object_id, ids)
                    self.stalls.shown(other, [entity])
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

    def instance_of(self, entity: Entity) -> MapState:
        """The map instance ``entity`` is on."""
        return self.instance(entity.channel_id, entity.map_id)

    def place_entity(self, entity: Entity) -> None:
        """Put ``entity`` in the grid cell of its (changed) position."""
        self._map(entity).place(entity)

    def place_ground_item(
        self, instance: MapState, x: float, y: float, ground: GroundDrop, requested: int = 0
    ) -> Entity:
        """Put loot on the ground (as object ``requested`` when free); the players around see
        it appear."""
        entity = Entity(
            character_id=0,
            name=ground.item.name if ground.item is not None else "zuly",
            gateway=None,
            map_id=instance.map_id,
            object_id=0,
            look=world_pb2.PlayerLook(),
            x=x,
            y=y,
            z=0,
            channel_id=instance.channel_id,
            kind=ITEM,
            ground=ground,
            ready=True,
        )
        entity.object_id = instance.allocate(entity, requested, content=True)
        instance.items[entity.object_id] = entity
        instance.place(entity)
        self.update_visibility(entity)
        return entity

    def close_stall(self, entity: Entity) -> None:
        """Close the personal shop of ``entity`` (it died), if it has one open."""
        self.stalls.closed_by(entity)

    def remove_ground_item(self, instance: MapState, entity: Entity) -> None:
        """Take loot off the ground (expired or picked up)."""
        self._hide(entity)
        instance.release(entity.object_id)
        instance.items.pop(entity.object_id, None)

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
                content_key=npc.id,
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
        return self.point_near(instance, spawn.centre.x, spawn.centre.y, spawn.radius)

    def point_near(
        self, instance: MapState, x: float, y: float, radius: float
    ) -> tuple[float, float]:
        """A uniformly random point within ``radius`` of ``(x, y)``, inside the map's bounds."""
        angle = self.rng.uniform(0.0, 2 * math.pi)
        distance = radius * math.sqrt(self.rng.random())
        return instance.clamp(x + distance * math.cos(angle), y + distance * math.sin(angle))

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
            fighter=monster_fighter(kind),
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
        combatant: world_pb2.Combatant | None = None,
    ) -> Entity:
        """Put a character on a map of a channel (not yet visible); the latest enter wins.
        ``combatant`` is what the character service stored of its growth and vitals."""
        shard.check_enter(self.owned_maps, map_id)
        old = self.characters.get(character_id)
        if old is not None:
            self._remove(old)
        map_id, position = self.landing(map_id, position)
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
        fighter = player_fighter(combatant, look_copy, self.content)
        entity.fighter = fighter
        self.combat.rederive(entity)
        look_copy.hp = fighter.hp
        look_copy.level = min(fighter.level, 0xFF)
        if fighter.hp < fighter.max_hp or fighter.mp < fighter.max_mp:
            self.combat.recovering.add(entity)
        entity.object_id = self._map(entity).allocate(entity, requested_object_id)
        self.characters[character_id] = entity
        stream.characters.add(character_id)
        if combatant is not None and (fighter.hp, fighter.mp) != (combatant.hp, combatant.mp):
            # The stored vitals were cut to the maximum (or a character stored dead came back):
            # the gateway learns the world's ahead of the answer, before it shows the client
            # its vitals in the map reply.
            self.send([entity], "progress", self.combat.progress(entity), entity.object_id)
        return entity

    def landing(self, map_id: int, position: world_pb2.Position) -> tuple[int, world_pb2.Position]:
        """Where a character entering ``map_id`` at ``position`` lands: there when it is a
        possible point, else its map's spawn point (see the module's docstring), counted."""
        x, y = position.x, position.y
        coordinate = all(math.isfinite(v) and abs(v) <= MAX_COORDINATE for v in (x, y))
        content = self.content
        map_def = content.maps.get(map_id) if content is not None else None
        if map_def is not None:
            if coordinate and map_def.bounds.contains(x, y):
                return map_id, position
        elif coordinate:
            return map_id, position  # a map the pack does not define: any point is one
        elif content is not None and content.maps:
            map_def = next(iter(content.maps.values()))
        self.relocated_positions += 1
        if map_def is None:
            return map_id, world_pb2.Position()
        return map_def.id, world_pb2.Position(x=map_def.spawn.x, y=map_def.spawn.y)

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
        self.combat.moved(entity)
        self.stalls.closed_by(entity)  # the owner of a stall sits: walking closes it
        now = self.clock()
        entity.advance(now)
        entity.dest_x, entity.dest_y, entity.dest_z = destination.x, destination.y, destination.z
        entity.moving = (entity.dest_x, entity.dest_y) != (entity.x, entity.y)
        entity.move_started = now
        target = instance.objects.get(target_object_id)
        entity.target_object_id = target_object_id if target is not None else 0
        distance = math.hypot(entity.dest_x - entity.x, entity.dest_y - entity.y)
        moved = world_pb2.Moved(
            object_id=entity.object_id,
            target_object_id=entity.target_object_id,
            distance=min(MAX_OBJECT_ID, round(distance)),
            speed=entity.speed,
        )
        # In place, not as a constructor argument (which copies it once more): every move.
        moved.destination.CopyFrom(destination)
        self.send([entity, *entity.seen], "moved", moved, entity.object_id)
        self._placed(entity, destination, corrected=False)

    def stop(self, entity: Entity, position: world_pb2.Position) -> bool:
        """Stand at ``position``; the others that see it are told. A point farther than the
        tolerance from the service's position of the character is not taken: it stands where
        the service has it, and its gateway is told (``placed`` with ``corrected``). True when
        the position was corrected."""
        self._require_ready(entity)
        instance = self._map(entity)
        instance.check_point(position, "position")
        if entity.fighter is not None and entity.fighter.dead:
            raise Refused(grpc.StatusCode.FAILED_PRECONDITION, "dead",
                          f"character {entity.character_id} is dead")
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
        placed = world_pb2.Placed(object_id=entity.object_id, corrected=corrected)
        placed.position.CopyFrom(position)
        self.send([entity], "placed", placed, entity.object_id)

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
        if map_id != entity.map_id:
            shard.check_destination(self.owned_maps, self.content, map_id, position)
        self.instance(entity.channel_id, map_id).check_point(position, "position")
        self.stalls.closed_by(entity)
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
        self.combat.tick(now)

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
            elif now >= monster.next_wander and (
                monster.fighter is None or monster.fighter.target is None
            ):
                self._wander(monster, now)
            if monster.fighter is not None and monster.fighter.target is None:
                self.combat.aggro(monster, now)

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
        add = found.add
        players_only = not entity.is_player
        # MapState.around's 3 x 3 cells in its order, inlined: this runs on every walker's
        # arrival, over some 80 candidates at 30 players in view.
        instance = self._map(entity)
        grid = instance.grid
        cx, cy = instance.cell_of(x, y)
        for gx in (cx - 1, cx, cx + 1):
            for gy in (cy - 1, cy, cy + 1):
                members = grid.get((gx, gy))
                if not members:
                    continue
                for other in members:
                    if other is entity or (players_only and other.kind != PLAYER):
                        continue
                    if other.moving:
                        other.advance(now)
                    dx, dy = other.x - x, other.y - y
                    if dx * dx + dy * dy <= limit:
                        add(other)
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
                kind, body = self.spawn_of(other)
                self.send([entity], kind, body, other.object_id)
                self.stalls.shown(other, [entity])
        if appeared:
            kind, body = self.spawn_of(entity)
            self.send(appeared, kind, body, entity.object_id)
            self.stalls.shown(entity, appeared)

    def spawn_of(self, entity: Entity) -> tuple[str, Any]:
        """The event kind and body that show ``entity`` (ground items included)."""
        if entity.kind == ITEM:
            return "ground_item", self.combat.ground_item(entity)
        return entity.spawn_event()

    def _hide(self, entity: Entity) -> None:
        """Make ``entity`` invisible: the others that saw it get a removal, it leaves the grid
        (and whoever fought it stops)."""
        self.stalls.closed_by(entity)
        self.combat.hidden(entity)
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
        self.combat.removed(entity)
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
            ground_items=sum(len(i.items) for i in self.maps.values()),
            **self.combat.stats(),
        )
