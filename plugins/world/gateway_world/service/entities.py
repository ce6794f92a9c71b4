"""The entities of the world service: a character, NPC, monster or ground item on a map
instance (:class:`Entity`, with its :class:`Fighter` when it fights), the map instances with
their object ids and cell grid (:class:`MapState`), a gateway's stream (:class:`WorldStream`),
and the refusals gateways count (:class:`Refused`). Plain data and the grid; what happens to
them is :mod:`gateway_world.service.state` (presence, movement, visibility, delivery) and
:mod:`gateway_world.service.combat` (fights).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import grpc
from gateway_protos.v1 import world_pb2

from gateway_core.api import GatewayStream as _GatewayStream
from gateway_core.api import ItemDef, MapDef, MonsterDef, ServiceError, SpawnDef
from gateway_world.service import formulas
from gateway_world.service.formulas import BaseStats, Bonus, Derived


@dataclass(slots=True)
class Buff:
    """A timed raise of one derived stat by a skill."""

    skill_id: int
    stat: str
    power: int
    expires: float


@dataclass(eq=False, slots=True)
class Fighter:
    """What fights on an entity: growth, vitals, derived values, target and timers."""

    level: int
    job: int
    xp: int
    hp: int
    mp: int
    stats: BaseStats
    derived: Derived
    attack_range: float
    stat_points: int = 0
    skill_points: int = 0
    penalty_xp: int = 0
    stamina: int = 0
    skills: list[int] = field(default_factory=list)
    #: What equipment adds (players).
    gear: Bonus = field(default_factory=Bonus)
    #: The run speed the gateway gave in the look (the base that equipment and buffs add to).
    base_run_speed: float = formulas.BASE_RUN_SPEED
    buffs: list[Buff] = field(default_factory=list)
    #: The entity it attacks (None: none).
    target: Entity | None = None
    next_hit: float = 0.0
    #: Last hit given or taken (regeneration waits after it).
    last_combat: float = -math.inf
    next_regen: float = 0.0
    cooldowns: dict[int, float] = field(default_factory=dict)
    #: Consumables: when each item (type, number) may be used again.
    item_cooldowns: dict[tuple[int, int], float] = field(default_factory=dict)
    #: Heals over time from consumables.
    heals: list[HealOverTime] = field(default_factory=list)
    dead: bool = False
    running: bool = True
    sitting: bool = False
    #: Monsters: the kind, the damage each character dealt, when it next looks for prey.
    monster: MonsterDef | None = None
    damage_by: dict[int, int] = field(default_factory=dict)
    next_aggro: float = 0.0

    @property
    def max_hp(self) -> int:
        return self.derived.max_hp

    @property
    def max_mp(self) -> int:
        return self.derived.max_mp


@dataclass(slots=True)
class HealOverTime:
    """A consumable's ``amount`` of HP or MP (``kind``) restored evenly from ``start`` to
    ``end``; ``applied`` of it so far."""

    kind: str
    amount: int
    start: float
    end: float
    applied: int = 0
    #: When the next step is due.
    next: float = 0.0


@dataclass(eq=False, slots=True)
class GroundDrop:
    """An item or zuly lying on the ground (``item`` None: zuly)."""

    item: ItemDef | None
    count: int
    owner_character_id: int
    owner_object_id: int
    owner_until: float
    expires: float
    #: The party that shares the owner window (0: none): any of its members may take it.
    owner_party_id: int = 0


#: Map units per second when the look gives no run speed (osIROSE's base move speed).
DEFAULT_RUN_SPEED = 425.0
#: Object ids are 16-bit; 0 means "no object" on the wire and is never allocated.
MAX_OBJECT_ID = 0xFFFF

#: First object id handed to NPCs and monsters (characters' gateways ask for ids from 1 up).
CONTENT_FIRST_ID = 0x8000
#: Mean seconds between two walks of a standing monster (WORLD_WANDER_INTERVAL).
DEFAULT_WANDER_INTERVAL = 8.0

#: Entity kinds (ITEM: loot lying on the ground).
PLAYER, NPC, MONSTER, ITEM = "player", "npc", "monster", "item"

#: Event kinds that change what a client shows; when one is dropped its recipients' views are
#: rebuilt. (A dropped chat line or game action is only lost.)
VIEW_KINDS = frozenset(
    {"spawn", "npc_spawn", "monster_spawn", "ground_item", "removed", "moved", "stopped"}
)


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
    #: Players and monsters: what fights (:mod:`gateway_world.service.combat`).
    fighter: Fighter | None = None
    #: Ground items: what lies there.
    ground: GroundDrop | None = None
    #: NPCs: the pack's key of the NPC.
    content_key: str = ""

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
        if self.kind == ITEM:
            raise RuntimeError("a ground item's spawn comes from Combat.ground_item")
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
        #: Items and zuly on the ground by object id.
        self.items: dict[int, Entity] = {}
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

    def clamp(self, x: float, y: float) -> tuple[float, float]:
        """The point of the map's bounds nearest to ``(x, y)`` (any point of a map the pack
        does not define)."""
        if self.map_def is None:
            return x, y
        bounds = self.map_def.bounds
        return min(max(x, bounds.min_x), bounds.max_x), min(max(y, bounds.min_y), bounds.max_y)

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


