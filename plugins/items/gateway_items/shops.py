"""Personal shop (stall) handlers, in the world only: open and close a stall, list one, buy
from its sell list, sell to its wish list, and the client's own wish list.

Strategy: the world service holds the stalls (a listing shown to those around the owner,
wherever their gateways are); the inventories and zuly are the character service's. A
purchase or a sale is three calls: ``ReserveStall`` (the world holds the entries: still
listed, the same item, the count available, the customer within range; two customers racing
for the last item are told apart here), one ``Character.Exchange`` (the owner's items or
zuly against the customer's, one transaction, a fresh request id per deal, retried once with
it when the call itself failed), then ``FinishStall`` with the outcome (the world counts the
stall down, tells the owner and closes an empty stall; a failed Exchange releases the
reservation). What the customer is sent comes from the Exchange's reply.

Decisions (docs/items.md "Personal shops", docs/protocol.md §10.18):

* ``PAKCS_SHOP_OPEN``: the first ``sell_count`` entries are items for sale (``index`` the
  inventory slot, a bag slot; ``item`` what it holds, a stack's count what is offered, at most
  what it holds), the next ``wishlist_count`` the wish list (``index`` the wish list slot,
  0-29; ``item`` the item wanted, a stack's count how many); ``price`` is zuly apiece, at least
  1. Entries past the two counts are ignored. The declared layout carries no title, so the
  stall's title (PAKWC_SHOP_OPEN's ``name``) is the owner's name. A refused open is answered
  ``PAKWC_SHOP_CLOSE`` with the owner's object id (the client leaves its shop mode).
* Stall entries are numbered in each list from 0 in the order given; the numbers stay as
  entries sell out, so a customer's list stays right.
* ``PAKCS_SHOP_LIST_REQ``: within :data:`~gateway_world.service.stalls.STALL_RANGE` (1000
  map units). A stall that is not there (closed, or no such player) is answered
  ``PAKWC_SHOP_CLOSE`` with that id; too far is refused without an answer.
* ``PAKCS_SHOP_BUY_REQ`` / ``PAKCS_SHOP_SELL_REQ``: the first ``count`` entries; a stack's
  count is how many. Answered ``PAKCS_SHOP_BUYSELL_REPLY`` (the stall's changed entries, each
  with what is left, header 0 when gone; BUY_ALL, BUY_PARTIAL when some entries had less than
  asked, SELL_ALL, SELL_PARTIAL), then ``PAKWC_SET_ITEM`` and ``PAKWC_SET_MONEY``. The owner
  gets the same reply, its slots and zuly from the world. Refusals get the reply with
  ``SOLD_OUT`` (buying: nothing left of what was asked), ``OVER_SOLD`` (selling: the owner
  wants no more of it) or ``NULL`` (everything else: closed stall, out of range, too little
  zuly, no room, the owner no longer holds the item...), and nothing changed.
* ``PAKCS_WISHLIST_ADD``: the client's own wish list (30 slots): kept for the session on the
  gateway (not stored: the character service has no wish list, so the next join shows it
  empty). An item header 0 clears the slot; a slot above 29 or an item the content pack does
  not know is refused. Nothing is answered.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import grpc
from gateway_protos.v1 import character_pb2, common_pb2, world_pb2

from gateway_core.api import (
    MAX_WISHLIST,
    SELECTED_CHARACTER,
    CliShopBuyReq,
    CliShopBuysellReply,
    CliShopClose,
    CliShopListReq,
    CliShopOpen,
    CliShopSellReq,
    CliWishlistAdd,
    Item,
    Key,
    ShopBuySellItem,
    ShopBuySellResult,
    ShopListItem,
    SrvSetMoney,
    SrvShopClose,
    SrvShopListReply,
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
    object_id,
    retried,
    set_item,
    wire_item,
)
from gateway_items.rules import SlotItem
from gateway_items.runtime import CHARACTER, STATE, world_of

if TYPE_CHECKING:
    from gateway_core.api import PacketRegistrar

log = logging.getLogger(__name__)

#: Entries of each list of a stall (the client's stall window).
MAX_STALL_ENTRIES: Final = 30
#: The most zuly one deal may move (the character service's zuly bound).
MAX_ZULY: Final = 2**63 - 1
SELL_LIST, WISH_LIST = world_pb2.STALL_LIST_SELL, world_pb2.STALL_LIST_WISH


@dataclass(slots=True)
class Wishlist:
    """The client's own wish list (``session.plugin_data[WISHLIST]``)."""

    character_id: int
    items: dict[int, SlotItem] = field(default_factory=dict)


#: Per-session wish list.
WISHLIST = Key[Wishlist]("items.wishlist")


def count_of(item: Item) -> int:
    """How many a wire item says: a stack's count, 1 for an equipment item, 0 for none."""
    slot = SlotItem(int(item.header.header), int(item.data.count))
    return slot.count


def listed(entry: world_pb2.StallEntry) -> ShopListItem:
    return ShopListItem(index=entry.index, item=wire_item(entry.item), price=entry.price)


# --- open, close, list ---------------------------------------------------------------------


@guarded
async def on_shop_open(ctx: Ctx, packet: CliShopOpen) -> None:
    """PAKCS_SHOP_OPEN: open a stall of items of the inventory and a wish list."""
    cid = character_id(ctx)
    own = object_id(ctx)

    def no(reason: str, detail: str = "") -> Refusal:
        return Refusal(reason, SrvShopClose(id=own), detail=detail)

    sells, wishes = int(packet.sell_count), int(packet.wishlist_count)
    if (sells + wishes == 0 or sells + wishes > len(packet.items)
            or sells > MAX_STALL_ENTRIES or wishes > MAX_STALL_ENTRIES):
        raise no("bad_request", f"{sells} + {wishes} entries of {len(packet.items)}")
    # A fresh view: what the stall lists must be what the character service holds now.
    ctx.session.plugin_data.pop(STATE)
    state = await load_state(ctx)
    sell: list[world_pb2.StallEntry] = []
    used: set[int] = set()
    for given in packet.items[:sells]:
        slot = int(given.index)
        if slot not in rules.BAG_SLOTS or slot in used:
            raise no("bad_slot", f"stall slot {slot}")
        used.add(slot)
        held = state.inventory[slot]
        offered = SlotItem(int(given.item.header.header), int(given.item.data.count))
        count = offered.count
        if held.empty or held.header != offered.header or not 0 < count <= held.count:
            raise no("not_held", f"slot {slot}")
        if given.price < 1:
            raise no("bad_price")
        sell.append(world_pb2.StallEntry(
            slot=slot, count=count, price=given.price,
            item=common_pb2.Item(header=held.header,
                                 data=count if rules.is_stackable(held.item_type) else held.data)))
    wish: list[world_pb2.StallEntry] = []
    for given in packet.items[sells:sells + wishes]:
        wanted = SlotItem(int(given.item.header.header), int(given.item.data.count))
        if given.index >= MAX_WISHLIST or wanted.empty:
            raise no("bad_slot", f"wish slot {given.index}")
        if ctx.runtime.content.item_by_client(wanted.item_type, wanted.item_number) is None:
            raise no("unknown_item")
        if wanted.count < 1 or given.price < 1:
            raise no("bad_price")
        wish.append(world_pb2.StallEntry(
            slot=given.index, count=wanted.count, price=given.price,
            item=common_pb2.Item(header=wanted.header, data=wanted.data)))
    selected = ctx.session.records.get(SELECTED_CHARACTER)
    title = selected.name if selected is not None else ""
    try:
        reply: world_pb2.StallReply = await world_of(ctx).OpenStall(
            world_pb2.OpenStallRequest(character_id=cid, title=title, sell=sell, wish=wish))
    except grpc.aio.AioRpcError as exc:
        raise no("backend_unavailable", exc.code().name) from None
    if reply.reason:
        raise no(f"stall_{reply.reason}")


@guarded
async def on_shop_close(ctx: Ctx, packet: CliShopClose) -> None:
    """PAKCS_SHOP_CLOSE: close the character's stall (those around are shown it)."""
    reply: world_pb2.StallReply = await world_of(ctx).CloseStall(
        world_pb2.CloseStallRequest(character_id=character_id(ctx)))
    if reply.reason:
        raise Refusal(f"stall_{reply.reason}")


@guarded
async def on_shop_list(ctx: Ctx, packet: CliShopListReq) -> None:
    """PAKCS_SHOP_LIST_REQ: a stall's lists, to a customer in range."""
    reply: world_pb2.ListStallReply = await world_of(ctx).ListStall(
        world_pb2.ListStallRequest(character_id=character_id(ctx), object_id=packet.id))
    if reply.reason == "no_stall":
        raise Refusal("stall_no_stall", SrvShopClose(id=packet.id))
    if reply.reason:
        raise Refusal(f"stall_{reply.reason}", detail=f"{reply.distance:.0f}")
    ctx.reply(SrvShopListReply(
        sell_count=len(reply.sell), wishlist_count=len(reply.wish),
        items=tuple(listed(entry) for entry in [*reply.sell, *reply.wish])))


# --- buy and sell --------------------------------------------------------------------------


async def exchange(ctx: Ctx, request: character_pb2.ExchangeRequest
                   ) -> character_pb2.ExchangeReply:
    """One Character.Exchange, retried once with the same request id when the call failed."""
    stub = ctx.clients[CHARACTER]
    reply: character_pb2.ExchangeReply = await retried(lambda: stub.Exchange(request))
    return reply


async def finish(ctx: Ctx, request: world_pb2.FinishStallRequest
                 ) -> world_pb2.FinishStallReply | None:
    """Report a reservation's outcome to the world (``None`` when the call failed: a held
    reservation then lapses on its own)."""
    try:
        reply: world_pb2.FinishStallReply = await world_of(ctx).FinishStall(request)
    except grpc.aio.AioRpcError as exc:
        log.warning("items: could not finish stall reservation %d (%s)", request.token,
                    exc.code().name)
        return None
    return reply


def outcome_of(reply: character_pb2.ExchangeReply, cid: int
               ) -> character_pb2.ExchangeOutcome:
    return reply.a if reply.a.character_id == cid else reply.b


def forget_owner_view(ctx: Ctx, owner_id: int, owner_object_id: int) -> None:
    """The owner's inventory changed under it: its session on this gateway reloads its view
    at its next item request (another gateway's view finds out from the service)."""
    session = ctx.connections.by_world_object_id(owner_object_id)
    selected = session.records.get(SELECTED_CHARACTER) if session is not None else None
    if session is not None and selected is not None and selected.character_id == owner_id:
        session.plugin_data.pop(STATE)


async def deal(
    ctx: Ctx,
    stall_id: int,
    which: world_pb2.StallList,
    picks: Sequence[world_pb2.StallPick],
    sides: Callable[[world_pb2.ReserveStallReply, int],
                    tuple[character_pb2.ExchangeSide, character_pb2.ExchangeSide]],
) -> None:
    """Reserve, exchange, finish (see the module); the customer is answered either way."""
    cid = character_id(ctx)
    empty = ShopBuySellResult.SOLD_OUT if which == SELL_LIST else ShopBuySellResult.OVER_SOLD

    def no(reason: str, result: ShopBuySellResult = ShopBuySellResult.NULL,
           detail: str = "") -> Refusal:
        return Refusal(reason, CliShopBuysellReply(id=stall_id, result=result, count=0),
                       detail=detail)

    world = world_of(ctx)
    try:
        held: world_pb2.ReserveStallReply = await world.ReserveStall(world_pb2.ReserveStallRequest(
            character_id=cid, object_id=stall_id, list=which, picks=list(picks)))
    except grpc.aio.AioRpcError as exc:
        raise no("backend_unavailable", detail=exc.code().name) from None
    if held.reason:
        raise no(f"stall_{held.reason}", empty if held.reason == "sold_out" else (
            ShopBuySellResult.NULL))
    total = sum(entry.count * entry.price for entry in held.held)
    owner_id = held.owner_character_id
    if total > MAX_ZULY:
        await finish(ctx, world_pb2.FinishStallRequest(token=held.token))
        raise no("bad_price", detail=f"{total} zuly")
    owner_side, customer_side = sides(held, total)
    request = character_pb2.ExchangeRequest(request_id=uuid.uuid4().hex, a=owner_side,
                                            b=customer_side)
    try:
        reply = await exchange(ctx, request)
    except grpc.aio.AioRpcError as exc:
        # Nothing is known to have changed: release the entries (were it applied after all,
        # the owner's side fails at the next deal, which takes the entries off).
        await finish(ctx, world_pb2.FinishStallRequest(token=held.token))
        raise no("backend_unavailable", detail=f"Exchange: {exc.code().name}") from None
    if reply.result != OK:
        owner_failed = reply.failed_character_id == owner_id
        if reply.failed_character_id == cid and reply.result in STALE_VIEW:
            ctx.session.plugin_data.pop(STATE)
        await finish(ctx, world_pb2.FinishStallRequest(token=held.token,
                                                       owner_failed=owner_failed))
        side = "owner" if owner_failed else "customer"
        raise no(RESULT_REASON.get(reply.result, "refused"), detail=f"{side}: {reply.message}")
    mine, theirs = outcome_of(reply, cid), outcome_of(reply, owner_id)
    done = await finish(ctx, world_pb2.FinishStallRequest(
        token=held.token, applied=True, owner_zuly=theirs.zuly,
        owner_changed=[world_pb2.StallSlot(slot=s.slot, item=s.item) for s in theirs.changed]))
    if done is not None:
        result = ShopBuySellResult(done.result) if done.result else ShopBuySellResult.NULL
        updated = tuple(ShopBuySellItem(index=u.slot, item=wire_item(u.item))
                        for u in done.updated)
    else:
        result = (ShopBuySellResult.BUY_ALL if which == SELL_LIST
                  else ShopBuySellResult.SELL_ALL)
        updated = ()
    state = ctx.session.plugin_data.get(STATE)
    if state is not None and state.character_id == cid:
        state.set_slots(mine.changed)
        state.zuly = mine.zuly
        state.weight = mine.weight
    forget_owner_view(ctx, owner_id, held.object_id)
    ctx.reply(CliShopBuysellReply(id=stall_id, result=result, count=len(updated),
                                  items=updated))
    if mine.changed:
        ctx.reply(set_item(mine.changed))
    ctx.reply(SrvSetMoney(zuly=mine.zuly))


@guarded
async def on_shop_buy(ctx: Ctx, packet: CliShopBuyReq) -> None:
    """PAKCS_SHOP_BUY_REQ: buy entries of a stall's sell list."""
    def no(reason: str) -> Refusal:
        return Refusal(reason, CliShopBuysellReply(id=packet.id, result=ShopBuySellResult.NULL))

    wanted = packet.items[:packet.count]
    if not wanted or len(wanted) > MAX_STALL_ENTRIES:
        raise no("bad_request")
    picks = []
    for pick in wanted:
        count = count_of(pick.item)
        if count < 1:
            raise no("bad_quantity")
        picks.append(world_pb2.StallPick(index=pick.index, count=count,
                                         header=int(pick.item.header.header)))
    cid = character_id(ctx)

    def sides(held: world_pb2.ReserveStallReply, total: int
              ) -> tuple[character_pb2.ExchangeSide, character_pb2.ExchangeSide]:
        item_type = [entry.item.header & 0x1F for entry in held.held]
        number = [(entry.item.header >> 5) & 0x3FF for entry in held.held]
        gives = [character_pb2.RemoveItem(slot=entry.slot, item=item_ref(t, n),
                                          count=entry.count)
                 for entry, t, n in zip(held.held, item_type, number, strict=True)]
        return (character_pb2.ExchangeSide(character_id=held.owner_character_id, gives=gives),
                character_pb2.ExchangeSide(character_id=cid, zuly=total))

    await deal(ctx, packet.id, SELL_LIST, picks, sides)


@guarded
async def on_shop_sell(ctx: Ctx, packet: CliShopSellReq) -> None:
    """PAKCS_SHOP_SELL_REQ: sell inventory items to a stall's wish list."""
    def no(reason: str, detail: str = "") -> Refusal:
        return Refusal(reason, CliShopBuysellReply(id=packet.id, result=ShopBuySellResult.NULL),
                       detail=detail)

    offered = packet.items[:packet.count]
    if not offered or len(offered) > MAX_STALL_ENTRIES:
        raise no("bad_request")
    picks = []
    #: wish entry number -> (inventory slot, item) it is sold from.
    sources: dict[int, tuple[int, SlotItem]] = {}
    for pick in offered:
        slot = int(pick.inventory_index)
        if slot not in rules.BAG_SLOTS:
            raise no("bad_slot", f"slot {slot}")
        _, item = await holding(ctx, slot)
        count = count_of(pick.item)
        if item.empty or (item.header & 0x7FFF) != (int(pick.item.header.header) & 0x7FFF):
            raise no("not_held", f"slot {slot}")
        if not 0 < count <= item.count:
            raise no("bad_quantity", f"slot {slot}")
        sources.setdefault(pick.wishlist_index, (slot, item))
        picks.append(world_pb2.StallPick(index=pick.wishlist_index, count=count,
                                         header=item.header))
    cid = character_id(ctx)

    def sides(held: world_pb2.ReserveStallReply, total: int
              ) -> tuple[character_pb2.ExchangeSide, character_pb2.ExchangeSide]:
        gives = []
        for entry in held.held:
            slot, item = sources[entry.index]
            gives.append(character_pb2.RemoveItem(
                slot=slot, item=item_ref(item.item_type, item.item_number), count=entry.count))
        return (character_pb2.ExchangeSide(character_id=held.owner_character_id, zuly=total),
                character_pb2.ExchangeSide(character_id=cid, gives=gives))

    await deal(ctx, packet.id, WISH_LIST, picks, sides)


# --- the client's own wish list ------------------------------------------------------------


@guarded
async def on_wishlist_add(ctx: Ctx, packet: CliWishlistAdd) -> None:
    """PAKCS_WISHLIST_ADD: put an item in (or clear) a slot of the client's wish list."""
    cid = character_id(ctx)
    if packet.index >= MAX_WISHLIST:
        raise Refusal("bad_slot", detail=f"wish slot {packet.index}")
    item = SlotItem(int(packet.item.header.header), int(packet.item.data.count))
    if not item.empty and ctx.runtime.content.item_by_client(
            item.item_type, item.item_number) is None:
        raise Refusal("unknown_item")
    wishlist = ctx.session.plugin_data.get(WISHLIST)
    if wishlist is None or wishlist.character_id != cid:
        wishlist = Wishlist(cid)
        ctx.session.plugin_data.set(WISHLIST, wishlist)
    if item.empty:
        wishlist.items.pop(packet.index, None)
    else:
        wishlist.items[packet.index] = item


def register_packets(register: PacketRegistrar) -> None:
    """Every personal shop packet, in the world only."""
    handlers: list[tuple[str, Callable[..., Any]]] = [
        (CliShopOpen.NAME, on_shop_open),
        (CliShopClose.NAME, on_shop_close),
        (CliShopListReq.NAME, on_shop_list),
        (CliShopBuyReq.NAME, on_shop_buy),
        (CliShopSellReq.NAME, on_shop_sell),
        (CliWishlistAdd.NAME, on_wishlist_add),
    ]
    for name, handler in handlers:
        register(name, handler, states=IN_WORLD)
