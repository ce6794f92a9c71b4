"""Connection, login, server selection and server switching packets (category auth/login).

Declarations follow docs/protocol.md Appendix A (generated from the XML definitions, then
reviewed); field names are the XML names in snake_case.
"""

from __future__ import annotations

from enum import IntEnum

from gateway_core.protocol.codecs import cstr, fixed_str, u8, u16, u32
from gateway_core.protocol.declarations import (
    Packet,
    Record,
    counted,
    field,
    packet,
    record,
    until_end,
)

__all__ = [
    "AcceptReplyResult",
    "ChannelInfo",
    "CliAcceptReq",
    "CliChannelListReq",
    "CliJoinServerReq",
    "CliJoinServerTokenReq",
    "CliLoginReq",
    "CliLoginTokenReq",
    "CliLogoutReq",
    "CliSrvSelectReq",
    "JoinResult",
    "LoginResult",
    "ServerInfo",
    "ServerSelectResult",
    "SrvAcceptReply",
    "SrvChannelListReply",
    "SrvJoinServerReply",
    "SrvLoginReply",
    "SrvLogoutReply",
    "SrvSrvSelectReply",
    "SrvSwitchServer",
]


class AcceptReplyResult(IntEnum):
    """``AcceptReplyResult``: u8 on the wire (srv_accept_reply.xml)."""

    CONNECT = 1
    ACCEPTED = 2
    DISCONNECT = 3
    SERVERDEAD = 4


class JoinResult(IntEnum):
    """``JoinResult``: u8 on the wire (srv_join_server_reply.xml)."""

    OK = 0
    FAILED = 1
    TIME_OUT = 2
    INVALID_PASSWORD = 3
    ALREADY_LOGGEDIN = 4


class LoginResult(IntEnum):
    """``LoginResult``: u8 on the wire (srv_login_reply.xml)."""

    OK = 0
    FAILED = 1
    UNKNOWN_ACCOUNT = 2
    INVALID_PASSWORD = 3
    ALREADY_LOGGEDIN = 4
    REFUSED_ACCOUNT = 5
    NEED_CHARGE = 6
    NO_RIGHT_TO_CONNECT = 7
    TOO_MANY_USERS = 8
    NO_NAME = 9
    INVALID_VERSION = 10
    OUTSIDE_REGION = 11


class ServerSelectResult(IntEnum):
    """``ServerSelectResult``: u8 on the wire (srv_srv_select_reply.xml)."""

    OK = 0
    FAILED = 1
    FULL = 2
    INVALID_CHANNEL = 3
    CHANNEL_NOT_ACTIVE = 4
    INVALID_AGE = 5


@record
class ChannelInfo(Record):
    """``ChannelInfo`` (srv_channel_list_reply.xml)."""

    id: int = field(u8)
    low_age: int = field(u8)
    high_age: int = field(u8)
    capacity: int = field(u16)
    name: bytes = field(cstr)


@record
class ServerInfo(Record):
    """``ServerInfo`` (srv_login_reply.xml)."""

    #: XML type ``char``: one byte, exposed as its unsigned value.
    test: int = field(u8)
    name: bytes = field(cstr)
    id: int = field(u32)


@packet("PAKCS_ACCEPT_REQ")
class CliAcceptReq(Packet):
    """``PAKCS_ACCEPT_REQ``: client -> server (cli_accept_req.xml)."""


@packet("PAKCS_CHANNEL_LIST_REQ")
class CliChannelListReq(Packet):
    """``PAKCS_CHANNEL_LIST_REQ``: client -> server (cli_channel_list_req.xml)."""

    server_id: int = field(u32)


@packet("PAKLC_CHANNEL_LIST_REPLY")
class SrvChannelListReply(Packet):
    """``PAKLC_CHANNEL_LIST_REPLY``: server -> client (srv_channel_list_reply.xml)."""

    id: int = field(u32)
    channels: tuple[ChannelInfo, ...] = field(counted(u8, ChannelInfo))


@packet("PAKCS_LOGOUT_REQ")
class CliLogoutReq(Packet):
    """``PAKCS_LOGOUT_REQ``: client -> server (cli_logout_req.xml)."""


@packet("PAKWC_LOGOUT_REPLY")
class SrvLogoutReply(Packet):
    """``PAKWC_LOGOUT_REPLY``: server -> client (srv_logout_reply.xml)."""

    wait_time: int = field(u16)


@packet("PAKCS_LOGIN_REQ")
class CliLoginReq(Packet):
    """``PAKCS_LOGIN_REQ``: client -> server (cli_login_req.xml).

    ``password`` is a fixed 64-byte field carrying the lowercase hex SHA-256 of the password
    (docs/protocol.md §5.11, §9.2), e.g.
    ``CliLoginReq.from_text(password=hashlib.sha256(b"admin").hexdigest(), username="admin")``.
    """

    password: bytes = field(fixed_str(64))
    username: bytes = field(cstr)


@packet("PAKCS_LOGIN_TOKEN_REQ")
class CliLoginTokenReq(Packet):
    """``PAKCS_LOGIN_TOKEN_REQ``: client -> server (cli_login_token_req.xml)."""

    token: bytes = field(cstr)


@packet("PAKLC_LOGIN_REPLY")
class SrvLoginReply(Packet):
    """``PAKLC_LOGIN_REPLY``: server -> client (srv_login_reply.xml).

    ``servers_info`` has no count: its entries run to the end of the payload.
    """

    result: LoginResult | int = field(u8.enum(LoginResult))
    right: int = field(u16)
    type: int = field(u16)
    servers_info: tuple[ServerInfo, ...] = field(until_end(ServerInfo))


@packet("PAKCS_SRV_SELECT_REQ")
class CliSrvSelectReq(Packet):
    """``PAKCS_SRV_SELECT_REQ``: client -> server (cli_srv_select_req.xml)."""

    server_id: int = field(u32)
    channel_id: int = field(u8)


@packet("PAKLC_SRV_SELECT_REPLY")
class SrvSrvSelectReply(Packet):
    """``PAKLC_SRV_SELECT_REPLY``: server -> client (srv_srv_select_reply.xml)."""

    result: ServerSelectResult | int = field(u8.enum(ServerSelectResult))
    session_id: int = field(u32)
    crypt_val: int = field(u32)
    ip: bytes = field(cstr)
    port: int = field(u16)


@packet("PAKCS_JOIN_SERVER_REQ")
class CliJoinServerReq(Packet):
    """``PAKCS_JOIN_SERVER_REQ``: client -> server (cli_join_server_req.xml)."""

    session_id: int = field(u32)
    password: bytes = field(fixed_str(64))


@packet("PAKCS_JOIN_SERVER_TOKEN_REQ")
class CliJoinServerTokenReq(Packet):
    """``PAKCS_JOIN_SERVER_TOKEN_REQ``: client -> server (cli_join_server_token_req.xml)."""

    session_id: int = field(u32)
    token: bytes = field(cstr)


@packet("PAKSC_JOIN_SERVER_REPLY")
class SrvJoinServerReply(Packet):
    """``PAKSC_JOIN_SERVER_REPLY``: server -> client (srv_join_server_reply.xml)."""

    result: JoinResult | int = field(u8.enum(JoinResult))
    id: int = field(u32)
    pay_flag: int = field(u32)


@packet("PAKCC_SWITCH_SERVER")
class SrvSwitchServer(Packet):
    """``PAKCC_SWITCH_SERVER``: server -> client (srv_switch_server.xml)."""

    port: int = field(u16)
    session_id: int = field(u32)
    session_seed: int = field(u32)
    ip: bytes = field(cstr)


@packet("PAKSS_ACCEPT_REPLY")
class SrvAcceptReply(Packet):
    """``PAKSS_ACCEPT_REPLY``: server -> client (srv_accept_reply.xml)."""

    result: AcceptReplyResult | int = field(u8.enum(AcceptReplyResult))
    rand_value: int = field(u32)
