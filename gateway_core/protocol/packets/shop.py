"""NPC store and private shop packets.

Declarations follow docs/protocol.md Appendix A (generated from the XML definitions, then
reviewed); field names are the XML names in snake_case.
"""

from __future__ import annotations

from enum import IntEnum

from gateway_core.protocol.codecs import cstr, u8, u16, u32
from gateway_core.protocol.declarations import (
    Packet,
    Record,
    UnionValue,
    bit_field,
    field,
    packet,
    record,
    union,
    until_end,
)
from gateway_core.protocol.packets.common import (
    Item,
)

__all__ = [
    "BuySellItem",
    "CliShopBuyReq",
    "CliShopBuysellReply",
    "CliShopClose",
    "CliShopListReq",
    "CliShopOpen",
    "CliShopSellReq",
    "CliStoreTradeReq",
    "CliWishlistAdd",
    "ShopBuyItem",
    "ShopBuySellItem",
    "ShopBuySellResult",
    "ShopItem",
    "ShopListItem",
    "ShopSellItem",
    "SrvShopClose",
    "SrvShopListReply",
    "SrvShopOpen",
    "SrvStoreTradeReply",
    "StoreTradeResult",
]


class ShopBuySellResult(IntEnum):
    """``ShopBuySellResult``: u8 on the wire (srv_shop_buysell_reply.xml)."""

    NULL = 0
    SOLD_OUT = 1
    OVER_SOLD = 2
    BUY_PARTIAL = 3
    BUY_ALL = 4
    SELL_PARTIAL = 5
    SELL_ALL = 6


class StoreTradeResult(IntEnum):
    """``StoreTradeResult``: u8 on the wire (srv_store_trade_reply.xml)."""

    PRICE_DIFF = 1
    INVALID_NPC = 2
    TOO_FAR = 3
    NO_MONEY = 4
    INVALID_UNION = 5
    NO_POINTS = 6


@union(u32)
class BuySellItem(UnionValue):
    """``BuySellItem``: one u32 on the wire (cli_store_trade_req.xml)."""

    data: int = 0
    buy_tab_id = bit_field(0, 8)
    buy_col_id = bit_field(8, 8)
    buy_amount = bit_field(16, 16)
    sell_inventory_idx = bit_field(0, 8)
    sell_amount = bit_field(8, 16)


@record
class ShopBuyItem(Record):
    """``ShopBuyItem`` (cli_shop_buy_req.xml)."""

    index: int = field(u8)
    item: Item = field(Item)


@record
class ShopBuySellItem(Record):
    """``ShopBuySellItem`` (srv_shop_buysell_reply.xml)."""

    index: int = field(u8)
    item: Item = field(Item)


@record
class ShopItem(Record):
    """``ShopItem`` (cli_shop_open.xml)."""

    index: int = field(u8)
    item: Item = field(Item)
    price: int = field(u32)


@record
class ShopListItem(Record):
    """``ShopListItem`` (srv_shop_list_reply.xml)."""

    index: int = field(u8)
    item: Item = field(Item)
    price: int = field(u32)


@record
class ShopSellItem(Record):
    """``ShopSellItem`` (cli_shop_sell_req.xml)."""

    inventory_index: int = field(u8)
    wishlist_index: int = field(u8)
    item: Item = field(Item)


@packet("PAKCS_STORE_TRADE_REQ")
class CliStoreTradeReq(Packet):
    """``PAKCS_STORE_TRADE_REQ``: client -> server (cli_store_trade_req.xml).

    ``is_buy`` / ``is_sell`` (0 or 1) say which overlay of ``item`` applies:
    ``BuySellItem.of(buy_tab_id=.., buy_col_id=.., buy_amount=..)`` or
    ``BuySellItem.of(sell_inventory_idx=.., sell_amount=..)``. srv_trade_store_reply.xml also
    declares this type but holds the 1-byte layout of ``PAKWC_STORE_TRADE_REPLY``; it is
    ignored, as in the C++ build list.
    """

    npc_id: int = field(u16)
    is_buy: int = field(u8)
    is_sell: int = field(u8)
    time: int = field(u32)
    item: BuySellItem = field(BuySellItem)


@packet("PAKWC_STORE_TRADE_REPLY")
class SrvStoreTradeReply(Packet):
    """``PAKWC_STORE_TRADE_REPLY``: server -> client (srv_store_trade_reply.xml)."""

    result: StoreTradeResult | int = field(u8.enum(StoreTradeResult))


@packet("PAKCS_WISHLIST_ADD")
class CliWishlistAdd(Packet):
    """``PAKCS_WISHLIST_ADD``: client -> server (cli_wishlist_add.xml)."""

    index: int = field(u8)
    item: Item = field(Item)


@packet("PAKCS_SHOP_OPEN")
class CliShopOpen(Packet):
    """``PAKCS_SHOP_OPEN``: client -> server (cli_shop_open.xml)."""

    sell_count: int = field(u8)
    wishlist_count: int = field(u8)
    items: tuple[ShopItem, ...] = field(until_end(ShopItem))


@packet("PAKWC_SHOP_OPEN")
class SrvShopOpen(Packet):
    """``PAKWC_SHOP_OPEN``: server -> client (srv_shop_open.xml)."""

    id: int = field(u16)
    name: bytes = field(cstr)


@packet("PAKCS_SHOP_CLOSE")
class CliShopClose(Packet):
    """``PAKCS_SHOP_CLOSE``: client -> server (cli_shop_close.xml)."""


@packet("PAKWC_SHOP_CLOSE")
class SrvShopClose(Packet):
    """``PAKWC_SHOP_CLOSE``: server -> client (srv_shop_close.xml)."""

    id: int = field(u16)


@packet("PAKCS_SHOP_LIST_REQ")
class CliShopListReq(Packet):
    """``PAKCS_SHOP_LIST_REQ``: client -> server (cli_shop_list_req.xml)."""

    id: int = field(u16)


@packet("PAKWC_SHOP_LIST_REPLY")
class SrvShopListReply(Packet):
    """``PAKWC_SHOP_LIST_REPLY``: server -> client (srv_shop_list_reply.xml)."""

    sell_count: int = field(u8)
    wishlist_count: int = field(u8)
    items: tuple[ShopListItem, ...] = field(until_end(ShopListItem))


@packet("PAKCS_SHOP_BUY_REQ")
class CliShopBuyReq(Packet):
    """``PAKCS_SHOP_BUY_REQ``: client -> server (cli_shop_buy_req.xml)."""

    id: int = field(u16)
    count: int = field(u8)
    items: tuple[ShopBuyItem, ...] = field(until_end(ShopBuyItem))


@packet("PAKCS_SHOP_SELL_REQ")
class CliShopSellReq(Packet):
    """``PAKCS_SHOP_SELL_REQ``: client -> server (cli_shop_sell_req.xml)."""

    id: int = field(u16)
    count: int = field(u8)
    items: tuple[ShopSellItem, ...] = field(until_end(ShopSellItem))


@packet("PAKCS_SHOP_BUYSELL_REPLY")
class CliShopBuysellReply(Packet):
    """``PAKCS_SHOP_BUYSELL_REPLY``: server -> client (srv_shop_buysell_reply.xml)."""

    id: int = field(u16)
    result: ShopBuySellResult | int = field(u8.enum(ShopBuySellResult))
    count: int = field(u8)
    items: tuple[ShopBuySellItem, ...] = field(until_end(ShopBuySellItem))
