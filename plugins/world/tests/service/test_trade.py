"""Player trades in the reference world service, over a real loopback grpc.aio server with the
two players on two gateway streams: request, accept, offers, ready, the two confirmations and
the execution handed to the last confirmer, TradeFinish's packets to both; refusals (oneself,
no such player, too far, busy, dead); an offer change after READY clears both readies; moving
apart, dying, leaving and a lost stream cancel; an executing trade whose executor's gateway is
lost is cancelled, and a late TradeFinish still shows what the exchange changed."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from gateway_protos.v1 import common_pb2, world_pb2
from gateway_world.service.trade import TRADE_RANGE

from gateway_core.api import (
    Packet,
    SrvSetItem,
    SrvSetMoney,
    SrvTrade,
    SrvTradeItem,
    TradeState,
)

from ..conftest import RawGateway, WorldHarness, pos

pytestmark = pytest.mark.anyio

PACKETS: dict[str, type[Packet]] = {
    cls.NAME: cls for cls in (SrvTrade, SrvTradeItem, SrvSetItem, SrvSetMoney)}
SWORD = 8 | 1 << 5
POTION = 10 | 1 << 5
WORN = 40 << 9 | 900 << 16


async def packet(gateway: RawGateway) -> Any:
    """The gateway's next game-action packet (spawns and other view events skipped)."""
    while True:
        event = await gateway.next()
        if event.WhichOneof("event") == "action":
            return PACKETS[event.action.packet_name].decode_payload(
                bytes(event.action.payload)).packet


async def states(gateway: RawGateway, count: int) -> list[tuple[int, int]]:
    """The next ``count`` PAKWC_TRADE packets as (state, target)."""
    out = []
    for _ in range(count):
        got = await packet(gateway)
        assert isinstance(got, SrvTrade), got
        out.append((int(got.state), got.target))
    return out


class Pair:
    """Two players, 1 on gateway one and 2 on gateway two, 100 units apart."""

    def __init__(self, world: WorldHarness, one: RawGateway, two: RawGateway, a: int,
                 b: int) -> None:
        self.world, self.one, self.two, self.a, self.b = world, one, two, a, b

    async def step(self, character_id: int, state: TradeState, target: int = 0,
                   index: int = 0) -> world_pb2.TradeReply:
        reply: world_pb2.TradeReply = await self.world.stub.Trade(world_pb2.TradeRequest(
            character_id=character_id, state=state, target_object_id=target, index=index))
        return reply

    async def offer(self, character_id: int, slot: int, count: int, inventory_slot: int = 0,
                    header: int = 0, data: int = 0) -> world_pb2.TradeReply:
        reply: world_pb2.TradeReply = await self.world.stub.TradeItem(world_pb2.TradeItemRequest(
            character_id=character_id, slot=slot, inventory_slot=inventory_slot,
            item=common_pb2.Item(header=header, data=data), count=count))
        return reply

    async def open(self) -> None:
        assert (await self.step(1, TradeState.REQUEST, self.b)).reason == ""
        assert await states(self.two, 1) == [(TradeState.REQUEST, self.a)]
        assert (await self.step(2, TradeState.ACCEPT, self.a)).reason == ""
        assert await states(self.one, 1) == [(TradeState.ACCEPT, self.b)]
        assert await states(self.two, 1) == [(TradeState.ACCEPT, self.a)]

    def check(self) -> None:
        self.world.service.servicer.trades.check()


@pytest.fixture
async def pair(world: WorldHarness) -> Pair:
    one, two = await world.connect("gw-one"), await world.connect("gw-two")
    a = await one.enter(1, 1000, 1000)
    b = await two.enter(2, 1100, 1000)
    return Pair(world, one, two, a, b)


async def test_a_trade_runs_from_request_to_done_across_two_gateways(pair: Pair) -> None:
    await pair.open()
    assert (await pair.offer(1, 0, 1, 12, SWORD, WORN)).reason == ""
    shown = await packet(pair.two)
    assert isinstance(shown, SrvTradeItem) and shown.slot == 0
    assert (int(shown.item.header), int(shown.item.data)) == (SWORD, WORN)
    assert (await pair.offer(1, 1, 3, 42, POTION, 10)).reason == ""
    shown = await packet(pair.two)
    assert (shown.slot, int(shown.item.header), int(shown.item.data)) == (1, POTION, 3)
    assert (await pair.offer(2, 10, 300)).reason == ""
    shown = await packet(pair.one)
    assert (shown.slot, int(shown.item.header) & 0x1F, int(shown.item.data)) == (10, 31, 300)
    assert (await pair.step(1, TradeState.DONE)).reason == "not_ready"
    await pair.step(1, TradeState.READY)
    assert await states(pair.two, 1) == [(TradeState.READY, pair.a)]
    await pair.step(2, TradeState.READY)
    assert await states(pair.one, 1) == [(TradeState.READY, pair.b)]
    first = await pair.step(1, TradeState.DONE)
    assert first.reason == "" and not first.HasField("execution")
    second = await pair.step(2, TradeState.DONE)
    execution = second.execution
    assert execution.trade_id.startswith("trade-") and len(execution.trade_id) <= 55
    assert execution.a.character_id == 1 and execution.b.character_id == 2
    assert [(g.inventory_slot, g.item.item_type, g.item.item_number, g.count)
            for g in execution.a.gives] == [(12, 8, 1, 1), (42, 10, 1, 3)]
    assert (execution.a.zuly, list(execution.b.gives), execution.b.zuly) == (0, [], 300)
    # Executing: nothing more may change.
    assert (await pair.step(1, TradeState.CANCEL)).reason == "executing"
    assert (await pair.offer(1, 2, 1, 13, SWORD)).reason == "no_trade"
    finished = await pair.world.stub.TradeFinish(world_pb2.TradeFinishRequest(
        trade_id=execution.trade_id, result="done", sides=[
            world_pb2.TradeSideResult(character_id=1, zuly=1300, changed=[
                world_pb2.TradeSlot(slot=12, item=common_pb2.Item()),
                world_pb2.TradeSlot(slot=42, item=common_pb2.Item(header=POTION, data=7))]),
            world_pb2.TradeSideResult(character_id=2, zuly=700, changed=[
                world_pb2.TradeSlot(slot=12, item=common_pb2.Item(header=SWORD, data=WORN))]),
        ]))
    assert finished.reason == ""
    assert await states(pair.one, 1) == [(TradeState.DONE, pair.b)]
    set_item = await packet(pair.one)
    assert [(i.index, int(i.item.header), int(i.item.data)) for i in set_item.items] == [
        (12, 0, 0), (42, POTION, 7)]
    assert (await packet(pair.one)).zuly == 1300
    assert await states(pair.two, 1) == [(TradeState.DONE, pair.a)]
    set_item = await packet(pair.two)
    assert [(i.index, int(i.item.header)) for i in set_item.items] == [(12, SWORD)]
    assert (await packet(pair.two)).zuly == 700
    again = await pair.world.stub.TradeFinish(world_pb2.TradeFinishRequest(
        trade_id=execution.trade_id, result="done"))
    assert again.reason == "unknown_trade"
    # Both are free again.
    assert (await pair.step(2, TradeState.REQUEST, pair.a)).reason == ""
    assert await states(pair.one, 1) == [(TradeState.REQUEST, pair.b)]
    stats = pair.world.service.servicer.trades.stats()
    assert (stats["opened"], stats["made"]) == (1, 1)


async def test_an_offer_change_after_ready_clears_both_readies(pair: Pair) -> None:
    await pair.open()
    await pair.offer(1, 0, 1, 12, SWORD, WORN)
    await packet(pair.two)
    await pair.step(1, TradeState.READY)
    await pair.step(2, TradeState.READY)
    assert await states(pair.two, 1) == [(TradeState.READY, pair.a)]
    assert await states(pair.one, 1) == [(TradeState.READY, pair.b)]
    await pair.step(1, TradeState.DONE)
    # The other adds zuly: both readies (and the confirmation) go, shown to both.
    assert (await pair.offer(2, 10, 50)).reason == ""
    assert await states(pair.one, 2) == [(TradeState.NOTREADY, pair.a),
                                         (TradeState.NOTREADY, pair.b)]
    assert (await packet(pair.one)).slot == 10
    assert await states(pair.two, 2) == [(TradeState.NOTREADY, pair.a),
                                         (TradeState.NOTREADY, pair.b)]
    assert (await pair.step(2, TradeState.DONE)).reason == "not_ready"
    await pair.step(1, TradeState.READY)
    await pair.step(2, TradeState.READY)
    await pair.step(2, TradeState.DONE)
    # NOTREADY takes a ready back and the other's confirmation with it.
    await pair.step(1, TradeState.NOTREADY)
    await pair.step(1, TradeState.READY)
    assert not (await pair.step(1, TradeState.DONE)).HasField("execution")
    assert (await pair.step(2, TradeState.DONE)).HasField("execution")


async def test_offers_are_checked(pair: Pair) -> None:
    assert (await pair.offer(1, 0, 1, 12, SWORD)).reason == "no_trade"
    await pair.open()
    assert (await pair.offer(1, 11, 1, 12, SWORD)).reason == "bad_slot"
    assert (await pair.offer(1, 0, 2, 12, SWORD)).reason == "bad_count"
    assert (await pair.offer(1, 0, 1, 0, SWORD)).reason == "bad_item"
    assert (await pair.offer(1, 0, 1, 140, SWORD)).reason == "bad_item"
    assert (await pair.offer(1, 0, 1, 12, 0)).reason == "bad_item"
    assert (await pair.offer(1, 0, 1, 12, SWORD)).reason == ""
    await packet(pair.two)
    assert (await pair.offer(1, 1, 1, 12, SWORD)).reason == "slot_offered"
    assert (await pair.offer(1, 0, 0)).reason == ""  # taken back
    shown = await packet(pair.two)
    assert (shown.slot, int(shown.item.header)) == (0, 0)
    assert (await pair.offer(1, 1, 1, 12, SWORD)).reason == ""


async def test_requests_are_refused_with_the_protocol_answer(
    world: WorldHarness, pair: Pair
) -> None:
    three = await world.connect("gw-three")
    far = await three.enter(3, 1000 + TRADE_RANGE + 100, 1000)
    near = await three.enter(4, 1050, 1050)
    assert (await pair.step(1, TradeState.REQUEST, pair.a)).reason == "invalid_target"
    assert (await pair.step(1, TradeState.REQUEST, 0x7777)).reason == "invalid_target"
    assert (await pair.step(1, TradeState.REQUEST, far)).reason == "too_far"
    assert await states(pair.one, 3) == [(TradeState.INVALID_TARGET, pair.a),
                                         (TradeState.INVALID_TARGET, 0x7777),
                                         (TradeState.TOO_FAR, far)]
    assert (await pair.step(2, TradeState.ACCEPT, pair.a)).reason == "no_trade"
    await pair.open()
    assert (await pair.step(4, TradeState.REQUEST, pair.a)).reason == "busy"
    assert (await pair.step(1, TradeState.REQUEST, near)).reason == "already_trading"
    assert await states(three, 1) == [(TradeState.BUSY, pair.a)]
    assert await states(pair.one, 1) == [(TradeState.BUSY, near)]
    await pair.step(2, TradeState.CANCEL)
    assert await states(pair.one, 1) == [(TradeState.CANCEL, pair.b)]
    fighter = world.service.state.characters[4].fighter
    assert fighter is not None
    fighter.dead = True
    assert (await pair.step(1, TradeState.REQUEST, near)).reason == "target_dead"
    # A request rejected: the asker is told, and both are free.
    await pair.step(1, TradeState.REQUEST, pair.b)
    await states(pair.one, 1)
    assert await states(pair.two, 1) == [(TradeState.REQUEST, pair.a)]
    assert (await pair.step(2, TradeState.ACCEPT, 0x7777)).reason == "no_request"
    assert (await pair.step(2, TradeState.REJECT, pair.a)).reason == ""
    assert await states(pair.one, 1) == [(TradeState.REJECT, pair.b)]
    assert (await pair.step(2, TradeState.READY)).reason == "no_trade"


async def test_moving_apart_cancels_the_trade(pair: Pair) -> None:
    await pair.open()
    await pair.two.ok(stop=world_pb2.StopMoving(
        character_id=2, position=pos(1000 + TRADE_RANGE - 50, 1000)))
    pair.check()
    assert (await pair.step(1, TradeState.READY)).reason == ""  # still in range
    await pair.two.ok(stop=world_pb2.StopMoving(
        character_id=2, position=pos(1000 + TRADE_RANGE + 50, 1000)))
    pair.check()
    assert await states(pair.one, 1) == [(TradeState.CANCEL, pair.b)]
    assert await states(pair.two, 2) == [(TradeState.READY, pair.a), (TradeState.CANCEL, pair.a)]
    assert (await pair.step(1, TradeState.READY)).reason == "no_trade"


async def test_dying_cancels_the_trade(world: WorldHarness, pair: Pair) -> None:
    await pair.open()
    fighter = world.service.state.characters[1].fighter
    assert fighter is not None
    fighter.dead = True
    pair.check()
    assert await states(pair.two, 1) == [(TradeState.CANCEL, pair.a)]


async def test_leaving_the_map_cancels_the_trade(pair: Pair) -> None:
    await pair.open()
    await pair.two.ok(leave=world_pb2.LeaveMap(character_id=2))
    pair.check()
    assert await states(pair.one, 1) == [(TradeState.CANCEL, pair.b)]
    assert (await pair.step(1, TradeState.REQUEST, pair.b)).reason == "invalid_target"


async def test_a_lost_gateway_stream_cancels_the_trade(world: WorldHarness, pair: Pair) -> None:
    await pair.open()
    pair.two.outbox.put_nowait(None)
    await pair.two.aclose()
    for _ in range(500):  # until the service has seen the stream end (bounded)
        if 2 not in world.service.state.characters:
            break
        await asyncio.sleep(0.01)
    assert 2 not in world.service.state.characters
    pair.check()
    assert await states(pair.one, 1) == [(TradeState.CANCEL, pair.b)]


async def test_an_executing_trade_is_cancelled_when_its_executor_leaves_and_a_late_finish_shows(
    world: WorldHarness, pair: Pair
) -> None:
    await pair.open()
    await pair.offer(1, 10, 5)
    await packet(pair.two)
    for cid in (1, 2):
        await pair.step(cid, TradeState.READY)
    await states(pair.one, 1)
    await states(pair.two, 1)
    await pair.step(1, TradeState.DONE)
    execution = (await pair.step(2, TradeState.DONE)).execution
    # Moving apart no longer matters once executing.
    await pair.one.ok(stop=world_pb2.StopMoving(character_id=1, position=pos(9000, 9000)))
    pair.check()
    # The executing gateway is killed: its character leaves with its stream.
    await pair.two.ok(leave=world_pb2.LeaveMap(character_id=2))
    pair.check()
    assert await states(pair.one, 1) == [(TradeState.CANCEL, pair.b)]
    late = await world.stub.TradeFinish(world_pb2.TradeFinishRequest(
        trade_id=execution.trade_id, result="done", sides=[
            world_pb2.TradeSideResult(character_id=1, zuly=995),
            world_pb2.TradeSideResult(character_id=2, zuly=1005)]))
    assert late.reason == "cancelled"
    assert (await packet(pair.one)).zuly == 995


async def test_a_refused_exchange_tells_both_and_ends_the_trade(pair: Pair) -> None:
    await pair.open()
    await pair.offer(1, 0, 1, 12, SWORD)
    await packet(pair.two)
    for cid in (1, 2):
        await pair.step(cid, TradeState.READY)
    await states(pair.one, 1)
    await states(pair.two, 1)
    await pair.step(2, TradeState.DONE)
    execution = (await pair.step(1, TradeState.DONE)).execution
    finished = await pair.world.stub.TradeFinish(world_pb2.TradeFinishRequest(
        trade_id=execution.trade_id, result="no_room", failed_character_id=2))
    assert finished.reason == ""
    for gateway, other in ((pair.one, pair.b), (pair.two, pair.a)):
        assert await states(gateway, 2) == [(TradeState.NO_SPACE, pair.b),
                                            (TradeState.CANCEL, other)]
    assert (await pair.step(1, TradeState.READY)).reason == "no_trade"
    bad = pair.world.stub.TradeFinish(world_pb2.TradeFinishRequest(trade_id="x", result="?"))
    with pytest.raises(grpc.aio.AioRpcError):
        await bad
