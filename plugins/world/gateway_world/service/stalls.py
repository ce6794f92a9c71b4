"""Personal shops (stalls): what a character offers for sale and wants to buy, shown to those
around it.

Strategy: a stall is a listing, never a store of items. The owner's items stay in its
inventory (the character service's), so every sale is one ``Character.Exchange`` made by the
customer's gateway, which is the only thing that moves items and zuly. The world's part is
what the others see and who may try: ``reserve`` holds entries for one customer (the count
asked, cut to what other reservations do not hold), so two customers racing for the last item
are told apart here and only one of them calls Exchange; ``finish`` takes the Exchange's
outcome in (counts go down, a sold-out entry is gone, an empty stall closes) and tells the
owner. A reservation that is never finished (its gateway died) lapses after
:data:`RESERVATION_SECONDS`; if its Exchange had been applied, the listing is stale, and the
next customer's Exchange fails on the owner's side (it no longer holds the item), which takes
the entry off: the stall may list too much for a while, the inventories never disagree.

Everything runs on the service's event loop, like the rest of the state. The owner may not
walk with an open stall (in ROSE the seller sits): a move, a teleport, death, leaving the map
(or the stream ending) closes it.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

import grpc
from gateway_protos.v1 import common_pb2, world_pb2

from gateway_core.api import (
    TEXT_ENCODING,
    CliShopBuysellReply,
    IndexAndItem,
    Item,
    ItemData,
    ItemHeader,
    ServiceError,
    ShopBuySellItem,
    ShopBuySellResult,
    SrvSetItem,
    SrvSetMoney,
    SrvShopClose,
    SrvShopOpen,
)
from gateway_world.service.entities import PLAYER, Entity, MapState

if TYPE_CHECKING:
    from collections.abc import Iterable

    from gateway_core.api import Packet

#: How far (map units, where the service has both) a customer may be from a stall.
STALL_RANGE: Final = 1000.0
#: Entries of each list (the client's stall window).
MAX_ENTRIES: Final = 30
#: Longest title (bytes).
MAX_TITLE_BYTES: Final = 64
#: Seconds a reservation holds its entries without being finished.
RESERVATION_SECONDS: Final = 30.0
#: Item types whose data word is a stack count.
STACKABLE_TYPES: Final = frozenset({10, 11, 12, 13})
#: Inventory slots (the character service's layout).
INVENTORY_SLOTS: Final = 140

SELL, WISH = world_pb2.STALL_LIST_SELL, world_pb2.STALL_LIST_WISH


class World(Protocol):
    """What the stalls need of the world state (:class:`~.state.WorldState`)."""

    characters: dict[int, Entity]

    def clock(self) -> float: ...
    def send(self, recipients: Iterable[Entity], kind: str, body: Any, subject: int) -> None: ...
    def instance_of(self, entity: Entity) -> MapState: ...


@dataclass(slots=True)
class Entry:
    """One entry of a stall: ``count`` listed, ``held`` of it by reservations."""

    index: int
    slot: int
    header: int
    data: int
    count: int
    price: int
    held: int = 0

    @property
    def stackable(self) -> bool:
        return self.header & 0x1F in STACKABLE_TYPES

    @property
    def free(self) -> int:
        return self.count - self.held

    def item(self) -> common_pb2.Item:
        """The item as listed: a stack shows what is left."""
        return common_pb2.Item(header=self.header,
                               data=self.count if self.stackable else self.data)

    def message(self, count: int | None = None) -> world_pb2.StallEntry:
        return world_pb2.StallEntry(index=self.index, slot=self.slot, item=self.item(),
                                    count=self.count if count is None else count,
                                    price=self.price)


@dataclass(eq=False, slots=True)
class Stall:
    """An open stall."""

    owner: Entity
    title: str
    sell: dict[int, Entry]
    wish: dict[int, Entry]
    open: bool = True

    def entries(self, which: int) -> dict[int, Entry]:
        return self.sell if which == SELL else self.wish


@dataclass(eq=False, slots=True)
class Reservation:
    """Entries held for one customer: (entry, count held) each."""

    stall: Stall
    customer_id: int
    which: int
    held: list[tuple[Entry, int]]
    short: int
    made_at: float
    released: bool = field(default=False)


def _packet_event(packet: Packet) -> world_pb2.GameActionDelivery:
    return world_pb2.GameActionDelivery(packet_name=packet.NAME, payload=packet.encode_payload())


def _wire_item(item: common_pb2.Item) -> Item:
    return Item(ItemHeader(item.header), ItemData(item.data))


class Stalls:
    """The stalls of one world state."""

    def __init__(self, state: World) -> None:
        self.state = state
        self.stalls: dict[int, Stall] = {}
        self._tokens = itertools.count(1)
        self._reservations: dict[int, Reservation] = {}
        #: Counters: stalls opened, sales and purchases finished.
        self.opened = 0
        self.deals = 0

    # -- helpers ------------------------------------------------------------------------

    def _character(self, character_id: int) -> Entity:
        entity = self.state.characters.get(character_id)
        if entity is None:
            raise ServiceError(grpc.StatusCode.NOT_FOUND,
                               f"character {character_id} is not on any map")
        return entity

    def _send(self, recipients: Iterable[Entity], packet: Packet, subject: int) -> None:
        self.state.send(recipients, "action", _packet_event(packet), subject)

    def _open_packet(self, stall: Stall) -> SrvShopOpen:
        return SrvShopOpen(id=stall.owner.object_id,
                           name=stall.title.encode(TEXT_ENCODING, "replace"))

    def _stall_at(self, viewer: Entity, object_id: int) -> Stall | None:
        owner = self.state.instance_of(viewer).objects.get(object_id)
        if owner is None or owner.kind != PLAYER:
            return None
        stall = self.stalls.get(owner.character_id)
        return stall if stall is not None and stall.owner is owner else None

    def _distance(self, a: Entity, b: Entity) -> float:
        now = self.state.clock()
        a.advance(now)
        b.advance(now)
        return math.hypot(a.x - b.x, a.y - b.y)

    def _lapse(self) -> None:
        now = self.state.clock()
        for token, reservation in list(self._reservations.items()):
            if now - reservation.made_at > RESERVATION_SECONDS:
                self._release(token)

    def _release(self, token: int) -> Reservation | None:
        reservation = self._reservations.pop(token, None)
        if reservation is not None and not reservation.released:
            reservation.released = True
            for entry, count in reservation.held:
                entry.held = max(0, entry.held - count)
        return reservation

    # -- the state's hooks --------------------------------------------------------------

    def shown(self, owner: Entity, recipients: Iterable[Entity]) -> None:
        """``owner`` came into the view of ``recipients``: show them its stall, if any."""
        stall = self.stalls.get(owner.character_id) if owner.is_player else None
        if stall is not None and stall.owner is owner:
            self._send(recipients, self._open_packet(stall), owner.object_id)

    def closed_by(self, entity: Entity) -> None:
        """``entity`` moved, died or leaves its map: its stall (if any) closes."""
        if entity.is_player and entity.character_id in self.stalls:
            self._close(self.stalls[entity.character_id])

    def _close(self, stall: Stall) -> None:
        owner = stall.owner
        if self.stalls.get(owner.character_id) is stall:
            del self.stalls[owner.character_id]
        stall.open = False
        if owner.ready:
            self._send([owner, *owner.seen], SrvShopClose(id=owner.object_id), owner.object_id)

    # -- requests -----------------------------------------------------------------------

    def open(self, request: world_pb2.OpenStallRequest) -> world_pb2.StallReply:
        """Open (or replace) the character's stall."""
        entity = self._character(request.character_id)
        if not entity.ready:
            return world_pb2.StallReply(reason="not_ready")
        if entity.fighter is not None and entity.fighter.dead:
            return world_pb2.StallReply(reason="dead")
        entity.advance(self.state.clock())
        if entity.moving:
            return world_pb2.StallReply(reason="moving")  # the owner stands at its stall
        if not request.sell and not request.wish:
            return world_pb2.StallReply(reason="empty")
        if len(request.sell) > MAX_ENTRIES or len(request.wish) > MAX_ENTRIES:
            return world_pb2.StallReply(reason="bad_entry")
        if len(request.title.encode()) > MAX_TITLE_BYTES:
            return world_pb2.StallReply(reason="bad_entry")
        slots = [e.slot for e in request.sell]
        if len(set(slots)) != len(slots):
            return world_pb2.StallReply(reason="bad_entry")
        lists: list[dict[int, Entry]] = []
        for entries, slot_limit in ((request.sell, INVENTORY_SLOTS), (request.wish, MAX_ENTRIES)):
            built: dict[int, Entry] = {}
            for index, given in enumerate(entries):
                header = given.item.header
                if (not 0 < header <= 0xFFFF or given.slot >= slot_limit or given.count < 1
                        or given.price < 1 or given.price > 0xFFFFFFFF):
                    return world_pb2.StallReply(reason="bad_entry")
                entry = Entry(index=index, slot=given.slot, header=header, data=given.item.data,
                              count=given.count, price=given.price)
                if not entry.stackable and entry.count != 1:
                    return world_pb2.StallReply(reason="bad_entry")
                built[index] = entry
            lists.append(built)
        old = self.stalls.get(entity.character_id)
        if old is not None:
            old.open = False  # replaced: its reservations finish against a closed stall
        stall = Stall(owner=entity, title=request.title, sell=lists[0], wish=lists[1])
        self.stalls[entity.character_id] = stall
        self.opened += 1
        self._send([entity, *entity.seen], self._open_packet(stall), entity.object_id)
        return world_pb2.StallReply(object_id=entity.object_id)

    def close(self, request: world_pb2.CloseStallRequest) -> world_pb2.StallReply:
        """Close the character's stall."""
        entity = self._character(request.character_id)
        stall = self.stalls.get(entity.character_id)
        if stall is None:
            return world_pb2.StallReply(reason="no_stall", object_id=entity.object_id)
        self._close(stall)
        return world_pb2.StallReply(object_id=entity.object_id)

    def list(self, request: world_pb2.ListStallRequest) -> world_pb2.ListStallReply:
        """A stall as a customer in range sees it."""
        viewer = self._character(request.character_id)
        stall = self._stall_at(viewer, request.object_id)
        if stall is None:
            return world_pb2.ListStallReply(reason="no_stall")
        distance = self._distance(viewer, stall.owner)
        if distance > STALL_RANGE:
            return world_pb2.ListStallReply(reason="too_far", distance=distance)
        return world_pb2.ListStallReply(
            title=stall.title,
            sell=[e.message() for e in stall.sell.values()],
            wish=[e.message() for e in stall.wish.values()],
            owner_character_id=stall.owner.character_id,
            distance=distance,
        )

    def reserve(self, request: world_pb2.ReserveStallRequest) -> world_pb2.ReserveStallReply:
        """Hold stall entries for one purchase or sale (see the module)."""
        self._lapse()
        customer = self._character(request.character_id)
        if len(request.picks) > MAX_ENTRIES:
            raise ServiceError(grpc.StatusCode.INVALID_ARGUMENT,
                               f"more than {MAX_ENTRIES} picks")
        if customer.fighter is not None and customer.fighter.dead:
            return world_pb2.ReserveStallReply(reason="dead")
        stall = self._stall_at(customer, request.object_id)
        if stall is None:
            return world_pb2.ReserveStallReply(reason="no_stall")
        if stall.owner is customer:
            return world_pb2.ReserveStallReply(reason="self")
        if self._distance(customer, stall.owner) > STALL_RANGE:
            return world_pb2.ReserveStallReply(reason="too_far")
        entries = stall.entries(request.list)
        held: list[tuple[Entry, int]] = []
        short = 0
        seen: set[int] = set()
        for pick in request.picks:
            entry = entries.get(pick.index)
            if entry is None or pick.index in seen or pick.count < 1 or not self._matches(
                    request.list, entry, pick.header):
                short += 1
                continue
            seen.add(pick.index)
            count = min(pick.count, entry.free)
            if count < pick.count:
                short += 1
            if count > 0:
                entry.held += count
                held.append((entry, count))
        if not held:
            return world_pb2.ReserveStallReply(reason="sold_out", short=short,
                                               object_id=stall.owner.object_id)
        token = next(self._tokens)
        self._reservations[token] = Reservation(
            stall=stall, customer_id=customer.character_id, which=request.list, held=held,
            short=short, made_at=self.state.clock())
        return world_pb2.ReserveStallReply(
            token=token,
            owner_character_id=stall.owner.character_id,
            held=[entry.message(count) for entry, count in held],
            short=short,
            object_id=stall.owner.object_id,
        )

    @staticmethod
    def _matches(which: int, entry: Entry, header: int) -> bool:
        if which == SELL:
            return header in (0, entry.header)
        # Selling to the wish list: the same item (type and number); its own data.
        return header & 0x7FFF == entry.header & 0x7FFF

    def finish(self, request: world_pb2.FinishStallRequest) -> world_pb2.FinishStallReply:
        """Take a reservation's Exchange outcome in (see the module)."""
        reservation = self._release(request.token)
        if reservation is None:
            return world_pb2.FinishStallReply(reason="unknown_token")
        stall = reservation.stall
        owner = stall.owner
        entries = stall.entries(reservation.which)
        if not request.applied:
            if request.owner_failed and stall.open:
                # The owner no longer holds (or cannot take) what was listed: off the stall.
                updated = []
                for entry, _ in reservation.held:
                    if entries.pop(entry.index, None) is not None:
                        updated.append(world_pb2.StallSlot(slot=entry.index))
                closed = self._close_if_empty(stall)
                return world_pb2.FinishStallReply(updated=updated, closed=closed,
                                                  result=int(ShopBuySellResult.NULL),
                                                  object_id=owner.object_id)
            return world_pb2.FinishStallReply(result=int(ShopBuySellResult.NULL),
                                              object_id=owner.object_id)
        self.deals += 1
        updated = []
        for entry, count in reservation.held:
            entry.count = max(0, entry.count - count)
            if entry.count == 0:
                entries.pop(entry.index, None)
                updated.append(world_pb2.StallSlot(slot=entry.index))
            else:
                updated.append(world_pb2.StallSlot(slot=entry.index, item=entry.item()))
        if reservation.which == SELL:
            result = ShopBuySellResult.BUY_PARTIAL if reservation.short else (
                ShopBuySellResult.BUY_ALL)
        else:
            result = ShopBuySellResult.SELL_PARTIAL if reservation.short else (
                ShopBuySellResult.SELL_ALL)
        if self.state.characters.get(owner.character_id) is owner and owner.ready:
            subject = owner.object_id
            if request.owner_changed:
                self._send([owner], SrvSetItem(items=tuple(
                    IndexAndItem(index=s.slot, item=_wire_item(s.item))
                    for s in request.owner_changed)), subject)
            self._send([owner], SrvSetMoney(zuly=request.owner_zuly), subject)
            if stall.open:
                self._send([owner], CliShopBuysellReply(
                    id=subject, result=result, count=len(updated),
                    items=tuple(ShopBuySellItem(index=u.slot, item=_wire_item(u.item))
                                for u in updated)), subject)
        closed = self._close_if_empty(stall) if stall.open else False
        return world_pb2.FinishStallReply(updated=updated, result=int(result), closed=closed,
                                          object_id=owner.object_id)

    def _close_if_empty(self, stall: Stall) -> bool:
        if stall.open and not stall.sell and not stall.wish:
            self._close(stall)
            return True
        return False
