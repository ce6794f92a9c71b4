"""The layouts of numbering profile 2021 that differ from the declarations (docs/protocol.md §9.1).

The declarations in the category modules follow the current (2026) packet set. The osIROSE-new
era set (profile 2021) lays three packet types out differently; each gets a
:class:`~gateway_core.protocol.declarations.ProfileLayout` here, which a connection of
profile 2021 uses on the wire. Handlers keep working with the declared classes:

* ``PAKCS_CRAFT_ENHANCE_REQ`` has an empty payload in 2021. Decoded, it is the declared packet
  with its defaults (``enhancement`` 0, ``data`` 0); encoded, both fields are left out.
* ``PAKWC_CRAFT_ENHANCE_REPLY`` carries plain ``Item`` records in 2021 (no slot index before
  each). Encoded, the indexes are left out; decoded, every index is 0.
* ``PAKCS_BANK_MOVE_ITEM.mode`` is 0 (inventory to bank) or 1 (bank to inventory) in 2021,
  16 or 17 in 2026. The declared packet always holds the 2026 values: a 2021 wire value
  0 or 1 becomes 16 or 17 and back. So that the mapping is lossless for any byte, 16 and 17
  on a 2021 wire become 0 and 1 (a swap); every other value is kept as it is.

Everything else in §9.1 (renamed enums and constants, C++ types replaced by XML types of the
same size, enum members added with explicit values, ``EquippedPosition`` members no field
uses) does not change a single byte, so it needs no layout.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final, Self

from gateway_core.protocol.codecs import u8
from gateway_core.protocol.declarations import ProfileLayout, field, profile_layout, until_end
from gateway_core.protocol.packets.common import Item
from gateway_core.protocol.packets.items import (
    BankMoveMode,
    CliBankMoveItem,
    CliCraftEnhanceReq,
    CraftEnhancementResult,
    IndexAndItem,
    SrvCraftEnhanceReply,
)

__all__ = [
    "PROFILE_2021",
    "BankMoveItem2021",
    "BankMoveMode2021",
    "CraftEnhanceReply2021",
    "CraftEnhanceReq2021",
    "bank_move_mode_from_2021",
    "bank_move_mode_to_2021",
]

PROFILE_2021: Final = "2021"

class BankMoveMode2021(IntEnum):
    """``BankMoveMode`` as the 2021 packet set numbers it (u8 on the wire)."""

    INVENTORY_TO_BANK = 0
    BANK_TO_INVENTORY = 1


#: 2021 wire value <-> declared (2026) value of ``BankMoveMode``; a swap, its own inverse.
_BANK_MODE_SWAP: Final = {
    0: int(BankMoveMode.INVENTORY_TO_BANK),
    1: int(BankMoveMode.BANK_TO_INVENTORY),
    int(BankMoveMode.INVENTORY_TO_BANK): 0,
    int(BankMoveMode.BANK_TO_INVENTORY): 1,
}
_BANK_MODES: Final = {int(m): m for m in BankMoveMode}
_BANK_MODES_2021: Final = {int(m): m for m in BankMoveMode2021}


def bank_move_mode_from_2021(value: int) -> BankMoveMode | int:
    """The declared ``BankMoveMode`` of a 2021 wire value (0 -> 16, 1 -> 17, 16 -> 0, 17 -> 1,
    anything else unchanged)."""
    declared = _BANK_MODE_SWAP.get(int(value), int(value))
    return _BANK_MODES.get(declared, declared)


def bank_move_mode_to_2021(value: BankMoveMode | int) -> BankMoveMode2021 | int:
    """The 2021 wire value of a declared ``BankMoveMode`` (the inverse of
    :func:`bank_move_mode_from_2021`)."""
    wire = _BANK_MODE_SWAP.get(int(value), int(value))
    return _BANK_MODES_2021.get(wire, wire)


@profile_layout(CliCraftEnhanceReq, PROFILE_2021)
class CraftEnhanceReq2021(ProfileLayout):
    """``PAKCS_CRAFT_ENHANCE_REQ`` in 2021: no fields (the definition was commented out)."""

    @classmethod
    def from_packet(cls, packet: CliCraftEnhanceReq) -> Self:
        return cls()

    def to_packet(self) -> CliCraftEnhanceReq:
        return CliCraftEnhanceReq()


@profile_layout(SrvCraftEnhanceReply, PROFILE_2021)
class CraftEnhanceReply2021(ProfileLayout):
    """``PAKWC_CRAFT_ENHANCE_REPLY`` in 2021: the result, then ``Item`` records to the end of the
    payload (no count, like the 2026 list)."""

    result: CraftEnhancementResult | int = field(u8.enum(CraftEnhancementResult))
    items: tuple[Item, ...] = field(until_end(Item))

    @classmethod
    def from_packet(cls, packet: SrvCraftEnhanceReply) -> Self:
        return cls(result=packet.result, items=tuple(entry.item for entry in packet.items))

    def to_packet(self) -> SrvCraftEnhanceReply:
        return SrvCraftEnhanceReply(
            result=self.result,
            items=tuple(IndexAndItem(index=0, item=item) for item in self.items),
        )


@profile_layout(CliBankMoveItem, PROFILE_2021)
class BankMoveItem2021(ProfileLayout):
    """``PAKCS_BANK_MOVE_ITEM`` in 2021: the 2026 fields, ``mode`` with the values 0 and 1."""

    mode: BankMoveMode2021 | int = field(u8.enum(BankMoveMode2021))
    index: int = field(u8)
    item: Item = field(Item)
    use_special_tab: int = field(u8)

    @classmethod
    def from_packet(cls, packet: CliBankMoveItem) -> Self:
        return cls(
            mode=bank_move_mode_to_2021(packet.mode),
            index=packet.index,
            item=packet.item,
            use_special_tab=packet.use_special_tab,
        )

    def to_packet(self) -> CliBankMoveItem:
        return CliBankMoveItem(
            mode=bank_move_mode_from_2021(self.mode),
            index=self.index,
            item=self.item,
            use_special_tab=self.use_special_tab,
        )
