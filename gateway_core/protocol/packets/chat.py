"""Chat, whisper, shout, messenger, chat room and memo packets.

Declarations follow docs/protocol.md Appendix A (generated from the XML definitions, then
reviewed); field names are the XML names in snake_case.
"""

from __future__ import annotations

from enum import IntEnum

from gateway_core.protocol.codecs import cstr, u8, u16, u32
from gateway_core.protocol.declarations import Packet, field, packet

__all__ = [
    "CliAlliedChat",
    "CliAlliedShoutChat",
    "CliChatroom",
    "CliChatroomMessage",
    "CliClanChat",
    "CliMemo",
    "CliMessengerChat",
    "CliNormalChat",
    "CliPartyChat",
    "CliShoutChat",
    "CliWhisperChat",
    "MemoType",
    "SrvAlliedChat",
    "SrvAlliedShoutChat",
    "SrvAnnounceChat",
    "SrvChatroom",
    "SrvChatroomMessage",
    "SrvClanChat",
    "SrvMemo",
    "SrvMessengerChat",
    "SrvNormalChat",
    "SrvPartyChat",
    "SrvShoutChat",
    "SrvWhisperChat",
]


class MemoType(IntEnum):
    """``MemoType``: u8 on the wire (cli_memo.xml)."""

    REQUEST_CONTENT = 0
    SEND = 1
    RECEIVED_COUNT = 2


@packet("PAKSW_ANNOUNCE_CHAT")
class SrvAnnounceChat(Packet):
    """``PAKSW_ANNOUNCE_CHAT``: server -> client (srv_announce_chat.xml)."""

    message: bytes = field(cstr)
    name: bytes = field(cstr)


@packet("PAKCS_NORMAL_CHAT")
class CliNormalChat(Packet):
    """``PAKCS_NORMAL_CHAT``: client -> server (cli_normal_chat.xml)."""

    message: bytes = field(cstr)


@packet("PAKWC_NORMAL_CHAT")
class SrvNormalChat(Packet):
    """``PAKWC_NORMAL_CHAT``: server -> client (srv_normal_chat.xml)."""

    char_id: int = field(u16)
    message: bytes = field(cstr)


@packet("PAKCS_WHISPER_CHAT")
class CliWhisperChat(Packet):
    """``PAKCS_WHISPER_CHAT``: client -> server (cli_whisper_chat.xml)."""

    target: bytes = field(cstr)
    message: bytes = field(cstr)


@packet("PAKWC_WHISPER_CHAT")
class SrvWhisperChat(Packet):
    """``PAKWC_WHISPER_CHAT``: server -> client (srv_whisper_chat.xml)."""

    sender: bytes = field(cstr)
    message: bytes = field(cstr)


@packet("PAKCS_SHOUT_CHAT")
class CliShoutChat(Packet):
    """``PAKCS_SHOUT_CHAT``: client -> server (cli_shout_chat.xml)."""

    message: bytes = field(cstr)


@packet("PAKWC_SHOUT_CHAT")
class SrvShoutChat(Packet):
    """``PAKWC_SHOUT_CHAT``: server -> client (srv_shout_chat.xml)."""

    sender: bytes = field(cstr)
    message: bytes = field(cstr)


@packet("PAKCS_PARTY_CHAT")
class CliPartyChat(Packet):
    """``PAKCS_PARTY_CHAT``: client -> server (cli_party_chat.xml)."""

    message: bytes = field(cstr)


@packet("PAKWC_PARTY_CHAT")
class SrvPartyChat(Packet):
    """``PAKWC_PARTY_CHAT``: server -> client (srv_party_chat.xml)."""

    char_id: int = field(u16)
    message: bytes = field(cstr)


@packet("PAKCS_CLAN_CHAT")
class CliClanChat(Packet):
    """``PAKCS_CLAN_CHAT``: client -> server (cli_clan_chat.xml)."""

    message: bytes = field(cstr)


@packet("PAKWC_CLAN_CHAT")
class SrvClanChat(Packet):
    """``PAKWC_CLAN_CHAT``: server -> client (srv_clan_chat.xml)."""

    sender: bytes = field(cstr)
    message: bytes = field(cstr)


@packet("PAKCS_ALLIED_CHAT")
class CliAlliedChat(Packet):
    """``PAKCS_ALLIED_CHAT``: client -> server (cli_allied_chat.xml)."""

    message: bytes = field(cstr)


@packet("PAKWC_ALLIED_CHAT")
class SrvAlliedChat(Packet):
    """``PAKWC_ALLIED_CHAT``: server -> client (srv_allied_chat.xml)."""

    team: int = field(u32)
    message: bytes = field(cstr)


@packet("PAKCS_ALLIED_SHOUT_CHAT")
class CliAlliedShoutChat(Packet):
    """``PAKCS_ALLIED_SHOUT_CHAT``: client -> server (cli_allied_shout_chat.xml)."""

    message: bytes = field(cstr)


@packet("PAKWC_ALLIED_SHOUT_CHAT")
class SrvAlliedShoutChat(Packet):
    """``PAKWC_ALLIED_SHOUT_CHAT``: server -> client (srv_allied_shout_chat.xml)."""

    team: int = field(u32)
    sender: bytes = field(cstr)
    message: bytes = field(cstr)


@packet("PAKCS_MESSENGER_CHAT")
class CliMessengerChat(Packet):
    """``PAKCS_MESSENGER_CHAT``: client -> server (cli_messenger_chat.xml)."""

    tag: int = field(u16)
    message: bytes = field(cstr)


@packet("PAKCC_MESSENGER_CHAT")
class SrvMessengerChat(Packet):
    """``PAKCC_MESSENGER_CHAT``: server -> client (srv_messenger_chat.xml)."""

    tag: int = field(u16)
    message: bytes = field(cstr)


@packet("PAKCS_CHATROOM")
class CliChatroom(Packet):
    """``PAKCS_CHATROOM``: client -> server (cli_chatroom.xml).

    The XML keeps its field list in a comment ("pending IDL union enhancements"),
    so the generated packet has an empty payload (docs/protocol.md §5.10).
    """


@packet("PAKCC_CHATROOM")
class SrvChatroom(Packet):
    """``PAKCC_CHATROOM``: server -> client (srv_chatroom.xml).

    The XML keeps its field list in a comment ("pending IDL union enhancements"),
    so the generated packet has an empty payload (docs/protocol.md §5.10).
    """


@packet("PAKCS_CHATROOM_MESSAGE")
class CliChatroomMessage(Packet):
    """``PAKCS_CHATROOM_MESSAGE``: client -> server (cli_chatroom_message.xml)."""

    message: bytes = field(cstr)


@packet("PAKCC_CHATROOM_MESSAGE")
class SrvChatroomMessage(Packet):
    """``PAKCC_CHATROOM_MESSAGE``: server -> client (srv_chatroom_message.xml)."""

    target: int = field(u16)
    message: bytes = field(cstr)


@packet("PAKCS_MEMO")
class CliMemo(Packet):
    """``PAKCS_MEMO``: client -> server (cli_memo.xml)."""

    type: MemoType | int = field(u8.enum(MemoType))
    target: bytes = field(cstr)
    message: bytes = field(cstr)


@packet("PAKCC_MEMO")
class SrvMemo(Packet):
    """``PAKCC_MEMO``: server -> client (srv_memo.xml).

    The XML keeps its field list in a comment ("pending IDL union enhancements"),
    so the generated packet has an empty payload (docs/protocol.md §5.10).
    """
