"""Exchange of the reference character service over a real loopback gRPC server, on SQLite and
PostgreSQL: an item for zuly lands on both sides, a refusal names its side and changes
nothing, a request id applies once (and is its own space beside ChangeItems' ids), bad
arguments, and an item offered in an exchange while a ChangeItems takes it: one of the two."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

import grpc
import pytest
from gateway_character.service import CharacterOptions, CharacterReferenceService
from gateway_character.service.inventory import FRESH_EQUIPMENT_DATA, make_header
from gateway_protos.v1 import character_pb2 as c
from gateway_protos.v1 import character_pb2_grpc

from gateway_core.testing import ManualClock, PostgresServer, serve_on_loopback

from ..conftest import CharacterHarness
from .test_items_service import PACK, SWORD, add, expect_status, get, items, new_character, ref

if TYPE_CHECKING:
    from gateway_protos.v1.character_pb2_grpc import CharacterAsyncStub as Stub

pytestmark = pytest.mark.anyio

SWORD_ITEM = (make_header(SWORD.type, SWORD.number), FRESH_EQUIPMENT_DATA)


def give(slot: int, name: str, count: int = 1) -> c.RemoveItem:
    return c.RemoveItem(slot=slot, item=ref(name), count=count)


def exchange(request_id: str, a: int, b: int, a_gives: list[c.RemoveItem] | None = None,
             a_zuly: int = 0, b_gives: list[c.RemoveItem] | None = None,
             b_zuly: int = 0) -> c.ExchangeRequest:
    return c.ExchangeRequest(
        request_id=request_id,
        a=c.ExchangeSide(character_id=a, gives=a_gives or [], zuly=a_zuly),
        b=c.ExchangeSide(character_id=b, gives=b_gives or [], zuly=b_zuly),
    )


async def test_an_item_for_zuly_lands_on_both_sides(chars: CharacterHarness) -> None:
    seller = await new_character(chars.stub, "Seller")
    buyer = await new_character(chars.stub, "Buyer", account=8)
    reply = await chars.stub.Exchange(exchange(
        "t1", seller.id, buyer.id, [give(7, "practice_sword"), give(42, "hp_potion_small", 4)],
        0, [], 250))
    assert reply.result == c.ITEM_RESULT_OK and not reply.replayed, reply.message
    assert reply.failed_character_id == 0
    potion = make_header(PACK.items["hp_potion_small"].type, PACK.items["hp_potion_small"].number)
    assert reply.a.character_id == seller.id and reply.b.character_id == buyer.id
    assert {s.slot: (s.item.header, s.item.data) for s in reply.a.changed} == {
        7: (0, 0), 42: (potion, 6)}
    assert {s.slot: (s.item.header, s.item.data) for s in reply.b.changed} == {
        12: SWORD_ITEM, 42: (potion, 14)}
    assert (reply.a.zuly, reply.b.zuly) == (1250, 750)
    assert reply.b.weight > reply.a.weight
    seller_now, buyer_now = await get(chars.stub, seller.id), await get(chars.stub, buyer.id)
    assert seller_now.money == 1250 and buyer_now.money == 750
    assert items(seller_now)[7] == (0, 0) and items(seller_now)[42] == (potion, 6)
    assert items(buyer_now)[12] == SWORD_ITEM and items(buyer_now)[42] == (potion, 14)
    assert seller_now.equipped_items[6] == 0  # the sold sword was worn


async def test_a_refusal_names_the_side_and_changes_nothing(chars: CharacterHarness) -> None:
    a = await new_character(chars.stub, "Alpha")
    b = await new_character(chars.stub, "Beta", account=8)
    full = await chars.stub.ChangeItems(c.ChangeItemsRequest(
        character_id=b.id, request_id="fill", ops=[add("short_bow")] * 30))
    assert full.result == c.ITEM_RESULT_OK
    before_a, before_b = await get(chars.stub, a.id), await get(chars.stub, b.id)
    for index, (request, result, failed) in enumerate([
        (exchange("", a.id, b.id, [give(12, "practice_sword")]), c.ITEM_RESULT_NOT_HELD, a.id),
        (exchange("", a.id, b.id, [], 1001), c.ITEM_RESULT_NO_ZULY, a.id),
        (exchange("", a.id, b.id, [], 0, [], 1001), c.ITEM_RESULT_NO_ZULY, b.id),
        (exchange("", a.id, b.id, [give(7, "practice_sword")], 5), c.ITEM_RESULT_NO_ROOM,
         b.id),
        (exchange("", a.id, b.id, [give(42, "hp_potion_small", 11)]), c.ITEM_RESULT_NOT_HELD,
         a.id),
    ]):
        request.request_id = f"refused-{index}"
        reply = await chars.stub.Exchange(request)
        assert (reply.result, reply.failed_character_id) == (result, failed), reply.message
        assert reply.message and not reply.a.changed and not reply.b.changed
    after_a, after_b = await get(chars.stub, a.id), await get(chars.stub, b.id)
    assert (items(after_a), after_a.money) == (items(before_a), before_a.money)
    assert (items(after_b), after_b.money) == (items(before_b), before_b.money)


async def test_a_request_id_applies_once_and_is_not_a_change_items_id(
    chars: CharacterHarness,
) -> None:
    a = await new_character(chars.stub, "Alpha")
    b = await new_character(chars.stub, "Beta", account=8)
    request = exchange("same", a.id, b.id, [give(7, "practice_sword")], 0, [], 100)
    first = await chars.stub.Exchange(request)
    again = await chars.stub.Exchange(request)
    assert first.result == c.ITEM_RESULT_OK and not first.replayed
    assert again.replayed
    again.replayed = False
    assert again == first
    assert (await get(chars.stub, a.id)).money == 1100
    assert (await get(chars.stub, b.id)).money == 900
    # A ChangeItems with the same id is another request, and the exchange is still replayed.
    changed = await chars.stub.ChangeItems(c.ChangeItemsRequest(
        character_id=a.id, request_id="same", zuly_delta=1))
    assert changed.result == c.ITEM_RESULT_OK and not changed.replayed
    assert (await chars.stub.Exchange(request)).replayed
    # A refused exchange is answered the same way again too.
    refused = exchange("no", a.id, b.id, [], 10**6)
    assert (await chars.stub.Exchange(refused)).result == c.ITEM_RESULT_NO_ZULY
    assert (await chars.stub.Exchange(refused)).replayed


async def test_exchange_arguments(chars: CharacterHarness) -> None:
    a = await new_character(chars.stub, "Alpha")
    b = await new_character(chars.stub, "Beta", account=8)
    for request in [
        exchange("x", 0, b.id),
        exchange("x", a.id, 0),
        exchange("x", a.id, a.id),
        exchange("", a.id, b.id),
        exchange("x" * 56, a.id, b.id),
        exchange("x", a.id, b.id, [give(42, "hp_potion_small")] * 65),
        exchange("x", a.id, b.id, [], -1),
        exchange("x", a.id, b.id, [], 0, [], -1),
    ]:
        await expect_status(chars.stub.Exchange(request), grpc.StatusCode.INVALID_ARGUMENT)
    assert (await chars.stub.Exchange(exchange("x" * 55, a.id, b.id))).result == c.ITEM_RESULT_OK
    await expect_status(chars.stub.Exchange(exchange("y", a.id, b.id + 100)),
                        grpc.StatusCode.NOT_FOUND)
    await expect_status(chars.stub.Exchange(exchange("y", a.id + 100, b.id)),
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


async def _race_exchange_and_removal(one: Stub, two: Stub) -> None:
    """The sword offered in an exchange while a ChangeItems removes it: exactly one wins."""
    seller = await new_character(one, "Seller")
    buyer = await new_character(one, "Buyer", account=8)
    wins = {"exchange": 0, "removal": 0}
    for round_ in range(4):
        # The lower id goes first in the exchange on even rounds, second on odd ones.
        sides = (seller.id, buyer.id) if round_ % 2 == 0 else (buyer.id, seller.id)
        gives = [give(7, "practice_sword")]
        request = (exchange(f"t{round_}", *sides, gives, 0, [], 10) if sides[0] == seller.id
                   else exchange(f"t{round_}", *sides, [], 10, gives))
        traded, removed = await asyncio.gather(
            one.Exchange(request, timeout=30),
            two.ChangeItems(c.ChangeItemsRequest(
                character_id=seller.id, request_id=f"r{round_}", zuly_delta=1,
                ops=[c.ItemOp(remove=give(7, "practice_sword"))]), timeout=30),
        )
        results = sorted([traded.result, removed.result])
        assert results == [c.ITEM_RESULT_OK, c.ITEM_RESULT_NOT_HELD], (traded, removed)
        if traded.result == c.ITEM_RESULT_OK:
            wins["exchange"] += 1
            assert traded.failed_character_id == 0
            # Give it back and put it on again for the next round.
            back = await one.Exchange(exchange(f"back{round_}", buyer.id, seller.id,
                                               [give(12, "practice_sword")], 10))
            assert back.result == c.ITEM_RESULT_OK, back.message
        else:
            wins["removal"] += 1
            assert traded.failed_character_id == seller.id
            await one.ChangeItems(c.ChangeItemsRequest(
                character_id=seller.id, request_id=f"again{round_}", ops=[add("practice_sword")],
                zuly_delta=-1))
        moved = await one.ChangeItems(c.ChangeItemsRequest(
            character_id=seller.id, request_id=f"equip{round_}",
            ops=[c.ItemOp(move=c.MoveItem(from_slot=12, to_slot=7))]))
        assert moved.result == c.ITEM_RESULT_OK, moved.message
    seller_now, buyer_now = await get(one, seller.id), await get(one, buyer.id)
    assert items(seller_now)[7] == SWORD_ITEM
    assert items(buyer_now)[12] == (0, 0)
    # Zuly: every round's winner moved it once, and the give-backs undid the exchanges.
    assert seller_now.money + buyer_now.money == 2000


async def test_an_exchange_and_a_removal_of_the_same_item_give_one_ok(
    two_stubs: tuple[Stub, Stub],
) -> None:
    await _race_exchange_and_removal(*two_stubs)


async def test_two_replicas_racing_an_exchange_and_a_removal_give_one_ok(
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
        await _race_exchange_and_removal(character_pb2_grpc.CharacterStub(a),
                                         character_pb2_grpc.CharacterStub(b))


async def test_crossing_exchanges_of_two_characters_do_not_deadlock(
    two_stubs: tuple[Stub, Stub],
) -> None:
    """Two exchanges naming the same characters in opposite orders at once: both lock the
    rows in id order, so both finish."""
    one, two = two_stubs
    a = await new_character(one, "Alpha")
    b = await new_character(one, "Beta", account=8)
    for round_ in range(3):
        first, second = await asyncio.gather(
            one.Exchange(exchange(f"ab{round_}", a.id, b.id, [], 5), timeout=30),
            two.Exchange(exchange(f"ba{round_}", b.id, a.id, [], 7), timeout=30),
        )
        assert first.result == second.result == c.ITEM_RESULT_OK
    assert (await get(one, a.id)).money == 1000 + 3 * 2
    assert (await get(one, b.id)).money == 1000 - 3 * 2
