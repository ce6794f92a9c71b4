"""The pure rules of the items plugin: shop indexes, requirement checks, prices, stacks,
weight rates and the visible equipment."""

from __future__ import annotations

from pathlib import Path

import pytest
from gateway_items import rules
from gateway_items.rules import SlotItem

from gateway_core.api import ContentPack, Item, load_pack

PACK = Path(__file__).resolve().parent / "content" / "items.toml"


@pytest.fixture(scope="module")
def content() -> ContentPack:
    return load_pack(str(PACK))


def header(item_type: int, number: int) -> int:
    return int(Item.stack(item_type, number, 0).header.header)


def test_a_shop_index_is_tab_times_the_tab_size_plus_the_column() -> None:
    assert rules.shop_index(0, 0) == 0
    assert rules.shop_index(0, 5) == 5
    assert rules.shop_index(1, 0) == rules.SHOP_TAB_SIZE
    assert rules.shop_index(2, 3) == 2 * rules.SHOP_TAB_SIZE + 3


def test_a_shop_entry_has_the_shop_price_else_the_item_price(content: ContentPack) -> None:
    potion = rules.shop_entry(content, "arena_shop", 0, 0)
    vest = rules.shop_entry(content, "arena_shop", 0, 1)
    assert potion is not None and potion[0].id == "red_potion" and potion[1] == 20
    assert vest is not None and vest[0].id == "quilted_vest" and vest[1] == 150


@pytest.mark.parametrize(("shop", "tab", "column"), [
    ("arena_shop", 0, 4),                       # past the end of the list
    ("arena_shop", 1, 0),                       # the second tab is empty
    ("arena_shop", 0, rules.SHOP_TAB_SIZE),     # a column outside a tab
    ("no_such_shop", 0, 0),
])
def test_nothing_is_sold_outside_the_shop_list(
    content: ContentPack, shop: str, tab: int, column: int
) -> None:
    assert rules.shop_entry(content, shop, tab, column) is None


def test_an_npc_buys_for_half_the_price_rounded_down(content: ContentPack) -> None:
    assert rules.sell_price(content.items["quilted_vest"]) == 100
    assert rules.sell_price(content.items["dummy_stuffing"]) == 1   # price 3
    assert rules.sell_price(content.items["red_potion"]) == 10


def test_requirements_level_job_and_stats(content: ContentPack) -> None:
    sword = content.items["heavy_sword"]
    cap = content.items["plain_cap"]
    stats = (10, 10, 10, 10, 10, 10)
    assert rules.unmet_requirement(sword, level=4, job=0, stats=stats) == "level"
    assert rules.unmet_requirement(sword, level=5, job=0, stats=stats) is None
    assert rules.unmet_requirement(cap, level=1, job=0, stats=stats) is None
    picky = sword.model_copy(update={"requirements": sword.requirements.model_copy(
        update={"job": (111,), "level": None, "dex": 20})})
    assert rules.unmet_requirement(picky, level=1, job=0, stats=stats) == "job"
    assert rules.unmet_requirement(picky, level=1, job=111, stats=stats) == "dex"
    assert rules.unmet_requirement(picky, level=1, job=111, stats=(0, 20, 0, 0, 0, 0)) is None


def test_the_weight_rate_is_a_percentage_of_the_capacity() -> None:
    # capacity = 1100 + 2 * str + 2 * level
    assert rules.capacity(strength=15, level=10) == 1150
    assert rules.weight_rate(0, strength=15, level=10) == 0
    assert rules.weight_rate(575, strength=15, level=10) == 50
    assert rules.weight_rate(1150, strength=15, level=10) == 100
    assert rules.weight_rate(10**9, strength=15, level=10) == rules.MAX_WEIGHT_RATE


def test_counts_are_cut_into_stacks() -> None:
    assert rules.chunks(120, 50) == [50, 50, 20]
    assert rules.chunks(3, 1) == [1, 1, 1]
    assert rules.chunks(50, 50) == [50]


def test_a_slot_item_reads_its_header_and_count() -> None:
    potion = SlotItem(header(10, 1), 7)
    sword = SlotItem(header(8, 3), 0x12345)
    assert (potion.item_type, potion.item_number, potion.count) == (10, 1, 7)
    assert (sword.item_type, sword.item_number, sword.count) == (8, 3, 1)
    assert rules.EMPTY.count == 0 and rules.EMPTY.empty


def test_the_visible_equipment_follows_body_part_order() -> None:
    inventory = [rules.EMPTY] * rules.INVENTORY_SLOTS
    inventory[2] = SlotItem(header(2, 4), 0)          # head
    inventory[7] = SlotItem(header(8, 3), 3 << 28)    # weapon, refine 3
    visible = rules.visible_equipment(inventory)
    assert visible == [4, 0, 0, 0, 0, 0, 3 | 3 << 20, 0]


def test_an_unequipped_item_goes_to_the_first_free_slot_of_its_tab() -> None:
    inventory = [rules.EMPTY] * rules.INVENTORY_SLOTS
    assert rules.free_bag_slot(inventory, 2) == 12
    inventory[12] = SlotItem(header(2, 1), 0)
    assert rules.free_bag_slot(inventory, 8) == 13
    assert rules.free_bag_slot(inventory, 12) == 72 and rules.free_bag_slot(inventory, 14) == 102
    for slot in rules.bag_tab(8):
        inventory[slot] = SlotItem(header(8, 1), 0)
    assert rules.free_bag_slot(inventory, 8) is None  # the consumables tab is no place for it
    assert rules.free_bag_slot(inventory, 10) == 42


def test_the_inventory_weight_is_the_content_weights_times_counts(content: ContentPack) -> None:
    inventory = [SlotItem(header(12, 7), 5), SlotItem(header(1, 999), 1), rules.EMPTY]
    stuffing = content.items["dummy_stuffing"]
    assert rules.inventory_weight(content, inventory) == stuffing.weight * 5
