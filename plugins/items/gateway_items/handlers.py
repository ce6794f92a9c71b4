"""Client-facing item handlers (in the world only): drop, pick up, equip, use, NPC store
trades, storage, hotbar, weight.

Strategy: the inventory, zuly and storage are the character service's; the ground, NPCs,
consumable effects and visible equipment are the world service's. Each change of the
inventory is one ``ChangeItems`` call with a fresh request id (uuid4 hex; retried once with
the same id when the call itself failed, which the service answers without applying twice):
all or nothing. What the handler sends the client comes from the reply (the slots it touched,
the zuly it now has), never from the request.

Every refusal changes nothing, is counted in ``gateway_items_refused_total{reason}`` and logged;
a backend that cannot be reached is ``backend_unavailable`` and never raised. When a change was
made and the world's part of it then fails (an item dropped but not laid on the ground, a
consumable removed but not used), the change is undone with a second ``ChangeItems``.

Decisions:

* NPC store buy: ``(tab, column)`` is position ``tab * 48 + column`` of the shop's item list
  (:data:`gateway_items.rules.SHOP_TAB_SIZE`); the price is the shop's, else the item's. Sell:
  an NPC with a shop pays ``price // 2`` apiece. Success is answered ``PAKWC_SET_MONEY_AND_ITEM``
  (zuly and touched slots); a refusal ``PAKWC_STORE_TRADE_REPLY``: ``INVALID_NPC`` (unknown NPC
  or no shop), ``TOO_FAR`` (more than 1000 map units), ``NO_MONEY`` (not enough zuly),
  ``PRICE_DIFF`` (anything else: nothing at that index, an item unknown to the pack, no room,
  or a character service that cannot be reached, so the client is never left waiting).
* Unequip: ``slot_to`` 0 means the first free bag slot.
* ``PAKWC_USE_ITEM`` is the world service's to show (``UseConsumable`` carries the slot); the
  owner gets ``PAKWC_SET_ITEM`` for the slot.
* ``PAKCS_SET_WEIGHT_REQ``: answered ``PAKWC_SET_WEIGHT`` to the character itself with the
  rate ``100 * weight // (1100 + 2 * str + 2 * level)`` (capped at 255) from the weight of the
  last ``ChangeItems`` reply (at load: the content's weights of the stored inventory).
* ``PAKCS_HOTBAR_SET_ICON_REQ { index, icon }`` (the commented field list the gateway declares,
  docs/protocol.md §10.16): one ``SetHotbar`` of the character (retried once when the call
  itself failed; setting a slot twice is harmless), then ``PAKWC_HOTBAR_SET_ICON_REPLY
  { index, icon }``. An ``index`` above 31 is refused (``bad_slot``), a failed call is
  ``backend_unavailable``; neither is answered. The stored hotbar reaches the client in
  ``PAKWC_SELECT_CHAR_REPLY`` at the next world join (the character plugin, from GetCharacter).
* ``PAKCS_EQUIP_ITEM_RIDE`` and ``PAKCS_EQUIP_PROJECTILE``: refused (``unsupported``), no state
  change and no answer, until riding parts and ammunition have rules.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

import grpc
from gateway_protos.v1 import character_pb2, common_pb2, world_pb2

from gateway_core.api import (
    CHARACTER_PROGRESS,
    MAX_HOTBAR_ITEMS,
    SELECTED_CHARACTER,
    WORLD_PLACEMENT,
    BankListItem,
    BankListReply,
    BankListRequest,
    BankMoveMode,
    CliBankListReq,
    CliBankMoveItem,
    CliBankMoveMoney,
    CliDropItem,
    CliEquipItem,
    CliEquipItemRide,
    CliEquipProjectile,
    CliHotbarSetIconReq,
    CliPickupItemReq,
    CliSetWeightReq,
    CliStoreTradeReq,
    CliUseItem,
    IndexAndItem,
    Item,
    ItemData,
    ItemHeader,
    Packet,
    PacketContext,
    PickupItemResult,
    SessionState,
    SrvBankListReply,
    SrvBankMoveItem,
    SrvBankMoveMoney,
    SrvHotbarSetIconReply,
    SrvPickupItemReply,
    SrvSetItem,
    SrvSetMoney,
    SrvSetMoneyAndItem,
    SrvSetWeight,
    SrvStoreTradeReply,
    StoreTradeResult,
)
from gateway_items import rules
from gateway_items.rules import SlotItem
from gateway_items.runtime import CHARACTER, STATE, WORLD, ItemsRuntime, ItemsState

if TYPE_CHECKING:
    from gateway_core.api import PacketRegistrar

log = logging.getLogger(__name__)

Ctx = PacketContext[ItemsRuntime]
P = TypeVar("P", bound=Packet)

IN_WORLD: Final = {SessionState.IN_WORLD}
OK: Final = character_pb2.ITEM_RESULT_OK
#: Refusal reason of each ItemResult.
RESULT_REASON: Final = {
    character_pb2.ITEM_RESULT_NO_ROOM: "no_room",
    character_pb2.ITEM_RESULT_NOT_HELD: "not_held",
    character_pb2.ITEM_RESULT_NO_ZULY: "no_zuly",
    character_pb2.ITEM_RESULT_BAD_SLOT: "bad_slot",
    character_pb2.ITEM_RESULT_UNKNOWN_ITEM: "unknown_item",
    character_pb2.ITEM_RESULT_TOO_MUCH_ZULY: "too_much_zuly",
}
#: Results that say the plugin's view of the inventory was wrong: reload it next time.
STALE_VIEW: Final = {character_pb2.ITEM_RESULT_NOT_HELD, character_pb2.ITEM_RESULT_BAD_SLOT}
#: Call failures worth one retry with the same request id.
RETRY_CODES: Final = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}


class Refusal(Exception):
    """A request that is not carried out: counted under ``reason``; ``replies`` go to the
    client."""

    def __init__(self, reason: str, *replies: Packet, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.replies = replies
        self.detail = detail


def guarded(handler: Callable[[Ctx, P], Awaitable[None]]) -> Callable[[Ctx, P], Awaitable[None]]:
    """Turn a :class:`Refusal` or a failed backend call into a counted, logged refusal."""

    @functools.wraps(handler)
    async def run(ctx: Ctx, packet: P) -> None:
        try:
            await handler(ctx, packet)
        except Refusal as refusal:
            ctx.runtime.refuse(ctx.session, refusal.reason, refusal.detail)
            for reply in refusal.replies:
                ctx.reply(reply)
        except grpc.aio.AioRpcError as exc:
            ctx.runtime.refuse(ctx.session, "backend_unavailable",
                               f"{packet.NAME}: {exc.code().name}")

    return run


# --- helpers -------------------------------------------------------------------------------


def wire_item(item: SlotItem | common_pb2.Item) -> Item:
    return Item(ItemHeader(item.header), ItemData(item.data))


def set_item(slots: Sequence[character_pb2.SlotItem]) -> SrvSetItem:
    return SrvSetItem(items=tuple(IndexAndItem(index=s.slot, item=wire_item(s.item))
                                  for s in slots))


def character_id(ctx: Ctx) -> int:
    selected = ctx.session.records.get(SELECTED_CHARACTER)
    if selected is None:
        raise Refusal("no_character")
    return selected.character_id


def object_id(ctx: Ctx) -> int:
    placement = ctx.session.records.get(WORLD_PLACEMENT)
    if placement is None or placement.object_id is None:
        raise Refusal("not_on_map")
    return placement.object_id


async def load_state(ctx: Ctx) -> ItemsState:
    """The session's inventory view, loaded from the character service when it has none."""
    state = ctx.session.plugin_data.get(STATE)
    wanted = character_id(ctx)
    if state is None or state.character_id != wanted:
        character: character_pb2.CharacterState = await ctx.clients[CHARACTER].GetCharacter(
            character_pb2.GetCharacterRequest(character_id=wanted))
        state = ItemsState.from_character(character, ctx.runtime.content)
        ctx.session.plugin_data.set(STATE, state)
    return state


def level_and_stats(ctx: Ctx, state: ItemsState) -> tuple[int, Sequence[int]]:
    """Level and base stats: the world's progress record, else what was loaded."""
    progress = ctx.session.records.get(CHARACTER_PROGRESS)
    if progress is not None:
        return progress.level, progress.stats
    return state.level, state.stats


def item_ref(item_type: int, item_number: int) -> common_pb2.ItemRef:
    return common_pb2.ItemRef(item_type=item_type, item_number=item_number)


def add_ops(item_type: int, item_number: int, count: int, stack: int) -> list[character_pb2.ItemOp]:
    """AddItem operations for ``count`` of an item, one per stack (equipment: one per item)."""
    per_op = stack if rules.is_stackable(item_type) else 1
    return [character_pb2.ItemOp(add=character_pb2.AddItem(
        item=item_ref(item_type, item_number), count=part))
        for part in rules.chunks(count, per_op)]


def remove_op(slot: int, item: SlotItem, count: int) -> character_pb2.ItemOp:
    return character_pb2.ItemOp(remove=character_pb2.RemoveItem(
        slot=slot, item=item_ref(item.item_type, item.item_number), count=count))


def stack_of(ctx: Ctx, item_type: int, item_number: int) -> int:
    definition = ctx.runtime.content.item_by_client(item_type, item_number)
    return definition.stack if definition is not None else 1


async def change(
    ctx: Ctx,
    state: ItemsState | None,
    ops: Sequence[character_pb2.ItemOp] = (),
    *,
    zuly_delta: int = 0,
    storage_zuly_delta: int = 0,
) -> character_pb2.ChangeItemsReply:
    """One ChangeItems (a fresh request id; one retry with it when the call failed). An applied
    change updates ``state``; a refused one that says ``state`` was wrong drops it."""
    request = character_pb2.ChangeItemsRequest(
        character_id=character_id(ctx), request_id=uuid.uuid4().hex, ops=list(ops),
        zuly_delta=zuly_delta, storage_zuly_delta=storage_zuly_delta)
    stub = ctx.clients[CHARACTER]
    try:
        reply: character_pb2.ChangeItemsReply = await stub.ChangeItems(request)
    except grpc.aio.AioRpcError as exc:
        if exc.code() not in RETRY_CODES:
            raise
        reply = await stub.ChangeItems(request)
    if reply.result == OK:
        if state is not None:
            state.apply(reply)
    elif reply.result in STALE_VIEW:
        ctx.session.plugin_data.pop(STATE)
    return reply


def refused_change(reply: character_pb2.ChangeItemsReply, *replies: Packet) -> Refusal:
    return Refusal(RESULT_REASON.get(reply.result, "refused"), *replies, detail=reply.message)


async def undo(ctx: Ctx, state: ItemsState | None, ops: Sequence[character_pb2.ItemOp],
               zuly_delta: int, what: str) -> None:
    """Give back what a change took when the world's part of it failed."""
    try:
        reply = await change(ctx, state, ops, zuly_delta=zuly_delta)
    except grpc.aio.AioRpcError as exc:
        log.warning("items: could not give back %s to connection #%d (%s)", what,
                    ctx.session.connection_id, exc.code().name)
        return
    if reply.result != OK:
        log.warning("items: could not give back %s to connection #%d (%s)", what,
                    ctx.session.connection_id, reply.message)
        return
    if reply.changed:
        ctx.reply(set_item(reply.changed))
    ctx.reply(SrvSetMoney(zuly=reply.zuly))


async def world_reason(call: Awaitable[Any]) -> str:
    """The ``reason`` of a world reply (``backend_unavailable`` when the call failed)."""
    try:
        reply = await call
    except grpc.aio.AioRpcError as exc:
        return f"backend_unavailable ({exc.code().name})"
    return str(reply.reason)


# --- drop and pick up ----------------------------------------------------------------------


@guarded
async def on_drop_item(ctx: Ctx, packet: CliDropItem) -> None:
    """PAKCS_DROP_ITEM: index 0 drops zuly, another index what that slot holds."""
    if packet.quantity <= 0:
        raise Refusal("bad_quantity")
    world = ctx.clients[WORLD]
    cid = character_id(ctx)
    if packet.index == 0:
        reply = await change(ctx, ctx.session.plugin_data.get(STATE), zuly_delta=-packet.quantity)
        if reply.result != OK:
            raise refused_change(reply)
        ctx.reply(SrvSetMoney(zuly=reply.zuly))
        reason = await world_reason(world.DropGroundItem(world_pb2.DropGroundItemRequest(
            character_id=cid, item_type=rules.ZULY_ITEM_TYPE, count=packet.quantity)))
        if reason:
            await undo(ctx, ctx.session.plugin_data.get(STATE), (), packet.quantity, "zuly")
            raise Refusal("drop_failed", detail=reason)
        return
    if packet.index >= rules.INVENTORY_SLOTS:
        raise Refusal("bad_slot")
    state = await load_state(ctx)
    item = state.inventory[packet.index]
    if item.empty:
        raise Refusal("not_held", detail=f"slot {packet.index} is empty")
    count = packet.quantity if rules.is_stackable(item.item_type) else 1
    reply = await change(ctx, state, [remove_op(packet.index, item, count)])
    if reply.result != OK:
        raise refused_change(reply)
    ctx.reply(set_item(reply.changed))
    reason = await world_reason(world.DropGroundItem(world_pb2.DropGroundItemRequest(
        character_id=cid, item_type=item.item_type, item_number=item.item_number,
        count=count)))
    if reason:
        await undo(ctx, ctx.session.plugin_data.get(STATE),
                   add_ops(item.item_type, item.item_number, count,
                           stack_of(ctx, item.item_type, item.item_number)), 0, "an item")
        raise Refusal("drop_failed", detail=reason)


#: The pickup answer to each TakeGroundItem refusal.
TAKE_RESULT: Final = {"not_owner": PickupItemResult.NOT_OWNER}


@guarded
async def on_pickup_item(ctx: Ctx, packet: CliPickupItemReq) -> None:
    """PAKCS_PICKUP_ITEM_REQ: take the ground item from the world, then into the inventory
    (laid down again when it does not fit)."""

    def answer(result: PickupItemResult, slot: int = 0, item: Item | None = None
               ) -> SrvPickupItemReply:
        return SrvPickupItemReply(id=packet.item_id, result=result, slot=slot,
                                  item=item if item is not None else Item())

    world = ctx.clients[WORLD]
    cid = character_id(ctx)
    try:
        taken: world_pb2.TakeGroundItemReply = await world.TakeGroundItem(
            world_pb2.TakeGroundItemRequest(character_id=cid, object_id=packet.item_id))
    except grpc.aio.AioRpcError as exc:
        raise Refusal("backend_unavailable", answer(PickupItemResult.NO_ITEM),
                      detail=exc.code().name) from None
    if taken.reason:
        raise Refusal(f"take_{taken.reason}",
                      answer(TAKE_RESULT.get(taken.reason, PickupItemResult.NO_ITEM)))
    zuly = taken.item_type == rules.ZULY_ITEM_TYPE
    try:
        if zuly:
            reply = await change(ctx, ctx.session.plugin_data.get(STATE), zuly_delta=taken.count)
        else:
            reply = await change(ctx, ctx.session.plugin_data.get(STATE), add_ops(
                taken.item_type, taken.item_number, taken.count,
                stack_of(ctx, taken.item_type, taken.item_number)))
    except grpc.aio.AioRpcError as exc:
        await put_back(ctx, taken.token)
        raise Refusal("backend_unavailable", answer(PickupItemResult.NO_ITEM),
                      detail=exc.code().name) from None
    if reply.result != OK:
        await put_back(ctx, taken.token)
        full = reply.result in (character_pb2.ITEM_RESULT_NO_ROOM,
                                character_pb2.ITEM_RESULT_TOO_MUCH_ZULY)
        raise refused_change(reply, answer(PickupItemResult.INVENTORY_FULL if full
                                           else PickupItemResult.NO_ITEM))
    if zuly:
        ctx.reply(answer(PickupItemResult.OK, 0,
                         Item.stack(rules.ZULY_ITEM_TYPE, 0, taken.count)))
        ctx.reply(SrvSetMoney(zuly=reply.zuly))
        return
    if not reply.changed:
        ctx.reply(answer(PickupItemResult.OK))
        return
    first, *rest = reply.changed
    ctx.reply(answer(PickupItemResult.OK, first.slot, wire_item(first.item)))
    if rest:
        ctx.reply(set_item(rest))


async def put_back(ctx: Ctx, token: int) -> None:
    reason = await world_reason(ctx.clients[WORLD].PutBackGroundItem(
        world_pb2.PutBackGroundItemRequest(token=token)))
    if reason:
        log.warning("items: a taken ground item was not put back (%s)", reason)


# --- equipment and consumables -------------------------------------------------------------


@guarded
async def on_equip_item(ctx: Ctx, packet: CliEquipItem) -> None:
    """PAKCS_EQUIP_ITEM: move between ``slot_from`` and ``slot_to`` (0: the first free bag
    slot), checking the requirements of what lands in an equipment slot."""
    source, target = packet.slot_from, packet.slot_to
    state = await load_state(ctx)
    if target == 0:
        free = rules.free_bag_slot(state.inventory)
        if free is None:
            raise Refusal("no_room")
        target = free
    if not (0 < source < rules.INVENTORY_SLOTS and 0 < target < rules.INVENTORY_SLOTS):
        raise Refusal("bad_slot", detail=f"{source} -> {target}")
    if source == target:
        raise Refusal("bad_slot", detail="same slot")
    moving = state.inventory[source]
    if moving.empty:
        raise Refusal("not_held", detail=f"slot {source} is empty")
    level, stats = level_and_stats(ctx, state)
    for item, slot in ((moving, target), (state.inventory[target], source)):
        if slot not in rules.EQUIPMENT_SLOTS or item.empty:
            continue
        definition = ctx.runtime.content.item_by_client(item.item_type, item.item_number)
        if definition is None:
            raise Refusal("unknown_item", detail=f"{item.item_type}:{item.item_number}")
        unmet = rules.unmet_requirement(definition, level=level, job=state.job, stats=stats)
        if unmet is not None:
            raise Refusal("requirement", detail=f"{definition.id} needs more {unmet}")
    reply = await change(ctx, state, [character_pb2.ItemOp(
        move=character_pb2.MoveItem(from_slot=source, to_slot=target))])
    if reply.result != OK:
        raise refused_change(reply)
    ctx.reply(set_item(reply.changed))
    equipment_slot = next((s for s in (target, source) if s in rules.EQUIPMENT_SLOTS), None)
    if equipment_slot is None:
        return
    reason = await world_reason(ctx.clients[WORLD].SetEquipment(world_pb2.SetEquipmentRequest(
        character_id=state.character_id,
        equipment=rules.visible_equipment(state.inventory),
        slot=equipment_slot,
        item=rules.equipped_item(state.inventory[equipment_slot]),
        equipped=state.equipped_refs())))
    if reason:
        # The inventory changed; only its showing did not: counted, not undone.
        ctx.runtime.refuse(ctx.session, "equipment_not_shown", reason)


@guarded
async def on_use_item(ctx: Ctx, packet: CliUseItem) -> None:
    """PAKCS_USE_ITEM: a consumable of slot ``index`` (``item_id`` is not needed: the slot
    says which item): may it be used, take one, use it."""
    if not 0 < packet.index < rules.INVENTORY_SLOTS:
        raise Refusal("bad_slot")
    state = await load_state(ctx)
    item = state.inventory[packet.index]
    if item.empty:
        raise Refusal("not_held", detail=f"slot {packet.index} is empty")
    if item.item_type != rules.CONSUMABLE_ITEM_TYPE:
        raise Refusal("not_consumable")
    world = ctx.clients[WORLD]

    def use(check_only: bool) -> Awaitable[world_pb2.ItemActionReply]:
        request = world_pb2.UseConsumableRequest(
            character_id=state.character_id, item_type=item.item_type,
            item_number=item.item_number, slot=packet.index, check_only=check_only)
        call: Awaitable[world_pb2.ItemActionReply] = world.UseConsumable(request)
        return call

    checked: world_pb2.ItemActionReply = await use(True)
    if checked.reason:
        raise Refusal(f"use_{checked.reason}")
    reply = await change(ctx, state, [remove_op(packet.index, item, 1)])
    if reply.result != OK:
        raise refused_change(reply)
    ctx.reply(set_item(reply.changed))
    reason = await world_reason(use(False))
    if reason:
        await undo(ctx, ctx.session.plugin_data.get(STATE),
                   add_ops(item.item_type, item.item_number, 1, 1), 0, "a consumable")
        raise Refusal("use_failed", detail=reason)


@guarded
async def on_unsupported(ctx: Ctx, packet: CliEquipItemRide | CliEquipProjectile) -> None:
    """PAKCS_EQUIP_ITEM_RIDE, PAKCS_EQUIP_PROJECTILE: not carried out yet."""
    raise Refusal("unsupported", detail=packet.NAME)


# --- NPC store -----------------------------------------------------------------------------


@guarded
async def on_store_trade(ctx: Ctx, packet: CliStoreTradeReq) -> None:
    """PAKCS_STORE_TRADE_REQ: buy from or sell to an NPC's shop."""

    def no(result: StoreTradeResult, reason: str, detail: str = "") -> Refusal:
        return Refusal(reason, SrvStoreTradeReply(result=result), detail=detail)

    if bool(packet.is_buy) == bool(packet.is_sell):
        raise no(StoreTradeResult.PRICE_DIFF, "bad_request")
    cid = character_id(ctx)
    try:
        near: world_pb2.NearNpcReply = await ctx.clients[WORLD].NearNpc(
            world_pb2.NearNpcRequest(character_id=cid, npc_object_id=packet.npc_id))
    except grpc.aio.AioRpcError as exc:
        raise no(StoreTradeResult.INVALID_NPC, "backend_unavailable", exc.code().name) from None
    if near.reason:
        raise no(StoreTradeResult.INVALID_NPC, "invalid_npc", near.reason)
    if not near.shop or near.shop not in ctx.runtime.content.shops:
        raise no(StoreTradeResult.INVALID_NPC, "no_shop", near.npc)
    if near.distance > rules.SHOP_RANGE:
        raise no(StoreTradeResult.TOO_FAR, "too_far", f"{near.distance:.0f}")
    overlay = packet.item
    if packet.is_buy:
        amount = overlay.buy_amount
        entry = rules.shop_entry(ctx.runtime.content, near.shop, overlay.buy_tab_id,
                                 overlay.buy_col_id)
        if entry is None or amount == 0:
            raise no(StoreTradeResult.PRICE_DIFF, "bad_shop_item",
                     f"{near.shop} {overlay.buy_tab_id}:{overlay.buy_col_id} x{amount}")
        definition, price = entry
        ops = add_ops(definition.type, definition.number, amount, definition.stack)
        if len(ops) > 64:
            raise no(StoreTradeResult.PRICE_DIFF, "bad_quantity")
        pending = change(ctx, ctx.session.plugin_data.get(STATE), ops,
                         zuly_delta=-price * amount)
    else:
        slot, amount = overlay.sell_inventory_idx, overlay.sell_amount
        state = await load_state(ctx)
        if not 0 < slot < rules.INVENTORY_SLOTS or state.inventory[slot].empty:
            raise no(StoreTradeResult.PRICE_DIFF, "not_held", f"slot {slot}")
        item = state.inventory[slot]
        count = amount if rules.is_stackable(item.item_type) else 1
        sold = ctx.runtime.content.item_by_client(item.item_type, item.item_number)
        if sold is None or count == 0:
            raise no(StoreTradeResult.PRICE_DIFF, "unknown_item")
        pending = change(ctx, state, [remove_op(slot, item, count)],
                         zuly_delta=rules.sell_price(sold) * count)
    try:
        reply = await pending
    except grpc.aio.AioRpcError as exc:
        # The client waits for an answer: the protocol's refusal (nothing changed, or the
        # retry's answer was lost and the next join shows what the service has).
        raise no(StoreTradeResult.PRICE_DIFF, "backend_unavailable", exc.code().name) from None
    if reply.result != OK:
        result = (StoreTradeResult.NO_MONEY if reply.result == character_pb2.ITEM_RESULT_NO_ZULY
                  else StoreTradeResult.PRICE_DIFF)
        raise refused_change(reply, SrvStoreTradeReply(result=result))
    ctx.reply(SrvSetMoneyAndItem(zuly=reply.zuly, items=set_item(reply.changed).items))


# --- storage -------------------------------------------------------------------------------


@guarded
async def on_bank_list(ctx: Ctx, packet: CliBankListReq) -> None:
    """PAKCS_BANK_LIST_REQ: OPEN lists the storage (no passwords: other requests refused)."""
    if packet.request != BankListRequest.OPEN:
        raise Refusal("unsupported", detail=f"bank request {int(packet.request)}")
    storage: character_pb2.Storage = await ctx.clients[CHARACTER].GetStorage(
        character_pb2.GetStorageRequest(character_id=character_id(ctx)))
    items = tuple(BankListItem(index=index, item=wire_item(item))
                  for index, item in enumerate(storage.items) if item.header)
    ctx.reply(SrvBankListReply(reply=BankListReply.INIT_DATA, items=items))


@guarded
async def on_bank_move_item(ctx: Ctx, packet: CliBankMoveItem) -> None:
    """PAKCS_BANK_MOVE_ITEM: ``index`` is the inventory slot (to the bank) or the storage
    slot (to the inventory); ``item`` what the client believes is there (its count for a
    stack)."""
    item = SlotItem(int(packet.item.header.header), int(packet.item.data.count))
    if item.empty:
        raise Refusal("not_held")
    ref = item_ref(item.item_type, item.item_number)
    count = item.count
    if packet.mode == BankMoveMode.INVENTORY_TO_BANK:
        op = character_pb2.ItemOp(store=character_pb2.StoreItem(
            slot=packet.index, item=ref, count=count))
    elif packet.mode == BankMoveMode.BANK_TO_INVENTORY:
        op = character_pb2.ItemOp(retrieve=character_pb2.RetrieveItem(
            storage_slot=packet.index, item=ref, count=count))
    else:
        raise Refusal("bad_request", detail=f"mode {int(packet.mode)}")
    reply = await change(ctx, ctx.session.plugin_data.get(STATE), [op])
    if reply.result != OK:
        raise refused_change(reply)
    inventory = reply.changed[0] if reply.changed else None
    bank = reply.storage_changed[0] if reply.storage_changed else None
    ctx.reply(SrvBankMoveItem(
        inventory_index=inventory.slot if inventory is not None else -1,
        bank_index=bank.slot if bank is not None else -1,
        inventory_item=wire_item(inventory.item) if inventory is not None else Item(),
        bank_item=wire_item(bank.item) if bank is not None else Item(),
        money=reply.zuly))
    if len(reply.changed) > 1:
        ctx.reply(set_item(reply.changed[1:]))


@guarded
async def on_bank_move_money(ctx: Ctx, packet: CliBankMoveMoney) -> None:
    """PAKCS_BANK_MOVE_MONEY: zuly between the inventory and the storage, in one change."""
    if packet.amount <= 0:
        raise Refusal("bad_quantity")
    if packet.mode == BankMoveMode.INVENTORY_TO_BANK:
        delta = -packet.amount
    elif packet.mode == BankMoveMode.BANK_TO_INVENTORY:
        delta = packet.amount
    else:
        raise Refusal("bad_request", detail=f"mode {int(packet.mode)}")
    reply = await change(ctx, ctx.session.plugin_data.get(STATE), zuly_delta=delta,
                         storage_zuly_delta=-delta)
    if reply.result != OK:
        raise refused_change(reply)
    ctx.reply(SrvBankMoveMoney(inventory=reply.zuly, bank=reply.storage_zuly))


# --- hotbar and weight ---------------------------------------------------------------------


@guarded
async def on_hotbar_set_icon(ctx: Ctx, packet: CliHotbarSetIconReq) -> None:
    """PAKCS_HOTBAR_SET_ICON_REQ: store the icon in the slot, then echo both."""
    if packet.index >= MAX_HOTBAR_ITEMS:
        raise Refusal("bad_slot", detail=f"hotbar slot {packet.index}")
    request = character_pb2.SetHotbarRequest(
        character_id=character_id(ctx), slot=packet.index, icon=packet.icon.data)
    stub = ctx.clients[CHARACTER]
    try:
        await stub.SetHotbar(request)
    except grpc.aio.AioRpcError as exc:
        if exc.code() not in RETRY_CODES:
            raise
        await stub.SetHotbar(request)
    ctx.reply(SrvHotbarSetIconReply(index=packet.index, icon=packet.icon))


@guarded
async def on_set_weight(ctx: Ctx, packet: CliSetWeightReq) -> None:
    """PAKCS_SET_WEIGHT_REQ: the server's weight rate, to the character itself."""
    own_id = object_id(ctx)
    state = await load_state(ctx)
    level, stats = level_and_stats(ctx, state)
    rate = rules.weight_rate(state.weight, strength=stats[0] if stats else 0, level=level)
    ctx.reply(SrvSetWeight(char_id=own_id, weight=rate))


def register_packets(register: PacketRegistrar) -> None:
    """Every item packet, in the world only."""
    handlers: list[tuple[str, Callable[..., Any]]] = [
        (CliDropItem.NAME, on_drop_item),
        (CliPickupItemReq.NAME, on_pickup_item),
        (CliEquipItem.NAME, on_equip_item),
        (CliUseItem.NAME, on_use_item),
        (CliStoreTradeReq.NAME, on_store_trade),
        (CliBankListReq.NAME, on_bank_list),
        (CliBankMoveItem.NAME, on_bank_move_item),
        (CliBankMoveMoney.NAME, on_bank_move_money),
        (CliHotbarSetIconReq.NAME, on_hotbar_set_icon),
        (CliSetWeightReq.NAME, on_set_weight),
        (CliEquipItemRide.NAME, on_unsupported),
        (CliEquipProjectile.NAME, on_unsupported),
    ]
    for name, handler in handlers:
        register(name, handler, states=IN_WORLD)
