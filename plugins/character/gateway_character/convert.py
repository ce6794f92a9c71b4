"""Character service messages -> game packets (character list, world-entry data).

Backend data is untrusted like client data: every number is clamped into its wire field and
every name made encodable, so a bad row never makes a handler raise while encoding. Strings
use the protocol layer's text encoding (latin-1, lossless; docs/protocol.md §9.3).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from gateway_protos.v1 import character_pb2

from gateway_core.api import (
    MAX_HOTBAR_ITEMS,
    MAX_ITEMS,
    MAX_SKILL_COUNT,
    MAX_VISIBLE_ITEMS,
    TEXT_ENCODING,
    CharInfo,
    EquippedItem,
    HotbarItem,
    Item,
    ItemData,
    ItemHeader,
    SrvInventoryData,
    SrvSelectCharReply,
)

#: Longest character name put on the wire (bytes).
MAX_NAME_BYTES = 64


def clamp(value: int, bits: int, *, signed: bool = False) -> int:
    """``value`` forced into an integer field of ``bits`` bits."""
    if signed:
        low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    else:
        low, high = 0, (1 << bits) - 1
    return min(max(int(value), low), high)


def wire_name(name: str) -> bytes:
    """A name as wire bytes: unencodable characters and NULs replaced, length bounded."""
    return name.encode(TEXT_ENCODING, "replace").replace(b"\0", b"?")[:MAX_NAME_BYTES]


def _coordinate(value: float) -> float:
    return float(value) if math.isfinite(value) else 0.0


def _padded(values: Sequence[int], length: int, bits: int) -> tuple[int, ...]:
    out = [clamp(v, bits) for v in values[:length]]
    return tuple(out + [0] * (length - len(out)))


def visible_items(values: Sequence[int]) -> tuple[EquippedItem, ...]:
    """The 8 visible items (EquippedItem u32 values, body-part order, §9.2.3)."""
    return tuple(EquippedItem(v) for v in _padded(values, MAX_VISIBLE_ITEMS, 32))


def char_info(summary: character_pb2.CharacterSummary) -> CharInfo:
    """One line of ``PAKCC_CHAR_LIST_REPLY`` (§7.3 step 4)."""
    return CharInfo(
        name=wire_name(summary.name),
        race=clamp(summary.race, 8),
        level=clamp(summary.level, 16),
        job=clamp(summary.job, 16),
        remain_secs_until_delete=clamp(summary.remaining_delete_seconds, 32),
        platinium=0,
        face=clamp(summary.face, 32),
        hair=clamp(summary.hair, 32),
        items=visible_items(summary.equipped_items),
    )


def select_char_reply(state: character_pb2.CharacterState) -> SrvSelectCharReply:
    """``PAKWC_SELECT_CHAR_REPLY``: the character as stored (§7.4 step 4.1).

    The saved position is used (osIROSE picks a random point near the map's spawn), and the
    visible items are in body-part order like the character list (§9.2.3: the map server's
    inventory-slot order looks like a bug). Fields the service does not keep (faction, guild,
    status effects, sizes, tag) are 0.
    """
    stats = state.stats
    return SrvSelectCharReply(
        race=clamp(state.race, 8),
        map=clamp(state.map_id, 16),
        x=_coordinate(state.x),
        y=_coordinate(state.y),
        spawn=clamp(state.spawn, 16),
        body_face=clamp(state.face, 32),
        body_hair=clamp(state.hair, 32),
        equipped_items=visible_items(state.equipped_items),
        stone=clamp(state.stone, 8),
        face=clamp(state.face, 8),
        hair=clamp(state.hair, 8),
        job=clamp(state.job, 16),
        str=clamp(stats.str, 16),
        dex=clamp(stats.dex, 16),
        int_=clamp(stats.int_, 16),
        con=clamp(stats.con, 16),
        charm=clamp(stats.charm, 16),
        sense=clamp(stats.sense, 16),
        hp=clamp(state.hp, 32, signed=True),
        mp=clamp(state.mp, 32, signed=True),
        xp=clamp(state.xp, 32),
        level=clamp(state.level, 16),
        stat_points=clamp(state.stat_points, 32),
        skill_points=clamp(state.skill_points, 32),
        penalty_xp=clamp(state.penalty_xp, 32),
        stamina=clamp(state.stamina, 16),
        skills=_padded(state.skills, MAX_SKILL_COUNT, 16),
        hotbar=tuple(HotbarItem(v) for v in _padded(state.hotbar, MAX_HOTBAR_ITEMS, 16)),
        name=wire_name(state.name),
    )


def inventory_data(state: character_pb2.CharacterState) -> SrvInventoryData:
    """``PAKWC_INVENTORY_DATA``: money and the 140 inventory slots (§7.4 step 4.2)."""
    items = [
        Item(ItemHeader(clamp(item.header, 16)), ItemData(clamp(item.data, 32)))
        for item in state.inventory[:MAX_ITEMS]
    ]
    items += [Item(ItemHeader(0), ItemData(0))] * (MAX_ITEMS - len(items))
    return SrvInventoryData(zuly=clamp(state.money, 64, signed=True), items=tuple(items))
