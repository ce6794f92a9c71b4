"""Party packets.

Declarations follow docs/protocol.md Appendix A (generated from the XML definitions, then
reviewed); field names are the XML names in snake_case.
"""

from __future__ import annotations

from enum import IntEnum

from gateway_core.protocol.codecs import cstr, i8, u8, u16, u32
from gateway_core.protocol.declarations import Packet, UnionValue, bit_field, field, packet, union
from gateway_core.protocol.packets.common import (
    Item,
    PartyMember,
    PartyRule,
)

__all__ = [
    "CliPartyReply",
    "CliPartyReq",
    "CliPartyRule",
    "PartyExpData",
    "PartyMemberAction",
    "PartyReplyType",
    "PartyReqType",
    "SrvPartyItem",
    "SrvPartyLevelexp",
    "SrvPartyMember",
    "SrvPartyMemberUpdate",
    "SrvPartyReply",
    "SrvPartyReq",
    "SrvPartyRule",
]


class PartyMemberAction(IntEnum):
    """``PartyMemberAction``: i8 on the wire (srv_party_member.xml)."""

    REMOVE = -1
    ADD = 1


class PartyReplyType(IntEnum):
    """``PartyReplyType``: u8 on the wire (cli_party_reply.xml)."""

    NOT_FOUND = 0
    BUSY = 1
    ACCEPT_CREATE = 2
    ACCEPT_JOIN = 3
    REJECT_JOIN = 4
    DESTROY = 5
    FULL = 6
    INVALID_LEVEL = 7
    CHANGE_OWNER = 8
    CHANGE_OWNER_AND_LEAVE = 9
    NO_PREMIUM = 10
    BAD = 128
    LEAVE = 129
    REJOIN = 130


class PartyReqType(IntEnum):
    """``PartyReqType``: u8 on the wire (cli_party_req.xml)."""

    CREATE = 0
    JOIN = 1
    LEAVE = 2
    CHANGE_OWNER = 3
    BAN = 129


@union(u32)
class PartyExpData(UnionValue):
    """``PartyExpData``: one u32 on the wire (srv_party_levelexp.xml)."""

    data: int = 0
    exp = bit_field(0, 31)
    level_up = bit_field(31, 1)


@packet("PAKCS_PARTY_REQ")
class CliPartyReq(Packet):
    """``PAKCS_PARTY_REQ``: client -> server (cli_party_req.xml)."""

    type: PartyReqType | int = field(u8.enum(PartyReqType))
    target: int = field(u16)


@packet("PAKWC_PARTY_REQ")
class SrvPartyReq(Packet):
    """``PAKWC_PARTY_REQ``: server -> client (srv_party_req.xml)."""

    type: PartyReqType | int = field(u8.enum(PartyReqType))
    source: int = field(u32)
    name: bytes = field(cstr)


@packet("PAKCS_PARTY_REPLY")
class CliPartyReply(Packet):
    """``PAKCS_PARTY_REPLY``: client -> server (cli_party_reply.xml)."""

    type: PartyReplyType | int = field(u8.enum(PartyReplyType))
    target: int = field(u32)


@packet("PAKWC_PARTY_REPLY")
class SrvPartyReply(Packet):
    """``PAKWC_PARTY_REPLY``: server -> client (srv_party_reply.xml)."""

    type: PartyReplyType | int = field(u8.enum(PartyReplyType))
    source: int = field(u32)


@packet("PAKWC_PARTY_MEMBER")
class SrvPartyMember(Packet):
    """``PAKWC_PARTY_MEMBER``: server -> client (srv_party_member.xml)."""

    rule: PartyRule | int = field(u8.enum(PartyRule))
    action: PartyMemberAction | int = field(i8.enum(PartyMemberAction))
    member: PartyMember = field(PartyMember)


@packet("PAKWC_PARTY_ITEM")
class SrvPartyItem(Packet):
    """``PAKWC_PARTY_ITEM``: server -> client (srv_party_item.xml)."""

    target: int = field(u16)
    item: Item = field(Item)


@packet("PAKWC_PARTY_LEVELEXP")
class SrvPartyLevelexp(Packet):
    """``PAKWC_PARTY_LEVELEXP``: server -> client (srv_party_levelexp.xml)."""

    level: int = field(u8)
    exp_data: PartyExpData = field(PartyExpData)


@packet("PAKWC_PARTY_MEMBER_UPDATE")
class SrvPartyMemberUpdate(Packet):
    """``PAKWC_PARTY_MEMBER_UPDATE``: server -> client (srv_party_member_update.xml)."""

    member: PartyMember = field(PartyMember)


@packet("PAKCS_PARTY_RULE")
class CliPartyRule(Packet):
    """``PAKCS_PARTY_RULE``: client -> server (cli_party_rule.xml)."""

    rule: PartyRule | int = field(u8.enum(PartyRule))


@packet("PAKWC_PARTY_RULE")
class SrvPartyRule(Packet):
    """``PAKWC_PARTY_RULE``: server -> client (srv_party_rule.xml)."""

    rule: PartyRule | int = field(u8.enum(PartyRule))
