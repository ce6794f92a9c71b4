"""Player trades, the gateway's side (in the world only): PAKCS_TRADE and PAKCS_TRADE_ITEM.

Strategy: the trade itself is the world service's (``Trade``, ``TradeItem``, ``TradeFinish``):
it knows both players wherever their gateways are, and shows both clients every step as
prebuilt packets (PAKWC_TRADE, PAKWC_TRADE_ITEM), so these handlers answer the client nothing
themselves. They check what the player offers against the session's inventory view (an item
held in that bag slot, that many of a stack, that much zuly; an empty or short slot is looked
up once more in a fresh load first) and pass the step on. When the world's reply to a DONE
carries the execution (this was the second confirmation), this gateway makes the exchange:
one ``Exchange`` of the character service with the trade id as its request id (retried once
with it when the call itself failed, which the service answers without applying twice), then
``TradeFinish`` with the outcome, on which the world tells both clients DONE (or why not) and
sends each its changed slots (PAKWC_SET_ITEM) and zuly (PAKWC_SET_MONEY).

Views: the executing session's view takes in its side of the outcome, and so does the other
side's when this gateway hosts it too. A side confirming on a gateway that does not execute
drops its view (its inventory is about to change through another gateway; the next item
request reloads it). A gateway killed between the Exchange and TradeFinish loses only the
report: the world cancels the executing trade when the executing character leaves, and the
exchange was made once or not at all; the clients learn their inventory at their next join.

Decisions: only bag slots (12 to 131) may be offered (not worn equipment, ammunition or riding
parts in use); trade slot 10 is zuly (PAKCS_TRADE_ITEM's ``amount``, ``index`` unused); an
``amount`` of 0 takes a slot's offer back. A refused offer is not shown to the other side and
is not exchanged (the exchange takes what the world holds, which is what the other side saw).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import grpc
from gateway_protos.v1 import character_pb2, common_pb2, world_pb2

from gateway_core.api import (
    SELECTED_CHARACTER,
    CliTrade,
    CliTradeItem,
    SessionState,
    TradeState,
)
from gateway_items import rules
from gateway_items.handlers import (
    IN_WORLD,
    OK,
    RESULT_REASON,
    STALE_VIEW,
    Ctx,
    Refusal,
    character_id,
    guarded,
    holding,
    item_ref,
    load_state,
    retried,
)
from gateway_items.runtime import CHARACTER, STATE, ItemsState, world_of

if TYPE_CHECKING:
    from gateway_core.api import PacketRegistrar

log = logging.getLogger(__name__)

#: Item slots of the trade window (0 to 9); slot 10 is zuly.
TRADE_ITEM_SLOTS: Final = 10
ZULY_SLOT: Final = 10


@guarded
async def on_trade(ctx: Ctx, packet: CliTrade) -> None:
    """PAKCS_TRADE: one step of a trade, taken by the world; the second DONE executes it."""
    cid = character_id(ctx)
    state = int(packet.state)
    reply: world_pb2.TradeReply = await world_of(ctx).Trade(world_pb2.TradeRequest(
        character_id=cid, state=state, target_object_id=packet.target, index=packet.index))
    if reply.reason:
        raise Refusal(f"trade_{reply.reason}", detail=f"state {state}")
    if reply.HasField("execution"):
        await execute(ctx, reply.execution)
    elif state == TradeState.DONE:
        # The other side's gateway makes the exchange: this view will be stale.
        ctx.session.plugin_data.pop(STATE)


async def _offered(ctx: Ctx, slot: int, amount: int) -> tuple[rules.SlotItem, int]:
    """The item of bag ``slot`` and how many of it ``amount`` offers (1 of an equipment item),
    when the view holds that many (an empty or short slot is looked up once more first)."""
    _, item = await holding(ctx, slot)
    count = amount if rules.is_stackable(item.item_type) else 1
    if not item.empty and item.count < count:
        ctx.session.plugin_data.pop(STATE)
        item = (await load_state(ctx)).inventory[slot]
        count = amount if rules.is_stackable(item.item_type) else 1
    if item.empty or item.count < count:
        raise Refusal("not_held", detail=f"slot {slot} holds {item.count}, not {count}")
    return item, count


@guarded
async def on_trade_item(ctx: Ctx, packet: CliTradeItem) -> None:
    """PAKCS_TRADE_ITEM: trade slot ``slot`` offers ``amount`` of bag slot ``index`` (slot 10:
    ``amount`` zuly; an amount of 0 takes the offer back)."""
    cid = character_id(ctx)
    slot, amount = packet.slot, packet.amount
    request = world_pb2.TradeItemRequest(character_id=cid, slot=slot, count=amount)
    if slot == ZULY_SLOT:
        if amount:
            state = await load_state(ctx)
            if state.zuly < amount:
                ctx.session.plugin_data.pop(STATE)
                state = await load_state(ctx)
            if state.zuly < amount:
                raise Refusal("no_zuly", detail=f"has {state.zuly}, offers {amount}")
    elif slot < TRADE_ITEM_SLOTS:
        if amount:
            if packet.index not in rules.BAG_SLOTS:
                raise Refusal("bad_slot", detail=f"inventory slot {packet.index}")
            item, count = await _offered(ctx, packet.index, amount)
            request.inventory_slot = packet.index
            request.item.CopyFrom(common_pb2.Item(header=item.header, data=item.data))
            request.count = count
    else:
        raise Refusal("bad_slot", detail=f"trade slot {slot}")
    reply: world_pb2.TradeReply = await world_of(ctx).TradeItem(request)
    if reply.reason:
        raise Refusal(f"trade_{reply.reason}", detail=f"trade slot {slot}")


def _exchange_side(side: world_pb2.TradeSide) -> character_pb2.ExchangeSide:
    return character_pb2.ExchangeSide(
        character_id=side.character_id,
        gives=[character_pb2.RemoveItem(
            slot=give.inventory_slot, item=item_ref(give.item.item_type, give.item.item_number),
            count=give.count) for give in side.gives],
        zuly=side.zuly)


def _take_in(state: ItemsState | None, outcome: character_pb2.ExchangeOutcome) -> None:
    if state is not None and state.character_id == outcome.character_id:
        state.set_slots(outcome.changed)
        state.zuly = outcome.zuly
        state.weight = outcome.weight


async def execute(ctx: Ctx, execution: world_pb2.TradeExecution) -> None:
    """Make the exchange both sides confirmed, then report it to the world (see the module)."""
    own = character_id(ctx)
    request = character_pb2.ExchangeRequest(
        request_id=execution.trade_id, a=_exchange_side(execution.a),
        b=_exchange_side(execution.b))
    stub = ctx.clients[CHARACTER]
    try:
        reply: character_pb2.ExchangeReply = await retried(lambda: stub.Exchange(request))
    except grpc.aio.AioRpcError as exc:
        # The exchange may or may not have been made: the world cancels the trade, the views
        # reload, the clients see their stored inventory at the next join.
        ctx.session.plugin_data.pop(STATE)
        await _finish(ctx, world_pb2.TradeFinishRequest(trade_id=execution.trade_id,
                                                        result="failed"))
        raise Refusal("backend_unavailable", detail=f"Exchange: {exc.code().name}") from None
    if reply.result == OK:
        for outcome in (reply.a, reply.b):
            if outcome.character_id == own:
                _take_in(ctx.session.plugin_data.get(STATE), outcome)
            else:
                _other_session_takes_in(ctx, outcome)
        await _finish(ctx, world_pb2.TradeFinishRequest(
            trade_id=execution.trade_id, result="done", sides=[
                world_pb2.TradeSideResult(
                    character_id=outcome.character_id, zuly=outcome.zuly,
                    changed=[world_pb2.TradeSlot(slot=s.slot, item=s.item)
                             for s in outcome.changed])
                for outcome in (reply.a, reply.b)]))
        log.info("items: trade %s made by connection #%d%s", execution.trade_id,
                 ctx.session.connection_id, " (replayed)" if reply.replayed else "")
        return
    reason = RESULT_REASON.get(reply.result, "refused")
    if reply.result in STALE_VIEW:
        ctx.session.plugin_data.pop(STATE)
    await _finish(ctx, world_pb2.TradeFinishRequest(
        trade_id=execution.trade_id, result=reason if reason != "refused" else "failed",
        failed_character_id=reply.failed_character_id))
    raise Refusal(f"trade_{reason}", detail=reply.message)


def _other_session_takes_in(ctx: Ctx, outcome: character_pb2.ExchangeOutcome) -> None:
    """The other side's view takes in its side too when this gateway hosts it."""
    for session in ctx.connections:
        selected = session.records.get(SELECTED_CHARACTER)
        if (selected is not None and selected.character_id == outcome.character_id
                and session.state is SessionState.IN_WORLD):
            _take_in(session.plugin_data.get(STATE), outcome)


async def _finish(ctx: Ctx, request: world_pb2.TradeFinishRequest) -> None:
    """Report the exchange to the world (retried once); a report that is lost is counted."""
    world = world_of(ctx)
    try:
        reply: world_pb2.TradeFinishReply = await retried(lambda: world.TradeFinish(request))
    except grpc.aio.AioRpcError as exc:
        ctx.runtime.refuse(ctx.session, "trade_unreported",
                           f"{request.trade_id} {request.result}: {exc.code().name}")
        return
    if reply.reason:
        log.warning("items: trade %s finished late (%s)", request.trade_id, reply.reason)


def register_packets(register: PacketRegistrar) -> None:
    """The trade packets, in the world only."""
    handlers: list[tuple[str, Callable[..., Any]]] = [
        (CliTrade.NAME, on_trade),
        (CliTradeItem.NAME, on_trade_item),
    ]
    for name, handler in handlers:
        register(name, handler, states=IN_WORLD)
