"""The pure inventory model (gateway_character.service.inventory): slot rules, stacking, and a
state machine of random ChangeItems requests whose accepted ones change item counts and zuly
by exactly what they add and remove, and whose refused ones change nothing."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import pytest
from gateway_character.service.inventory import (
    EQUIPMENT_SLOTS,
    FRESH_EQUIPMENT_DATA,
    INVENTORY_SLOTS,
    MAX_ZULY,
    STORAGE_SLOTS,
    apply_change,
    empty_inventory,
    empty_storage,
    fits,
    fits_slot,
    item_count,
    item_number,
    item_type,
    make_header,
    starter_inventory,
    weight,
)
from gateway_protos.v1 import character_pb2 as c
from gateway_protos.v1 import common_pb2
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from gateway_core.api import ContentPack, load_default_pack, load_pack

#: Small stacks, so that stacks fill up and split.
PACK_TEXT = """
name = "inventory-test"
version = "1"

[[item]]
id = "helmet"
name = "Helmet"
type = 2
number = 1
weight = 3

[[item]]
id = "ring"
name = "Ring"
type = 7
number = 1

[[item]]
id = "sword"
name = "Sword"
type = 8
number = 1
weight = 7

[[item]]
id = "cart"
name = "Cart"
type = 14
number = 1

[[item]]
id = "potion"
name = "Potion"
type = 10
number = 1
stack = 5
weight = 1
effect = { kind = "heal_hp", amount = 10 }

[[item]]
id = "elixir"
name = "Elixir"
type = 10
number = 2
stack = 3
effect = { kind = "heal_hp", amount = 20 }

[[item]]
id = "gem"
name = "Gem"
type = 11
number = 1
stack = 2

[[item]]
id = "letter"
name = "Letter"
type = 13
number = 1

[[item]]
id = "wheels"
name = "Wheels"
type = 14
number = 2
ride_part = "leg"

[[item]]
id = "arrow"
name = "Arrow"
type = 12
number = 901
stack = 4
ammo = "arrow"

[[starter_kit]]
job = 0
zuly = 50
items = [
    { item = "ring", equip = true },
    { item = "ring", equip = true },
    { item = "sword", equip = true },
    { item = "helmet" },
    { item = "potion", count = 5 },
    { item = "potion", count = 4 },
]
"""


def _load_test_pack() -> ContentPack:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "pack.toml"
        path.write_text(PACK_TEXT)
        return load_pack(path)


PACK = _load_test_pack()
ITEMS = [(item.type, item.number) for item in PACK.items.values()]
STACK = {(item.type, item.number): item.stack if item.type in (10, 11, 12, 13) else 1
         for item in PACK.items.values()}


def ref(kind: int, number: int) -> common_pb2.ItemRef:
    return common_pb2.ItemRef(item_type=kind, item_number=number)


def add(kind: int, number: int, count: int = 1) -> c.ItemOp:
    return c.ItemOp(add=c.AddItem(item=ref(kind, number), count=count))


def remove(slot: int, kind: int, number: int, count: int = 1) -> c.ItemOp:
    return c.ItemOp(remove=c.RemoveItem(slot=slot, item=ref(kind, number), count=count))


def move(source: int, target: int) -> c.ItemOp:
    return c.ItemOp(move=c.MoveItem(from_slot=source, to_slot=target))


def store(slot: int, kind: int, number: int, count: int = 1) -> c.ItemOp:
    return c.ItemOp(store=c.StoreItem(slot=slot, item=ref(kind, number), count=count))


def retrieve(slot: int, kind: int, number: int, count: int = 1) -> c.ItemOp:
    return c.ItemOp(retrieve=c.RetrieveItem(storage_slot=slot, item=ref(kind, number),
                                            count=count))


def change(*ops: c.ItemOp, zuly: int = 0, storage_zuly: int = 0,
           inventory: list[list[int]] | None = None, money: int = 0,
           storage: list[list[int]] | None = None, storage_money: int = 0,
           pack: ContentPack = PACK):  # type: ignore[no-untyped-def]
    request = c.ChangeItemsRequest(character_id=1, request_id="r", ops=list(ops),
                                   zuly_delta=zuly, storage_zuly_delta=storage_zuly)
    return apply_change(pack, request, inventory or empty_inventory(), money,
                        storage or empty_storage(), storage_money)


# -- slot rules and stacking -------------------------------------------------------------


def test_headers_pack_type_number_and_created() -> None:
    header = make_header(8, 500, created=True)
    assert header == 8 | 500 << 5 | 1 << 15
    assert (item_type(header), item_number(header)) == (8, 500)


def test_slots_take_their_types() -> None:
    assert [EQUIPMENT_SLOTS[s] for s in range(1, 12)] == [1, 2, 3, 6, 4, 5, 8, 9, 7, 7, 7]
    assert fits_slot(2, 2) and not fits_slot(2, 3) and fits_slot(2, 0)
    assert fits_slot(12, 8) and not fits_slot(12, 10) and fits_slot(42, 10)
    assert fits_slot(72, 13) and fits_slot(102, 14) and not fits_slot(102, 10)
    assert fits_slot(135, 14) and not fits_slot(135, 8)
    assert not any(fits_slot(s, 10) for s in (0, 132, 133, 134, 140))


def test_ammunition_slots_take_ammunition_of_their_kind_only() -> None:
    arrow = make_header(12, 901)
    assert fits(PACK, 132, arrow) and fits(PACK, 132, 0)
    assert not fits(PACK, 133, arrow) and not fits(PACK, 134, arrow)
    assert not fits(PACK, 132, make_header(11, 1))  # a material that is no ammunition
    bag = change(add(12, 901, 3))
    assert bag.changed == [72]
    equipped = change(move(72, 132), inventory=[list(s) for s in bag.inventory])
    assert equipped.result == c.ITEM_RESULT_OK
    assert equipped.inventory[132] == (arrow, 3) and equipped.inventory[72] == (0, 0)
    wrong = change(move(72, 133), inventory=[list(s) for s in bag.inventory])
    assert wrong.result == c.ITEM_RESULT_BAD_SLOT
    back = change(move(132, 72), inventory=[list(s) for s in equipped.inventory])
    assert back.result == c.ITEM_RESULT_OK and back.inventory[72] == (arrow, 3)


def test_a_riding_part_with_a_part_goes_to_that_part_s_slot_only() -> None:
    wheels, cart = make_header(14, 2), make_header(14, 1)
    assert fits(PACK, 137, wheels) and not fits(PACK, 135, wheels)
    assert all(fits(PACK, slot, cart) for slot in range(135, 140))  # no part: any slot
    bag = change(add(14, 2))
    assert change(move(bag.changed[0], 135),
                  inventory=[list(s) for s in bag.inventory]).result == c.ITEM_RESULT_BAD_SLOT
    assert change(move(bag.changed[0], 137),
                  inventory=[list(s) for s in bag.inventory]).result == c.ITEM_RESULT_OK


def test_an_added_equipment_item_is_fresh_in_the_first_free_slot_of_its_tab() -> None:
    result = change(add(8, 1), add(2, 1))
    assert result.result == c.ITEM_RESULT_OK
    assert result.changed == [12, 13]
    assert result.inventory[12] == (make_header(8, 1), FRESH_EQUIPMENT_DATA)
    assert FRESH_EQUIPMENT_DATA >> 9 & 0x7F == 50 and FRESH_EQUIPMENT_DATA >> 16 & 0x3FF == 1000
    assert weight(PACK, result.inventory) == 10


def test_added_stackables_fill_stacks_then_free_slots() -> None:
    first = change(add(10, 1, 4))
    assert first.inventory[42] == (make_header(10, 1), 4)
    second = change(add(10, 1, 3), inventory=[list(s) for s in first.inventory])
    assert (second.inventory[42][1], second.inventory[43][1]) == (5, 2)
    assert second.changed == [42, 43]
    assert weight(PACK, second.inventory) == 7


def test_a_full_tab_is_no_room_and_changes_nothing() -> None:
    inventory = empty_inventory()
    for slot in range(42, 72):
        inventory[slot] = [make_header(10, 2), 3]
    result = change(add(8, 1), add(10, 1), inventory=inventory, zuly=5)
    assert result.result == c.ITEM_RESULT_NO_ROOM
    assert result.inventory == [tuple(s) for s in inventory] and result.zuly == 0
    assert result.changed == [] and result.storage_changed == []


@pytest.mark.parametrize(("op", "code"), [
    (add(8, 99), c.ITEM_RESULT_UNKNOWN_ITEM),
    (add(10, 1, 0), c.ITEM_RESULT_UNKNOWN_ITEM),
    (add(10, 1, 6), c.ITEM_RESULT_UNKNOWN_ITEM),
    (add(8, 1, 2), c.ITEM_RESULT_UNKNOWN_ITEM),
    (remove(12, 8, 1), c.ITEM_RESULT_NOT_HELD),
    (remove(140, 8, 1), c.ITEM_RESULT_BAD_SLOT),
    (move(12, 13), c.ITEM_RESULT_NOT_HELD),
    (move(7, 140), c.ITEM_RESULT_BAD_SLOT),
    (retrieve(160, 8, 1), c.ITEM_RESULT_BAD_SLOT),
    (retrieve(0, 8, 1), c.ITEM_RESULT_NOT_HELD),
])
def test_refusals(op: c.ItemOp, code: int) -> None:
    inventory = empty_inventory()
    inventory[7] = [make_header(8, 1), FRESH_EQUIPMENT_DATA]
    result = change(op, inventory=inventory)
    assert result.result == code and result.message
    assert result.inventory[7] == (make_header(8, 1), FRESH_EQUIPMENT_DATA)


def test_moves_equip_swap_and_refuse_the_wrong_slot() -> None:
    inventory = empty_inventory()
    inventory[12] = [make_header(8, 1), 1]
    inventory[13] = [make_header(2, 1), 2]
    inventory[42] = [make_header(10, 1), 1]
    equipped = change(move(12, 7), inventory=inventory)
    assert equipped.result == c.ITEM_RESULT_OK and equipped.changed == [7, 12]
    assert equipped.inventory[7] == (make_header(8, 1), 1)
    for bad in (move(13, 7), move(12, 2), move(42, 12), move(12, 132), move(12, 0),
                move(12, 135)):
        assert change(bad, inventory=inventory).result == c.ITEM_RESULT_BAD_SLOT
    # Swapping the weapon back with the helmet slot would put the helmet in the weapon slot.
    inventory[7] = [make_header(8, 1), 9]
    assert change(move(7, 13), inventory=inventory).result == c.ITEM_RESULT_BAD_SLOT
    swapped = change(move(7, 12), inventory=inventory)
    assert (swapped.inventory[7][1], swapped.inventory[12][1]) == (1, 9)


def test_a_stack_onto_a_stack_merges_as_far_as_it_goes() -> None:
    inventory = empty_inventory()
    inventory[42] = [make_header(10, 1), 4]
    inventory[43] = [make_header(10, 1), 3]
    merged = change(move(42, 43), inventory=inventory)
    assert (merged.inventory[42][1], merged.inventory[43][1]) == (2, 5)
    inventory[42] = [make_header(10, 1), 1]
    merged = change(move(42, 43), inventory=inventory)
    assert merged.inventory[42] == (0, 0) and merged.inventory[43][1] == 4


def test_store_and_retrieve_keep_the_equipment_overlay() -> None:
    inventory = empty_inventory()
    inventory[7] = [make_header(8, 1, created=True), 12345]
    stored = change(store(7, 8, 1), storage_zuly=10, zuly=-5, money=5, inventory=inventory)
    assert stored.result == c.ITEM_RESULT_OK
    assert stored.storage[0] == (make_header(8, 1, created=True), 12345)
    assert (stored.zuly, stored.storage_zuly, stored.storage_changed) == (0, 10, [0])
    back = change(retrieve(0, 8, 1), storage=[list(s) for s in stored.storage])
    assert back.inventory[12] == (make_header(8, 1, created=True), 12345)


def test_zuly_bounds() -> None:
    assert change(zuly=-1).result == c.ITEM_RESULT_NO_ZULY
    assert change(storage_zuly=-1).result == c.ITEM_RESULT_NO_ZULY
    assert change(zuly=1, money=MAX_ZULY).result == c.ITEM_RESULT_TOO_MUCH_ZULY
    assert change(storage_zuly=1, storage_money=MAX_ZULY).result == c.ITEM_RESULT_TOO_MUCH_ZULY
    assert change(zuly=-5, money=5).zuly == 0


def test_the_default_visitor_kit_is_equipped_and_in_the_bag() -> None:
    pack = load_default_pack()
    inventory, zuly = starter_inventory(pack, 0)
    kit = pack.starter_kits[0]
    assert zuly == kit.zuly
    for entry in kit.items:
        item = pack.items[entry.item]
        held = [(slot, data) for slot, (header, data) in enumerate(inventory)
                if header and (item_type(header), item_number(header)) == (item.type, item.number)]
        assert len(held) == 1
        slot, data = held[0]
        if entry.equip:
            assert EQUIPMENT_SLOTS.get(slot) == item.type and data == FRESH_EQUIPMENT_DATA
        else:
            assert slot >= 12 and data == entry.count
    assert starter_inventory(pack, 999) == (empty_inventory(), 0)


def test_a_kit_equips_jewellery_in_each_slot_and_stacks_in_the_bag() -> None:
    inventory, zuly = starter_inventory(PACK, 0)
    ring, fresh = make_header(7, 1), FRESH_EQUIPMENT_DATA
    assert zuly == 50
    assert inventory[9] == inventory[10] == [ring, fresh] and inventory[11] == [0, 0]
    assert inventory[7] == [make_header(8, 1), fresh] and inventory[12] == [make_header(2, 1),
                                                                             fresh]
    assert inventory[42] == [make_header(10, 1), 5] and inventory[43] == [make_header(10, 1), 4]
    assert sum(1 for header, _ in inventory if header) == 6


# -- the state machine -------------------------------------------------------------------


def _totals(inventory: list[tuple[int, int]], storage: list[tuple[int, int]]) -> Counter[
        tuple[int, int]]:
    totals: Counter[tuple[int, int]] = Counter()
    for item in [*inventory, *storage]:
        if item[0]:
            totals[item_type(item[0]), item_number(item[0])] += item_count(item)
    return totals


#: Zuly deltas: mostly none, sometimes more than there is.
ZULY = st.one_of(st.just(0), st.just(0), st.integers(-300, 300), st.integers(-1500, 1500))


def _count(most: int) -> st.SearchStrategy[int]:
    """Mostly a valid count (1 to ``most``), sometimes 0 or one too many."""
    return st.one_of(st.integers(1, most), st.integers(1, most), st.sampled_from([0, most + 1]))


class InventoryMachine(RuleBasedStateMachine):
    """Random requests of 1-3 operations over an inventory, a storage and their zuly."""

    @initialize(money=st.integers(0, 1000), storage_money=st.integers(0, 1000))
    def start(self, money: int, storage_money: int) -> None:
        self.inventory: list[tuple[int, int]] = [(0, 0)] * INVENTORY_SLOTS
        self.storage: list[tuple[int, int]] = [(0, 0)] * STORAGE_SLOTS
        self.zuly, self.storage_zuly = money, storage_money
        self.accepted = 0

    def _held(self, slots: list[tuple[int, int]]) -> list[int]:
        return [slot for slot, item in enumerate(slots) if item[0]]

    def _op(self, data: st.DataObject) -> tuple[c.ItemOp, Counter[tuple[int, int]]]:
        """A random operation (mostly about items that are there) and what it adds/removes."""
        kind = data.draw(st.sampled_from(["add", "remove", "move", "store", "retrieve"]))
        delta: Counter[tuple[int, int]] = Counter()
        if kind == "add":
            key = data.draw(st.sampled_from([*ITEMS, (8, 77)]))
            count = data.draw(_count(STACK.get(key, 1)))
            delta[key] += count
            return add(*key, count), delta
        if kind == "move":
            held = self._held(self.inventory)
            source = data.draw(st.sampled_from(held) if held and data.draw(st.integers(0, 4))
                               else st.integers(0, INVENTORY_SLOTS))
            target = data.draw(st.sampled_from([*held, *range(1, 12), 132, 133, 134])
                               if data.draw(st.booleans())
                               else st.integers(0, INVENTORY_SLOTS))
            return move(source, target), delta
        slots = self.storage if kind == "retrieve" else self.inventory
        held = self._held(slots)
        slot = data.draw(st.sampled_from(held) if held and data.draw(st.integers(0, 4))
                         else st.integers(0, len(slots)))
        item = slots[slot] if slot < len(slots) else (0, 0)
        key = (item_type(item[0]), item_number(item[0])) if item[0] and data.draw(
            st.integers(0, 4)) else data.draw(st.sampled_from(ITEMS))
        count = data.draw(_count(max(1, item_count(item))))
        if kind == "remove":
            delta[key] -= count
            return remove(slot, *key, count), delta
        if kind == "store":
            return store(slot, *key, count), delta
        return retrieve(slot, *key, count), delta

    @rule(data=st.data(), zuly=ZULY, storage_zuly=ZULY)
    def change(self, data: st.DataObject, zuly: int, storage_zuly: int) -> None:
        ops, expected = [], Counter[tuple[int, int]]()
        for _ in range(data.draw(st.integers(1, 3))):
            op, delta = self._op(data)
            ops.append(op)
            expected.update(delta)
        request = c.ChangeItemsRequest(character_id=1, request_id="x", ops=ops,
                                       zuly_delta=zuly, storage_zuly_delta=storage_zuly)
        before = _totals(self.inventory, self.storage)
        result = apply_change(PACK, request, self.inventory, self.zuly, self.storage,
                              self.storage_zuly)
        if result.result != c.ITEM_RESULT_OK:
            assert (result.inventory, result.storage) == (self.inventory, self.storage)
            assert (result.zuly, result.storage_zuly) == (self.zuly, self.storage_zuly)
            assert result.changed == [] and result.storage_changed == []
            return
        after = _totals(result.inventory, result.storage)
        for key in set(before) | set(after) | set(expected):
            assert after[key] == before[key] + expected[key], key
        assert (result.zuly, result.storage_zuly) == (self.zuly + zuly,
                                                      self.storage_zuly + storage_zuly)
        assert result.changed == [s for s in range(INVENTORY_SLOTS)
                                  if result.inventory[s] != self.inventory[s]]
        self.inventory, self.storage = result.inventory, result.storage
        self.zuly, self.storage_zuly = result.zuly, result.storage_zuly
        self.accepted += 1

    @invariant()
    def slots_hold_what_they_may(self) -> None:
        for slots, where in ((self.inventory, "inventory"), (self.storage, "storage")):
            for slot, item in enumerate(slots):
                if item[0] == 0:
                    assert item == (0, 0)
                    continue
                key = (item_type(item[0]), item_number(item[0]))
                assert 1 <= item_count(item) <= STACK[key], (where, slot, item)
                if where == "inventory":
                    assert fits(PACK, slot, item[0]), (slot, item)

    @invariant()
    def zuly_in_range(self) -> None:
        assert 0 <= self.zuly <= MAX_ZULY and 0 <= self.storage_zuly <= MAX_ZULY


TestInventoryMachine = InventoryMachine.TestCase
