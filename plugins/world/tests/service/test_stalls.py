"""Personal shops (stalls) of the reference world service over a real loopback grpc.aio server:
who is shown a stall opening and closing (those around, on any gateway, and newcomers), the
list and its range, reservations (two customers and the last item), finishing a sale (counts,
the owner's packets, an empty stall closing), and the stall closing when its owner moves or
leaves."""

from __future__ import annotations

import pytest
from gateway_protos.v1 import common_pb2, world_pb2
from gateway_world.service.stalls import STALL_RANGE

from gateway_core.api import (
    CliShopBuysellReply,
    ShopBuySellResult,
    SrvSetItem,
    SrvSetMoney,
    SrvShopClose,
    SrvShopOpen,
)

from ..conftest import RawGateway, WorldHarness, pos

pytestmark = pytest.mark.anyio

POTION = 10 | 1 << 5  # a consumable: type 10, number 1
SWORD = 8 | 3 << 5  # a weapon: type 8, number 3


async def actions(gateway: RawGateway, character_id: int) -> list[world_pb2.WorldEvent]:
    """The game actions queued for ``gateway`` up to a chat marker of ``character_id``."""
    gateway.outbox.put_nowait(world_pb2.WorldRequest(
        chat=world_pb2.NormalChat(character_id=character_id, message=f"marker {character_id}")))
    found = []
    while True:
        event = await gateway.next()
        if event.WhichOneof("event") == "said" and event.said.message == f"marker {character_id}":
            return found
        if event.WhichOneof("event") == "action":
            found.append(event)


def named(events: list[world_pb2.WorldEvent], name: str) -> list[world_pb2.WorldEvent]:
    return [e for e in events if e.action.packet_name == name]


def potions(count: int, price: int = 50, slot: int = 42) -> world_pb2.StallEntry:
    return world_pb2.StallEntry(slot=slot, item=common_pb2.Item(header=POTION, data=count),
                                count=count, price=price)


async def open_stall(world: WorldHarness, owner: int, *sell: world_pb2.StallEntry,
                     wish: tuple[world_pb2.StallEntry, ...] = ()) -> world_pb2.StallReply:
    reply: world_pb2.StallReply = await world.stub.OpenStall(world_pb2.OpenStallRequest(
        character_id=owner, title="Potions!", sell=list(sell), wish=list(wish)))
    assert reply.reason == "", reply
    return reply


async def test_a_stall_is_shown_to_those_around_and_to_newcomers(world: WorldHarness) -> None:
    a = await world.connect("gw-a")
    b = await world.connect("gw-b")
    owner = await a.enter(1, 0, 0)
    await b.enter(2, 300, 0)
    await b.enter(3, 5000, 0)  # out of view
    reply = await open_stall(world, 1, potions(5))
    assert reply.object_id == owner
    [mine] = named(await actions(a, 1), SrvShopOpen.NAME)
    assert list(mine.recipient_character_ids) == [1]
    [shown] = named(await actions(b, 2), SrvShopOpen.NAME)
    assert list(shown.recipient_character_ids) == [2]
    packet = SrvShopOpen.decode_payload(shown.action.payload).packet
    assert (packet.id, packet.name) == (owner, b"Potions!")
    # Character 3 walks into view: it sees the owner, then its stall.
    await b.ok(teleport=world_pb2.Teleport(character_id=3, map_id=1, position=pos(200, 200)))
    events = await actions(b, 3)
    [late] = named(events, SrvShopOpen.NAME)
    assert list(late.recipient_character_ids) == [3]

    await world.stub.CloseStall(world_pb2.CloseStallRequest(character_id=1))
    [closed] = named(await actions(b, 2), SrvShopClose.NAME)
    assert sorted(closed.recipient_character_ids) == [2, 3]
    assert SrvShopClose.decode_payload(closed.action.payload).packet.id == owner
    again = await world.stub.CloseStall(world_pb2.CloseStallRequest(character_id=1))
    assert again.reason == "no_stall"


async def test_a_stall_is_listed_within_range_only(world: WorldHarness) -> None:
    a = await world.connect("gw-a")
    owner = await a.enter(1, 0, 0)
    await a.enter(2, 300, 0)
    await a.enter(3, STALL_RANGE + 100, 0)
    await open_stall(world, 1, potions(5), wish=(world_pb2.StallEntry(
        slot=4, item=common_pb2.Item(header=SWORD), count=1, price=900),))
    listed = await world.stub.ListStall(world_pb2.ListStallRequest(character_id=2,
                                                                   object_id=owner))
    assert listed.reason == "" and listed.title == "Potions!"
    assert [(e.index, e.slot, e.item.header, e.count, e.price) for e in listed.sell] == [
        (0, 42, POTION, 5, 50)]
    assert [(e.index, e.item.header, e.price) for e in listed.wish] == [(0, SWORD, 900)]
    far = await world.stub.ListStall(world_pb2.ListStallRequest(character_id=3,
                                                                object_id=owner))
    assert far.reason == "too_far"
    nobody = await world.stub.ListStall(world_pb2.ListStallRequest(character_id=1,
                                                                   object_id=0x7777))
    assert nobody.reason == "no_stall"


async def test_a_stall_refuses_bad_entries(world: WorldHarness) -> None:
    a = await world.connect("gw-a")
    await a.enter(1, 0, 0)
    cases = [
        world_pb2.OpenStallRequest(character_id=1),
        world_pb2.OpenStallRequest(character_id=1, sell=[potions(5, price=0)]),
        world_pb2.OpenStallRequest(character_id=1, sell=[potions(5), potions(2)]),  # one slot
        world_pb2.OpenStallRequest(character_id=1, sell=[world_pb2.StallEntry(
            slot=12, item=common_pb2.Item(header=SWORD), count=2, price=1)]),
    ]
    for request in cases:
        assert (await world.stub.OpenStall(request)).reason in ("empty", "bad_entry")
    assert not world.service.state.stalls.stalls


def reserve(character_id: int, owner: int, count: int = 1, *, index: int = 0,
            header: int = POTION, which: world_pb2.StallList = world_pb2.STALL_LIST_SELL
            ) -> world_pb2.ReserveStallRequest:
    return world_pb2.ReserveStallRequest(
        character_id=character_id, object_id=owner, list=which,
        picks=[world_pb2.StallPick(index=index, count=count, header=header)])


async def test_two_customers_racing_for_the_last_item_one_gets_it(world: WorldHarness) -> None:
    a = await world.connect("gw-a")
    owner = await a.enter(1, 0, 0)
    await a.enter(2, 300, 0)
    await a.enter(3, -300, 0)
    await open_stall(world, 1, potions(1))
    first, second = await world.stub.ReserveStall(reserve(2, owner)), \
        await world.stub.ReserveStall(reserve(3, owner))
    assert first.reason == "" and [h.count for h in first.held] == [1]
    assert second.reason == "sold_out"
    # The first purchase fails (say, too little zuly): released, the second may try.
    released = await world.stub.FinishStall(world_pb2.FinishStallRequest(token=first.token))
    assert released.result == ShopBuySellResult.NULL and not released.closed
    second = await world.stub.ReserveStall(reserve(3, owner))
    assert second.reason == ""
    await actions(a, 1)
    done = await world.stub.FinishStall(world_pb2.FinishStallRequest(
        token=second.token, applied=True, owner_zuly=1050,
        owner_changed=[world_pb2.StallSlot(slot=42)]))
    assert done.result == ShopBuySellResult.BUY_ALL and done.closed
    assert [(u.slot, u.item.header) for u in done.updated] == [(0, 0)]
    events = await actions(a, 1)
    to_owner = [e for e in events if list(e.recipient_character_ids) == [1]]
    names = [e.action.packet_name for e in to_owner]
    assert names == [SrvSetItem.NAME, SrvSetMoney.NAME, CliShopBuysellReply.NAME]
    [closed] = named(events, SrvShopClose.NAME)
    assert sorted(closed.recipient_character_ids) == [1, 2, 3]
    assert SrvSetMoney.decode_payload(to_owner[1].action.payload).packet.zuly == 1050
    update = CliShopBuysellReply.decode_payload(to_owner[2].action.payload).packet
    assert (update.id, update.result, update.count) == (owner, ShopBuySellResult.BUY_ALL, 1)
    again = await world.stub.FinishStall(world_pb2.FinishStallRequest(token=second.token))
    assert again.reason == "unknown_token"
    assert (await world.stub.ReserveStall(reserve(2, owner))).reason == "no_stall"


async def test_a_partial_purchase_counts_down_and_the_rest_stays(world: WorldHarness) -> None:
    a = await world.connect("gw-a")
    owner = await a.enter(1, 0, 0)
    await a.enter(2, 300, 0)
    await open_stall(world, 1, potions(5))
    held = await world.stub.ReserveStall(reserve(2, owner, count=3))
    other = await world.stub.ReserveStall(reserve(2, owner, count=4))
    assert [h.count for h in other.held] == [2] and other.short == 1
    await world.stub.FinishStall(world_pb2.FinishStallRequest(token=other.token))
    done = await world.stub.FinishStall(world_pb2.FinishStallRequest(
        token=held.token, applied=True))
    assert [(u.slot, u.item.header, u.item.data) for u in done.updated] == [(0, POTION, 2)]
    listed = await world.stub.ListStall(world_pb2.ListStallRequest(character_id=2,
                                                                   object_id=owner))
    assert [e.count for e in listed.sell] == [2]
    # Out of range, the wrong item, one's own stall: nothing is held.
    assert (await world.stub.ReserveStall(reserve(1, owner))).reason == "self"
    assert (await world.stub.ReserveStall(reserve(2, owner, header=SWORD))).reason == "sold_out"
    await a.ok(teleport=world_pb2.Teleport(character_id=2, map_id=1,
                                           position=pos(STALL_RANGE + 50, 0)))
    assert (await world.stub.ReserveStall(reserve(2, owner))).reason == "too_far"


async def test_an_owner_who_lost_the_item_takes_it_off_the_stall(world: WorldHarness) -> None:
    a = await world.connect("gw-a")
    owner = await a.enter(1, 0, 0)
    await a.enter(2, 300, 0)
    await open_stall(world, 1, potions(5), potions(1, slot=43))
    held = await world.stub.ReserveStall(reserve(2, owner))
    failed = await world.stub.FinishStall(world_pb2.FinishStallRequest(
        token=held.token, owner_failed=True))
    assert [u.slot for u in failed.updated] == [0] and not failed.closed
    listed = await world.stub.ListStall(world_pb2.ListStallRequest(character_id=2,
                                                                   object_id=owner))
    assert [e.index for e in listed.sell] == [1]


async def test_selling_to_the_wish_list_wants_the_same_item(world: WorldHarness) -> None:
    a = await world.connect("gw-a")
    owner = await a.enter(1, 0, 0)
    await a.enter(2, 300, 0)
    await open_stall(world, 1, wish=(world_pb2.StallEntry(
        slot=0, item=common_pb2.Item(header=SWORD), count=1, price=900),))
    wrong = await world.stub.ReserveStall(reserve(2, owner, header=POTION,
                                                  which=world_pb2.STALL_LIST_WISH))
    assert wrong.reason == "sold_out"
    held = await world.stub.ReserveStall(reserve(2, owner, header=SWORD | 0x8000,
                                                 which=world_pb2.STALL_LIST_WISH))
    assert held.reason == "" and held.held[0].price == 900
    done = await world.stub.FinishStall(world_pb2.FinishStallRequest(
        token=held.token, applied=True))
    assert done.result == ShopBuySellResult.SELL_ALL and done.closed


@pytest.mark.parametrize("how", ["move", "leave", "teleport"])
async def test_the_stall_closes_when_its_owner_moves_or_leaves(world: WorldHarness,
                                                               how: str) -> None:
    a = await world.connect("gw-a")
    b = await world.connect("gw-b")
    owner = await a.enter(1, 0, 0)
    await b.enter(2, 300, 0)
    await open_stall(world, 1, potions(5))
    await actions(b, 2)
    if how == "move":
        await a.ok(move=world_pb2.MoveTo(character_id=1, destination=pos(100, 0)))
    elif how == "leave":
        await a.ok(leave=world_pb2.LeaveMap(character_id=1))
    else:
        await a.ok(teleport=world_pb2.Teleport(character_id=1, map_id=1, position=pos(50, 50)))
    [closed] = named(await actions(b, 2), SrvShopClose.NAME)
    assert SrvShopClose.decode_payload(closed.action.payload).packet.id == owner
    assert not world.service.state.stalls.stalls
