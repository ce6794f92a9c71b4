"""Item encodings shared by the character list and the world (docs/protocol.md §5.6, C1-C3)."""

from __future__ import annotations

from collections.abc import Sequence

#: Inventory size (12 equipment slots + 120 bag + 3 ammunition + 5 vehicle).
INVENTORY_SLOTS = 140
#: Hotbar size.
HOTBAR_SLOTS = 32
#: Skill slots.
SKILL_SLOTS = 120
#: Inventory slots of the 8 visible items, in the char list's body-part order:
#: HELMET, ARMOR, GAUNTLET, BOOTS, GOGGLES, BACKPACK, WEAPON_R, WEAPON_L.
VISIBLE_SLOTS = (2, 3, 5, 6, 1, 4, 7, 8)


def equipped_item(header: int, data: int) -> int:
    """The EquippedItem u32 (bits 0-9 id, 10-18 gem option, 19 socket, 20-23 grade) of an
    inventory Item (header bits 5-14 id; data bits 0-8 gem option, 26 socket, 28-31 refine)."""
    if header == 0:
        return 0
    item_id = (header >> 5) & 0x3FF
    gem_opt = data & 0x1FF
    socket = (data >> 26) & 1
    grade = (data >> 28) & 0xF
    return item_id | gem_opt << 10 | socket << 19 | grade << 20


def visible_items(inventory: Sequence[Sequence[int]]) -> list[int]:
    """The 8 visible EquippedItem values of an inventory of ``[header, data]`` pairs."""
    result = []
    for slot in VISIBLE_SLOTS:
        header, data = inventory[slot] if slot < len(inventory) else (0, 0)
        result.append(equipped_item(header, data))
    return result
