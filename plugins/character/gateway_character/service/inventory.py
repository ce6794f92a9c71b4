"""The inventory model of the character service: slots, stacking and ChangeItems, without I/O.

Slot layout of the 140 inventory slots (docs/protocol.md §5.6; the client's numbering):

* 0 is not used;
* 1-11 equipment: 1 face (item type 1), 2 head (2), 3 body (3), 4 back (6), 5 hands (4),
  6 feet (5), 7 weapon (8), 8 sub-weapon (9), 9-11 jewellery (7) - each takes its type only;
* 12-131 the bag, 4 tabs of 30: tab 0 (12-41) equipment (types 1-9), tab 1 (42-71)
  consumables (10), tab 2 (72-101) gems, materials and quest items (11-13), tab 3 (102-131)
  riding parts (14) - a bag slot takes the types of its tab;
* 132-134 ammunition: 132 arrows, 133 bullets, 134 throwing weapons (material items whose
  content ``ammo`` names the slot's kind);
* 135-139 the vehicle's parts, body, engine, leg, ability, arm (type 14 only; an item whose
  content ``ride_part`` names a part goes in that part's slot only).

An item is a ``(header, data)`` pair: header bits 0-4 type, 5-14 number, 15 is_created; data is
the count of a stackable item (types 10-13) or an equipment overlay (durability, life, ...).
An added item goes onto the first stack of the same (type, number) in its tab with room (the
content's ``ItemDef.stack``), then into the first free slot of its tab. The storage of an
account is 160 slots taking any item, stacked the same way.

:func:`apply_change` applies a whole ``ChangeItemsRequest`` to copies of an inventory, its zuly,
a storage and its zuly: either everything (result ITEM_RESULT_OK, the new values and the slots
that changed) or nothing (another result, the values given, nothing changed).
:func:`apply_exchange` does the same for an ``ExchangeRequest`` between two characters (a
player trade, a personal shop's sale): both sides or neither, and which side failed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from gateway_protos.v1 import character_pb2, common_pb2

from gateway_core.api import ContentPack, ItemDef

__all__ = [
    "INVENTORY_SLOTS",
    "MAX_ZULY",
    "STORAGE_SLOTS",
    "Change",
    "Exchanged",
    "Refused",
    "SideAfter",
    "apply_change",
    "apply_exchange",
    "bag_tab",
    "empty_inventory",
    "empty_storage",
    "fits",
    "fits_slot",
    "item_count",
    "item_number",
    "item_type",
    "make_header",
    "new_item",
    "weight",
]

_R = character_pb2

Slot = tuple[int, int]

#: Inventory size (12 equipment slots with the unused 0, 120 bag, 3 ammunition, 5 vehicle).
INVENTORY_SLOTS: Final = 140
#: Storage size (per account).
STORAGE_SLOTS: Final = 160
#: Most zuly a character or a storage may hold (the packets' signed 64-bit money).
MAX_ZULY: Final = 2**63 - 1
#: Most operations of one request.
MAX_OPS: Final = 64

#: Equipment slot -> the item type it takes.
EQUIPMENT_SLOTS: Final = {1: 1, 2: 2, 3: 3, 4: 6, 5: 4, 6: 5, 7: 8, 8: 9, 9: 7, 10: 7, 11: 7}
BAG_START: Final = 12
TAB_SLOTS: Final = 30
BAG_TABS: Final = 4
AMMO_SLOTS: Final = range(132, 135)
RIDING_SLOTS: Final = range(135, 140)
#: The content's ``ItemDef.ammo`` each ammunition slot takes.
AMMO_KINDS: Final = {132: "arrow", 133: "bullet", 134: "throw"}
#: The content's ``ItemDef.ride_part`` of each riding slot (a part without one fits all).
RIDE_PARTS: Final = ("body", "engine", "leg", "ability", "arm")
#: Item types counted by their data (the rest are one item per slot with an overlay).
STACKABLE_TYPES: Final = frozenset({10, 11, 12, 13})
#: The overlay of a fresh equipment item: durability 50 (bits 9-15), life 1000 (bits 16-25).
FRESH_EQUIPMENT_DATA: Final = 50 << 9 | 1000 << 16

EMPTY: Final[Slot] = (0, 0)


def make_header(item_type: int, number: int, created: bool = False) -> int:
    """The u16 item header: type bits 0-4, number bits 5-14, is_created bit 15."""
    return (item_type & 0x1F) | (number & 0x3FF) << 5 | (1 << 15 if created else 0)


def item_type(header: int) -> int:
    return header & 0x1F


def item_number(header: int) -> int:
    return (header >> 5) & 0x3FF


def is_stackable(kind: int) -> bool:
    return kind in STACKABLE_TYPES


def item_count(item: Sequence[int]) -> int:
    """How many items a slot holds (0 when empty; 1 for equipment)."""
    header, data = item[0], item[1]
    if header == 0:
        return 0
    return data if is_stackable(item_type(header)) else 1


def new_item(definition: ItemDef, count: int = 1) -> Slot:
    """A fresh item of ``definition``: ``count`` of a stackable one, or one equipment item."""
    header = make_header(definition.type, definition.number)
    return (header, count) if is_stackable(definition.type) else (header, FRESH_EQUIPMENT_DATA)


def bag_tab(kind: int) -> int:
    """The bag tab an item type belongs to."""
    if kind <= 9:
        return 0
    if kind == 10:
        return 1
    if kind <= 13:
        return 2
    return 3


def tab_slots(kind: int) -> range:
    start = BAG_START + bag_tab(kind) * TAB_SLOTS
    return range(start, start + TAB_SLOTS)


def fits_slot(slot: int, kind: int) -> bool:
    """Whether an item of type ``kind`` may be in inventory ``slot`` (0: an empty slot, which
    fits every usable slot)."""
    if slot in EQUIPMENT_SLOTS:
        return kind == 0 or EQUIPMENT_SLOTS[slot] == kind
    if BAG_START <= slot < BAG_START + BAG_TABS * TAB_SLOTS:
        return kind == 0 or (slot - BAG_START) // TAB_SLOTS == bag_tab(kind)
    if slot in RIDING_SLOTS:
        return kind in (0, 14)
    return False  # 0 (unused), ammunition (by its definition: see fits), outside


def fits(pack: ContentPack, slot: int, header: int) -> bool:
    """Whether the item ``header`` (0: empty) may be in inventory ``slot``: :func:`fits_slot`,
    and for an ammunition slot, ammunition of the slot's kind; a riding part with a
    ``ride_part`` only in that part's slot."""
    if slot in AMMO_SLOTS:
        if header == 0:
            return True
        definition = pack.item_by_client(item_type(header), item_number(header))
        return definition is not None and definition.ammo == AMMO_KINDS[slot]
    if slot in RIDING_SLOTS and header:
        definition = pack.item_by_client(item_type(header), item_number(header))
        if definition is not None and definition.ride_part is not None:
            return RIDE_PARTS[slot - RIDING_SLOTS.start] == definition.ride_part
    return fits_slot(slot, item_type(header))


def empty_inventory() -> list[list[int]]:
    return [[0, 0] for _ in range(INVENTORY_SLOTS)]


def empty_storage() -> list[list[int]]:
    return [[0, 0] for _ in range(STORAGE_SLOTS)]


def weight(pack: ContentPack, inventory: Iterable[Sequence[int]]) -> int:
    """The sum of the content's item weights times counts (items the pack lacks weigh 0)."""
    total = 0
    for item in inventory:
        if item[0] == 0:
            continue
        definition = pack.item_by_client(item_type(item[0]), item_number(item[0]))
        if definition is not None:
            total += definition.weight * item_count(item)
    return total


class Refused(Exception):
    """A change that cannot be made: ``result`` (an ItemResult) and why."""

    def __init__(self, result: int, message: str) -> None:
        super().__init__(message)
        self.result = result
        self.message = message


@dataclass
class Change:
    """The outcome of :func:`apply_change`: on ITEM_RESULT_OK the new values and the slots
    whose contents differ from before; otherwise the values as given and nothing changed."""

    result: int
    message: str
    inventory: list[Slot]
    zuly: int
    storage: list[Slot]
    storage_zuly: int
    changed: list[int] = field(default_factory=list)
    storage_changed: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.result == _R.ITEM_RESULT_OK


def _definition(pack: ContentPack, ref: common_pb2.ItemRef, count: int) -> ItemDef:
    """The item ``ref`` names, checked against ``count`` (UNKNOWN_ITEM otherwise)."""
    definition = pack.item_by_client(ref.item_type, ref.item_number)
    if definition is None:
        raise Refused(
            _R.ITEM_RESULT_UNKNOWN_ITEM, f"no item {ref.item_type}:{ref.item_number}"
        )
    most = definition.stack if is_stackable(definition.type) else 1
    if not 1 <= count <= most:
        raise Refused(
            _R.ITEM_RESULT_UNKNOWN_ITEM,
            f"count {count} of item {ref.item_type}:{ref.item_number} is not 1 to {most}",
        )
    return definition


def _stack_size(pack: ContentPack, header: int) -> int:
    kind = item_type(header)
    if not is_stackable(kind):
        return 1
    definition = pack.item_by_client(kind, item_number(header))
    return definition.stack if definition is not None else 1


def _put(
    pack: ContentPack, slots: list[Slot], candidates: Iterable[int], item: Slot, count: int
) -> None:
    """Put ``count`` of ``item`` (an equipment item: itself) into ``slots`` among
    ``candidates``: onto stacks of it with room first, then into free slots (NO_ROOM when it
    does not all fit)."""
    order = list(candidates)
    header = item[0]
    kind, number = item_type(header), item_number(header)
    if not is_stackable(kind):
        for slot in order:
            if slots[slot][0] == 0:
                slots[slot] = item
                return
        raise Refused(_R.ITEM_RESULT_NO_ROOM, "no free slot")
    stack = _stack_size(pack, header)
    left = count
    for slot in order:
        held = slots[slot]
        if left and held[0] and (item_type(held[0]), item_number(held[0])) == (kind, number):
            room = stack - held[1]
            if room > 0:
                moved = min(room, left)
                slots[slot] = (held[0], held[1] + moved)
                left -= moved
    for slot in order:
        if left and slots[slot][0] == 0:
            moved = min(stack, left)
            slots[slot] = (header, moved)
            left -= moved
    if left:
        raise Refused(_R.ITEM_RESULT_NO_ROOM, "no room for all of it")


def _take(
    slots: list[Slot], slot: int, ref: common_pb2.ItemRef, definition: ItemDef, count: int,
    size: int, where: str,
) -> Slot:
    """Take ``count`` of the item ``ref`` from ``slots[slot]``; returns what was taken."""
    if not 0 <= slot < size:
        raise Refused(_R.ITEM_RESULT_BAD_SLOT, f"no {where} slot {slot}")
    held = slots[slot]
    if held[0] == 0 or (item_type(held[0]), item_number(held[0])) != (
        definition.type,
        definition.number,
    ):
        raise Refused(
            _R.ITEM_RESULT_NOT_HELD,
            f"{where} slot {slot} does not hold item {ref.item_type}:{ref.item_number}",
        )
    have = item_count(held)
    if have < count:
        raise Refused(
            _R.ITEM_RESULT_NOT_HELD, f"{where} slot {slot} holds {have}, not {count}"
        )
    if not is_stackable(definition.type):
        slots[slot] = EMPTY
        return held
    slots[slot] = (held[0], held[1] - count) if have > count else EMPTY
    return (held[0], count)


def _move(pack: ContentPack, inventory: list[Slot], source: int, target: int) -> None:
    for slot in (source, target):
        if not 0 <= slot < INVENTORY_SLOTS:
            raise Refused(_R.ITEM_RESULT_BAD_SLOT, f"no inventory slot {slot}")
    moving, there = inventory[source], inventory[target]
    if moving[0] == 0:
        raise Refused(_R.ITEM_RESULT_NOT_HELD, f"inventory slot {source} is empty")
    if source == target:
        return
    kind = item_type(moving[0])
    if not fits(pack, source, moving[0]) or not fits(pack, target, moving[0]):
        raise Refused(_R.ITEM_RESULT_BAD_SLOT, f"an item of type {kind} cannot go to {target}")
    if (
        there[0]
        and is_stackable(kind)
        and (item_type(there[0]), item_number(there[0])) == (kind, item_number(moving[0]))
    ):
        moved = min(moving[1], max(0, _stack_size(pack, there[0]) - there[1]))
        inventory[target] = (there[0], there[1] + moved)
        inventory[source] = (moving[0], moving[1] - moved) if moving[1] > moved else EMPTY
        return
    if not fits(pack, source, there[0]):
        raise Refused(
            _R.ITEM_RESULT_BAD_SLOT,
            f"the item in slot {target} cannot go to {source}",
        )
    inventory[source], inventory[target] = there, moving


def _apply_op(
    pack: ContentPack, op: character_pb2.ItemOp, inventory: list[Slot], storage: list[Slot]
) -> None:
    which = op.WhichOneof("op")
    if which == "add":
        definition = _definition(pack, op.add.item, op.add.count)
        _put(pack, inventory, tab_slots(definition.type), new_item(definition, op.add.count),
             op.add.count)
    elif which == "remove":
        r = op.remove
        definition = _definition(pack, r.item, r.count)
        _take(inventory, r.slot, r.item, definition, r.count, INVENTORY_SLOTS, "inventory")
    elif which == "move":
        _move(pack, inventory, op.move.from_slot, op.move.to_slot)
    elif which == "store":
        s = op.store
        definition = _definition(pack, s.item, s.count)
        taken = _take(inventory, s.slot, s.item, definition, s.count, INVENTORY_SLOTS,
                      "inventory")
        _put(pack, storage, range(STORAGE_SLOTS), taken, s.count)
    elif which == "retrieve":
        t = op.retrieve
        definition = _definition(pack, t.item, t.count)
        taken = _take(storage, t.storage_slot, t.item, definition, t.count, STORAGE_SLOTS,
                      "storage")
        _put(pack, inventory, tab_slots(definition.type), taken, t.count)
    else:
        raise Refused(_R.ITEM_RESULT_BAD_SLOT, "an operation without an op")


def _zuly(value: int, delta: int, where: str) -> int:
    result = value + delta
    if result < 0:
        raise Refused(_R.ITEM_RESULT_NO_ZULY, f"{where} has {value} zuly, {-delta} needed")
    if result > MAX_ZULY:
        raise Refused(_R.ITEM_RESULT_TOO_MUCH_ZULY, f"{where} cannot hold {result} zuly")
    return result


def _slots(items: Sequence[Sequence[int]], size: int) -> list[Slot]:
    result = [(int(item[0]), int(item[1])) for item in items[:size]]
    return result + [EMPTY] * (size - len(result))


def apply_change(
    pack: ContentPack,
    request: character_pb2.ChangeItemsRequest,
    inventory: Sequence[Sequence[int]],
    zuly: int,
    storage: Sequence[Sequence[int]],
    storage_zuly: int,
) -> Change:
    """Apply every operation of ``request`` in order, then its zuly deltas, to copies of the
    given values: all of them, or (the first refusal) none."""
    before_inventory = _slots(inventory, INVENTORY_SLOTS)
    before_storage = _slots(storage, STORAGE_SLOTS)
    new_inventory = list(before_inventory)
    new_storage = list(before_storage)
    try:
        for index, op in enumerate(request.ops):
            try:
                _apply_op(pack, op, new_inventory, new_storage)
            except Refused as refused:
                raise Refused(refused.result, f"operation {index}: {refused.message}") from None
        new_zuly = _zuly(zuly, request.zuly_delta, "the character")
        new_storage_zuly = _zuly(storage_zuly, request.storage_zuly_delta, "the storage")
    except Refused as refused:
        return Change(refused.result, refused.message, before_inventory, zuly, before_storage,
                      storage_zuly)
    return Change(
        _R.ITEM_RESULT_OK,
        "",
        new_inventory,
        new_zuly,
        new_storage,
        new_storage_zuly,
        changed=[i for i in range(INVENTORY_SLOTS) if new_inventory[i] != before_inventory[i]],
        storage_changed=[
            i for i in range(STORAGE_SLOTS) if new_storage[i] != before_storage[i]
        ],
    )


#: Most items one side of an exchange gives.
MAX_EXCHANGE_ITEMS: Final = 64


@dataclass
class SideAfter:
    """One side of an exchange afterwards: its inventory, its zuly and the slots whose
    contents differ from before (the values as given when the exchange was refused)."""

    inventory: list[Slot]
    zuly: int
    changed: list[int] = field(default_factory=list)


@dataclass
class Exchanged:
    """The outcome of :func:`apply_exchange`. ``failed`` is ``"a"`` or ``"b"``, the side that
    could not be carried out (it does not hold what it gives, it has no room for what it gets,
    too little or too much zuly), and ``""`` when the exchange was made."""

    result: int
    message: str
    failed: str
    a: SideAfter
    b: SideAfter

    @property
    def ok(self) -> bool:
        return self.result == _R.ITEM_RESULT_OK


class _SideRefused(Refused):
    def __init__(self, side: str, refused: Refused) -> None:
        super().__init__(refused.result, f"side {side}: {refused.message}")
        self.side = side


def _gives(pack: ContentPack, side: str, gives: Sequence[character_pb2.RemoveItem],
           inventory: list[Slot]) -> list[tuple[Slot, int]]:
    """Take every item ``side`` gives out of its ``inventory``: what was taken, with counts."""
    if len(gives) > MAX_EXCHANGE_ITEMS:
        raise _SideRefused(side, Refused(_R.ITEM_RESULT_BAD_SLOT,
                                         f"more than {MAX_EXCHANGE_ITEMS} items"))
    taken = []
    for index, give in enumerate(gives):
        try:
            definition = _definition(pack, give.item, give.count)
            item = _take(inventory, give.slot, give.item, definition, give.count,
                         INVENTORY_SLOTS, "inventory")
        except Refused as refused:
            raise _SideRefused(side, Refused(refused.result,
                                             f"item {index}: {refused.message}")) from None
        taken.append((item, give.count))
    return taken


def _receive(pack: ContentPack, side: str, items: Sequence[tuple[Slot, int]],
             inventory: list[Slot]) -> None:
    """Add what the other side gave to ``side``'s ``inventory`` the way AddItem adds (onto
    stacks of it with room in its tab, then free slots of its tab); an equipment item keeps
    its overlay (durability, life, gems)."""
    for item, count in items:
        try:
            _put(pack, inventory, tab_slots(item_type(item[0])), item, count)
        except Refused as refused:
            raise _SideRefused(side, refused) from None


def _exchange_zuly(side: str, held: int, gives: int, gets: int) -> int:
    if gives < 0:
        raise _SideRefused(side, Refused(_R.ITEM_RESULT_NO_ZULY, "a negative zuly"))
    if gives > held:
        raise _SideRefused(side, Refused(_R.ITEM_RESULT_NO_ZULY,
                                         f"has {held} zuly, gives {gives}"))
    after = held - gives + gets
    if after > MAX_ZULY:
        raise _SideRefused(side, Refused(_R.ITEM_RESULT_TOO_MUCH_ZULY,
                                         f"cannot hold {after} zuly"))
    return after


def apply_exchange(
    pack: ContentPack,
    request: character_pb2.ExchangeRequest,
    a_inventory: Sequence[Sequence[int]],
    a_zuly: int,
    b_inventory: Sequence[Sequence[int]],
    b_zuly: int,
) -> Exchanged:
    """Apply an exchange to copies of both inventories and purses: every item either side
    gives leaves it (RemoveItem's checks) and reaches the other, and each side's zuly goes to
    the other; all of it, or (the first refusal, naming its side) none.

    Both sides give first, so room one side makes by giving serves what it gets. Every item
    and every zuly that leaves one side reaches the other: nothing is made or lost."""
    before_a = _slots(a_inventory, INVENTORY_SLOTS)
    before_b = _slots(b_inventory, INVENTORY_SLOTS)
    new_a, new_b = list(before_a), list(before_b)
    try:
        from_a = _gives(pack, "a", request.a.gives, new_a)
        from_b = _gives(pack, "b", request.b.gives, new_b)
        _receive(pack, "b", from_a, new_b)
        _receive(pack, "a", from_b, new_a)
        zuly_a = _exchange_zuly("a", a_zuly, request.a.zuly, 0)
        zuly_b = _exchange_zuly("b", b_zuly, request.b.zuly, 0)
        zuly_a = _exchange_zuly("a", zuly_a, 0, request.b.zuly)
        zuly_b = _exchange_zuly("b", zuly_b, 0, request.a.zuly)
    except _SideRefused as refused:
        return Exchanged(refused.result, refused.message, refused.side,
                         SideAfter(before_a, a_zuly), SideAfter(before_b, b_zuly))
    return Exchanged(
        _R.ITEM_RESULT_OK, "", "",
        SideAfter(new_a, zuly_a, [i for i in range(INVENTORY_SLOTS) if new_a[i] != before_a[i]]),
        SideAfter(new_b, zuly_b, [i for i in range(INVENTORY_SLOTS) if new_b[i] != before_b[i]]),
    )


def starter_inventory(pack: ContentPack, job: int) -> tuple[list[list[int]], int]:
    """The inventory and zuly of a new character of ``job``: its starter kit's items (those
    marked ``equip`` in their equipment slot, the rest in the bag) and zuly; empty and 0
    without a kit. An ``equip`` item whose slot is taken (or a riding part) goes to the bag;
    what does not fit its bag tab is left out (the pack's checks rule both out)."""
    inventory = [EMPTY] * INVENTORY_SLOTS
    kit = pack.starter_kits.get(job)
    if kit is None:
        return [list(item) for item in inventory], 0
    for entry in kit.items:
        definition = pack.items[entry.item]
        item = new_item(definition, min(entry.count, definition.stack))
        free = [s for s, kind in EQUIPMENT_SLOTS.items()
                if kind == definition.type and inventory[s] == EMPTY] if entry.equip else []
        if free and not is_stackable(definition.type):  # jewellery: any of its three slots
            inventory[free[0]] = item
            continue
        count = entry.count if is_stackable(definition.type) else 1
        copies = 1 if is_stackable(definition.type) else entry.count
        for _ in range(copies):
            try:
                _put(pack, inventory, tab_slots(definition.type), item, count)
            except Refused:
                break
    return [list(item) for item in inventory], min(kit.zuly, MAX_ZULY)
