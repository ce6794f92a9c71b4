"""The pure rules of the items plugin: slots, shop indexes, requirements, prices, weight.

Nothing here talks to a backend; the handlers (:mod:`gateway_items.handlers`) use these to
decide what to ask the character and world services for.

Inventory slots (the character service's layout): 1-11 equipment (1 face, 2 head, 3 body,
4 back, 5 hands, 6 feet, 7 weapon, 8 sub-weapon, 9-11 jewellery), 12-131 bag (tabs of 30:
equipment, consumables, materials, riding parts), 132-134 ammunition (arrows, bullets,
throwing weapons), 135-139 riding parts (body, engine, leg, ability, arm).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from gateway_core.api import ContentPack, ItemDef

#: Inventory size.
INVENTORY_SLOTS: Final = 140
#: The equipment slots (jewellery included).
EQUIPMENT_SLOTS: Final = range(1, 12)
#: The bag.
BAG_SLOTS: Final = range(12, 132)
#: Bag slots per tab (4 tabs: equipment, consumables, materials, riding parts).
TAB_SLOTS: Final = 30
#: Ammunition slots: arrows, bullets, throwing weapons (PAKCS_EQUIP_PROJECTILE's type 0-2).
AMMO_SLOTS: Final = range(132, 135)
#: The content's ``ItemDef.ammo`` of each projectile type.
AMMO_KINDS: Final = ("arrow", "bullet", "throw")
#: Riding part slots: body, engine, leg, ability, arm (PAKCS_EQUIP_ITEM_RIDE's slot 0-4).
RIDING_SLOTS: Final = range(135, 140)
#: The client's item type of riding parts.
RIDING_ITEM_TYPE: Final = 14
#: The item type an equipment slot takes (the character service checks it too).
SLOT_ITEM_TYPE: Final = {1: 1, 2: 2, 3: 3, 4: 6, 5: 4, 6: 5, 7: 8, 8: 9, 9: 7, 10: 7, 11: 7}
#: Inventory slots of the 8 visible items, in body-part order (as PlayerLook).
VISIBLE_SLOTS: Final = (2, 3, 5, 6, 1, 4, 7, 8)
#: The client's item type of zuly on the ground.
ZULY_ITEM_TYPE: Final = 31
#: The client's item type of consumables.
CONSUMABLE_ITEM_TYPE: Final = 10
#: Item types whose data word is a stack count (use, etc/gem, natural, quest); the others
#: (equipment and PAT parts) are one item per slot.
STACKABLE_TYPES: Final = frozenset({10, 11, 12, 13})

#: Items per tab of an NPC store: the client addresses a buy as (tab, column); the content
#: pack's shop is one flat list, cut into tabs of this many (the client's store window shows
#: 48 items, 8 by 6, per tab). Index = tab * SHOP_TAB_SIZE + column.
SHOP_TAB_SIZE: Final = 48
#: How far (map units) a character may be from an NPC it trades with.
SHOP_RANGE: Final = 1000.0
#: An NPC buys an item for ``price // SELL_DIVISOR`` zuly apiece.
SELL_DIVISOR: Final = 2

#: Carrying capacity: ``BASE_CAPACITY + STR_CAPACITY * str + LEVEL_CAPACITY * level`` weight
#: units (the client's formula, without skills).
BASE_CAPACITY: Final = 1100
STR_CAPACITY: Final = 2
LEVEL_CAPACITY: Final = 2
#: The weight rate is a percentage of the capacity, capped to fit its byte.
MAX_WEIGHT_RATE: Final = 255


@dataclass(frozen=True, slots=True)
class SlotItem:
    """An inventory slot's item as the wire carries it (``header`` 0: empty)."""

    header: int = 0
    data: int = 0

    @property
    def empty(self) -> bool:
        return self.header == 0

    @property
    def item_type(self) -> int:
        return self.header & 0x1F

    @property
    def item_number(self) -> int:
        return (self.header >> 5) & 0x3FF

    @property
    def count(self) -> int:
        """How many: the data word of a stackable, 1 for one equipment item, 0 when empty."""
        if self.empty:
            return 0
        return self.data if self.item_type in STACKABLE_TYPES else 1


EMPTY: Final = SlotItem()


def is_stackable(item_type: int) -> bool:
    return item_type in STACKABLE_TYPES


def shop_index(tab: int, column: int) -> int:
    """The position in a shop's list of the client's (tab, column)."""
    return tab * SHOP_TAB_SIZE + column


def shop_entry(content: ContentPack, shop_key: str, tab: int, column: int
               ) -> tuple[ItemDef, int] | None:
    """The item a shop sells at (tab, column) and its price apiece (the shop's price, else the
    item's), ``None`` when the shop has nothing there."""
    shop = content.shops.get(shop_key)
    if shop is None or column >= SHOP_TAB_SIZE:
        return None
    index = shop_index(tab, column)
    if index >= len(shop.items):
        return None
    entry = shop.items[index]
    item = content.items[entry.item]
    return item, entry.price if entry.price is not None else item.price


def sell_price(item: ItemDef) -> int:
    """What an NPC pays for one ``item``: half its price, rounded down."""
    return item.price // SELL_DIVISOR


def chunks(count: int, stack: int) -> list[int]:
    """``count`` cut into stacks of at most ``stack`` (for AddItem, whose count may not pass
    the item's stack)."""
    stack = max(stack, 1)
    full, rest = divmod(count, stack)
    return [stack] * full + ([rest] if rest else [])


#: The requirement fields of an ItemDef and their index in CharacterProgress.stats.
_STAT_INDEX: Final = (("str", 0), ("dex", 1), ("int", 2), ("con", 3), ("cha", 4), ("sen", 5))


def unmet_requirement(item: ItemDef, *, level: int, job: int, stats: Sequence[int]) -> str | None:
    """Why a character (level, job, base stats in the client's order: str, dex, int, con,
    charm, sense) may not equip ``item``; ``None`` when it may."""
    needs = item.requirements
    if needs.level is not None and level < needs.level:
        return "level"
    if needs.job and job not in needs.job:
        return "job"
    for name, index in _STAT_INDEX:
        wanted = getattr(needs, name)
        if wanted is not None and (stats[index] if index < len(stats) else 0) < wanted:
            return name
    return None


def capacity(strength: int, level: int) -> int:
    """The weight a character carries at 100%."""
    return BASE_CAPACITY + STR_CAPACITY * max(strength, 0) + LEVEL_CAPACITY * max(level, 0)


def weight_rate(weight: int, *, strength: int, level: int) -> int:
    """PAKWC_SET_WEIGHT's rate: ``100 * weight // capacity`` (0-255, 100 = fully loaded)."""
    return min(100 * max(weight, 0) // capacity(strength, level), MAX_WEIGHT_RATE)


def inventory_weight(content: ContentPack, inventory: Sequence[SlotItem]) -> int:
    """The content's item weights times counts (how the character service sums it)."""
    total = 0
    for item in inventory:
        if item.empty:
            continue
        definition = content.item_by_client(item.item_type, item.item_number)
        if definition is not None:
            total += definition.weight * item.count
    return total


def equipped_item(item: SlotItem) -> int:
    """The packed EquippedItem (bits 0-9 id, 10-18 gem option, 19 socket, 20-23 grade) of an
    inventory item (0 for an empty slot)."""
    if item.empty:
        return 0
    gem_opt = item.data & 0x1FF
    socket = (item.data >> 26) & 1
    grade = (item.data >> 28) & 0xF
    return item.item_number | gem_opt << 10 | socket << 19 | grade << 20


def visible_equipment(inventory: Sequence[SlotItem]) -> list[int]:
    """The 8 visible EquippedItem values, body-part order."""
    return [equipped_item(inventory[slot]) if slot < len(inventory) else 0
            for slot in VISIBLE_SLOTS]


def bag_tab(item_type: int) -> range:
    """The bag slots of the tab an item type is kept in (the character service's layout)."""
    tab = 0 if item_type <= 9 else 1 if item_type == 10 else 2 if item_type <= 13 else 3
    start = BAG_SLOTS.start + tab * TAB_SLOTS
    return range(start, start + TAB_SLOTS)


def free_bag_slot(inventory: Sequence[SlotItem], item_type: int) -> int | None:
    """The first empty bag slot of the tab ``item_type`` is kept in (where an unequipped
    item goes)."""
    for slot in bag_tab(item_type):
        if slot >= len(inventory) or inventory[slot].empty:
            return slot
    return None
