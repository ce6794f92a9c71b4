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
* ``PAKCS_EQUIP_PROJECTILE`` moves a whole ammunition stack between a bag slot and the
  ammunition slot of its kind (the content's ``ammo``); ``PAKCS_EQUIP_ITEM_RIDE`` a riding
  part between a bag slot and the cart part slot (the content's ``ride_part``, requirements
  checked). Riding parts add nothing to the walking character's stats. A refused move is
  answered ``PAKWC_SET_ITEM`` with the slots as the server has them.
* A slot the view has empty is looked up again in a fresh load before a refusal
  (:func:`holding`): the view misses what other gateways or plugins changed.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
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
    Session,
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
from gateway_items.runtime import CHARACTER, STATE, ItemsRuntime, ItemsState, world_of

if TYPE_CHECKING:
    from gateway_core.api import PacketRegistrar

log = logging.getLogger(__name__)

Ctx = PacketContext[ItemsRuntime]
P = TypeVar("P", bound=Packet)
T = TypeVar("T")

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


async def holding(ctx: Ctx, slot: int) -> tuple[ItemsState, SlotItem]:
    """The view and what it says ``slot`` holds. An empty slot is looked up once more in a
    fresh load before anyone is refused: the view misses changes made elsewhere (a GM's
    ``/item``, a trade or a sale finished by another gateway)."""
    state = await load_state(ctx)
    item = state.inventory[slot]
    if item.empty:
        ctx.session.plugin_data.pop(STATE)
        state = await load_state(ctx)
        item = state.inventory[slot]
    return state, item


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


async def retried(call: Callable[[], Awaitable[T]]) -> T:
    """One call, made again once (the same request: safe for idempotent calls) when it
    failed in transit (:data:`RETRY_CODES`)."""
    try:
        return await call()
    except grpc.aio.AioRpcError as exc:
        if exc.code() not in RETRY_CODES:
            raise
        return await call()


async def change(
    ctx: Ctx,
    state: ItemsState | None,
    ops: Sequence[character_pb2.ItemOp] = (),
    *,
    zuly_delta: int = 0,
    storage_zuly_delta: int = 0,
    request_id: str = "",
) -> character_pb2.ChangeItemsReply:
    """One ChangeItems (a fresh request id unless given; one retry with it when the call
    failed). An applied change updates ``state``; a refused one that says ``state`` was wrong
    drops it."""
    request = character_pb2.ChangeItemsRequest(
        character_id=character_id(ctx), request_id=request_id or uuid.uuid4().hex,
        ops=list(ops), zuly_delta=zuly_delta, storage_zuly_delta=storage_zuly_delta)
    stub = ctx.clients[CHARACTER]
    reply: character_pb2.ChangeItemsReply = await retried(lambda: stub.ChangeItems(request))
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
    world = world_of(ctx)
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
    state, item = await holding(ctx, packet.index)
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

    world = world_of(ctx)
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
    ops = [] if zuly else add_ops(taken.item_type, taken.item_number, taken.count,
                                  stack_of(ctx, taken.item_type, taken.item_number))
    request_id = uuid.uuid4().hex
    try:
        reply = await change(ctx, ctx.session.plugin_data.get(STATE), ops,
                             zuly_delta=taken.count if zuly else 0, request_id=request_id)
    except grpc.aio.AioRpcError as exc:
        # Maybe committed with its answer lost: laying the item down again now could give it
        # twice. The same request id settles it in the background (applied, or put back).
        lost = character_pb2.ChangeItemsRequest(
            character_id=cid, request_id=request_id, ops=ops,
            zuly_delta=taken.count if zuly else 0)
        ctx.runtime.settle(settle_pickup(ctx.clients[CHARACTER], world_of(ctx),
                                         ctx.session, lost, taken.token))
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


#: How long (seconds) a pick-up whose answer was lost is retried before the item is left to
#: lapse from the ground (the world's take token lives 60 s).
SETTLE_SECONDS: Final = 40.0


async def settle_change(
    character: Any,
    session: Session,
    request: character_pb2.ChangeItemsRequest,
    refused: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Retry a ChangeItems whose answer was lost with its request id until the character
    service answers: applied (the session's view is dropped; no packet is sent, the client's
    answer went out already), refused (``refused()`` undoes what was taken elsewhere), or
    after :data:`SETTLE_SECONDS` given up (logged)."""
    delay = 0.25
    loop = asyncio.get_running_loop()
    give_up = loop.time() + SETTLE_SECONDS
    while True:
        await asyncio.sleep(delay)
        try:
            reply: character_pb2.ChangeItemsReply = await character.ChangeItems(request)
        except grpc.aio.AioRpcError as exc:
            if loop.time() + delay > give_up:
                log.warning("items: change %s of character %d unsettled (%s)",
                            request.request_id, request.character_id, exc.code().name)
                return
            delay = min(4.0, delay * 2)
            continue
        break
    if reply.result == OK:
        # The client was answered already; its view of the inventory is corrected at the next
        # join (PAKWC_INVENTORY_DATA), the gateway's at its next request.
        log.info("items: change %s settled: it was applied", request.request_id)
        session.plugin_data.pop(STATE)
        return
    log.info("items: change %s settled: refused (%s)", request.request_id, reply.message)
    if refused is not None:
        await refused()


def settle_pickup(character: Any, world: Any, session: Session,
                  request: character_pb2.ChangeItemsRequest, token: int
                  ) -> Coroutine[Any, Any, None]:
    """Settle a pick-up whose answer was lost: applied, the item is the character's;
    refused, it is laid down again; given up, the taken item lapses from the ground (never
    twice, at worst gone)."""

    async def lay_down_again() -> None:
        reason = await world_reason(world.PutBackGroundItem(
            world_pb2.PutBackGroundItemRequest(token=token)))
        if reason:
            log.warning("items: a taken ground item was not put back (%s)", reason)

    return settle_change(character, session, request, lay_down_again)


async def put_back(ctx: Ctx, token: int) -> None:
    reason = await world_reason(world_of(ctx).PutBackGroundItem(
        world_pb2.PutBackGroundItemRequest(token=token)))
    if reason:
        log.warning("items: a taken ground item was not put back (%s)", reason)


# --- equipment and consumables -------------------------------------------------------------


@guarded
async def on_equip_item(ctx: Ctx, packet: CliEquipItem) -> None:
    """PAKCS_EQUIP_ITEM: move between ``slot_from`` and ``slot_to`` (0: the first free bag
    slot), checking the requirements of what lands in an equipment slot."""
    source, target = packet.slot_from, packet.slot_to
    if not 0 < source < rules.INVENTORY_SLOTS:
        raise Refusal("bad_slot", detail=f"{source} -> {target}")
    state, moving = await holding(ctx, source)
    if moving.empty:
        raise Refusal("not_held", detail=f"slot {source} is empty")
    if target == 0:
        free = rules.free_bag_slot(state.inventory, moving.item_type)
        if free is None:
            raise Refusal("no_room")
        target = free
    if not 0 < target < rules.INVENTORY_SLOTS:
        raise Refusal("bad_slot", detail=f"{source} -> {target}")
    if source == target:
        raise Refusal("bad_slot", detail="same slot")
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
    await show_equipment(ctx, state, equipment_slot,
                         rules.equipped_item(state.inventory[equipment_slot]))


async def show_equipment(ctx: Ctx, state: ItemsState, slot: int, item: int,
                         change: world_pb2.EquipChange = world_pb2.EQUIP_CHANGE_BODY,
                         ) -> None:
    """Tell the world the character's equipment changed (derived stats, and the packet of
    ``change`` to those around)."""
    reason = await world_reason(world_of(ctx).SetEquipment(world_pb2.SetEquipmentRequest(
        character_id=state.character_id,
        equipment=rules.visible_equipment(state.inventory),
        slot=slot, item=item, equipped=state.equipped_refs(), change=change)))
    if reason:
        # The inventory changed; only its showing did not: counted, not undone.
        ctx.runtime.refuse(ctx.session, "equipment_not_shown", reason)


async def swap_into(ctx: Ctx, state: ItemsState, source: int, target: int) -> None:
    """One MoveItem between two inventory slots; the client gets the touched slots."""
    reply = await change(ctx, state, [character_pb2.ItemOp(
        move=character_pb2.MoveItem(from_slot=source, to_slot=target))])
    if reply.result != OK:
        raise refused_change(reply, set_item(current(state, source, target)))
    ctx.reply(set_item(reply.changed))


def current(state: ItemsState | None, *slots: int) -> list[character_pb2.SlotItem]:
    """What the view has in ``slots`` (the answer to a refused move: the client puts its
    items back where the server has them)."""
    if state is None:
        return []
    return [character_pb2.SlotItem(slot=slot, item=common_pb2.Item(
        header=state.inventory[slot].header, data=state.inventory[slot].data))
        for slot in slots if 0 <= slot < rules.INVENTORY_SLOTS]


@guarded
async def on_equip_projectile(ctx: Ctx, packet: CliEquipProjectile) -> None:
    """PAKCS_EQUIP_PROJECTILE: ``type`` 0 arrows, 1 bullets, 2 throwing weapons; ``index``
    the bag slot of the ammunition to equip (its whole stack), 0 to take it off. Shown to
    those around as PAKWC_EQUIP_PROJECTILE; a refusal is answered PAKWC_SET_ITEM with the
    slots as the server has them."""
    kind, index = int(packet.projectile.type), int(packet.projectile.index)
    if kind >= len(rules.AMMO_KINDS):
        raise Refusal("bad_slot", detail=f"projectile type {kind}")
    ammo_slot = rules.AMMO_SLOTS.start + kind
    if index == 0:
        state, held = await holding(ctx, ammo_slot)
        if held.empty:
            raise Refusal("not_held", set_item(current(state, ammo_slot)),
                          detail=f"no {rules.AMMO_KINDS[kind]} equipped")
        free = rules.free_bag_slot(state.inventory, held.item_type)
        if free is None:
            raise Refusal("no_room", set_item(current(state, ammo_slot)))
        await swap_into(ctx, state, ammo_slot, free)
        await show_equipment(ctx, state, kind, 0, world_pb2.EQUIP_CHANGE_PROJECTILE)
        return
    if index not in rules.BAG_SLOTS:
        raise Refusal("bad_slot", detail=f"ammunition from slot {index}")
    state, item = await holding(ctx, index)
    definition = (ctx.runtime.content.item_by_client(item.item_type, item.item_number)
                  if not item.empty else None)
    if definition is None or definition.ammo != rules.AMMO_KINDS[kind]:
        raise Refusal("not_ammunition", set_item(current(state, index, ammo_slot)),
                      detail=f"slot {index} holds no {rules.AMMO_KINDS[kind]}")
    await swap_into(ctx, state, index, ammo_slot)
    equipped = state.inventory[ammo_slot]
    await show_equipment(ctx, state, kind, equipped.header & 0x7FFF,
                         world_pb2.EQUIP_CHANGE_PROJECTILE)


@guarded
async def on_equip_ride(ctx: Ctx, packet: CliEquipItemRide) -> None:
    """PAKCS_EQUIP_ITEM_RIDE: ``slot`` the cart part (0 body to 4 arm), ``index`` the bag
    slot of the riding part to fit (0 to take the part off), with the item's requirements.
    Shown to those around as PAKWC_EQUIP_ITEM_RIDE; a refusal is answered PAKWC_SET_ITEM with
    the slots as the server has them."""
    part, index = int(packet.slot), int(packet.index)
    if not 0 <= part < len(rules.RIDING_SLOTS):
        raise Refusal("bad_slot", detail=f"riding part {part}")
    ride_slot = rules.RIDING_SLOTS.start + part
    if index == 0:
        state, held = await holding(ctx, ride_slot)
        if held.empty:
            raise Refusal("not_held", set_item(current(state, ride_slot)),
                          detail=f"no riding part {part}")
        free = rules.free_bag_slot(state.inventory, held.item_type)
        if free is None:
            raise Refusal("no_room", set_item(current(state, ride_slot)))
        await swap_into(ctx, state, ride_slot, free)
        await show_equipment(ctx, state, part, 0, world_pb2.EQUIP_CHANGE_RIDE)
        return
    if index not in rules.BAG_SLOTS:
        raise Refusal("bad_slot", detail=f"riding part from slot {index}")
    state, item = await holding(ctx, index)
    definition = (ctx.runtime.content.item_by_client(item.item_type, item.item_number)
                  if not item.empty else None)
    if definition is None or item.item_type != rules.RIDING_ITEM_TYPE:
        raise Refusal("not_riding_part", set_item(current(state, index, ride_slot)),
                      detail=f"slot {index}")
    level, stats = level_and_stats(ctx, state)
    unmet = rules.unmet_requirement(definition, level=level, job=state.job, stats=stats)
    if unmet is not None:
        raise Refusal("requirement", set_item(current(state, index, ride_slot)),
                      detail=f"{definition.id} needs more {unmet}")
    await swap_into(ctx, state, index, ride_slot)
    await show_equipment(ctx, state, part, rules.equipped_item(state.inventory[ride_slot]),
                         world_pb2.EQUIP_CHANGE_RIDE)


@guarded
async def on_use_item(ctx: Ctx, packet: CliUseItem) -> None:
    """PAKCS_USE_ITEM: a consumable of slot ``index`` (``item_id`` is not needed: the slot
    says which item): may it be used, take one, use it."""
    if not 0 < packet.index < rules.INVENTORY_SLOTS:
        raise Refusal("bad_slot")
    state, item = await holding(ctx, packet.index)
    if item.empty:
        raise Refusal("not_held", detail=f"slot {packet.index} is empty")
    if item.item_type != rules.CONSUMABLE_ITEM_TYPE:
        raise Refusal("not_consumable")
    world = world_of(ctx)

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
        near: world_pb2.NearNpcReply = await world_of(ctx).NearNpc(
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
        zuly_delta = -price * amount
        state = ctx.session.plugin_data.get(STATE)
    else:
        slot, amount = overlay.sell_inventory_idx, overlay.sell_amount
        if not 0 < slot < rules.INVENTORY_SLOTS:
            raise no(StoreTradeResult.PRICE_DIFF, "bad_slot", f"slot {slot}")
        state, item = await holding(ctx, slot)
        if item.empty:
            raise no(StoreTradeResult.PRICE_DIFF, "not_held", f"slot {slot}")
        count = amount if rules.is_stackable(item.item_type) else 1
        sold = ctx.runtime.content.item_by_client(item.item_type, item.item_number)
        if sold is None or count == 0:
            raise no(StoreTradeResult.PRICE_DIFF, "unknown_item")
        ops = [remove_op(slot, item, count)]
        zuly_delta = rules.sell_price(sold) * count
    request_id = uuid.uuid4().hex
    try:
        reply = await change(ctx, state, ops, zuly_delta=zuly_delta, request_id=request_id)
    except grpc.aio.AioRpcError as exc:
        # The client waits for an answer: the protocol's refusal now, then the request id
        # settles it in the background (applied: the client gets the zuly and slots).
        lost = character_pb2.ChangeItemsRequest(character_id=cid, request_id=request_id,
                                                ops=ops, zuly_delta=zuly_delta)
        ctx.runtime.settle(settle_change(ctx.clients[CHARACTER], ctx.session, lost))
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
    deposit = packet.mode == BankMoveMode.INVENTORY_TO_BANK
    state = await load_state(ctx) if deposit else ctx.session.plugin_data.get(STATE)
    # A refused (or unanswered) deposit puts the item back in the client's inventory slot.
    answer = (set_item(current(state, packet.index)),) if deposit else ()
    try:
        reply = await change(ctx, state, [op])
    except grpc.aio.AioRpcError as exc:
        raise Refusal("backend_unavailable", *answer, detail=exc.code().name) from None
    if reply.result != OK:
        raise refused_change(reply, *answer)
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
    await retried(lambda: stub.SetHotbar(request))
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
        (CliEquipItemRide.NAME, on_equip_ride),
        (CliEquipProjectile.NAME, on_equip_projectile),
    ]
    for name, handler in handlers:
        register(name, handler, states=IN_WORLD)
