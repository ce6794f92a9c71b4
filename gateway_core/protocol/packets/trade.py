"""Player-to-player trade packets.

Declarations follow docs/protocol.md Appendix A (generated from the XML definitions, then
reviewed); field names are the XML names in snake_case.
"""

from __future__ import annotations

from enum import IntEnum

from gateway_core.protocol.codecs import u8, u16, u32
from gateway_core.protocol.declarations import Packet, field, packet
from gateway_core.protocol.packets.common import (
    Item,
)

__all__ = [
    "CliTrade",
    "CliTradeItem",
    "SrvTrade",
    "SrvTradeItem",
    "TradeState",
]


class TradeState(IntEnum):
    """``TradeState``: u8 on the wire (cli_trade.xml)."""

    REQUEST = 0
    ACCEPT = 1
    REJECT = 2
    CANCEL = 3
    READY = 4
    NOTREADY = 5
    DONE = 6
    BUSY = 7
    TOO_FAR = 8
    INVALID_TARGET = 9
    NO_SPACE = 10
    TRADE_DISABLED = 11


@packet("PAKCS_TRADE")
class CliTrade(Packet):
    """``PAKCS_TRADE``: client -> server (cli_trade.xml)."""

    state: TradeState | int = field(u8.enum(TradeState))
    target: int = field(u16)
    index: int = field(u8)


@packet("PAKWC_TRADE")
class SrvTrade(Packet):
    """``PAKWC_TRADE``: server -> client (srv_trade.xml)."""

    state: TradeState | int = field(u8.enum(TradeState))
    target: int = field(u16)
    index: int = field(u8)


@packet("PAKCS_TRADE_ITEM")
class CliTradeItem(Packet):
    """``PAKCS_TRADE_ITEM``: client -> server (cli_trade_item.xml)."""

    slot: int = field(u8)
    index: int = field(u16)
    amount: int = field(u32)


@packet("PAKWC_TRADE_ITEM")
class SrvTradeItem(Packet):
    """``PAKWC_TRADE_ITEM``: server -> client (srv_trade_item.xml)."""

    slot: int = field(u8)
    item: Item = field(Item)
