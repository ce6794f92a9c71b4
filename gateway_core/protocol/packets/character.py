"""Character list, creation, deletion, selection and stats packets.

Declarations follow docs/protocol.md Appendix A (generated from the XML definitions, then
reviewed); field names are the XML names in snake_case.
"""

from __future__ import annotations

from enum import IntEnum

from gateway_core.protocol.codecs import cstr, f32, i16, i32, i64, u8, u16, u32
from gateway_core.protocol.declarations import Packet, Record, array, counted, field, packet, record
from gateway_core.protocol.packets.common import (
    MAX_HOTBAR_ITEMS,
    MAX_SKILL_COUNT,
    MAX_STATUS_EFFECTS,
    MAX_VISIBLE_ITEMS,
    EquippedItem,
    HotbarItem,
    StatusEffect,
)

__all__ = [
    "CharInfo",
    "CliChangeCharReq",
    "CliCharListReq",
    "CliCreateCharReq",
    "CliDeleteCharReq",
    "CliSelectCharReq",
    "CliStatAddReq",
    "CreateCharResult",
    "SrvChanCharReply",
    "SrvCharListReply",
    "SrvCreateCharReply",
    "SrvDeleteCharReply",
    "SrvLevelup",
    "SrvSelectCharReply",
    "SrvSetExp",
    "SrvSpeedChanged",
    "SrvStatAddReply",
    "Stat",
]


class CreateCharResult(IntEnum):
    """``CreateCharResult``: u8 on the wire (srv_create_char_reply.xml)."""

    OK = 0
    FAILED = 1
    NAME_TAKEN = 2
    INVALID_VALUE = 3
    TOO_MANY_CHARS = 4
    BLOCKED = 5


class Stat(IntEnum):
    """``Stat``: u8 on the wire (cli_stat_add_req.xml)."""

    STR = 0
    DEX = 1
    INT = 2
    CON = 3
    CHA = 4
    SEN = 5


@record
class CharInfo(Record):
    """``CharInfo`` (srv_char_list_reply.xml)."""

    name: bytes = field(cstr)
    race: int = field(u8)
    level: int = field(u16)
    job: int = field(u16)
    remain_secs_until_delete: int = field(u32)
    platinium: int = field(u8)
    face: int = field(u32)
    hair: int = field(u32)
    items: tuple[EquippedItem, ...] = field(array(EquippedItem, MAX_VISIBLE_ITEMS))


@packet("PAKCS_CHAR_LIST_REQ")
class CliCharListReq(Packet):
    """``PAKCS_CHAR_LIST_REQ``: client -> server (cli_char_list_req.xml)."""


@packet("PAKCC_CHAR_LIST_REPLY")
class SrvCharListReply(Packet):
    """``PAKCC_CHAR_LIST_REPLY``: server -> client (srv_char_list_reply.xml)."""

    characters: tuple[CharInfo, ...] = field(counted(u8, CharInfo))


@packet("PAKCS_CREATE_CHAR_REQ")
class CliCreateCharReq(Packet):
    """``PAKCS_CREATE_CHAR_REQ``: client -> server (cli_create_char_req.xml)."""

    race: int = field(u8)
    stone: int = field(u8)
    hair: int = field(u8)
    face: int = field(u8)
    weapon: int = field(u8)
    zone: int = field(u16)
    name: bytes = field(cstr)


@packet("PAKCC_CREATE_CHAR_REPLY")
class SrvCreateCharReply(Packet):
    """``PAKCC_CREATE_CHAR_REPLY``: server -> client (srv_create_char_reply.xml)."""

    result: CreateCharResult | int = field(u8.enum(CreateCharResult))
    platininum: int = field(u8)


@packet("PAKCS_DELETE_CHAR_REQ")
class CliDeleteCharReq(Packet):
    """``PAKCS_DELETE_CHAR_REQ``: client -> server (cli_delete_char_req.xml)."""

    char_id: int = field(u8)
    is_delete: int = field(u8)
    name: bytes = field(cstr)


@packet("PAKCC_DELETE_CHAR_REPLY")
class SrvDeleteCharReply(Packet):
    """``PAKCC_DELETE_CHAR_REPLY``: server -> client (srv_delete_char_reply.xml)."""

    remaining_time: int = field(u32)
    name: bytes = field(cstr)


@packet("PAKCS_SELECT_CHAR_REQ")
class CliSelectCharReq(Packet):
    """``PAKCS_SELECT_CHAR_REQ``: client -> server (cli_select_char_req.xml)."""

    char_id: int = field(u8)
    run_mode: int = field(u8)
    ride_mode: int = field(u8)
    name: bytes = field(cstr)


@packet("PAKWC_SELECT_CHAR_REPLY")
class SrvSelectCharReply(Packet):
    """``PAKWC_SELECT_CHAR_REPLY``: server -> client (srv_select_char_reply.xml)."""

    race: int = field(u8)
    map: int = field(u16)
    x: float = field(f32)
    y: float = field(f32)
    spawn: int = field(u16)
    #: It's actually the face that is expected here
    body_face: int = field(u32)
    #: It's actually the hair that is expected here
    body_hair: int = field(u32)
    equipped_items: tuple[EquippedItem, ...] = field(array(EquippedItem, MAX_VISIBLE_ITEMS))
    stone: int = field(u8)
    face: int = field(u8)
    hair: int = field(u8)
    job: int = field(u16)
    faction_id: int = field(u8)
    faction_rank: int = field(u8)
    fame: int = field(u8)
    str: int = field(u16)
    dex: int = field(u16)
    int_: int = field(u16)
    con: int = field(u16)
    charm: int = field(u16)
    sense: int = field(u16)
    hp: int = field(i32)
    mp: int = field(i32)
    xp: int = field(u32)
    level: int = field(u16)
    stat_points: int = field(u32)
    skill_points: int = field(u32)
    body_size: int = field(u8)
    head_size: int = field(u8)
    penalty_xp: int = field(u32)
    faction_fame: tuple[int, ...] = field(array(u16, 2))
    faction_points: tuple[int, ...] = field(array(u16, 10))
    guild_id: int = field(u32)
    guild_contribution: int = field(u16)
    guild_rank: int = field(u8)
    pk_flag: int = field(u16)
    stamina: int = field(u16)
    effects: tuple[StatusEffect, ...] = field(array(StatusEffect, MAX_STATUS_EFFECTS))
    pat_hp: int = field(u16)
    pat_cooldown_time: int = field(u32)
    skills: tuple[int, ...] = field(array(u16, MAX_SKILL_COUNT))
    hotbar: tuple[HotbarItem, ...] = field(array(HotbarItem, MAX_HOTBAR_ITEMS))
    tag: int = field(u32)
    name: bytes = field(cstr)


@packet("PAKCS_CHANGE_CHAR_REQ")
class CliChangeCharReq(Packet):
    """``PAKCS_CHANGE_CHAR_REQ``: client -> server (cli_change_char_req.xml)."""


@packet("PAKCC_CHAN_CHAR_REPLY")
class SrvChanCharReply(Packet):
    """``PAKCC_CHAN_CHAR_REPLY``: server -> client (srv_chan_char_reply.xml)."""


@packet("PAKWC_SET_EXP")
class SrvSetExp(Packet):
    """``PAKWC_SET_EXP``: server -> client (srv_set_exp.xml)."""

    exp: int = field(i64)
    stamina: int = field(i16)
    source_id: int = field(u16)


@packet("PAKWC_LEVELUP")
class SrvLevelup(Packet):
    """``PAKWC_LEVELUP``: server -> client (srv_levelup.xml)."""

    id: int = field(u16)
    level: int = field(i16)
    exp: int = field(i64)
    stat_points: int = field(i16)
    skill_points: int = field(i16)


@packet("PAKCS_STAT_ADD_REQ")
class CliStatAddReq(Packet):
    """``PAKCS_STAT_ADD_REQ``: client -> server (cli_stat_add_req.xml)."""

    stat: Stat | int = field(u8.enum(Stat))


@packet("PAKWC_STAT_ADD_REPLY")
class SrvStatAddReply(Packet):
    """``PAKWC_STAT_ADD_REPLY``: server -> client (srv_stat_add_reply.xml)."""

    stat: Stat | int = field(u8.enum(Stat))
    value: int = field(i16)


@packet("PAKWC_SPEED_CHANGED")
class SrvSpeedChanged(Packet):
    """``PAKWC_SPEED_CHANGED``: server -> client (srv_speed_changed.xml)."""

    target: int = field(u16)
    move_speed: int = field(i16)
    attack_speed: int = field(i16)
    weight: int = field(u8)
