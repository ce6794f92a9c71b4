"""The entries of a content pack: one pydantic model per section, plus the client's numbering.

Strategy: the models check what one entry can check alone (types, ranges, required and unknown
fields); whatever needs two values or two entries (min < max, a point inside its map, a
reference to another entry, stack rules) is checked by :mod:`gateway_core.content.loader`,
which can then name the exact field it blames. Numbers are strict: ``true`` is not ``1`` and
``"5"`` is not ``5`` to a person writing a pack.

Units: positions, radii and ranges are *map units*, the unit of the positions in the packets
(1 unit = 1 cm; a town centre is around 520000); speeds are map units per second (the client's
base run speed is 425); ``attack_speed`` is the client's attack speed number (100 = base rate,
as sent in the character and NPC packets); durations are seconds.
"""

from __future__ import annotations

import enum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, StringConstraints

__all__ = [
    "EQUIPMENT_TYPES",
    "STACKABLE_TYPES",
    "Bounds",
    "Destination",
    "Drop",
    "EquipSlot",
    "GateDef",
    "ItemDef",
    "ItemEffect",
    "ItemStats",
    "ItemType",
    "Job",
    "KitItem",
    "MapDef",
    "MonsterDef",
    "NpcDef",
    "Point",
    "Requirements",
    "ShopDef",
    "ShopItem",
    "SkillDef",
    "SkillEffect",
    "SpawnDef",
    "StarterKitDef",
    "ZulyRange",
    "equip_slot",
]


class ItemType(enum.IntEnum):
    """The client's item type numbers (the first half of every item reference on the wire)."""

    FACE = 1
    HEAD = 2
    BODY = 3
    HANDS = 4
    FEET = 5
    BACK = 6
    JEWELLERY = 7
    WEAPON = 8
    SUB_WEAPON = 9
    CONSUMABLE = 10
    GEM = 11
    MATERIAL = 12
    QUEST = 13
    RIDING = 14


class EquipSlot(enum.Enum):
    """Where an equipment item is worn; riding parts go to the cart, not the avatar."""

    FACE = "face"
    HEAD = "head"
    BODY = "body"
    HANDS = "hands"
    FEET = "feet"
    BACK = "back"
    JEWELLERY = "jewellery"
    WEAPON = "weapon"
    SUB_WEAPON = "sub_weapon"
    RIDING = "riding"


_SLOTS = {
    ItemType.FACE: EquipSlot.FACE,
    ItemType.HEAD: EquipSlot.HEAD,
    ItemType.BODY: EquipSlot.BODY,
    ItemType.HANDS: EquipSlot.HANDS,
    ItemType.FEET: EquipSlot.FEET,
    ItemType.BACK: EquipSlot.BACK,
    ItemType.JEWELLERY: EquipSlot.JEWELLERY,
    ItemType.WEAPON: EquipSlot.WEAPON,
    ItemType.SUB_WEAPON: EquipSlot.SUB_WEAPON,
    ItemType.RIDING: EquipSlot.RIDING,
}

#: Types that are worn (stack 1, may carry ``stats``); the client never stacks them.
EQUIPMENT_TYPES = frozenset(_SLOTS)
#: Types the client stacks in one inventory slot (up to 999).
STACKABLE_TYPES = frozenset(set(ItemType) - EQUIPMENT_TYPES)


def equip_slot(item_type: int) -> EquipSlot | None:
    """The slot an item of this client type is equipped in, ``None`` for non-equipment."""
    try:
        return _SLOTS.get(ItemType(item_type))
    except ValueError:
        return None


class Job(enum.IntEnum):
    """The client's job numbers: first jobs x11, their second jobs x21 and x22."""

    VISITOR = 0
    SOLDIER = 111
    KNIGHT = 121
    CHAMPION = 122
    MUSE = 211
    MAGE = 221
    CLERIC = 222
    HAWKER = 311
    RAIDER = 321
    SCOUT = 322
    DEALER = 411
    BOURGEOIS = 421
    ARTISAN = 422


_JOBS = frozenset(int(job) for job in Job)


def _known_job(value: int) -> int:
    if value not in _JOBS:
        known = ", ".join(str(int(job)) for job in Job)
        raise ValueError(f"unknown job {value} (the client's jobs are {known})")
    return value


# --- field types -------------------------------------------------------------------------------

U16 = Annotated[int, Strict(), Field(ge=1, le=0xFFFF)]
Count = Annotated[int, Strict(), Field(ge=0)]
Level = Annotated[int, Strict(), Field(ge=1, le=255)]
#: A content key: how entries refer to each other (``item = "hp_potion_small"``).
Key = Annotated[
    str, Strict(), StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
]
Name = Annotated[str, Strict(), StringConstraints(min_length=1, max_length=64)]
Coord = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Positive = Annotated[float, Strict(), Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[float, Strict(), Field(ge=0, allow_inf_nan=False)]
Chance = Annotated[float, Strict(), Field(ge=0, le=1)]
JobNumber = Annotated[int, Strict(), AfterValidator(_known_job)]


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Point(_Entry):
    """A position on a map, in map units."""

    x: Coord
    y: Coord


class Bounds(_Entry):
    """The walkable rectangle of a map; everything placed on the map lies inside it."""

    min_x: Coord
    min_y: Coord
    max_x: Coord
    max_y: Coord

    def contains(self, x: float, y: float) -> bool:
        return self.min_x <= x <= self.max_x and self.min_y <= y <= self.max_y


class MapDef(_Entry):
    """``[[map]]``: a zone; ``id`` is the client's map number (it picks the terrain)."""

    id: U16
    name: Name
    bounds: Bounds
    spawn: Point
    revive: tuple[Point, ...] = Field(min_length=1)
    pvp: Annotated[bool, Strict()] = False


class Destination(_Entry):
    map: U16
    x: Coord
    y: Coord


class GateDef(_Entry):
    """``[[gate]]``: stepping within ``radius`` of ``position`` warps to ``destination``."""

    id: U16
    map: U16
    position: Point
    radius: Positive
    destination: Destination


class NpcDef(_Entry):
    """``[[npc]]``: a non-hostile character; ``type`` is the client's NPC number (its model)."""

    id: Key
    type: U16
    name: Name
    map: U16
    position: Point
    direction: Annotated[float, Strict(), Field(ge=0, lt=360)] = 0.0
    shop: Key | None = None


class ZulyRange(_Entry):
    min: Count
    max: Count


class Drop(_Entry):
    """One roll of a monster's loot: either an item (``min``..``max`` of it) or zuly."""

    item: Key | None = None
    zuly: ZulyRange | None = None
    chance: Chance
    min: Annotated[int, Strict(), Field(ge=1, le=999)] = 1
    max: Annotated[int, Strict(), Field(ge=1, le=999)] = 1


class MonsterDef(_Entry):
    """``[[monster]]``: a kind of monster; ``type`` is the client's NPC number (its model)."""

    id: Key
    type: U16
    name: Name
    level: Level
    hp: Annotated[int, Strict(), Field(ge=1)]
    attack: Count
    defence: Count
    attack_range: Positive
    #: The client's attack speed number (100 = base rate), not attacks per minute.
    attack_speed: Annotated[int, Strict(), Field(ge=1, le=1000)]
    move_speed: Positive
    #: 0 = passive: it only fights back.
    aggro_radius: NonNegative = 0.0
    xp: Count = 0
    drops: tuple[Drop, ...] = ()


class SpawnDef(_Entry):
    """``[[spawn]]``: keeps ``count`` monsters of a kind alive within a circle of a map."""

    id: Key
    monster: Key
    map: U16
    centre: Point
    #: The whole circle lies inside the map's bounds (refused otherwise, never clipped).
    radius: NonNegative
    count: Annotated[int, Strict(), Field(ge=1, le=500)]
    respawn_seconds: Positive


class Requirements(_Entry):
    """What a character needs to use an item; omitted = no requirement."""

    level: Level | None = None
    job: tuple[JobNumber, ...] = ()
    str: Count | None = None
    dex: Count | None = None
    int: Count | None = None
    con: Count | None = None
    cha: Count | None = None
    sen: Count | None = None


class ItemStats(_Entry):
    """What wearing an equipment item adds (``move_speed`` in map units per second)."""

    attack: Count = 0
    defence: Count = 0
    magic_defence: Count = 0
    hit: Count = 0
    dodge: Count = 0
    move_speed: Count = 0
    attack_speed: Count = 0
    max_hp: Count = 0
    max_mp: Count = 0


class ItemEffect(_Entry):
    """What using a consumable does; ``duration_seconds`` > 0 spreads ``amount`` over time."""

    kind: Literal["heal_hp", "heal_mp", "return"]
    amount: Count = 0
    duration_seconds: NonNegative = 0.0
    cooldown_seconds: NonNegative = 0.0


class ItemDef(_Entry):
    """``[[item]]``: ``(type, number)`` is the client's item reference, unique in a pack."""

    id: Key
    type: Annotated[int, Strict(), Field(ge=1, le=14)]
    number: U16
    name: Name
    stack: Annotated[int, Strict(), Field(ge=1, le=999)] = 1
    price: Count = 0
    weight: Count = 0
    requirements: Requirements = Requirements()
    stats: ItemStats | None = None
    effect: ItemEffect | None = None
    #: Ammunition (a material item): which of the three ammunition slots it is equipped in.
    ammo: Literal["arrow", "bullet", "throw"] | None = None
    #: A riding part (type 14): which of the cart's five part slots it goes in.
    ride_part: Literal["body", "engine", "leg", "ability", "arm"] | None = None

    @property
    def item_type(self) -> ItemType:
        return ItemType(self.type)

    @property
    def slot(self) -> EquipSlot | None:
        return equip_slot(self.type)


class ShopItem(_Entry):
    item: Key
    #: Overrides the item's own price in this shop.
    price: Count | None = None


class ShopDef(_Entry):
    """``[[shop]]``: what an NPC sells."""

    id: Key
    name: Name
    items: tuple[ShopItem, ...] = Field(min_length=1)


class SkillEffect(_Entry):
    """``kind = "buff"`` raises ``stat`` by ``power`` for ``duration_seconds``."""

    kind: Literal["damage", "heal", "buff"]
    power: Count
    duration_seconds: NonNegative = 0.0
    stat: Literal["attack", "defence", "magic_defence", "hit", "dodge", "move_speed",
                  "attack_speed", "max_hp", "max_mp"] | None = None
    #: 0 = one target; otherwise everything within this many map units of the target.
    radius: NonNegative = 0.0


class SkillDef(_Entry):
    """``[[skill]]``: ``id`` is the client's skill number (icon and animation)."""

    id: U16
    name: Name
    job: JobNumber
    level: Level = 1
    mp_cost: Count = 0
    cooldown_seconds: NonNegative = 0.0
    #: 0 = the caster itself.
    range: NonNegative = 0.0
    effect: SkillEffect
    #: The skill id of this skill's next level (what ``PAKCS_SKILL_LEVEL_REQ`` asks for); the
    #: loader checks it exists, has the same job and a ``level`` at least this one's.
    next: U16 | None = None
    #: Skill points that learning this skill (or levelling up to it) costs.
    points: Annotated[int, Strict(), Field(ge=0, le=255)] = 1


class KitItem(_Entry):
    item: Key
    count: Annotated[int, Strict(), Field(ge=1, le=999)] = 1
    equip: Annotated[bool, Strict()] = False


class StarterKitDef(_Entry):
    """``[[starter_kit]]``: what a new character of ``job`` starts with."""

    job: JobNumber
    zuly: Count = 0
    items: tuple[KitItem, ...] = ()
    #: Client skill ids the new character knows, in skill slot order; each skill's job is the
    #: kit's job or 0 (visitor skills are common to every job).
    skills: tuple[U16, ...] = ()
