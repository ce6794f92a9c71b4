"""ChangeItems and GetStorage of the reference character service over a real loopback gRPC
server, on SQLite and PostgreSQL: all or nothing, once per request id, one winner of two
concurrent removals of the last item, a storage shared by an account's characters, the
starter kit at creation, SaveCharacter leaving items, money and the hotbar alone, and
SetHotbar."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from gateway_character.service import CharacterOptions, CharacterReferenceService
from gateway_character.service.inventory import (
    FRESH_EQUIPMENT_DATA,
    STORAGE_SLOTS,
    make_header,
)
from gateway_character.service.items import visible_items
from gateway_protos.v1 import character_pb2 as c
from gateway_protos.v1 import character_pb2_grpc, common_pb2

from gateway_core.api import load_default_pack
from gateway_core.testing import ManualClock, PostgresServer, query, serve_on_loopback

from ..conftest import CharacterHarness

if TYPE_CHECKING:
    from gateway_protos.v1.character_pb2_grpc import CharacterAsyncStub as Stub

pytestmark = pytest.mark.anyio

ACCOUNT = 7
PACK = load_default_pack()
KIT = PACK.starter_kits[0]
SWORD = PACK.items["practice_sword"]
POTION = PACK.items["hp_potion_small"]
SCROLL = PACK.items["return_scroll"]


def ref(name: str) -> common_pb2.ItemRef:
    item = PACK.items[name]
    return common_pb2.ItemRef(item_type=item.type, item_number=item.number)


def add(name: str, count: int = 1) -> c.ItemOp:
    return c.ItemOp(add=c.AddItem(item=ref(name), count=count))


def remove(slot: int, name: str, count: int = 1) -> c.ItemOp:
    return c.ItemOp(remove=c.RemoveItem(slot=slot, item=ref(name), count=count))


async def new_character(stub: Stub, name: str = "Hero", account: int = ACCOUNT) -> c.CharacterState:
    reply = await stub.CreateCharacter(
        c.CreateCharacterRequest(account_id=account, name=name, race=0, stone=1, hair=2, face=3)
    )
    assert reply.result == c.CREATE_CHAR_RESULT_OK, reply.message
    return await stub.GetCharacter(c.GetCharacterRequest(character_id=reply.character.id))


async def get(stub: Stub, character_id: int) -> c.CharacterState:
    return await stub.GetCharacter(c.GetCharacterRequest(character_id=character_id))


def items(state: c.CharacterState) -> list[tuple[int, int]]:
    return [(item.header, item.data) for item in state.inventory]


async def expect_status(call: Awaitable[Any], code: grpc.StatusCode) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    assert info.value.code() == code
    assert info.value.details()


def slot_of(state: c.CharacterState, name: str) -> int:
    item = PACK.items[name]
    header = make_header(item.type, item.number)
    return next(s for s, i in enumerate(state.inventory) if i.header & 0x7FFF == header)


# -- the starter kit -----------------------------------------------------------------------


async def test_a_new_character_has_the_visitor_kit_equipped_and_in_the_bag(
    chars: CharacterHarness,
) -> None:
    state = await new_character(chars.stub)
    assert state.money == KIT.zuly == 1000
    held = items(state)
    assert held[7] == (make_header(SWORD.type, SWORD.number), FRESH_EQUIPMENT_DATA)
    jacket, boots = PACK.items["padded_jacket"], PACK.items["leather_boots"]
    assert held[3] == (make_header(jacket.type, jacket.number), FRESH_EQUIPMENT_DATA)
    assert held[6] == (make_header(boots.type, boots.number), FRESH_EQUIPMENT_DATA)
    mp = PACK.items["mp_potion_small"]
    assert held[42] == (make_header(POTION.type, POTION.number), 10)
    assert held[43] == (make_header(mp.type, mp.number), 5)
    assert sum(1 for h, _ in held if h) == 5
    assert list(state.equipped_items) == visible_items(held)
    assert state.equipped_items[6] == SWORD.number  # WEAPON_R
    listed = await chars.stub.ListCharacters(c.ListCharactersRequest(account_id=ACCOUNT))
    assert list(listed.characters[0].equipped_items) == list(state.equipped_items)


# -- ChangeItems ----------------------------------------------------------------------------


async def test_change_items_applies_and_answers_the_changed_slots(
    chars: CharacterHarness,
) -> None:
    state = await new_character(chars.stub)
    reply = await chars.stub.ChangeItems(c.ChangeItemsRequest(
        character_id=state.id, request_id="r1",
        ops=[add("hp_potion_small", 5), add("short_bow"), remove(7, "practice_sword")],
        zuly_delta=-400,
    ))
    assert reply.result == c.ITEM_RESULT_OK and not reply.replayed
    changed = {s.slot: (s.item.header, s.item.data) for s in reply.changed}
    bow = PACK.items["short_bow"]
    assert changed == {
        7: (0, 0),
        12: (make_header(bow.type, bow.number), FRESH_EQUIPMENT_DATA),
        42: (make_header(POTION.type, POTION.number), 15),
    }
    assert reply.zuly == 600 and reply.storage_zuly == 0
    expected_weight = sum(PACK.items[n].weight for n in ("padded_jacket", "leather_boots",
                                                         "short_bow"))
    assert reply.weight == expected_weight
    after = await get(chars.stub, state.id)
    assert after.money == 600
    assert items(after)[12] == changed[12] and items(after)[42] == changed[42]
    assert after.equipped_items[6] == 0  # the sword is gone


async def test_change_items_is_all_or_nothing(chars: CharacterHarness) -> None:
    state = await new_character(chars.stub)
    for request, result in [
        (c.ChangeItemsRequest(ops=[add("hp_potion_small", 5), remove(12, "practice_sword")]),
         c.ITEM_RESULT_NOT_HELD),
        (c.ChangeItemsRequest(ops=[add("short_bow")], zuly_delta=-1001), c.ITEM_RESULT_NO_ZULY),
        (c.ChangeItemsRequest(ops=[add("short_bow")], storage_zuly_delta=-1),
         c.ITEM_RESULT_NO_ZULY),
        (c.ChangeItemsRequest(ops=[add("short_bow"), c.ItemOp(add=c.AddItem(
            item=common_pb2.ItemRef(item_type=8, item_number=999), count=1))]),
         c.ITEM_RESULT_UNKNOWN_ITEM),
        (c.ChangeItemsRequest(ops=[c.ItemOp(move=c.MoveItem(from_slot=7, to_slot=2))],
                              zuly_delta=5), c.ITEM_RESULT_BAD_SLOT),
    ]:
        request.character_id, request.request_id = state.id, f"refused-{result}"
        reply = await chars.stub.ChangeItems(request)
        assert reply.result == result and reply.message
        assert not reply.changed and not reply.storage_changed and reply.zuly == 1000
    after = await get(chars.stub, state.id)
    assert items(after) == items(state) and after.money == state.money
    storage = await chars.stub.GetStorage(c.GetStorageRequest(character_id=state.id))
    assert storage.zuly == 0 and not any(item.header for item in storage.items)


async def test_a_replayed_request_id_applies_once(chars: CharacterHarness) -> None:
    state = await new_character(chars.stub)
    request = c.ChangeItemsRequest(character_id=state.id, request_id="once",
                                   ops=[add("return_scroll", 3)], zuly_delta=50)
    first = await chars.stub.ChangeItems(request)
    again = await chars.stub.ChangeItems(request)
    assert first.result == c.ITEM_RESULT_OK and not first.replayed
    assert again.replayed
    again.replayed = False
    assert again == first
    after = await get(chars.stub, state.id)
    assert after.money == 1050
    scrolls = [i.data for i in after.inventory
               if i.header == make_header(SCROLL.type, SCROLL.number)]
    assert scrolls == [3]
    # The same id for another character is another request.
    other = await new_character(chars.stub, "Other")
    assert not (await chars.stub.ChangeItems(c.ChangeItemsRequest(
        character_id=other.id, request_id="once", zuly_delta=1))).replayed
    # A refused request is answered the same way again too.
    refused = c.ChangeItemsRequest(character_id=state.id, request_id="no", zuly_delta=-10**6)
    assert (await chars.stub.ChangeItems(refused)).result == c.ITEM_RESULT_NO_ZULY
    assert (await chars.stub.ChangeItems(refused)).replayed


async def test_request_ids_are_forgotten_after_a_day(chars: CharacterHarness) -> None:
    from gateway_character.service.servicer import REQUEST_KEEP_SECONDS

    state = await new_character(chars.stub)
    old = c.ChangeItemsRequest(character_id=state.id, request_id="old", zuly_delta=1)
    assert not (await chars.stub.ChangeItems(old)).replayed
    chars.clock.advance(REQUEST_KEEP_SECONDS + 1)
    await chars.stub.ChangeItems(c.ChangeItemsRequest(  # the next change forgets "old"
        character_id=state.id, request_id="new", zuly_delta=1))
    rows = await query(chars.service.engine,
                       "SELECT request_id FROM character_item_requests WHERE character_id = :c",
                       c=state.id)
    assert rows == [("new",)]


async def test_change_items_arguments(chars: CharacterHarness) -> None:
    state = await new_character(chars.stub)
    for request in [
        c.ChangeItemsRequest(request_id="x"),
        c.ChangeItemsRequest(character_id=state.id),
        c.ChangeItemsRequest(character_id=state.id, request_id="é" * 33),
        c.ChangeItemsRequest(character_id=state.id, request_id="x",
                             ops=[add("hp_potion_small")] * 65),
    ]:
        await expect_status(chars.stub.ChangeItems(request), grpc.StatusCode.INVALID_ARGUMENT)
    ok = await chars.stub.ChangeItems(c.ChangeItemsRequest(
        character_id=state.id, request_id="x" * 64, ops=[add("hp_potion_small")] * 64))
    assert ok.result == c.ITEM_RESULT_OK
    await expect_status(
        chars.stub.ChangeItems(c.ChangeItemsRequest(character_id=state.id + 100,
                                                    request_id="x")),
        grpc.StatusCode.NOT_FOUND)
    await expect_status(
        chars.stub.GetStorage(c.GetStorageRequest(character_id=state.id + 100)),
        grpc.StatusCode.NOT_FOUND)


@pytest.fixture
async def two_stubs(
    options: CharacterOptions, database: Callable[[str], str]
) -> AsyncIterator[tuple[Stub, Stub]]:
    """Two channels to one service."""
    service = CharacterReferenceService(database("character"), options, clock=ManualClock())
    async with (
        serve_on_loopback(service, "character") as host,
        grpc.aio.insecure_channel(host.address) as a,
        grpc.aio.insecure_channel(host.address) as b,
    ):
        yield character_pb2_grpc.CharacterStub(a), character_pb2_grpc.CharacterStub(b)


async def _race_for_the_last_sword(one: Stub, two: Stub) -> None:
    state = await new_character(one)
    for _ in range(3):
        replies = await asyncio.gather(*(
            stub.ChangeItems(c.ChangeItemsRequest(
                character_id=state.id, request_id=f"{name}-{_}", zuly_delta=1,
                ops=[remove(7, "practice_sword")]), timeout=30)
            for name, stub in (("a", one), ("b", two))
        ))
        results = sorted(reply.result for reply in replies)
        assert results == [c.ITEM_RESULT_OK, c.ITEM_RESULT_NOT_HELD]
        await one.ChangeItems(c.ChangeItemsRequest(
            character_id=state.id, request_id=f"back-{_}",
            ops=[add("practice_sword"), c.ItemOp(move=c.MoveItem(from_slot=12, to_slot=7))]))
    after = await get(one, state.id)
    assert after.money == 1003 and items(after)[7][0] == make_header(SWORD.type, SWORD.number)


async def test_two_concurrent_removals_of_the_last_item_give_one_ok(
    two_stubs: tuple[Stub, Stub],
) -> None:
    await _race_for_the_last_sword(*two_stubs)


async def test_two_replicas_removing_the_last_item_give_one_ok(
    postgres: PostgresServer,
) -> None:
    url = postgres.create_database()
    one, two = CharacterReferenceService(url), CharacterReferenceService(url)
    async with (
        serve_on_loopback(one, "character") as first,
        serve_on_loopback(two, "character") as second,
        grpc.aio.insecure_channel(first.address) as a,
        grpc.aio.insecure_channel(second.address) as b,
    ):
        await _race_for_the_last_sword(character_pb2_grpc.CharacterStub(a),
                                       character_pb2_grpc.CharacterStub(b))


# -- the storage ----------------------------------------------------------------------------


async def test_the_storage_is_shared_by_the_accounts_characters(
    chars: CharacterHarness,
) -> None:
    hero = await new_character(chars.stub, "Hero")
    alt = await new_character(chars.stub, "Alt")
    stranger = await new_character(chars.stub, "Stranger", account=ACCOUNT + 1)
    empty = await chars.stub.GetStorage(c.GetStorageRequest(character_id=hero.id))
    assert len(empty.items) == STORAGE_SLOTS and empty.zuly == 0
    assert not any(item.header or item.data for item in empty.items)
    stored = await chars.stub.ChangeItems(c.ChangeItemsRequest(
        character_id=hero.id, request_id="s1", zuly_delta=-300, storage_zuly_delta=300,
        ops=[c.ItemOp(store=c.StoreItem(slot=42, item=ref("hp_potion_small"), count=4)),
             c.ItemOp(store=c.StoreItem(slot=7, item=ref("practice_sword"), count=1))],
    ))
    assert stored.result == c.ITEM_RESULT_OK, stored.message
    assert (stored.zuly, stored.storage_zuly) == (700, 300)
    assert [s.slot for s in stored.storage_changed] == [0, 1]
    seen = await chars.stub.GetStorage(c.GetStorageRequest(character_id=alt.id))
    assert seen.zuly == 300
    assert (seen.items[0].header, seen.items[0].data) == (
        make_header(POTION.type, POTION.number), 4)
    assert (seen.items[1].header, seen.items[1].data) == (
        make_header(SWORD.type, SWORD.number), FRESH_EQUIPMENT_DATA)
    assert (await chars.stub.GetStorage(c.GetStorageRequest(character_id=stranger.id))).zuly == 0
    taken = await chars.stub.ChangeItems(c.ChangeItemsRequest(
        character_id=alt.id, request_id="s1", storage_zuly_delta=-300, zuly_delta=300,
        ops=[c.ItemOp(retrieve=c.RetrieveItem(storage_slot=1, item=ref("practice_sword"),
                                              count=1)),
             c.ItemOp(retrieve=c.RetrieveItem(storage_slot=0, item=ref("hp_potion_small"),
                                              count=4))],
    ))
    assert taken.result == c.ITEM_RESULT_OK and not taken.replayed, taken.message
    assert (taken.zuly, taken.storage_zuly) == (1300, 0)
    alt_now = await get(chars.stub, alt.id)
    assert items(alt_now)[12] == (make_header(SWORD.type, SWORD.number), FRESH_EQUIPMENT_DATA)
    assert items(alt_now)[42] == (make_header(POTION.type, POTION.number), 14)
    storage = await chars.stub.GetStorage(c.GetStorageRequest(character_id=hero.id))
    assert not any(item.header for item in storage.items) and storage.zuly == 0
    hero_now = await get(chars.stub, hero.id)
    assert items(hero_now)[42][1] == 6 and items(hero_now)[7] == (0, 0)


# -- SaveCharacter ------------------------------------------------------------------------


async def test_save_character_does_not_overwrite_items_or_money(
    chars: CharacterHarness,
) -> None:
    old = await new_character(chars.stub)
    changed = await chars.stub.ChangeItems(c.ChangeItemsRequest(
        character_id=old.id, request_id="newer", ops=[add("short_bow")], zuly_delta=234))
    assert changed.result == c.ITEM_RESULT_OK
    newer = await get(chars.stub, old.id)
    # The gateway saves the state it read before the change (and with other values).
    old.level, old.money = 9, 5
    del old.inventory[:]
    await chars.stub.SaveCharacter(c.SaveCharacterRequest(state=old))
    saved = await get(chars.stub, old.id)
    assert saved.level == 9
    assert saved.money == 1234 and items(saved) == items(newer)
    assert list(saved.equipped_items) == list(newer.equipped_items)


# -- SetHotbar ----------------------------------------------------------------------------


async def test_set_hotbar_stores_a_slot_and_save_character_does_not_overwrite_it(
    chars: CharacterHarness,
) -> None:
    old = await new_character(chars.stub)
    skill = 3 | 5 << 5  # HotbarItem: type 3 (skill), skill slot 5
    item = 1 | 12 << 5  # type 1 (item), inventory slot 12
    await chars.stub.SetHotbar(c.SetHotbarRequest(character_id=old.id, slot=0, icon=skill))
    await chars.stub.SetHotbar(c.SetHotbarRequest(character_id=old.id, slot=31, icon=item))
    stored = await get(chars.stub, old.id)
    assert stored.hotbar[0] == skill and stored.hotbar[31] == item
    assert list(stored.hotbar[1:31]) == [0] * 30 and len(stored.hotbar) == 32
    # The gateway saves the state it read before the change (and with other values).
    old.level = 9
    old.hotbar[:] = [7] * 32
    await chars.stub.SaveCharacter(c.SaveCharacterRequest(state=old))
    saved = await get(chars.stub, old.id)
    assert saved.level == 9 and list(saved.hotbar) == list(stored.hotbar)
    # 0 clears a slot.
    await chars.stub.SetHotbar(c.SetHotbarRequest(character_id=old.id, slot=0, icon=0))
    cleared = await get(chars.stub, old.id)
    assert cleared.hotbar[0] == 0 and cleared.hotbar[31] == item


async def test_set_hotbar_arguments(chars: CharacterHarness) -> None:
    hero = await new_character(chars.stub)
    for request in (
        c.SetHotbarRequest(character_id=0, slot=0, icon=1),
        c.SetHotbarRequest(character_id=hero.id, slot=32, icon=1),
        c.SetHotbarRequest(character_id=hero.id, slot=0, icon=65536),
    ):
        await expect_status(chars.stub.SetHotbar(request), grpc.StatusCode.INVALID_ARGUMENT)
    await expect_status(
        chars.stub.SetHotbar(c.SetHotbarRequest(character_id=hero.id + 100, slot=0, icon=1)),
        grpc.StatusCode.NOT_FOUND,
    )
    assert list((await get(chars.stub, hero.id)).hotbar) == [0] * 32
