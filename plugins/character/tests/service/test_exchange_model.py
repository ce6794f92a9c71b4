"""The pure exchange model (gateway_character.service.inventory.apply_exchange): both sides or
neither, which side failed, items landing the way AddItem adds them, zuly within its bounds;
and the inventory state machine extended with a second character and random exchanges, which
never make or lose an item or a zuly across the two."""

from __future__ import annotations

from collections import Counter

from gateway_character.service.inventory import (
    FRESH_EQUIPMENT_DATA,
    INVENTORY_SLOTS,
    MAX_ZULY,
    apply_change,
    apply_exchange,
    fits,
    item_count,
    item_number,
    item_type,
    make_header,
)
from gateway_protos.v1 import character_pb2 as c
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, rule

from .test_inventory_model import ITEMS, PACK, STACK, InventoryMachine, add, ref

Slots = list[tuple[int, int]]


def give(slot: int, kind: int, number: int, count: int = 1) -> c.RemoveItem:
    return c.RemoveItem(slot=slot, item=ref(kind, number), count=count)


def request(a: list[c.RemoveItem] | None = None, a_zuly: int = 0,
            b: list[c.RemoveItem] | None = None, b_zuly: int = 0) -> c.ExchangeRequest:
    return c.ExchangeRequest(
        request_id="t",
        a=c.ExchangeSide(character_id=1, gives=a or [], zuly=a_zuly),
        b=c.ExchangeSide(character_id=2, gives=b or [], zuly=b_zuly),
    )


def inventory(*items: tuple[int, tuple[int, int]]) -> Slots:
    slots: Slots = [(0, 0)] * INVENTORY_SLOTS
    for slot, item in items:
        slots[slot] = item
    return slots


SWORD = make_header(8, 1)
POTION = make_header(10, 1)
GEM = make_header(11, 1)


def test_an_item_for_zuly_moves_both_ways() -> None:
    worn = 17 << 9 | 400 << 16  # a used sword: its overlay goes with it
    a = inventory((12, (SWORD, worn)), (42, (POTION, 5)))
    b = inventory((42, (POTION, 2)))
    done = apply_exchange(PACK, request([give(12, 8, 1), give(42, 10, 1, 2)], 0, [], 300),
                          a, 100, b, 1000)
    assert done.ok and done.failed == "" and done.message == ""
    assert done.a.inventory[12] == (0, 0) and done.a.inventory[42] == (POTION, 3)
    assert (done.a.zuly, done.b.zuly) == (400, 700)
    assert done.b.inventory[12] == (SWORD, worn)
    assert done.b.inventory[42] == (POTION, 4)  # onto its stack with room
    assert done.a.changed == [12, 42] and done.b.changed == [12, 42]


def test_a_stack_fills_stacks_with_room_then_free_slots_of_its_tab() -> None:
    a = inventory((42, (POTION, 5)))
    b = inventory((42, (POTION, 4)), (12, (SWORD, FRESH_EQUIPMENT_DATA)))
    done = apply_exchange(PACK, request([give(42, 10, 1, 5)]), a, 0, b, 0)
    assert done.ok
    assert done.b.inventory[42] == (POTION, 5) and done.b.inventory[43] == (POTION, 4)
    assert done.b.changed == [42, 43]


def test_what_a_side_gives_makes_room_for_what_it_gets() -> None:
    full = [(SWORD, FRESH_EQUIPMENT_DATA) if 12 <= s < 42 else (0, 0)
            for s in range(INVENTORY_SLOTS)]
    other = inventory((12, (make_header(2, 1), FRESH_EQUIPMENT_DATA)))
    done = apply_exchange(PACK, request([give(20, 8, 1)], 0, [give(12, 2, 1)]), full, 0,
                          other, 0)
    assert done.ok, done.message
    assert done.a.inventory[20] == (make_header(2, 1), FRESH_EQUIPMENT_DATA)
    assert done.b.inventory[12] == (SWORD, FRESH_EQUIPMENT_DATA)


def test_a_refusal_names_its_side_and_changes_nothing() -> None:
    a = inventory((12, (SWORD, FRESH_EQUIPMENT_DATA)), (42, (POTION, 2)))
    full_tab = [(SWORD, FRESH_EQUIPMENT_DATA) if 12 <= s < 42 else (0, 0)
                for s in range(INVENTORY_SLOTS)]
    cases = [
        (request([give(13, 8, 1)]), a, 0, inventory(), 0, c.ITEM_RESULT_NOT_HELD, "a"),
        (request([give(42, 10, 1, 3)]), a, 0, inventory(), 0, c.ITEM_RESULT_NOT_HELD, "a"),
        (request([give(12, 2, 1)]), a, 0, inventory(), 0, c.ITEM_RESULT_NOT_HELD, "a"),
        (request([give(12, 8, 77)]), a, 0, inventory(), 0, c.ITEM_RESULT_UNKNOWN_ITEM, "a"),
        (request([give(140, 8, 1)]), a, 0, inventory(), 0, c.ITEM_RESULT_BAD_SLOT, "a"),
        (request([], 0, [give(12, 8, 1)]), a, 0, inventory(), 0, c.ITEM_RESULT_NOT_HELD, "b"),
        (request([give(12, 8, 1)]), a, 0, full_tab, 0, c.ITEM_RESULT_NO_ROOM, "b"),
        (request([], 0, [give(12, 8, 1)]), full_tab, 0, full_tab, 0, c.ITEM_RESULT_NO_ROOM,
         "a"),
        (request([], 101), a, 100, inventory(), 0, c.ITEM_RESULT_NO_ZULY, "a"),
        (request([], 0, [], 5), a, 100, inventory(), 4, c.ITEM_RESULT_NO_ZULY, "b"),
        (request([], 0, [], 1), a, MAX_ZULY, inventory(), 4, c.ITEM_RESULT_TOO_MUCH_ZULY, "a"),
        (request([], 1), a, 1, inventory(), MAX_ZULY, c.ITEM_RESULT_TOO_MUCH_ZULY, "b"),
        (request([], -1), a, 1, inventory(), 0, c.ITEM_RESULT_NO_ZULY, "a"),
    ]
    for exchange, a_slots, a_zuly, b_slots, b_zuly, result, side in cases:
        done = apply_exchange(PACK, exchange, a_slots, a_zuly, b_slots, b_zuly)
        assert (done.result, done.failed) == (result, side), (exchange, done.message)
        assert done.message.startswith(f"side {side}")
        assert (done.a.inventory, done.a.zuly) == (a_slots, a_zuly)
        assert (done.b.inventory, done.b.zuly) == (b_slots, b_zuly)
        assert done.a.changed == [] and done.b.changed == []


def test_zuly_a_side_gets_may_bring_it_to_the_most_it_holds() -> None:
    done = apply_exchange(PACK, request([], 1), inventory(), 1, inventory(), MAX_ZULY - 1)
    assert done.ok and (done.a.zuly, done.b.zuly) == (0, MAX_ZULY)


def test_the_same_slot_given_twice_takes_from_what_is_left() -> None:
    a = inventory((42, (POTION, 3)))
    assert apply_exchange(PACK, request([give(42, 10, 1, 2), give(42, 10, 1, 1)]),
                          a, 0, inventory(), 0).ok
    twice = apply_exchange(PACK, request([give(42, 10, 1, 2), give(42, 10, 1, 2)]),
                           a, 0, inventory(), 0)
    assert (twice.result, twice.failed) == (c.ITEM_RESULT_NOT_HELD, "a")


# -- the state machine, with a second character --------------------------------------------


def _totals(*inventories: Slots) -> Counter[tuple[int, int]]:
    totals: Counter[tuple[int, int]] = Counter()
    for slots in inventories:
        for item in slots:
            if item[0]:
                totals[item_type(item[0]), item_number(item[0])] += item_count(item)
    return totals


class TradeMachine(InventoryMachine):
    """The inventory machine's random ChangeItems of the first character, plus a second
    character that gets items too and random exchanges between the two (mostly of what they
    hold, sometimes of what they do not, sometimes more zuly than there is)."""

    @initialize(money=st.integers(0, 1000))
    def start_other(self, money: int) -> None:
        self.other: Slots = [(0, 0)] * INVENTORY_SLOTS
        self.other_zuly = money
        self.exchanged = 0

    @rule(data=st.data())
    def other_gets(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(ITEMS))
        count = data.draw(st.integers(1, STACK[key]))
        done = apply_change(PACK, c.ChangeItemsRequest(ops=[add(*key, count)]), self.other,
                            self.other_zuly, [], 0)
        if done.ok:
            self.other = done.inventory

    def _gives(self, data: st.DataObject, slots: Slots) -> list[c.RemoveItem]:
        held = [s for s, item in enumerate(slots) if item[0]]
        gives = []
        for _ in range(data.draw(st.integers(0, 3))):
            slot = data.draw(st.sampled_from(held) if held and data.draw(st.integers(0, 5))
                             else st.integers(0, INVENTORY_SLOTS))
            item = slots[slot] if slot < INVENTORY_SLOTS else (0, 0)
            key = ((item_type(item[0]), item_number(item[0])) if item[0]
                   and data.draw(st.integers(0, 5)) else data.draw(st.sampled_from(ITEMS)))
            most = max(1, item_count(item))
            count = data.draw(st.one_of(st.integers(1, most), st.integers(1, most),
                                        st.sampled_from([0, most + 1])))
            gives.append(give(slot, *key, count))
        return gives

    @rule(data=st.data())
    def exchange(self, data: st.DataObject) -> None:
        a_gives, b_gives = self._gives(data, self.inventory), self._gives(data, self.other)
        a_zuly = data.draw(st.one_of(st.just(0), st.integers(0, self.zuly),
                                     st.integers(0, self.zuly + 50)))
        b_zuly = data.draw(st.one_of(st.just(0), st.integers(0, self.other_zuly),
                                     st.integers(0, self.other_zuly + 50)))
        done = apply_exchange(PACK, request(a_gives, a_zuly, b_gives, b_zuly), self.inventory,
                              self.zuly, self.other, self.other_zuly)
        if not done.ok:
            assert done.failed in ("a", "b")
            assert (done.a.inventory, done.a.zuly) == (self.inventory, self.zuly)
            assert (done.b.inventory, done.b.zuly) == (self.other, self.other_zuly)
            return
        # Nothing made or lost across the two; each side has what it had, less what it gave,
        # plus what it got.
        assert _totals(done.a.inventory, done.b.inventory) == _totals(self.inventory,
                                                                       self.other)
        assert done.a.zuly + done.b.zuly == self.zuly + self.other_zuly
        assert done.a.zuly == self.zuly - a_zuly + b_zuly
        given_a = Counter({(g.item.item_type, g.item.item_number): 0 for g in a_gives})
        given_b = Counter({(g.item.item_type, g.item.item_number): 0 for g in b_gives})
        for g in a_gives:
            given_a[g.item.item_type, g.item.item_number] += g.count
        for g in b_gives:
            given_b[g.item.item_type, g.item.item_number] += g.count
        before_a, after_a = _totals(self.inventory), _totals(done.a.inventory)
        for key in set(before_a) | set(after_a) | set(given_a) | set(given_b):
            assert after_a[key] == before_a[key] - given_a[key] + given_b[key], key
        assert done.a.changed == [s for s in range(INVENTORY_SLOTS)
                                  if done.a.inventory[s] != self.inventory[s]]
        assert done.b.changed == [s for s in range(INVENTORY_SLOTS)
                                  if done.b.inventory[s] != self.other[s]]
        self.inventory, self.zuly = done.a.inventory, done.a.zuly
        self.other, self.other_zuly = done.b.inventory, done.b.zuly
        self.exchanged += 1

    @invariant()
    def the_other_holds_what_it_may(self) -> None:
        for slot, item in enumerate(self.other):
            if item[0] == 0:
                assert item == (0, 0)
                continue
            key = (item_type(item[0]), item_number(item[0]))
            assert 1 <= item_count(item) <= STACK[key] and fits(PACK, slot, item[0])
        assert 0 <= self.other_zuly <= MAX_ZULY


TestTradeMachine = TradeMachine.TestCase
