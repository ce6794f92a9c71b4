"""The trade handlers against recording fakes of the character and world services: what an
offer is checked against and passes on, the exchange the second confirmation makes (one retry
with the same request id), what the world is told of its outcome, and the counted refusals."""

from __future__ import annotations

import pytest
from gateway_items import trade
from gateway_items.runtime import STATE
from gateway_protos.v1 import character_pb2, common_pb2, world_pb2

from gateway_core.api import CliTrade, CliTradeItem, TradeState

from .test_handlers import (
    CHARACTER_ID,
    SWORD,
    Harness,
    anyio_backend,
    content,
    harness,
    item,
    unavailable,
)

__all__ = ["anyio_backend", "content", "harness"]

pytestmark = pytest.mark.anyio

OTHER_ID = 9
TRADE_ID = "trade-0123"


@pytest.fixture
def h(harness: Harness) -> Harness:
    harness.ctx.connections = []
    harness.backend.answers["Trade"] = lambda r: world_pb2.TradeReply()
    harness.backend.answers["TradeItem"] = lambda r: world_pb2.TradeReply()
    harness.backend.answers["TradeFinish"] = lambda r: world_pb2.TradeFinishReply()
    return harness


def execution() -> world_pb2.TradeExecution:
    return world_pb2.TradeExecution(
        trade_id=TRADE_ID,
        a=world_pb2.TradeSide(character_id=CHARACTER_ID, gives=[world_pb2.TradeGive(
            inventory_slot=14, item=common_pb2.ItemRef(item_type=8, item_number=3), count=1)]),
        b=world_pb2.TradeSide(character_id=OTHER_ID, zuly=40))


def exchanged(request: character_pb2.ExchangeRequest) -> character_pb2.ExchangeReply:
    return character_pb2.ExchangeReply(
        a=character_pb2.ExchangeOutcome(character_id=CHARACTER_ID, zuly=140, weight=5, changed=[
            character_pb2.SlotItem(slot=14, item=common_pb2.Item())]),
        b=character_pb2.ExchangeOutcome(character_id=OTHER_ID, zuly=60, changed=[
            character_pb2.SlotItem(slot=12, item=item(SWORD, 0))]))


async def test_an_item_offer_is_checked_and_passed_on(h: Harness) -> None:
    await trade.on_trade_item(h.ctx, CliTradeItem(slot=0, index=14, amount=3))
    (offer,) = h.backend.named("TradeItem")
    assert (offer.character_id, offer.slot, offer.inventory_slot, offer.count) == (
        CHARACTER_ID, 0, 14, 1)
    assert offer.item == item(SWORD, 0)
    await trade.on_trade_item(h.ctx, CliTradeItem(slot=1, index=13, amount=2))
    assert h.backend.named("TradeItem")[1].count == 2
    await trade.on_trade_item(h.ctx, CliTradeItem(slot=1, index=0, amount=0))  # taken back
    assert h.backend.named("TradeItem")[2].count == 0
    await trade.on_trade_item(h.ctx, CliTradeItem(slot=10, index=0, amount=100))
    assert h.backend.named("TradeItem")[3].count == 100


@pytest.mark.parametrize(("packet", "reason"), [
    (CliTradeItem(slot=0, index=13, amount=6), "not_held"),     # 5 stuffing held
    (CliTradeItem(slot=0, index=30, amount=1), "not_held"),     # an empty slot
    (CliTradeItem(slot=0, index=7, amount=1), "bad_slot"),      # worn
    (CliTradeItem(slot=11, index=14, amount=1), "bad_slot"),
    (CliTradeItem(slot=10, index=0, amount=101), "no_zuly"),    # 100 held
])
async def test_an_offer_of_what_is_not_held_is_refused(h: Harness, packet: CliTradeItem,
                                                       reason: str) -> None:
    await trade.on_trade_item(h.ctx, packet)
    assert not h.backend.named("TradeItem") and h.refused(reason) == 1
    if reason != "bad_slot":  # looked up once more before the refusal
        assert len(h.backend.named("GetCharacter")) == 2


async def test_a_step_the_world_refuses_is_counted(h: Harness) -> None:
    h.backend.answers["Trade"] = lambda r: world_pb2.TradeReply(reason="busy")
    await trade.on_trade(h.ctx, CliTrade(state=TradeState.REQUEST, target=5, index=0))
    (step,) = h.backend.named("Trade")
    assert (step.character_id, step.state, step.target_object_id) == (CHARACTER_ID, 0, 5)
    assert h.refused("trade_busy") == 1 and not h.replies


async def test_a_confirmation_the_other_gateway_executes_drops_the_view(h: Harness) -> None:
    await trade.on_trade_item(h.ctx, CliTradeItem(slot=10, index=0, amount=10))
    assert h.ctx.session.plugin_data.get(STATE) is not None
    await trade.on_trade(h.ctx, CliTrade(state=TradeState.DONE, target=0, index=0))
    assert h.ctx.session.plugin_data.get(STATE) is None and not h.backend.named("Exchange")


async def test_the_second_confirmation_makes_the_exchange_and_reports_it(h: Harness) -> None:
    await trade.on_trade_item(h.ctx, CliTradeItem(slot=0, index=14, amount=1))
    h.backend.answers["Trade"] = lambda r: world_pb2.TradeReply(execution=execution())
    answers = iter([unavailable(), None])
    h.backend.answers["Exchange"] = lambda r: next(answers) or exchanged(r)
    await trade.on_trade(h.ctx, CliTrade(state=TradeState.DONE, target=0, index=0))
    first, retry = h.backend.named("Exchange")
    assert first == retry and first.request_id == TRADE_ID
    assert (first.a.character_id, first.b.character_id, first.b.zuly) == (
        CHARACTER_ID, OTHER_ID, 40)
    assert [(g.slot, g.item.item_type, g.item.item_number, g.count) for g in first.a.gives] == [
        (14, 8, 3, 1)]
    (finish,) = h.backend.named("TradeFinish")
    assert (finish.trade_id, finish.result) == (TRADE_ID, "done")
    assert [(s.character_id, s.zuly, [c.slot for c in s.changed]) for s in finish.sides] == [
        (CHARACTER_ID, 140, [14]), (OTHER_ID, 60, [12])]
    view = h.ctx.session.plugin_data.get(STATE)
    assert view.zuly == 140 and view.inventory[14].empty and view.weight == 5
    assert not h.replies  # the world sends the packets


@pytest.mark.parametrize(("result", "reason"), [
    (character_pb2.ITEM_RESULT_NO_ROOM, "no_room"),
    (character_pb2.ITEM_RESULT_NOT_HELD, "not_held"),
])
async def test_a_refused_exchange_is_reported_and_counted(h: Harness, result: int,
                                                          reason: str) -> None:
    h.backend.answers["Trade"] = lambda r: world_pb2.TradeReply(execution=execution())
    h.backend.answers["Exchange"] = lambda r: character_pb2.ExchangeReply(
        result=result, failed_character_id=OTHER_ID, message="no")  # type: ignore[arg-type]
    await trade.on_trade(h.ctx, CliTrade(state=TradeState.DONE, target=0, index=0))
    (finish,) = h.backend.named("TradeFinish")
    assert (finish.result, finish.failed_character_id) == (reason, OTHER_ID)
    assert h.refused(f"trade_{reason}") == 1


async def test_an_exchange_that_cannot_be_reached_is_reported_failed(h: Harness) -> None:
    await trade.on_trade_item(h.ctx, CliTradeItem(slot=10, index=0, amount=10))
    h.backend.answers["Trade"] = lambda r: world_pb2.TradeReply(execution=execution())
    h.backend.answers["Exchange"] = lambda r: unavailable()
    await trade.on_trade(h.ctx, CliTrade(state=TradeState.DONE, target=0, index=0))
    assert len(h.backend.named("Exchange")) == 2
    (finish,) = h.backend.named("TradeFinish")
    assert finish.result == "failed"
    assert h.ctx.session.plugin_data.get(STATE) is None
    assert h.refused("backend_unavailable") == 1


async def test_a_lost_report_is_counted(h: Harness) -> None:
    h.backend.answers["Trade"] = lambda r: world_pb2.TradeReply(execution=execution())
    h.backend.answers["Exchange"] = exchanged
    h.backend.answers["TradeFinish"] = lambda r: unavailable()
    await trade.on_trade(h.ctx, CliTrade(state=TradeState.DONE, target=0, index=0))
    assert len(h.backend.named("TradeFinish")) == 2
    assert h.refused("trade_unreported") == 1

