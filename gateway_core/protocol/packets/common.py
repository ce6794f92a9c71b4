"""Types shared by many packets and the array-size constants.

Item encodings (C1-C3), equipment, hotbar, status effects, party members.

Declarations follow docs/protocol.md Appendix A (generated from the XML definitions, then
reviewed); field names are the XML names in snake_case.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final

from gateway_core.protocol.codecs import cstr, i16, u16, u32
from gateway_core.protocol.declarations import Record, UnionValue, bit_field, field, record, union

__all__ = [
    "MAX_BULLET_TYPES",
    "MAX_CONDITIONS_EPISODE",
    "MAX_CONDITIONS_JOB",
    "MAX_CONDITIONS_PLANET",
    "MAX_CONDITIONS_UNION",
    "MAX_HOTBAR_ITEMS",
    "MAX_ITEMS",
    "MAX_QUESTS",
    "MAX_QUEST_ITEMS",
    "MAX_QUEST_VARS",
    "MAX_RIDING_ITEMS",
    "MAX_SELL_TYPE",
    "MAX_SKILL_COUNT",
    "MAX_STATUS_EFFECTS",
    "MAX_SWITCHES",
    "MAX_VISIBLE_ITEMS",
    "MAX_WISHLIST",
    "BulletType",
    "EquippedItem",
    "EquippedPosition",
    "EquippedPositionRide",
    "HotbarItem",
    "Item",
    "ItemData",
    "ItemHeader",
    "MobAnimation",
    "PartyMember",
    "PartyRule",
    "RidingItem",
    "StatusEffect",
]

# Array sizes (dataconsts.h of dev-osrose/packets, docs/protocol.md §5.7).
MAX_SELL_TYPE: Final = 11
MAX_VISIBLE_ITEMS: Final = 8
MAX_ITEMS: Final = 140
MAX_CONDITIONS_EPISODE: Final = 5
MAX_CONDITIONS_JOB: Final = 3
MAX_CONDITIONS_PLANET: Final = 7
MAX_CONDITIONS_UNION: Final = 10
MAX_QUESTS: Final = 10
MAX_SWITCHES: Final = 16
MAX_QUEST_VARS: Final = 10
MAX_QUEST_ITEMS: Final = 6
MAX_WISHLIST: Final = 30
MAX_STATUS_EFFECTS: Final = 40
MAX_SKILL_COUNT: Final = 120
MAX_HOTBAR_ITEMS: Final = 32
MAX_BULLET_TYPES: Final = 3
MAX_RIDING_ITEMS: Final = 5


class BulletType(IntEnum):
    """``BulletType``: u8 on the wire (bullet_type.xml)."""

    Arrow = 0
    Bullet = 1
    Throw = 2
    MaxBulletTypes = 3


class EquippedPosition(IntEnum):
    """``EquippedPosition``: u8 on the wire (equipped_position.xml)."""

    HELMET = 0
    ARMOR = 1
    GAUNTLET = 2
    BOOTS = 3
    GOOGLES = 4
    BACKPACK = 5
    WEAPON_R = 6
    WEAPON_L = 7
    NECKLACE = 8
    RING = 9
    EARRING = 10
    MAX_EQUIP_ITEMS = 11


class EquippedPositionRide(IntEnum):
    """``EquippedPositionRide``: u16 on the wire (equipped_position_ride.xml)."""

    BODY = 0
    ENGINE = 1
    LEG = 2
    ABILITY = 3
    ARM = 4


class MobAnimation(IntEnum):
    """``MobAnimation``: u8 on the wire (mob_animation.xml)."""

    STOP = 0
    ATTACK = 1
    HIT = 2
    DIE = 3
    RUN = 4
    ACTION1 = 5
    SKILL1 = 6
    ACTION2 = 7
    SKILL2 = 8
    ETC = 9


class PartyRule(IntEnum):
    """``PartyRule``: u8 on the wire (party_rule.xml)."""

    EXP_PER_PLAYER = 1
    ITEM_IN_ORDER = 128


class RidingItem(IntEnum):
    """``RidingItem``: u8 on the wire (riding_item.xml)."""

    Body = 0
    Engine = 1
    Legs = 2
    Option = 3
    Arms = 4
    MaxRidingItems = 5


@union(u32)
class ItemData(UnionValue):
    """C1 ``ItemData`` (XML ``Data``, item.xml): one u32 on the wire.

    Either a stack count (``ItemData(count=20)``) for stackable items, or the equipment
    overlay: ``ItemData.of(gem_opt=.., durability=.., life=.., has_socket=.., is_appraised=..,
    refine=..)`` (bits 0-8, 9-15, 16-25, 26, 27, 28-31).
    """

    count: int = 0
    gem_opt = bit_field(0, 9)
    durability = bit_field(9, 7)
    life = bit_field(16, 10)
    has_socket = bit_field(26, 1)
    is_appraised = bit_field(27, 1)
    refine = bit_field(28, 4)


@union(u16)
class ItemHeader(UnionValue):
    """C1 ``ItemHeader`` (XML ``Header``, item.xml): one u16 on the wire.

    Bits 0-4 ``type``, 5-14 ``id``, 15 ``is_created``:
    ``ItemHeader.of(type=3, id=5, is_created=1) == ItemHeader(0x80A3)``.
    """

    header: int = 0
    type = bit_field(0, 5)
    id = bit_field(5, 10)
    is_created = bit_field(15, 1)


@record
class Item(Record):
    """C2 ``Item`` (item.xml): ``ItemHeader`` (u16) + ``ItemData`` (u32), 6 bytes."""

    header: ItemHeader = field(ItemHeader)
    data: ItemData = field(ItemData)

    @classmethod
    def stack(cls, type: int, id: int, count: int, *, is_created: int = 0) -> Item:
        """A stackable item: the data word is the count."""
        return cls(ItemHeader.of(type=type, id=id, is_created=is_created), ItemData(count=count))

    @classmethod
    def equipment(
        cls,
        type: int,
        id: int,
        *,
        is_created: int = 0,
        gem_opt: int = 0,
        durability: int = 0,
        life: int = 0,
        has_socket: int = 0,
        is_appraised: int = 0,
        refine: int = 0,
    ) -> Item:
        """An equipment item: the data word is the gem/durability/life/refine overlay."""
        data = ItemData.of(
            gem_opt=gem_opt,
            durability=durability,
            life=life,
            has_socket=has_socket,
            is_appraised=is_appraised,
            refine=refine,
        )
        return cls(ItemHeader.of(type=type, id=id, is_created=is_created), data)


@union(u32)
class EquippedItem(UnionValue):
    """C3 ``EquippedItem`` (equipped_item.xml): one u32 on the wire.

    Bits 0-9 ``id``, 10-18 ``gem_opt``, 19 ``socket``, 20-23 ``grade``, 24-31 unused:
    ``EquippedItem.of(id=.., gem_opt=.., socket=.., grade=..)``.
    """

    data: int = 0
    id = bit_field(0, 10)
    gem_opt = bit_field(10, 9)
    socket = bit_field(19, 1)
    grade = bit_field(20, 4)


@union(u16)
class HotbarItem(UnionValue):
    """``HotbarItem`` (hotbar_item.xml): one u16 on the wire.

    In the XML these are bit-fields of a plain sequence (not a union); the wire form is the
    same: bits 0-4 ``type``, 5-15 ``slot_id``. ``data`` is the whole 16-bit value (a name
    chosen here: the XML has no whole-value member). ``HotbarItem.of(type=.., slot_id=..)``.
    """

    data: int = 0
    type = bit_field(0, 5)
    slot_id = bit_field(5, 11)


@record
class PartyMember(Record):
    """``PartyMember`` (party_member.xml)."""

    tag: int = field(u32)
    id: int = field(u16)
    max_hp: int = field(u32)
    hp: int = field(u32)
    status: int = field(u32)
    con: int = field(u16)
    hp_recovery: int = field(u16)
    mp_recovery: int = field(u16)
    stamina: int = field(i16)
    name: bytes = field(cstr)


@record
class StatusEffect(Record):
    """``StatusEffect`` (status_effect.xml)."""

    expired: int = field(u32)
    value: int = field(u16)
    unknown: int = field(u16)
