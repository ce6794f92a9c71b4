"""Player trades through a real gateway (embedded reference services, SQLite under a tmp dir)
driven over TCP by two headless clients on the items test pack (both start on the arena with
100 zuly, a heavy sword, a plain cap and 3 red potions): a sword for zuly, both inventories
right at once and after a new login; an offer changed after READY clears both readies; walking
apart and a disconnect cancel; an item not held, more zuly than held, no room on the other side
and an item taken away before the exchange are refused, and nothing changes."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from gateway_protos.v1 import character_pb2, common_pb2

from gateway_core.protocol.packets import (
    CliMouseCmd,
    CliTrade,
    CliTradeItem,
    Item,
    SrvSetItem,
    SrvSetMoney,
    SrvTrade,
    SrvTradeItem,
    TradeState,
)

from .test_items_e2e import SWORD, TIMEOUT, Arena, Player, anyio_backend, arena

__all__ = ["anyio_backend", "arena"]

pytestmark = pytest.mark.anyio

SWORD_HEADER = int(Item.stack(*SWORD, 0).header.header)
#: Where new characters stand (the arena's spawn point).
SPAWN = (520000.0, 520000.0)


def ref(item: tuple[int, int]) -> common_pb2.ItemRef:
    return common_pb2.ItemRef(item_type=item[0], item_number=item[1])


async def step(player: Player, state: TradeState, target: int = 0, index: int = 0) -> None:
    await player.send(CliTrade(state=state, target=target, index=index))


async def told(player: Player, what: str) -> tuple[int, int]:
    """The next PAKWC_TRADE the player gets, as (state, target)."""
    got = await player.expect(SrvTrade, what)
    return int(got.state), got.target


async def open_trade(alice: Player, bob: Player) -> None:
    await step(alice, TradeState.REQUEST, bob.object_id)
    assert await told(bob, "asked") == (TradeState.REQUEST, alice.object_id)
    await step(bob, TradeState.ACCEPT, alice.object_id)
    assert await told(alice, "accepted") == (TradeState.ACCEPT, bob.object_id)
    assert await told(bob, "open") == (TradeState.ACCEPT, alice.object_id)


async def both_ready(alice: Player, bob: Player) -> None:
    await step(alice, TradeState.READY)
    assert await told(bob, "alice ready") == (TradeState.READY, alice.object_id)
    await step(bob, TradeState.READY)
    assert await told(alice, "bob ready") == (TradeState.READY, bob.object_id)


async def offer_sword(arena: Arena, alice: Player, bob: Player) -> int:
    sword = await arena.slot_of(alice, SWORD)
    await alice.send(CliTradeItem(slot=0, index=sword, amount=1))
    shown = await bob.expect(SrvTradeItem, "the sword shown")
    assert shown.slot == 0 and int(shown.item.header.header) == SWORD_HEADER
    return sword


async def stored_items(arena: Arena, player: Player) -> tuple[int, list[tuple[int, int]]]:
    state = await arena.stored(player.character_id)
    return state.money, [(i.header, i.data) for i in state.inventory]


async def until(condition: Any) -> None:
    with anyio.fail_after(TIMEOUT):
        while not await condition():
            await anyio.sleep(0.01)


async def test_a_sword_for_zuly_lands_on_both_sides_and_stays_after_a_new_login(
    arena: Arena,
) -> None:
    alice, bob = await arena.player("Alice"), await arena.player("Bob")
    await open_trade(alice, bob)
    sword = await offer_sword(arena, alice, bob)
    await bob.send(CliTradeItem(slot=10, index=0, amount=40))
    zuly = await alice.expect(SrvTradeItem, "bob's zuly shown")
    assert (zuly.slot, zuly.item.header.type, zuly.item.data.count) == (10, 31, 40)
    await both_ready(alice, bob)
    await step(alice, TradeState.DONE)
    await step(bob, TradeState.DONE)
    assert await told(alice, "done") == (TradeState.DONE, bob.object_id)
    assert await told(bob, "done") == (TradeState.DONE, alice.object_id)
    gone = await alice.expect(SrvSetItem, "alice's slots")
    assert [(i.index, int(i.item.header.header)) for i in gone.items] == [(sword, 0)]
    assert (await alice.expect(SrvSetMoney, "alice's zuly")).zuly == 140
    got = await bob.expect(SrvSetItem, "bob's slots")
    [(slot, header)] = [(i.index, int(i.item.header.header)) for i in got.items]
    assert header == SWORD_HEADER
    assert (await bob.expect(SrvSetMoney, "bob's zuly")).zuly == 60
    alice_money, alice_items = await stored_items(arena, alice)
    bob_money, bob_items = await stored_items(arena, bob)
    assert (alice_money, bob_money) == (140, 60)
    assert alice_items[sword] == (0, 0) and bob_items[slot][0] == SWORD_HEADER
    assert sum(1 for h, _ in bob_items if h == SWORD_HEADER) == 2
    # A new login shows each what the character service has.
    for player, money, items in ((alice, 140, alice_items), (bob, 60, bob_items)):
        await arena.leave(player)
        data = await arena.rejoin(player.name)
        assert data.inventory.zuly == money
        assert [(int(i.header), int(i.data)) for i in data.inventory.items] == items


async def test_an_offer_change_after_ready_clears_both_readies(arena: Arena) -> None:
    alice, bob = await arena.player("Alice"), await arena.player("Bob")
    await open_trade(alice, bob)
    await offer_sword(arena, alice, bob)
    await both_ready(alice, bob)
    await step(alice, TradeState.DONE)
    await bob.send(CliTradeItem(slot=10, index=0, amount=5))
    assert [await told(alice, "cleared") for _ in range(2)] == [
        (TradeState.NOTREADY, alice.object_id), (TradeState.NOTREADY, bob.object_id)]
    assert [await told(bob, "cleared") for _ in range(2)] == [
        (TradeState.NOTREADY, alice.object_id), (TradeState.NOTREADY, bob.object_id)]
    refused = arena.refused("trade_not_ready")
    await step(bob, TradeState.DONE)
    await until(lambda: _more(arena, "trade_not_ready", refused))
    assert (await stored_items(arena, alice))[0] == 100
    assert (await stored_items(arena, bob))[0] == 100


async def _more(arena: Arena, reason: str, than: float) -> bool:
    return arena.refused(reason) > than


async def test_walking_apart_cancels_the_trade(arena: Arena) -> None:
    alice, bob = await arena.player("Alice"), await arena.player("Bob")
    await open_trade(alice, bob)
    await offer_sword(arena, alice, bob)
    await bob.send(CliMouseCmd(target_id=0, x=SPAWN[0] + 1300, y=SPAWN[1], z=0))
    assert await told(alice, "cancelled") == (TradeState.CANCEL, bob.object_id)
    assert await told(bob, "cancelled") == (TradeState.CANCEL, alice.object_id)
    assert (await stored_items(arena, alice))[1][await arena.slot_of(alice, SWORD)][0] == (
        SWORD_HEADER)


async def test_a_disconnect_cancels_the_trade(arena: Arena) -> None:
    alice, bob = await arena.player("Alice"), await arena.player("Bob")
    await open_trade(alice, bob)
    await offer_sword(arena, alice, bob)
    await bob.client.aclose()
    assert await told(alice, "cancelled") == (TradeState.CANCEL, bob.object_id)
    # Alice may trade again at once.
    carol = await arena.player("Carol")
    await step(alice, TradeState.REQUEST, carol.object_id)
    assert await told(carol, "asked") == (TradeState.REQUEST, alice.object_id)


async def test_offers_of_what_is_not_held_are_refused_and_nothing_changes(
    arena: Arena,
) -> None:
    alice, bob = await arena.player("Alice"), await arena.player("Bob")
    before = await stored_items(arena, alice), await stored_items(arena, bob)
    await open_trade(alice, bob)
    not_held, no_zuly = arena.refused("not_held"), arena.refused("no_zuly")
    await alice.send(CliTradeItem(slot=0, index=30, amount=1))      # an empty bag slot
    await alice.send(CliTradeItem(slot=10, index=0, amount=101))    # she has 100
    await until(lambda: _more(arena, "no_zuly", no_zuly))
    assert arena.refused("not_held") == not_held + 1
    # Bob was shown neither; the trade goes on with what is really offered: nothing.
    await both_ready(alice, bob)
    await step(alice, TradeState.DONE)
    await step(bob, TradeState.DONE)
    assert await told(alice, "done") == (TradeState.DONE, bob.object_id)
    assert not [p for p in bob.client.unexpected if isinstance(p, SrvTradeItem)]
    assert (await stored_items(arena, alice), await stored_items(arena, bob)) == before


async def test_no_room_on_the_other_side_is_refused_and_nothing_changes(
    arena: Arena,
) -> None:
    alice, bob = await arena.player("Alice"), await arena.player("Bob")
    assert arena.gateway.clients is not None
    sword = ref(SWORD)
    # Bob's equipment tab is full (another gateway's change: his view does not know it).
    filled = await arena.gateway.clients["character"].ChangeItems(character_pb2.ChangeItemsRequest(
        character_id=bob.character_id, request_id="fill", ops=[
            character_pb2.ItemOp(add=character_pb2.AddItem(item=sword, count=1))] * 28))
    assert filled.result == character_pb2.ITEM_RESULT_OK, filled.message
    before = await stored_items(arena, alice), await stored_items(arena, bob)
    no_room = arena.refused("trade_no_room")
    await open_trade(alice, bob)
    await offer_sword(arena, alice, bob)
    await both_ready(alice, bob)
    await step(bob, TradeState.DONE)
    await step(alice, TradeState.DONE)
    for player in (alice, bob):
        assert await told(player, "no room") == (TradeState.NO_SPACE, bob.object_id)
        assert (await told(player, "cancelled"))[0] == TradeState.CANCEL
    assert arena.refused("trade_no_room") == no_room + 1
    assert (await stored_items(arena, alice), await stored_items(arena, bob)) == before


async def test_an_item_taken_away_before_the_exchange_is_refused_and_nothing_changes(
    arena: Arena,
) -> None:
    alice, bob = await arena.player("Alice"), await arena.player("Bob")
    assert arena.gateway.clients is not None
    await open_trade(alice, bob)
    sword = await offer_sword(arena, alice, bob)
    # The sword leaves behind the trade's back (another gateway, a GM): the exchange is the
    # authority.
    taken = await arena.gateway.clients["character"].ChangeItems(character_pb2.ChangeItemsRequest(
        character_id=alice.character_id, request_id="take", ops=[character_pb2.ItemOp(
            remove=character_pb2.RemoveItem(slot=sword, item=ref(SWORD),
                                            count=1))]))
    assert taken.result == character_pb2.ITEM_RESULT_OK
    before = await stored_items(arena, alice), await stored_items(arena, bob)
    await both_ready(alice, bob)
    await step(alice, TradeState.DONE)
    await step(bob, TradeState.DONE)
    for player in (alice, bob):
        assert (await told(player, "cancelled"))[0] == TradeState.CANCEL
    assert (await stored_items(arena, alice), await stored_items(arena, bob)) == before
