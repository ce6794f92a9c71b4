"""Personal shops through a real gateway (embedded reference services, SQLite under a tmp dir)
driven over TCP by headless clients on the items test pack (everyone starts on the arena with
100 zuly, a heavy sword, a plain cap and 3 red potions): a seller opens a stall with potions,
a buyer nearby is shown it, lists it and buys from it; both inventories and purses are right
at once, in the character service and after a new login, and the stall closes when sold out.
Buying with too little zuly, an item the seller no longer holds, from out of range and from a
closed stall is refused with the protocol's reply, and nothing changes. Selling to a wish list
works the same way the other way round."""

from __future__ import annotations

import anyio
import pytest
from gateway_protos.v1 import world_pb2

from gateway_core.protocol.packets import (
    CliDropItem,
    CliMouseCmd,
    CliShopBuyReq,
    CliShopBuysellReply,
    CliShopClose,
    CliShopListReq,
    CliShopOpen,
    CliShopSellReq,
    CliWishlistAdd,
    Item,
    ShopBuyItem,
    ShopBuySellResult,
    ShopItem,
    ShopSellItem,
    SrvSetItem,
    SrvSetMoney,
    SrvShopClose,
    SrvShopListReply,
    SrvShopOpen,
)

from .test_items_e2e import CAP, POTION, SWORD, TIMEOUT, Arena, Player, arena

__all__ = ["arena"]

pytestmark = pytest.mark.anyio

SPAWN = (520000.0, 520000.0)
POTION_HEADER = int(Item.stack(*POTION, 0).header.header)


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


async def snapshot(arena: Arena, player: Player) -> tuple[int, list[tuple[int, int]]]:
    state = await arena.stored(player.character_id)
    return state.money, [(i.header, i.data) for i in state.inventory]


async def open_potions(arena: Arena, seller: Player, count: int, price: int) -> int:
    """The seller lists ``count`` of its potions at ``price`` apiece; its potion slot."""
    slot = await arena.slot_of(seller, POTION)
    await seller.send(CliShopOpen(sell_count=1, wishlist_count=0, items=(
        ShopItem(index=slot, item=Item.stack(*POTION, count), price=price),)))
    opened = await seller.expect(SrvShopOpen, "own stall")
    assert (opened.id, opened.name) == (seller.object_id, seller.name.encode())
    return slot


async def buy(buyer: Player, seller: Player, count: int, index: int = 0,
              item: Item | None = None) -> CliShopBuysellReply:
    await buyer.send(CliShopBuyReq(id=seller.object_id, count=1, items=(
        ShopBuyItem(index=index, item=item if item is not None else Item.stack(*POTION, count)),
    )))
    reply: CliShopBuysellReply = await buyer.expect(CliShopBuysellReply, "bought")
    return reply


async def test_a_potion_is_bought_from_a_stall_and_both_sides_are_right(arena: Arena) -> None:
    alice, bob = await arena.player("Alice"), await arena.player("Bob")
    slot = await open_potions(arena, alice, 2, 30)
    shown = await bob.seen(SrvShopOpen, "stall shown", lambda p: p.id == alice.object_id)
    assert shown.name == b"Alice"

    await bob.send(CliShopListReq(id=alice.object_id))
    listed = await bob.expect(SrvShopListReply, "list")
    assert (listed.sell_count, listed.wishlist_count) == (1, 0)
    [entry] = listed.items
    assert (entry.index, int(entry.item.header.header), entry.item.data.count, entry.price) == (
        0, POTION_HEADER, 2, 30)

    reply = await buy(bob, alice, 1)
    assert (reply.id, reply.result, reply.count) == (alice.object_id, ShopBuySellResult.BUY_ALL, 1)
    assert [(i.index, i.item.data.count) for i in reply.items] == [(0, 1)]
    bob_slot = await arena.slot_of(bob, POTION)
    got = await bob.expect(SrvSetItem, "bob's potions")
    assert [(i.index, i.item.data.count) for i in got.items] == [(bob_slot, 4)]
    assert (await bob.expect(SrvSetMoney, "bob pays")).zuly == 70
    gone = await alice.expect(SrvSetItem, "alice's potions")
    assert [(i.index, i.item.data.count) for i in gone.items] == [(slot, 2)]
    assert (await alice.expect(SrvSetMoney, "alice is paid")).zuly == 130
    update = await alice.expect(CliShopBuysellReply, "alice's stall update")
    assert [(i.index, i.item.data.count) for i in update.items] == [(0, 1)]

    # The last one: the stall is empty and closes for everyone around.
    reply = await buy(bob, alice, 1)
    assert reply.result == ShopBuySellResult.BUY_ALL
    assert [(i.index, int(i.item.header.header)) for i in reply.items] == [(0, 0)]
    closed = await bob.seen(SrvShopClose, "stall closed", lambda p: p.id == alice.object_id)
    assert closed.id == alice.object_id

    alice_money, alice_items = await snapshot(arena, alice)
    bob_money, bob_items = await snapshot(arena, bob)
    assert (alice_money, alice_items[slot]) == (160, (POTION_HEADER, 1))
    assert (bob_money, bob_items[bob_slot]) == (40, (POTION_HEADER, 5))
    # After a new login both see the same.
    for player in (alice, bob):
        await arena.leave(player)
    for name, money, where, count in (("Alice", 160, slot, 1), ("Bob", 40, bob_slot, 5)):
        initial = await arena.rejoin(name)
        assert initial.inventory.zuly == money
        assert initial.inventory.items[where].data.count == count


async def test_refused_purchases_change_nothing(arena: Arena) -> None:
    alice, bob = await arena.player("Alice"), await arena.player("Bob")
    sword = await arena.slot_of(alice, SWORD)
    potion = await arena.slot_of(alice, POTION)
    await alice.send(CliShopOpen(sell_count=2, wishlist_count=0, items=(
        ShopItem(index=potion, item=Item.stack(*POTION, 3), price=500),
        ShopItem(index=sword, item=Item.stack(*SWORD, 0), price=10))))
    await alice.expect(SrvShopOpen, "own stall")
    await bob.seen(SrvShopOpen, "stall shown", lambda p: p.id == alice.object_id)
    before = await snapshot(arena, alice), await snapshot(arena, bob)

    no_zuly = arena.refused("no_zuly")
    reply = await buy(bob, alice, 1)
    assert (reply.result, reply.count) == (ShopBuySellResult.NULL, 0)
    assert arena.refused("no_zuly") == no_zuly + 1

    # The seller drops the sword it lists: the sale fails on its side and the entry goes.
    await alice.send(CliDropItem(index=sword, quantity=1))
    await alice.expect(SrvSetItem, "sword dropped")
    after_drop = await snapshot(arena, alice)
    not_held = arena.refused("not_held")
    sword_item = Item(header=Item.stack(*SWORD, 0).header, data=Item.stack(0, 0, 0).data)
    reply = await buy(bob, alice, 1, index=1, item=sword_item)
    assert reply.result == ShopBuySellResult.NULL
    assert arena.refused("not_held") == not_held + 1
    await bob.send(CliShopListReq(id=alice.object_id))
    listed = await bob.expect(SrvShopListReply, "list without the sword")
    assert [e.index for e in listed.items] == [0]
    assert await snapshot(arena, alice) == after_drop
    assert await snapshot(arena, bob) == before[1]

    # Out of range: Bob walks away.
    await bob.send(CliMouseCmd(target_id=0, x=SPAWN[0] + 1300, y=SPAWN[1], z=0))
    assert arena.gateway.clients is not None
    world = arena.gateway.clients["world"]
    with anyio.fail_after(TIMEOUT):
        while True:
            where = await world.GetPresence(world_pb2.GetPresenceRequest(
                character_id=bob.character_id))
            if where.position.x >= SPAWN[0] + 1100:
                break
            await anyio.sleep(0.05)
    too_far = arena.refused("stall_too_far")
    reply = await buy(bob, alice, 1)
    assert reply.result == ShopBuySellResult.NULL
    assert arena.refused("stall_too_far") == too_far + 1

    # A closed stall.
    await alice.send(CliShopClose())
    await alice.expect(SrvShopClose, "own stall closed")
    await bob.send(CliMouseCmd(target_id=0, x=SPAWN[0], y=SPAWN[1], z=0))
    no_stall = arena.refused("stall_no_stall")
    reply = await buy(bob, alice, 1)
    assert reply.result == ShopBuySellResult.NULL
    assert arena.refused("stall_no_stall") == no_stall + 1
    assert await snapshot(arena, alice) == after_drop
    assert await snapshot(arena, bob) == before[1]


async def test_a_cap_is_sold_to_a_wish_list(arena: Arena) -> None:
    alice, bob = await arena.player("Alice"), await arena.player("Bob")
    await alice.send(CliWishlistAdd(index=0, item=Item.stack(*CAP, 0)))
    await alice.send(CliShopOpen(sell_count=0, wishlist_count=1, items=(
        ShopItem(index=0, item=Item.stack(*CAP, 0), price=25),)))
    await alice.expect(SrvShopOpen, "own stall")
    await bob.seen(SrvShopOpen, "stall shown", lambda p: p.id == alice.object_id)
    cap = await arena.slot_of(bob, CAP)
    alice_before = await snapshot(arena, alice)
    await bob.send(CliShopSellReq(id=alice.object_id, count=1, items=(
        ShopSellItem(inventory_index=cap, wishlist_index=0, item=Item.stack(*CAP, 0)),)))
    reply = await bob.expect(CliShopBuysellReply, "sold")
    assert reply.result == ShopBuySellResult.SELL_ALL
    got = await bob.expect(SrvSetItem, "bob's cap gone")
    assert [(i.index, int(i.item.header.header)) for i in got.items] == [(cap, 0)]
    assert (await bob.expect(SrvSetMoney, "bob is paid")).zuly == 125
    assert (await alice.expect(SrvSetMoney, "alice pays")).zuly == 75
    await bob.seen(SrvShopClose, "wish list satisfied", lambda p: p.id == alice.object_id)
    money, items = await snapshot(arena, alice)
    assert money == 75
    cap_header = int(Item.stack(*CAP, 0).header.header)
    assert sum(1 for header, _ in items if header & 0x7FFF == cap_header) == sum(
        1 for header, _ in alice_before[1] if header & 0x7FFF == cap_header) + 1
    # Selling again to the closed stall: refused, nothing changes.
    before = await snapshot(arena, bob)
    await bob.send(CliShopSellReq(id=alice.object_id, count=1, items=(
        ShopSellItem(inventory_index=cap, wishlist_index=0, item=Item.stack(*CAP, 0)),)))
    again = await bob.expect(CliShopBuysellReply, "refused")
    assert again.result == ShopBuySellResult.NULL
    assert await snapshot(arena, bob) == before


async def test_two_buyers_racing_for_the_last_potion_one_gets_it(arena: Arena) -> None:
    alice, bob, carol = (await arena.player("Alice"), await arena.player("Bob"),
                         await arena.player("Carol"))
    await open_potions(arena, alice, 1, 10)
    for buyer in (bob, carol):
        await buyer.seen(SrvShopOpen, "stall shown", lambda p: p.id == alice.object_id)
    request = CliShopBuyReq(id=alice.object_id, count=1, items=(
        ShopBuyItem(index=0, item=Item.stack(*POTION, 1)),))
    async with anyio.create_task_group() as group:
        group.start_soon(bob.send, request)
        group.start_soon(carol.send, request)
    replies = [await buyer.expect(CliShopBuysellReply, f"{buyer.name} buys")
               for buyer in (bob, carol)]
    # The loser finds the entry held (SOLD_OUT) or, when the winner was quicker still, the
    # stall closed (NULL).
    results = sorted(int(r.result) for r in replies)
    assert results[1] == ShopBuySellResult.BUY_ALL
    assert results[0] in (ShopBuySellResult.NULL, ShopBuySellResult.SOLD_OUT)
    moneys = sorted([(await snapshot(arena, p))[0] for p in (bob, carol)])
    assert moneys == [90, 100]
    potions = []
    for buyer in (bob, carol):
        _, items = await snapshot(arena, buyer)
        potions.append(sum(data for header, data in items if header == POTION_HEADER))
    assert sorted(potions) == [3, 4]
    money, items = await snapshot(arena, alice)
    assert money == 110
    assert sum(data for header, data in items if header == POTION_HEADER) == 2


async def test_bad_stalls_and_wish_list_entries_are_refused(arena: Arena) -> None:
    alice, bob = await arena.player("Alice"), await arena.player("Bob")
    potion = await arena.slot_of(alice, POTION)
    not_held, bad_slot = arena.refused("not_held"), arena.refused("bad_slot")
    # More potions than held, then an equipped slot: answered with the stall's close.
    for entry in (ShopItem(index=potion, item=Item.stack(*POTION, 4), price=10),
                  ShopItem(index=1, item=Item.stack(*CAP, 0), price=10)):
        await alice.send(CliShopOpen(sell_count=1, wishlist_count=0, items=(entry,)))
        refused = await alice.expect(SrvShopClose, "refused open")
        assert refused.id == alice.object_id
    assert arena.refused("not_held") == not_held + 1
    assert arena.refused("bad_slot") == bad_slot + 1
    # Nobody around was shown a stall: Bob's listing finds none.
    await bob.send(CliShopListReq(id=alice.object_id))
    assert (await bob.expect(SrvShopClose, "no stall")).id == alice.object_id
    await alice.send(CliWishlistAdd(index=30, item=Item.stack(*CAP, 0)))
    with anyio.fail_after(TIMEOUT):
        while arena.refused("bad_slot") < bad_slot + 2:
            await anyio.sleep(0.01)
