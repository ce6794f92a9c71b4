"""Items through a real gateway (embedded reference services, SQLite under a tmp dir) driven
over TCP by headless clients, on the items test pack (content/items.toml): new characters start
on the arena (map 30) with 100 zuly, a heavy sword (level 5), a plain cap and 3 red potions,
100 units from a training dummy whose loot is 2 Dummy Stuffing and 10 zuly, and 200 units from
the quartermaster, who sells potions and vests.

Loot picked up and sold to the NPC, a potion bought and used, one ground item taken by one of
two players, equipment and its requirements, the storage (items and zuly) and the hotbar (kept
across a logout and sent again at the next join), each checked against what the character
service stored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from gateway_protos.v1 import character_pb2

from gateway_core.api import SELECTED_CHARACTER, WORLD_PLACEMENT
from gateway_core.bot import GameClient
from gateway_core.bot import steps as flow
from gateway_core.protocol.packets import (
    BankListReply,
    BankListRequest,
    BankMoveMode,
    BuySellItem,
    CliAttack,
    CliBankListReq,
    CliBankMoveItem,
    CliBankMoveMoney,
    CliDropItem,
    CliEquipItem,
    CliEquipProjectile,
    CliHotbarSetIconReq,
    CliLogoutReq,
    CliPickupItemReq,
    CliSetWeightReq,
    CliStoreTradeReq,
    CliUseItem,
    HotbarItem,
    Item,
    JoinResult,
    LoginResult,
    PickupItemResult,
    ProjectileTypeAndIndex,
    SrvBankListReply,
    SrvBankMoveItem,
    SrvBankMoveMoney,
    SrvChangeMapReply,
    SrvDamage,
    SrvDropItem,
    SrvEquipItem,
    SrvEquipProjectile,
    SrvHotbarSetIconReply,
    SrvLogoutReply,
    SrvMobChar,
    SrvNpcChar,
    SrvPickupItemReply,
    SrvSetItem,
    SrvSetMoney,
    SrvSetMoneyAndItem,
    SrvSetWeight,
    SrvTeleportReply,
)
from gateway_core.session import Session
from gateway_core.testing import GATEWAY_TEST_SETTINGS, RunningGateway, running_gateway

pytestmark = pytest.mark.anyio

TIMEOUT = 10.0
PACK = Path(__file__).resolve().parent / "content" / "items.toml"
DUMMY_TYPE, QUARTERMASTER_TYPE = 2, 1020
ZULY_TYPE, STUFFING, POTION, SWORD, CAP = 31, (12, 7), (10, 1), (8, 3), (2, 4)
ARROW = (12, 901)
#: PAKWC_DAMAGE's action bit of a killing blow (the world service's DAMAGE_DEAD).
DAMAGE_DEAD = 0x10

SETTINGS: dict[str, object] = {
    **GATEWAY_TEST_SETTINGS,
    "WORLD_VIEW_RADIUS": 5000.0,
    "WORLD_TICK_INTERVAL": 0.05,
    "WORLD_CONTENT": str(PACK),
    "CHARACTER_CONTENT": str(PACK),
    "CHARACTER_START_MAP": 30,
    "WORLD_WANDER_INTERVAL": 3600.0,
    "WORLD_RANDOM_SEED": 11,
    "GATEWAY_LOAD_PLUGINS": "auth,character,chat,world,items",
}


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Player:
    name: str
    client: GameClient
    session: Session
    object_id: int
    change: SrvChangeMapReply

    async def send(self, *packets: Any) -> None:
        await self.client.send(*packets)

    async def expect(self, packet_class: Any, step: str, match: Any = None) -> Any:
        return await self.client.expect(packet_class, step=step, timeout=TIMEOUT, match=match)

    async def seen(self, packet_class: Any, step: str, match: Any) -> Any:
        """A packet that may have been set aside while waiting for another (a spawn)."""
        for event in self.client.unexpected:
            if isinstance(event, packet_class) and match(event):
                return event
        return await self.expect(packet_class, step, match)

    @property
    def character_id(self) -> int:
        return self.session.records.require(SELECTED_CHARACTER).character_id


class Arena(RunningGateway):
    async def player(self, name: str, *, account: str | None = None) -> Player:
        world_leg, _ = await self.join_world(name, account=account)
        change = await flow.change_map(world_leg)
        session = self.gateway.connections.by_character_name(name)
        assert session is not None
        return Player(name, world_leg, session, change.object_index, change)

    async def leave(self, player: Player) -> None:
        """Log out of the world and wait until the gateway has let the character go."""
        await player.send(CliLogoutReq())
        await player.expect(SrvLogoutReply, "logout")
        with anyio.fail_after(TIMEOUT):
            while self.gateway.connections.by_character_name(player.name) is not None:
                await anyio.sleep(0.01)
        await player.client.aclose()

    async def rejoin(self, name: str, password: str = "pw") -> flow.InitialData:
        """Log in again with the existing character ``name`` and join the world: the initial
        data of the join (``PAKWC_SELECT_CHAR_REPLY`` first)."""
        login = await self.connect()
        assert (await flow.login(login, name.lower(), password)).result is LoginResult.OK
        selected = await flow.select_server(login, 1, 1)
        await login.aclose()
        char_leg = await self.connect(selected.ip.decode(), selected.port)
        assert (await flow.join(char_leg, selected.session_id, password)).result is JoinResult.OK
        await flow.char_list(char_leg)
        switch = await flow.select_character(char_leg, 0, name)
        world_leg = await self.connect(switch.ip.decode(), switch.port)
        assert (await flow.join(world_leg, switch.session_id, password)).result is JoinResult.OK
        return await flow.receive_initial_data(world_leg)

    async def stored(self, character_id: int) -> character_pb2.CharacterState:
        assert self.gateway.clients is not None
        state: character_pb2.CharacterState = await self.gateway.clients["character"].GetCharacter(
            character_pb2.GetCharacterRequest(character_id=character_id))
        return state

    async def slot_of(self, player: Player, ref: tuple[int, int]) -> int:
        state = await self.stored(player.character_id)
        header = int(Item.stack(ref[0], ref[1], 0).header.header)
        return next(slot for slot, item in enumerate(state.inventory) if item.header == header)

    def refused(self, reason: str) -> float:
        return self.sample("gateway_items_refused_total", {"reason": reason})


@pytest.fixture
async def arena(tmp_path: Path) -> AsyncIterator[Arena]:
    async with running_gateway({**SETTINGS, "DATA_DIR": str(tmp_path / "data")}, Arena) as running:
        yield running


async def kill_dummy(player: Player) -> list[SrvDropItem]:
    """Kill the training dummy; its two loot items (stuffing and zuly)."""
    dummy = await player.seen(SrvMobChar, "dummy", lambda p: p.npc_id == DUMMY_TYPE)
    await player.send(CliAttack(target_id=dummy.id))
    with anyio.fail_after(60):
        while True:
            hit = await player.expect(SrvDamage, "hit", lambda p: p.defender_id == dummy.id)
            if hit.action & DAMAGE_DEAD:
                break
    return [await player.expect(SrvDropItem, f"loot {n}") for n in range(2)]


def trade(npc_id: int, **overlay: int) -> CliStoreTradeReq:
    buying = "buy_tab_id" in overlay
    return CliStoreTradeReq(npc_id=npc_id, is_buy=int(buying), is_sell=int(not buying), time=0,
                            item=BuySellItem.of(**overlay))


async def test_loot_is_picked_up_and_sold_and_a_potion_bought_and_used(arena: Arena) -> None:
    alice = await arena.player("Alice")
    start = (await arena.stored(alice.character_id)).money
    npc = await alice.seen(SrvNpcChar, "quartermaster", lambda p: p.npc_id == QUARTERMASTER_TYPE)
    loot = {drop.item.header.type: drop for drop in await kill_dummy(alice)}

    await alice.send(CliPickupItemReq(item_id=loot[ZULY_TYPE].id))
    picked = await alice.expect(SrvPickupItemReply, "zuly")
    assert picked.result == PickupItemResult.OK
    assert (await alice.expect(SrvSetMoney, "zuly")).zuly == start + 10

    await alice.send(CliPickupItemReq(item_id=loot[STUFFING[0]].id))
    picked = await alice.expect(SrvPickupItemReply, "stuffing")
    assert picked.result == PickupItemResult.OK and picked.item.data.count == 2
    assert (picked.item.header.type, picked.item.header.id) == STUFFING

    await alice.send(trade(npc.id, sell_inventory_idx=picked.slot, sell_amount=2))
    sold = await alice.expect(SrvSetMoneyAndItem, "sold")
    assert sold.zuly == start + 10 + 2 * (3 // 2)
    assert [(i.index, i.item.header.header) for i in sold.items] == [(picked.slot, 0)]

    await alice.send(trade(npc.id, buy_tab_id=0, buy_col_id=0, buy_amount=1))
    bought = await alice.expect(SrvSetMoneyAndItem, "bought")
    assert bought.zuly == sold.zuly - 20
    (potion,) = bought.items
    assert (potion.item.header.type, potion.item.header.id) == POTION
    assert potion.item.data.count == 4          # onto the starter kit's 3

    await alice.send(CliUseItem(index=potion.index, item_id=POTION[1]))
    used = await alice.expect(SrvSetItem, "used")
    assert [(i.index, i.item.data.count) for i in used.items] == [(potion.index, 3)]

    stored = await arena.stored(alice.character_id)
    assert stored.money == bought.zuly
    assert stored.inventory[potion.index].data == 3


async def test_two_players_picking_up_one_item_get_it_once(arena: Arena) -> None:
    alice = await arena.player("Alice")
    bob = await arena.player("Bob")
    await bob.seen(SrvMobChar, "bob sees the dummy", lambda p: p.npc_id == DUMMY_TYPE)
    loot = {drop.item.header.type: drop for drop in await kill_dummy(alice)}
    ground_id = loot[STUFFING[0]].id
    await bob.send(CliPickupItemReq(item_id=ground_id))
    await alice.send(CliPickupItemReq(item_id=ground_id))
    answers = [await player.expect(SrvPickupItemReply, f"{player.name} picks up")
               for player in (alice, bob)]
    assert [a.result for a in answers].count(PickupItemResult.OK) == 1
    await alice.send(CliPickupItemReq(item_id=ground_id))
    again = await alice.expect(SrvPickupItemReply, "gone")
    assert again.result == PickupItemResult.NO_ITEM
    holders = [p for p in (alice, bob)
               if any(i.header == int(Item.stack(*STUFFING, 0).header.header)
                      for i in (await arena.stored(p.character_id)).inventory)]
    assert len(holders) == 1


async def test_equipment_needs_its_requirements(arena: Arena) -> None:
    alice = await arena.player("Alice")
    sword, cap = await arena.slot_of(alice, SWORD), await arena.slot_of(alice, CAP)
    await alice.send(CliEquipItem(slot_to=7, slot_from=sword))
    await alice.send(CliEquipItem(slot_to=2, slot_from=cap))
    equipped = await alice.expect(SrvSetItem, "cap on")
    assert {i.index for i in equipped.items} == {2, cap}
    assert arena.refused("requirement") == 1
    stored = await arena.stored(alice.character_id)
    assert stored.inventory[2].header == int(Item.stack(*CAP, 0).header.header)
    assert stored.inventory[sword].header == int(Item.stack(*SWORD, 0).header.header)


async def test_the_storage_keeps_items_and_zuly(arena: Arena) -> None:
    alice = await arena.player("Alice")
    start = (await arena.stored(alice.character_id)).money
    slot = await arena.slot_of(alice, POTION)
    await alice.send(CliBankListReq(request=BankListRequest.OPEN, password=b""))
    opened = await alice.expect(SrvBankListReply, "open")
    assert opened.reply == BankListReply.INIT_DATA and not opened.items

    await alice.send(CliBankMoveItem(mode=BankMoveMode.INVENTORY_TO_BANK, index=slot,
                                     item=Item.stack(*POTION, 3), use_special_tab=0))
    stored = await alice.expect(SrvBankMoveItem, "stored")
    assert stored.inventory_index == slot and stored.inventory_item.header.header == 0
    assert stored.bank_item.data.count == 3

    await alice.send(CliBankMoveMoney(mode=BankMoveMode.INVENTORY_TO_BANK, amount=40))
    moved = await alice.expect(SrvBankMoveMoney, "zuly stored")
    assert (moved.inventory, moved.bank) == (start - 40, 40)

    await alice.send(CliBankListReq(request=BankListRequest.OPEN, password=b""))
    listed = await alice.expect(SrvBankListReply, "list")
    assert [(i.index, i.item.data.count) for i in listed.items] == [(stored.bank_index, 3)]

    await alice.send(CliBankMoveItem(mode=BankMoveMode.BANK_TO_INVENTORY,
                                     index=stored.bank_index,
                                     item=Item.stack(*POTION, 3), use_special_tab=0))
    back = await alice.expect(SrvBankMoveItem, "retrieved")
    assert back.inventory_item.data.count == 3 and back.bank_item.header.header == 0
    assert (await arena.stored(alice.character_id)).money == start - 40


async def test_dropped_zuly_and_items_lie_on_the_ground_and_come_back(arena: Arena) -> None:
    alice = await arena.player("Alice")
    bob = await arena.player("Bob")
    start = (await arena.stored(alice.character_id)).money
    await alice.send(CliDropItem(index=0, quantity=30))
    assert (await alice.expect(SrvSetMoney, "zuly dropped")).zuly == start - 30
    zuly = await bob.expect(SrvDropItem, "bob sees the zuly",
                            lambda p: p.item.header.type == ZULY_TYPE)
    assert zuly.item.data.count == 30

    slot = await arena.slot_of(alice, POTION)
    await alice.send(CliDropItem(index=slot, quantity=1))
    left = await alice.expect(SrvSetItem, "potion dropped")
    assert [(i.index, i.item.data.count) for i in left.items] == [(slot, 2)]
    potion = await bob.expect(SrvDropItem, "bob sees the potion",
                              lambda p: p.item.header.type == POTION[0])
    assert potion.item.data.count == 1

    await alice.send(CliPickupItemReq(item_id=zuly.id))
    assert (await alice.expect(SrvPickupItemReply, "zuly back")).result == PickupItemResult.OK
    assert (await alice.expect(SrvSetMoney, "zuly back")).zuly == start
    await alice.send(CliPickupItemReq(item_id=potion.id))
    back = await alice.expect(SrvPickupItemReply, "potion back")
    assert back.result == PickupItemResult.OK and back.slot == slot and back.item.data.count == 3
    stored = await arena.stored(alice.character_id)
    assert stored.money == start and stored.inventory[slot].data == 3


async def test_weight_hotbar_and_refused_packets(arena: Arena) -> None:
    alice = await arena.player("Alice")
    character_id = alice.character_id
    await alice.send(CliSetWeightReq(weight=0))
    weight = await alice.expect(SrvSetWeight, "weight")
    assert weight.char_id == alice.object_id and weight.weight == 0   # the kit weighs nothing
    skill = HotbarItem.of(type=3, slot_id=2)   # skill slot 2
    await alice.send(CliHotbarSetIconReq(index=3, icon=skill))
    set_icon = await alice.expect(SrvHotbarSetIconReply, "hotbar")
    assert (set_icon.index, set_icon.icon.data) == (3, skill.data)
    assert (await arena.stored(character_id)).hotbar[3] == skill.data
    await alice.send(CliHotbarSetIconReq(index=32, icon=skill))   # slots are 0..31
    await alice.send(CliEquipProjectile())   # takes off arrows she does not have
    await alice.send(CliSetWeightReq(weight=0))
    await alice.expect(SrvSetWeight, "after the refusals")
    assert not any(isinstance(p, SrvHotbarSetIconReply) for p in alice.client.unexpected)
    assert arena.refused("not_held") == 1 and arena.refused("bad_slot") == 1
    hotbar = (await arena.stored(character_id)).hotbar
    assert hotbar[3] == skill.data and sum(1 for v in hotbar if v) == 1

    # Leaving saves the character (with the hotbar read at the join): the icon stays, and the
    # next join sends it in PAKWC_SELECT_CHAR_REPLY.
    await arena.leave(alice)
    assert (await arena.stored(character_id)).hotbar[3] == skill.data
    initial = await arena.rejoin("Alice")
    assert initial.character.hotbar[3].data == skill.data
    assert [i for i, item in enumerate(initial.character.hotbar) if item.data] == [3]


async def test_equipped_gear_is_seen_by_another_player_and_kept_after_a_restart(
    tmp_path: Path,
) -> None:
    settings = {**SETTINGS, "DATA_DIR": str(tmp_path / "data")}
    async with running_gateway(settings, Arena) as arena:
        alice = await arena.player("Alice")
        bob = await arena.player("Bob")
        cap = await arena.slot_of(alice, CAP)
        await alice.send(CliEquipItem(slot_to=2, slot_from=cap))
        await alice.expect(SrvSetItem, "cap on")
        shown = await bob.expect(SrvEquipItem, "bob sees the cap",
                                 lambda p: p.id == alice.object_id)
        assert (shown.slot, int(shown.item) & 0x3FF) == (2, CAP[1])
        character_id = alice.character_id
    async with running_gateway(settings, Arena) as arena:
        stored = await arena.stored(character_id)
        assert stored.inventory[2].header == int(Item.stack(*CAP, 0).header.header)
        assert stored.inventory[cap].header == 0
        data = await arena.rejoin("Alice")
        # Visible items are in body-part order: the helmet first.
        assert int(data.character.equipped_items[0]) & 0x3FF == CAP[1]
        head = data.inventory.items[2].header
        assert (head.type, head.id) == CAP


async def test_bought_arrows_are_equipped_and_seen_by_another_player(arena: Arena) -> None:
    alice = await arena.player("Alice")
    bob = await arena.player("Bob")
    npc = await alice.seen(SrvNpcChar, "quartermaster", lambda p: p.npc_id == QUARTERMASTER_TYPE)
    await alice.send(trade(npc.id, buy_tab_id=0, buy_col_id=2, buy_amount=50))
    (arrows,) = (await alice.expect(SrvSetMoneyAndItem, "arrows bought")).items
    assert (arrows.item.header.type, arrows.item.header.id, arrows.item.data.count) == (
        *ARROW, 50)
    await alice.send(CliEquipProjectile(
        projectile=ProjectileTypeAndIndex.of(type=0, index=arrows.index)))
    moved = await alice.expect(SrvSetItem, "arrows equipped")
    assert {(i.index, i.item.data.count) for i in moved.items} == {(arrows.index, 0), (132, 50)}
    shown = await bob.expect(SrvEquipProjectile, "bob sees the arrows",
                             lambda p: p.char_id == alice.object_id)
    assert (shown.projectile.type, shown.projectile.id) == ARROW
    assert (await arena.stored(alice.character_id)).inventory[132].data == 50


async def test_a_return_scroll_takes_the_player_to_the_revive_point(arena: Arena) -> None:
    alice = await arena.player("Alice")
    npc = await alice.seen(SrvNpcChar, "quartermaster", lambda p: p.npc_id == QUARTERMASTER_TYPE)
    await alice.send(trade(npc.id, buy_tab_id=0, buy_col_id=3, buy_amount=1))
    (scroll,) = (await alice.expect(SrvSetMoneyAndItem, "scroll bought")).items
    await alice.send(CliUseItem(index=scroll.index, item_id=scroll.item.header.id))
    used = await alice.expect(SrvSetItem, "scroll used")
    assert [(i.index, i.item.header.header) for i in used.items] == [(scroll.index, 0)]
    moved = await alice.expect(SrvTeleportReply, "returned")
    assert (moved.map, moved.x, moved.y) == (30, 519000.0, 520000.0)  # the nearest revive point
    await flow.change_map(alice.client)  # the client reloads the map and plays on
    placement = alice.session.records.require(WORLD_PLACEMENT)
    assert (placement.position.x, placement.position.y) == (519000.0, 520000.0)


async def test_another_character_of_the_account_takes_out_what_one_stored(arena: Arena) -> None:
    alice = await arena.player("Alice")
    slot = await arena.slot_of(alice, POTION)
    await alice.send(CliBankMoveItem(mode=BankMoveMode.INVENTORY_TO_BANK, index=slot,
                                     item=Item.stack(*POTION, 3), use_special_tab=0))
    stored = await alice.expect(SrvBankMoveItem, "stored")
    await alice.send(CliBankMoveMoney(mode=BankMoveMode.INVENTORY_TO_BANK, amount=25))
    await alice.expect(SrvBankMoveMoney, "zuly stored")
    await arena.leave(alice)

    carol = await arena.player("Carol", account="alice")  # the same account's second character
    carol_start = (await arena.stored(carol.character_id)).money
    await carol.send(CliBankListReq(request=BankListRequest.OPEN, password=b""))
    listed = await carol.expect(SrvBankListReply, "carol opens the storage")
    assert [(i.index, i.item.data.count) for i in listed.items] == [(stored.bank_index, 3)]
    await carol.send(CliBankMoveItem(mode=BankMoveMode.BANK_TO_INVENTORY,
                                     index=stored.bank_index,
                                     item=Item.stack(*POTION, 3), use_special_tab=0))
    back = await carol.expect(SrvBankMoveItem, "carol takes the potions")
    assert back.bank_item.header.header == 0
    await carol.send(CliBankMoveMoney(mode=BankMoveMode.BANK_TO_INVENTORY, amount=25))
    moved = await carol.expect(SrvBankMoveMoney, "carol takes the zuly")
    assert (moved.inventory, moved.bank) == (carol_start + 25, 0)
    carol_state = await arena.stored(carol.character_id)
    held = [i.data for i in carol_state.inventory
            if i.header == int(Item.stack(*POTION, 0).header.header)]
    assert sum(held) == 3 + 3  # her own starter potions and Alice's three
    alice_state = await arena.stored(alice.character_id)
    assert all(i.header != int(Item.stack(*POTION, 0).header.header)
               for i in alice_state.inventory)


async def test_the_inventory_sent_at_the_join_after_a_restart_is_what_was_changed(
    tmp_path: Path,
) -> None:
    settings = {**SETTINGS, "DATA_DIR": str(tmp_path / "data")}
    async with running_gateway(settings, Arena) as arena:
        alice = await arena.player("Alice")
        npc = await alice.seen(SrvNpcChar, "quartermaster",
                               lambda p: p.npc_id == QUARTERMASTER_TYPE)
        await alice.send(trade(npc.id, buy_tab_id=0, buy_col_id=0, buy_amount=2))
        bought = await alice.expect(SrvSetMoneyAndItem, "two potions")
        cap = await arena.slot_of(alice, CAP)
        await alice.send(CliEquipItem(slot_to=2, slot_from=cap))
        await alice.expect(SrvSetItem, "cap on")
        await alice.send(CliDropItem(index=0, quantity=7))
        dropped = await alice.expect(SrvSetMoney, "zuly dropped")
        expected = await arena.stored(alice.character_id)
    assert dropped.zuly == bought.zuly - 7 == expected.money
    async with running_gateway(settings, Arena) as arena:
        data = await arena.rejoin("Alice")
        assert data.inventory.zuly == expected.money
        assert [(int(i.header.header), int(i.data.count)) for i in data.inventory.items] == [
            (i.header, i.data) for i in expected.inventory]
        (potions,) = [i for i in data.inventory.items
                      if (i.header.type, i.header.id) == POTION]
        assert potions.data.count == 3 + 2
        assert (data.inventory.items[2].header.type, data.inventory.items[2].header.id) == CAP
