"""Player-to-player trades: PAKCS_TRADE's steps and PAKCS_TRADE_ITEM's offers, kept by the world
service, which knows both players wherever their gateways are, where they stand, whether they
live and when they leave.

Strategy: a trade is two sides (the requester ``a`` and the target ``b``) going through
``requested`` (the target was asked), ``open`` (both have the window; offers, ready, done) and
``executing`` (both confirmed: the gateway of the last to confirm was handed both offers with
a fresh trade id, makes the exchange with the character service's ``Exchange`` under that id,
and reports the outcome with ``TradeFinish``). Every packet of it reaches the clients as a
prebuilt game action delivered through the players' gateway streams (``PAKWC_TRADE``,
``PAKWC_TRADE_ITEM``; at the end ``PAKWC_SET_ITEM`` and ``PAKWC_SET_MONEY`` with what the
exchange changed). A trade holds only offers: the inventory is the character service's, which
checks everything again in the exchange's one transaction.

A trade that can no longer be made is cancelled (both told ``CANCEL``) by :meth:`Trades.check`,
run at each service tick and before each trade request: a side that left its map (logout,
disconnect, a change of map or a reload), died, or is farther than :data:`TRADE_RANGE` from
the other. Once executing, only the executing character's leaving (its gateway died) or
:data:`EXECUTION_SECONDS` without a ``TradeFinish`` cancels it: the exchange may have been made
or not (it is one idempotent transaction, so never half or twice); the trade is then kept for
:data:`ORPHAN_SECONDS`, and a late ``TradeFinish`` of it still sends each present side the
slots and zuly the exchange gave it. Otherwise a client learns its real inventory at its next
reload (world join).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from typing import Final

import grpc
from gateway_protos.v1 import common_pb2, world_pb2

from gateway_core.api import (
    IndexAndItem,
    Item,
    ItemData,
    ItemHeader,
    Packet,
    ServiceError,
    SrvSetItem,
    SrvSetMoney,
    SrvTrade,
    SrvTradeItem,
    TradeState,
)
from gateway_world.service.combat import ZULY_ITEM_TYPE
from gateway_world.service.entities import PLAYER, Entity
from gateway_world.service.state import WorldState

#: How far apart (map units) two characters may be to trade (the NPC store's range): a
#: request farther is answered TOO_FAR, an open trade whose sides walk apart is cancelled.
TRADE_RANGE: Final = 1000.0
#: Item slots of the trade window (0 to 9); slot :data:`ZULY_SLOT` offers zuly.
TRADE_ITEM_SLOTS: Final = 10
ZULY_SLOT: Final = 10
#: Seconds an executing trade waits for its TradeFinish before it is cancelled.
EXECUTION_SECONDS: Final = 30.0
#: Seconds a cancelled executing trade's id is still taken by a late TradeFinish.
ORPHAN_SECONDS: Final = 60.0
#: Item types counted by their data word (the offer's count is the shown data).
STACKABLE_TYPES: Final = frozenset({10, 11, 12, 13})
#: Inventory slots (1 to 139; 0 is unused).
INVENTORY_SLOTS: Final = 140
#: Exchange results TradeFinish reports (besides `done`).
RESULTS: Final = frozenset({"done", "no_room", "not_held", "no_zuly", "too_much_zuly",
                            "bad_slot", "unknown_item", "failed"})

REQUESTED, OPEN, EXECUTING = "requested", "open", "executing"


@dataclass(frozen=True, slots=True)
class Offer:
    """An item offered in one trade slot: from which inventory slot, what the client shows."""

    inventory_slot: int
    header: int
    data: int
    count: int

    @property
    def item_type(self) -> int:
        return self.header & 0x1F

    @property
    def item_number(self) -> int:
        return (self.header >> 5) & 0x3FF


@dataclass(eq=False, slots=True)
class Side:
    """One side of a trade: its character (the entity when the trade began), offers, state."""

    entity: Entity
    offers: dict[int, Offer] = field(default_factory=dict)
    zuly: int = 0
    ready: bool = False
    done: bool = False

    @property
    def character_id(self) -> int:
        return self.entity.character_id


@dataclass(eq=False, slots=True)
class Trade:
    """A trade between the requester ``a`` and the target ``b``."""

    a: Side
    b: Side
    status: str = REQUESTED
    trade_id: str = ""
    #: The character whose gateway makes the exchange, and since when.
    executor: int = 0
    started: float = 0.0

    def side(self, character_id: int) -> Side:
        return self.a if self.a.character_id == character_id else self.b

    def other(self, character_id: int) -> Side:
        return self.b if self.a.character_id == character_id else self.a


def _item(header: int, data: int) -> Item:
    return Item(ItemHeader(header), ItemData(data))


class Trades:
    """The trades of one :class:`WorldState` (see the module)."""

    def __init__(self, state: WorldState) -> None:
        self.state = state
        self._by_character: dict[int, Trade] = {}
        self._executing: dict[str, Trade] = {}
        self._orphans: dict[str, tuple[Trade, float]] = {}
        #: Trades opened (accepted), made (exchange done), cancelled.
        self.opened = 0
        self.made = 0
        self.cancelled = 0

    # -- helpers ---------------------------------------------------------------------------

    def _character(self, character_id: int) -> Entity:
        entity = self.state.characters.get(character_id)
        if entity is None:
            raise ServiceError(grpc.StatusCode.NOT_FOUND,
                               f"character {character_id} is not on any map")
        return entity

    def _present(self, side: Side) -> bool:
        """The side's character is still the one on the map that began the trade."""
        return self.state.characters.get(side.character_id) is side.entity

    def _tell(self, entity: Entity, packet: Packet) -> None:
        self.state.send([entity], "action", world_pb2.GameActionDelivery(
            packet_name=packet.NAME, payload=packet.encode_payload()), entity.object_id)

    def _tell_state(self, side: Side, state: TradeState, about: Side, index: int = 0) -> None:
        if self._present(side):
            self._tell(side.entity, SrvTrade(state=state, target=about.entity.object_id,
                                             index=index))

    def _close(self, trade: Trade) -> None:
        for side in (trade.a, trade.b):
            if self._by_character.get(side.character_id) is trade:
                del self._by_character[side.character_id]
        if trade.trade_id:
            self._executing.pop(trade.trade_id, None)

    def _cancel(self, trade: Trade) -> None:
        """End a trade that cannot go on: both sides still there are told CANCEL."""
        self._close(trade)
        self.cancelled += 1
        self._tell_state(trade.a, TradeState.CANCEL, trade.b)
        self._tell_state(trade.b, TradeState.CANCEL, trade.a)
        if trade.status == EXECUTING:
            self._orphans[trade.trade_id] = (trade, self.state.clock())

    def _distance(self, one: Entity, two: Entity) -> float:
        now = self.state.clock()
        one.advance(now)
        two.advance(now)
        return math.hypot(one.x - two.x, one.y - two.y)

    def _fit(self, side: Side) -> bool:
        entity = side.entity
        return (self._present(side) and entity.ready
                and (entity.fighter is None or not entity.fighter.dead))

    def check(self) -> None:
        """Cancel every trade that can no longer be made (see the module)."""
        now = self.state.clock()
        for trade in list({id(t): t for t in self._by_character.values()}.values()):
            if trade.status == EXECUTING:
                executor = trade.side(trade.executor)
                if not self._present(executor) or now - trade.started > EXECUTION_SECONDS:
                    self._cancel(trade)
                continue
            a, b = trade.a.entity, trade.b.entity
            if (not self._fit(trade.a) or not self._fit(trade.b)
                    or (a.channel_id, a.map_id) != (b.channel_id, b.map_id)
                    or self._distance(a, b) > TRADE_RANGE):
                self._cancel(trade)
        for trade_id in [t for t, (_, at) in self._orphans.items() if now - at > ORPHAN_SECONDS]:
            del self._orphans[trade_id]

    def _clear_readies(self, trade: Trade) -> None:
        """An offer changed: both readies (and confirmations) are cleared; each client is told
        of every side whose ready it had (NOTREADY naming that side's object)."""
        for side in (trade.a, trade.b):
            if side.ready or side.done:
                self._tell_state(trade.a, TradeState.NOTREADY, side)
                self._tell_state(trade.b, TradeState.NOTREADY, side)
            side.ready = side.done = False

    # -- PAKCS_TRADE -----------------------------------------------------------------------

    def trade(self, request: world_pb2.TradeRequest) -> world_pb2.TradeReply:
        """One PAKCS_TRADE step of a character (``state`` its TradeState)."""
        me = self._character(request.character_id)
        self.check()
        state = request.state
        if state == TradeState.REQUEST:
            return self._request(me, request.target_object_id)
        trade = self._by_character.get(me.character_id)
        if trade is None:
            return world_pb2.TradeReply(reason="no_trade")
        mine, theirs = trade.side(me.character_id), trade.other(me.character_id)
        if state in (TradeState.ACCEPT, TradeState.REJECT):
            if (trade.status != REQUESTED or mine is not trade.b
                    or theirs.entity.object_id != request.target_object_id):
                return world_pb2.TradeReply(reason="no_request")
            if state == TradeState.REJECT:
                self._close(trade)
                self._tell_state(theirs, TradeState.REJECT, mine)
                return world_pb2.TradeReply()
            trade.status = OPEN
            self.opened += 1
            self._tell_state(theirs, TradeState.ACCEPT, mine)
            self._tell_state(mine, TradeState.ACCEPT, theirs)
            return world_pb2.TradeReply()
        if state == TradeState.CANCEL:
            if trade.status == EXECUTING:
                return world_pb2.TradeReply(reason="executing")
            self._close(trade)
            self.cancelled += 1
            self._tell_state(theirs, TradeState.CANCEL, mine)
            return world_pb2.TradeReply()
        if trade.status != OPEN:
            return world_pb2.TradeReply(reason="not_open")
        if state == TradeState.READY:
            mine.ready = True
            self._tell_state(theirs, TradeState.READY, mine)
        elif state == TradeState.NOTREADY:
            mine.ready = mine.done = False
            theirs.done = False
            self._tell_state(theirs, TradeState.NOTREADY, mine)
        elif state == TradeState.DONE:
            if not (mine.ready and theirs.ready):
                return world_pb2.TradeReply(reason="not_ready")
            mine.done = True
            if theirs.done:
                return world_pb2.TradeReply(execution=self._execute(trade, me.character_id))
        elif state == TradeState.NO_SPACE:
            # The client has no room for what the other put in trade slot `index`.
            self._tell_state(theirs, TradeState.NO_SPACE, mine, min(request.index, 0xFF))
        else:
            return world_pb2.TradeReply(reason="bad_state")
        return world_pb2.TradeReply()

    def _request(self, me: Entity, target_object_id: int) -> world_pb2.TradeReply:
        def answer(state: TradeState, reason: str) -> world_pb2.TradeReply:
            self._tell(me, SrvTrade(state=state, target=target_object_id & 0xFFFF, index=0))
            return world_pb2.TradeReply(reason=reason)

        if me.fighter is not None and me.fighter.dead:
            return answer(TradeState.INVALID_TARGET, "dead")
        if me.character_id in self._by_character:
            return answer(TradeState.BUSY, "already_trading")
        target = (self.state.instance_of(me).objects.get(target_object_id)
                  if me.ready else None)
        if (target is None or target is me or target.kind != PLAYER or not target.ready
                or target.gateway is None):
            return answer(TradeState.INVALID_TARGET, "invalid_target")
        if target.fighter is not None and target.fighter.dead:
            return answer(TradeState.INVALID_TARGET, "target_dead")
        if self._distance(me, target) > TRADE_RANGE:
            return answer(TradeState.TOO_FAR, "too_far")
        if target.character_id in self._by_character:
            return answer(TradeState.BUSY, "busy")
        trade = Trade(Side(me), Side(target))
        self._by_character[me.character_id] = trade
        self._by_character[target.character_id] = trade
        self._tell(target, SrvTrade(state=TradeState.REQUEST, target=me.object_id, index=0))
        return world_pb2.TradeReply()

    def _execute(self, trade: Trade, executor: int) -> world_pb2.TradeExecution:
        trade.status = EXECUTING
        trade.trade_id = f"trade-{uuid.uuid4().hex}"
        trade.executor = executor
        trade.started = self.state.clock()
        self._executing[trade.trade_id] = trade

        def side(s: Side) -> world_pb2.TradeSide:
            return world_pb2.TradeSide(
                character_id=s.character_id,
                gives=[world_pb2.TradeGive(
                    inventory_slot=o.inventory_slot,
                    item=common_pb2.ItemRef(item_type=o.item_type, item_number=o.item_number),
                    count=o.count) for _, o in sorted(s.offers.items())],
                zuly=s.zuly,
            )

        return world_pb2.TradeExecution(trade_id=trade.trade_id, a=side(trade.a),
                                        b=side(trade.b))

    # -- PAKCS_TRADE_ITEM ------------------------------------------------------------------

    def trade_item(self, request: world_pb2.TradeItemRequest) -> world_pb2.TradeReply:
        """Put an item (count 0: nothing) into trade slot ``slot`` of the character's offer, or
        zuly into slot 10; the other side sees it, and both readies are cleared."""
        me = self._character(request.character_id)
        self.check()
        trade = self._by_character.get(me.character_id)
        if trade is None or trade.status != OPEN:
            return world_pb2.TradeReply(reason="no_trade")
        mine, theirs = trade.side(me.character_id), trade.other(me.character_id)
        slot, count = request.slot, request.count
        if slot == ZULY_SLOT:
            mine.zuly = count
            shown = _item(ZULY_ITEM_TYPE, count) if count else Item()
        elif slot < TRADE_ITEM_SLOTS:
            if count == 0:
                mine.offers.pop(slot, None)
                shown = Item()
            else:
                header, data = request.item.header, request.item.data
                kind = header & 0x1F
                if not 0 < request.inventory_slot < INVENTORY_SLOTS or not 0 < header <= 0xFFFF:
                    return world_pb2.TradeReply(reason="bad_item")
                if kind not in STACKABLE_TYPES and count != 1:
                    return world_pb2.TradeReply(reason="bad_count")
                if any(o.inventory_slot == request.inventory_slot
                       for s, o in mine.offers.items() if s != slot):
                    return world_pb2.TradeReply(reason="slot_offered")
                if kind in STACKABLE_TYPES:
                    data = count
                mine.offers[slot] = Offer(request.inventory_slot, header, data, count)
                shown = _item(header, data)
        else:
            return world_pb2.TradeReply(reason="bad_slot")
        self._clear_readies(trade)
        if self._present(theirs):
            self._tell(theirs.entity, SrvTradeItem(slot=slot, item=shown))
        return world_pb2.TradeReply()

    # -- the end ---------------------------------------------------------------------------

    def finish(self, request: world_pb2.TradeFinishRequest) -> world_pb2.TradeFinishReply:
        """The executing gateway's report of the exchange: both sides are told (DONE, or why
        not) and sent what it changed of theirs."""
        if request.result not in RESULTS:
            raise ServiceError(grpc.StatusCode.INVALID_ARGUMENT,
                               f"unknown result {request.result!r}")
        trade = self._executing.pop(request.trade_id, None)
        if trade is None:
            orphan = self._orphans.pop(request.trade_id, None)
            if orphan is None:
                return world_pb2.TradeFinishReply(reason="unknown_trade")
            # Cancelled while executing: the clients were told CANCEL; what the exchange did
            # still reaches them.
            if request.result == "done":
                self.made += 1
                self._show_changes(orphan[0], request)
            return world_pb2.TradeFinishReply(reason="cancelled")
        self._close(trade)
        if request.result == "done":
            self.made += 1
            self._tell_state(trade.a, TradeState.DONE, trade.b)
            self._tell_state(trade.b, TradeState.DONE, trade.a)
            self._show_changes(trade, request)
            return world_pb2.TradeFinishReply()
        self.cancelled += 1
        if request.result == "no_room":
            failed = trade.side(request.failed_character_id)
            self._tell_state(trade.a, TradeState.NO_SPACE, failed)
            self._tell_state(trade.b, TradeState.NO_SPACE, failed)
        self._tell_state(trade.a, TradeState.CANCEL, trade.b)
        self._tell_state(trade.b, TradeState.CANCEL, trade.a)
        return world_pb2.TradeFinishReply()

    def _show_changes(self, trade: Trade, request: world_pb2.TradeFinishRequest) -> None:
        for result in request.sides:
            if result.character_id not in (trade.a.character_id, trade.b.character_id):
                continue
            side = trade.side(result.character_id)
            if not self._present(side):
                continue  # gone: its next join shows the stored inventory
            changed = [c for c in result.changed if c.slot < INVENTORY_SLOTS]
            if changed:
                self._tell(side.entity, SrvSetItem(items=tuple(
                    IndexAndItem(index=c.slot, item=_item(c.item.header, c.item.data))
                    for c in changed)))
            self._tell(side.entity, SrvSetMoney(zuly=result.zuly))

    def stats(self) -> dict[str, int]:
        """Counters: trades open now, opened, made, cancelled."""
        return {"open": len({id(t) for t in self._by_character.values()}),
                "opened": self.opened, "made": self.made, "cancelled": self.cancelled}
