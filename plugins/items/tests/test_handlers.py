"""The item handlers against recording fakes of the character and world services: which
ChangeItems each request makes, what the client is answered, what is refused and counted, and
that a failed world step gives back what the change took."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import grpc
import pytest
from gateway_items import handlers
from gateway_items.runtime import STATE, ItemsRuntime
from gateway_protos.v1 import character_pb2, common_pb2, world_pb2
from prometheus_client import CollectorRegistry

from gateway_core.api import (
    CHARACTER_PROGRESS,
    SELECTED_CHARACTER,
    WORLD_PLACEMENT,
    BankMoveMode,
    BuySellItem,
    CharacterProgress,
    CliBankMoveItem,
    CliBankMoveMoney,
    CliDropItem,
    CliEquipItem,
    CliEquipItemRide,
    CliEquipProjectile,
    CliPickupItemReq,
    CliSetWeightReq,
    CliStoreTradeReq,
    CliUseItem,
    Item,
    PickupItemResult,
    PluginData,
    Position,
    ProjectileTypeAndIndex,
    SelectedCharacter,
    SrvBankMoveMoney,
    SrvPickupItemReply,
    SrvSetItem,
    SrvSetMoney,
    SrvSetMoneyAndItem,
    SrvSetWeight,
    SrvStoreTradeReply,
    StoreTradeResult,
    WorldPlacement,
    load_pack,
)

pytestmark = pytest.mark.anyio

PACK = Path(__file__).resolve().parent / "content" / "items.toml"
CHARACTER_ID, OBJECT_ID, NPC_ID = 7, 42, 300
SWORD, CAP, POTION, STUFFING = (8, 3), (2, 4), (10, 1), (12, 7)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def item(ref: tuple[int, int], data: int = 1) -> common_pb2.Item:
    wire = Item.stack(ref[0], ref[1], data)
    return common_pb2.Item(header=int(wire.header.header), data=data)


def unavailable() -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(),
                                grpc.aio.Metadata(), "down")


@dataclass
class Backend:
    """Both services: each call is recorded; answers come from the ``answer_*`` callables."""

    inventory: dict[int, common_pb2.Item] = field(default_factory=dict)
    zuly: int = 100
    calls: list[tuple[str, Any]] = field(default_factory=list)
    answers: dict[str, Callable[[Any], Any]] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Callable[[Any], Any]:
        if not name[:1].isupper():
            raise AttributeError(name)

        async def call(request: Any) -> Any:
            self.calls.append((name, request))
            answer = self.answers.get(name) or getattr(self, f"default_{name}", None)
            if answer is None:
                return _EMPTY_REPLY[name]()
            result = answer(request)
            if isinstance(result, BaseException):
                raise result
            return result

        return call

    def named(self, name: str) -> list[Any]:
        return [request for called, request in self.calls if called == name]

    def default_GetCharacter(self, request: Any) -> character_pb2.CharacterState:
        inventory = [self.inventory.get(slot, common_pb2.Item()) for slot in range(140)]
        return character_pb2.CharacterState(
            id=CHARACTER_ID, level=1, job=0, money=self.zuly, inventory=inventory,
            stats=character_pb2.BaseStats(str=15, dex=15, int_=15, con=15, charm=15, sense=15))

    def default_ChangeItems(self, request: character_pb2.ChangeItemsRequest
                            ) -> character_pb2.ChangeItemsReply:
        """Applies moves, removes and zuly (enough for these tests); adds go to slot 20."""
        changed: dict[int, common_pb2.Item] = {}
        for op in request.ops:
            kind = op.WhichOneof("op")
            if kind == "move":
                a, b = op.move.from_slot, op.move.to_slot
                empty = common_pb2.Item()
                self.inventory[a], self.inventory[b] = (
                    self.inventory.get(b, empty), self.inventory.get(a, empty))
                changed[a], changed[b] = self.inventory[a], self.inventory[b]
            elif kind == "remove":
                held = self.inventory.get(op.remove.slot, common_pb2.Item())
                left = held.data - op.remove.count if op.remove.item.item_type >= 10 else 0
                kept = common_pb2.Item(header=held.header, data=left)
                self.inventory[op.remove.slot] = kept if left > 0 else common_pb2.Item()
                changed[op.remove.slot] = self.inventory[op.remove.slot]
            elif kind == "add":
                ref = op.add.item
                self.inventory[20] = item((ref.item_type, ref.item_number), op.add.count)
                changed[20] = self.inventory[20]
        if self.zuly + request.zuly_delta < 0:
            return character_pb2.ChangeItemsReply(result=character_pb2.ITEM_RESULT_NO_ZULY)
        self.zuly += request.zuly_delta
        return character_pb2.ChangeItemsReply(
            changed=[character_pb2.SlotItem(slot=s, item=i) for s, i in changed.items()],
            zuly=self.zuly, storage_zuly=500 - request.zuly_delta, weight=230)


_EMPTY_REPLY: dict[str, Callable[[], Any]] = {
    "DropGroundItem": world_pb2.GroundItemReply,
    "PutBackGroundItem": world_pb2.GroundItemReply,
    "SetEquipment": world_pb2.ItemActionReply,
    "UseConsumable": world_pb2.ItemActionReply,
    "TakeGroundItem": world_pb2.TakeGroundItemReply,
    "NearNpc": lambda: world_pb2.NearNpcReply(distance=200.0, shop="arena_shop", npc="q"),
    "GetStorage": character_pb2.Storage,
}


class Records:
    def __init__(self, values: dict[Any, Any]) -> None:
        self.values = values

    def get(self, key: Any) -> Any:
        return self.values.get(key)


@dataclass
class Harness:
    backend: Backend
    ctx: Any
    replies: list[Any]
    runtime: ItemsRuntime

    def refused(self, reason: str) -> float:
        value = self.runtime.gateway.metrics_registry.get_sample_value(
            "gateway_items_refused_total", {"reason": reason})
        return value or 0.0

    def of(self, cls: type[Any]) -> list[Any]:
        return [reply for reply in self.replies if isinstance(reply, cls)]


@pytest.fixture(scope="module")
def content() -> Any:
    return load_pack(str(PACK))


@pytest.fixture
def harness(content: Any) -> Harness:
    backend = Backend(inventory={7: item(SWORD, 0), 12: item(POTION, 3), 13: item(STUFFING, 5),
                                 14: item(SWORD, 0), 15: item(CAP, 0)})
    gateway = SimpleNamespace(metrics_registry=CollectorRegistry(), settings=SimpleNamespace())
    runtime = ItemsRuntime(gateway, content)
    replies: list[Any] = []
    session = SimpleNamespace(
        connection_id=1, plugin_data=PluginData(),
        records=Records({
            SELECTED_CHARACTER: SelectedCharacter(CHARACTER_ID, "Alice", 30, Position()),
            WORLD_PLACEMENT: WorldPlacement(30, Position(), OBJECT_ID),
        }))
    ctx = SimpleNamespace(session=session, runtime=runtime, reply=replies.append,
                          clients={"character": backend, "world": backend})
    return Harness(backend, ctx, replies, runtime)


async def test_dropping_zuly_takes_it_then_lays_it_on_the_ground(harness: Harness) -> None:
    await handlers.on_drop_item(harness.ctx, CliDropItem(index=0, quantity=30))
    (change,) = harness.backend.named("ChangeItems")
    assert change.zuly_delta == -30 and not change.ops and len(change.request_id) == 32
    (drop,) = harness.backend.named("DropGroundItem")
    assert (drop.character_id, drop.item_type, drop.count) == (CHARACTER_ID, 31, 30)
    assert harness.of(SrvSetMoney)[0].zuly == 70


async def test_dropping_an_item_that_the_world_refuses_gives_it_back(harness: Harness) -> None:
    harness.backend.answers["DropGroundItem"] = lambda r: world_pb2.GroundItemReply(
        reason="bad_position")
    await handlers.on_drop_item(harness.ctx, CliDropItem(index=13, quantity=2))
    take, give_back = harness.backend.named("ChangeItems")
    assert take.ops[0].remove.slot == 13 and take.ops[0].remove.count == 2
    assert take.ops[0].remove.item.item_type == 12
    assert give_back.ops[0].add.count == 2 and give_back.request_id != take.request_id
    assert harness.refused("drop_failed") == 1


async def test_an_empty_slot_is_not_dropped(harness: Harness) -> None:
    await handlers.on_drop_item(harness.ctx, CliDropItem(index=50, quantity=1))
    assert not harness.backend.named("ChangeItems")
    assert harness.refused("not_held") == 1


async def test_a_pickup_without_room_lays_the_item_down_again(harness: Harness) -> None:
    harness.backend.answers["TakeGroundItem"] = lambda r: world_pb2.TakeGroundItemReply(
        item_type=12, item_number=7, count=2, token=99)
    harness.backend.answers["ChangeItems"] = lambda r: character_pb2.ChangeItemsReply(
        result=character_pb2.ITEM_RESULT_NO_ROOM)
    await handlers.on_pickup_item(harness.ctx, CliPickupItemReq(item_id=5))
    (put_back,) = harness.backend.named("PutBackGroundItem")
    assert put_back.token == 99
    (reply,) = harness.of(SrvPickupItemReply)
    assert reply.result == PickupItemResult.INVENTORY_FULL and reply.id == 5
    assert harness.refused("no_room") == 1


@pytest.mark.parametrize("then_applied", [True, False])
async def test_a_pickup_whose_answer_was_lost_is_settled_with_its_request_id(
    harness: Harness, then_applied: bool
) -> None:
    # The character service answers nothing twice (it may have committed), then answers the
    # same request id: applied (nothing is laid down again) or refused (laid down again).
    harness.backend.answers["TakeGroundItem"] = lambda r: world_pb2.TakeGroundItemReply(
        item_type=12, item_number=7, count=2, token=99)
    calls: list[character_pb2.ChangeItemsRequest] = []

    def answer(request: character_pb2.ChangeItemsRequest) -> Any:
        calls.append(request)
        if len(calls) <= 2:
            return unavailable()
        if then_applied:
            return harness.backend.default_ChangeItems(request)
        return character_pb2.ChangeItemsReply(result=character_pb2.ITEM_RESULT_NO_ROOM)

    harness.backend.answers["ChangeItems"] = answer
    sent: list[Any] = []
    harness.ctx.session.send = sent.append
    harness.ctx.session.closed = False
    await handlers.on_pickup_item(harness.ctx, CliPickupItemReq(item_id=5))
    assert harness.of(SrvPickupItemReply)[0].result == PickupItemResult.NO_ITEM
    assert not harness.backend.named("PutBackGroundItem")  # not while it may be applied
    with anyio.fail_after(5):
        while len(calls) < 3 or (not then_applied
                                 and not harness.backend.named("PutBackGroundItem")):
            await anyio.sleep(0.05)
    await anyio.sleep(0.05)
    assert len({c.request_id for c in calls}) == 1
    assert not sent  # the client was answered; the next join shows what was stored
    if then_applied:
        assert not harness.backend.named("PutBackGroundItem")
        assert harness.ctx.session.plugin_data.get(STATE) is None  # reloaded next time
    else:
        assert harness.backend.named("PutBackGroundItem")[0].token == 99


@pytest.mark.parametrize(("reason", "result"), [
    ("not_owner", PickupItemResult.NOT_OWNER),
    ("unknown_item", PickupItemResult.NO_ITEM),
    ("too_far", PickupItemResult.NO_ITEM),
])
async def test_a_ground_item_not_taken_changes_nothing(
    harness: Harness, reason: str, result: PickupItemResult
) -> None:
    harness.backend.answers["TakeGroundItem"] = lambda r: world_pb2.TakeGroundItemReply(
        reason=reason)
    await handlers.on_pickup_item(harness.ctx, CliPickupItemReq(item_id=5))
    assert not harness.backend.named("ChangeItems")
    assert harness.of(SrvPickupItemReply)[0].result == result
    assert harness.refused(f"take_{reason}") == 1


async def test_picked_up_zuly_is_added_and_shown(harness: Harness) -> None:
    harness.backend.answers["TakeGroundItem"] = lambda r: world_pb2.TakeGroundItemReply(
        item_type=31, count=10, token=1)
    await handlers.on_pickup_item(harness.ctx, CliPickupItemReq(item_id=5))
    assert harness.backend.named("ChangeItems")[0].zuly_delta == 10
    assert harness.of(SrvPickupItemReply)[0].result == PickupItemResult.OK
    assert harness.of(SrvSetMoney)[0].zuly == 110


async def test_equipping_checks_the_requirements_first(harness: Harness) -> None:
    # The sword of slot 14 needs level 5; the character is level 1.
    await handlers.on_equip_item(harness.ctx, CliEquipItem(slot_to=7, slot_from=14))
    assert not harness.backend.named("ChangeItems")
    assert harness.refused("requirement") == 1
    harness.ctx.session.records.values[CHARACTER_PROGRESS] = CharacterProgress(
        5, 0, 100, 100, (15, 15, 15, 15, 15, 15), 0, 0, 0, ())
    await handlers.on_equip_item(harness.ctx, CliEquipItem(slot_to=7, slot_from=14))
    (move,) = harness.backend.named("ChangeItems")
    assert (move.ops[0].move.from_slot, move.ops[0].move.to_slot) == (14, 7)
    (shown,) = harness.backend.named("SetEquipment")
    assert shown.slot == 7 and shown.item == 3 and list(shown.equipment)[6] == 3
    assert {(r.item_type, r.item_number) for r in shown.equipped} == {SWORD}
    assert {i.index for i in harness.of(SrvSetItem)[0].items} == {7, 14}


async def test_unequipping_to_slot_0_goes_to_the_first_free_bag_slot(harness: Harness) -> None:
    await handlers.on_equip_item(harness.ctx, CliEquipItem(slot_to=0, slot_from=7))
    (move,) = harness.backend.named("ChangeItems")
    assert (move.ops[0].move.from_slot, move.ops[0].move.to_slot) == (7, 16)
    assert harness.backend.named("SetEquipment")[0].equipment[6] == 0


async def test_a_consumable_is_checked_taken_then_used(harness: Harness) -> None:
    await handlers.on_use_item(harness.ctx, CliUseItem(index=12, item_id=1))
    check, use = harness.backend.named("UseConsumable")
    assert check.check_only and not use.check_only and use.slot == 12
    (remove,) = harness.backend.named("ChangeItems")
    assert remove.ops[0].remove.count == 1
    assert harness.of(SrvSetItem)[0].items[0].item.data.count == 2


async def test_a_consumable_on_cooldown_is_not_taken(harness: Harness) -> None:
    harness.backend.answers["UseConsumable"] = lambda r: world_pb2.ItemActionReply(
        reason="cooldown")
    await handlers.on_use_item(harness.ctx, CliUseItem(index=12, item_id=1))
    assert not harness.backend.named("ChangeItems")
    assert harness.refused("use_cooldown") == 1


def buy(tab: int, column: int, amount: int) -> CliStoreTradeReq:
    return CliStoreTradeReq(npc_id=NPC_ID, is_buy=1, is_sell=0, time=0,
                            item=BuySellItem.of(buy_tab_id=tab, buy_col_id=column,
                                                buy_amount=amount))


def sell(slot: int, amount: int) -> CliStoreTradeReq:
    return CliStoreTradeReq(npc_id=NPC_ID, is_buy=0, is_sell=1, time=0,
                            item=BuySellItem.of(sell_inventory_idx=slot, sell_amount=amount))


async def test_buying_pays_the_shop_price_in_one_change(harness: Harness) -> None:
    await handlers.on_store_trade(harness.ctx, buy(0, 1, 1))   # the vest, 150 in this shop
    harness.backend.zuly = 1000
    await handlers.on_store_trade(harness.ctx, buy(0, 0, 3))   # 3 potions at 20
    vest, potions = harness.backend.named("ChangeItems")
    assert vest.zuly_delta == -150 and vest.ops[0].add.item.item_type == 3
    assert potions.zuly_delta == -60 and potions.ops[0].add.count == 3
    (no_money,) = harness.of(SrvStoreTradeReply)
    assert no_money.result == StoreTradeResult.NO_MONEY
    assert harness.of(SrvSetMoneyAndItem)[0].zuly == 940


async def test_selling_pays_half_the_price(harness: Harness) -> None:
    await handlers.on_store_trade(harness.ctx, sell(13, 5))
    (change,) = harness.backend.named("ChangeItems")
    assert change.ops[0].remove.slot == 13 and change.ops[0].remove.count == 5
    assert change.zuly_delta == 5 * (3 // 2)


@pytest.mark.parametrize(("near", "result"), [
    (world_pb2.NearNpcReply(distance=1200.0, shop="arena_shop"), StoreTradeResult.TOO_FAR),
    (world_pb2.NearNpcReply(distance=10.0), StoreTradeResult.INVALID_NPC),
    (world_pb2.NearNpcReply(reason="unknown_npc"), StoreTradeResult.INVALID_NPC),
])
async def test_a_trade_needs_a_shop_nearby(
    harness: Harness, near: world_pb2.NearNpcReply, result: StoreTradeResult
) -> None:
    harness.backend.answers["NearNpc"] = lambda r: near
    await handlers.on_store_trade(harness.ctx, buy(0, 0, 1))
    assert not harness.backend.named("ChangeItems")
    assert harness.of(SrvStoreTradeReply)[0].result == result


async def test_bank_money_moves_both_ways_in_one_change(harness: Harness) -> None:
    await handlers.on_bank_move_money(harness.ctx, CliBankMoveMoney(
        mode=BankMoveMode.INVENTORY_TO_BANK, amount=40))
    (change,) = harness.backend.named("ChangeItems")
    assert (change.zuly_delta, change.storage_zuly_delta) == (-40, 40)
    assert harness.of(SrvBankMoveMoney)[0].inventory == 60


async def test_the_weight_rate_comes_from_the_last_change(harness: Harness) -> None:
    await handlers.on_set_weight(harness.ctx, CliSetWeightReq(weight=0))
    # At load: 5 stuffing of weight 2; capacity 1100 + 2 * 15 + 2 * 1 = 1132.
    assert harness.of(SrvSetWeight)[0].weight == 100 * 10 // 1132
    await handlers.on_bank_move_money(harness.ctx, CliBankMoveMoney(
        mode=BankMoveMode.INVENTORY_TO_BANK, amount=1))
    await handlers.on_set_weight(harness.ctx, CliSetWeightReq(weight=0))
    latest = harness.of(SrvSetWeight)[-1]
    assert latest.char_id == OBJECT_ID and latest.weight == 100 * 230 // 1132


async def test_a_backend_failure_is_counted_not_raised(harness: Harness) -> None:
    harness.backend.answers["ChangeItems"] = lambda r: unavailable()
    await handlers.on_drop_item(harness.ctx, CliDropItem(index=0, quantity=1))
    assert len(harness.backend.named("ChangeItems")) == 2     # one retry, same request id
    first, second = harness.backend.named("ChangeItems")
    assert first.request_id == second.request_id
    assert harness.refused("backend_unavailable") == 1
    assert not harness.backend.named("DropGroundItem")


async def test_a_stale_view_is_reloaded(harness: Harness) -> None:
    harness.backend.answers["ChangeItems"] = lambda r: character_pb2.ChangeItemsReply(
        result=character_pb2.ITEM_RESULT_NOT_HELD)
    await handlers.on_drop_item(harness.ctx, CliDropItem(index=13, quantity=1))
    assert harness.ctx.session.plugin_data.get(STATE) is None
    assert harness.refused("not_held") == 1


ARROW, CART_BODY = (12, 901), (14, 5)


def projectile(kind: int, index: int) -> CliEquipProjectile:
    return CliEquipProjectile(projectile=ProjectileTypeAndIndex(kind | index << 2))


async def test_arrows_go_to_the_arrow_slot_and_are_shown_as_a_projectile(
        harness: Harness) -> None:
    harness.backend.inventory[72] = item(ARROW, 40)
    await handlers.on_equip_projectile(harness.ctx, projectile(0, 72))
    (move,) = harness.backend.named("ChangeItems")
    assert (move.ops[0].move.from_slot, move.ops[0].move.to_slot) == (72, 132)
    (shown,) = harness.backend.named("SetEquipment")
    assert shown.change == world_pb2.EQUIP_CHANGE_PROJECTILE and shown.slot == 0
    assert shown.item == 12 | 901 << 5
    assert {i.index for i in harness.of(SrvSetItem)[0].items} == {72, 132}

    await handlers.on_equip_projectile(harness.ctx, projectile(0, 0))  # take them off
    _, back = harness.backend.named("ChangeItems")
    assert (back.ops[0].move.from_slot, back.ops[0].move.to_slot) == (132, 72)
    assert harness.backend.named("SetEquipment")[1].item == 0


async def test_what_is_no_ammunition_of_the_kind_is_refused_with_the_slots_as_they_are(
        harness: Harness) -> None:
    harness.backend.inventory[72] = item(ARROW, 40)
    await handlers.on_equip_projectile(harness.ctx, projectile(1, 72))  # arrows as bullets
    await handlers.on_equip_projectile(harness.ctx, projectile(0, 13))  # stuffing
    await handlers.on_equip_projectile(harness.ctx, projectile(3, 72))  # no such kind
    assert not harness.backend.named("ChangeItems")
    assert harness.refused("not_ammunition") == 2 and harness.refused("bad_slot") == 1
    answers = harness.of(SrvSetItem)
    assert {i.index for i in answers[0].items} == {72, 133}
    assert answers[0].items[0].item.data.count == 40


async def test_a_riding_part_goes_to_its_cart_slot_with_its_requirements(
        harness: Harness) -> None:
    harness.backend.inventory[102] = item(CART_BODY, 0)
    await handlers.on_equip_ride(harness.ctx, CliEquipItemRide(slot=0, index=102))
    assert harness.refused("requirement") == 1 and not harness.backend.named("ChangeItems")
    assert harness.of(SrvSetItem)  # the refusal answers with the slots as they are
    harness.ctx.session.records.values[CHARACTER_PROGRESS] = CharacterProgress(
        3, 0, 100, 100, (15, 15, 15, 15, 15, 15), 0, 0, 0, ())
    await handlers.on_equip_ride(harness.ctx, CliEquipItemRide(slot=0, index=102))
    (move,) = harness.backend.named("ChangeItems")
    assert (move.ops[0].move.from_slot, move.ops[0].move.to_slot) == (102, 135)
    (shown,) = harness.backend.named("SetEquipment")
    assert shown.change == world_pb2.EQUIP_CHANGE_RIDE and (shown.slot, shown.item) == (0, 5)
    assert not shown.equipped or {(r.item_type, r.item_number) for r in shown.equipped} == {
        SWORD}  # a riding part adds nothing to the walking character

    await handlers.on_equip_ride(harness.ctx, CliEquipItemRide(slot=1, index=13))
    assert harness.refused("not_riding_part") == 1


async def test_an_item_the_view_missed_is_found_by_a_fresh_load(harness: Harness) -> None:
    await handlers.on_use_item(harness.ctx, CliUseItem(index=12, item_id=1))  # view loaded
    harness.backend.inventory[44] = item(POTION, 2)  # given elsewhere (a GM, a trade)
    await handlers.on_use_item(harness.ctx, CliUseItem(index=44, item_id=1))
    assert harness.refused("not_held") == 0
    assert harness.backend.named("ChangeItems")[-1].ops[0].remove.slot == 44
    assert len(harness.backend.named("GetCharacter")) == 2


async def test_a_trade_the_character_service_cannot_make_is_answered_not_left_waiting(
    harness: Harness,
) -> None:
    harness.backend.answers["ChangeItems"] = lambda r: unavailable()
    await handlers.on_store_trade(harness.ctx, buy(0, 0, 1))
    assert len(harness.backend.named("ChangeItems")) == 2  # one retry, same request id
    assert harness.of(SrvStoreTradeReply)[0].result == StoreTradeResult.PRICE_DIFF
    assert not harness.of(SrvSetMoneyAndItem)
    assert harness.refused("backend_unavailable") == 1


async def test_a_deposit_the_character_service_cannot_make_puts_the_item_back(
        harness: Harness) -> None:
    harness.backend.answers["ChangeItems"] = lambda r: unavailable()
    potions = Item.stack(*POTION, 3)
    await handlers.on_bank_move_item(harness.ctx, CliBankMoveItem(
        mode=BankMoveMode.INVENTORY_TO_BANK, index=12, item=potions))
    assert len(harness.backend.named("ChangeItems")) == 2  # one retry, same request id
    (answer,) = harness.of(SrvSetItem)
    assert answer.items[0].index == 12 and answer.items[0].item.data.count == 3
    assert harness.refused("backend_unavailable") == 1
