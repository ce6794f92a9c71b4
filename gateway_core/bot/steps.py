"""The scripted ROSE client's building blocks: one protocol step each.

Strategy: each block (:func:`connect`, :func:`login`, :func:`join`, :func:`select_character`,
:func:`enter_world`, :func:`logout`, ...) sends one request and waits for its reply, returning
the decoded reply packet *without judging it*, so end-to-end tests can drive single steps and
assert on each answer (a forged session id refused, a name taken). Only timeouts, closed
connections and protocol errors raise (:class:`~gateway_core.bot.client.BotError`); the
composite steps (:func:`connect` with its accept, :func:`enter_world`) also raise
:class:`Refused` for a refusal, since nothing else would follow. :func:`require_ok` turns a
refused reply into :class:`Refused` for callers that judge. The journey that chains the blocks
is :mod:`gateway_core.bot.journey`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from gateway_core.bot.client import (
    DEFAULT_TIMEOUT,
    BotError,
    GameClient,
)
from gateway_core.protocol.errors import LocalProtocolError
from gateway_core.protocol.packets import (
    AcceptReplyResult,
    CharInfo,
    CliAcceptReq,
    CliAlive,
    CliChangeMapReq,
    CliChannelListReq,
    CliCharListReq,
    CliCreateCharReq,
    CliJoinServerReq,
    CliLoginReq,
    CliLogoutReq,
    CliMouseCmd,
    CliNormalChat,
    CliSelectCharReq,
    CliSrvSelectReq,
    CliWhisperChat,
    Packet,
    SrvAcceptReply,
    SrvBillingMessage,
    SrvChangeMapReply,
    SrvChannelListReply,
    SrvCharListReply,
    SrvCreateCharReply,
    SrvInventoryData,
    SrvJoinServerReply,
    SrvLoginReply,
    SrvLogoutReply,
    SrvMouseCmd,
    SrvNormalChat,
    SrvQuestData,
    SrvSelectCharReply,
    SrvSrvSelectReply,
    SrvSwitchServer,
    SrvWhisperChat,
)

__all__ = [
    "ENCODING",
    "CharacterTemplate",
    "InitialData",
    "Refused",
    "WorldEntry",
    "accept",
    "alive",
    "change_map",
    "channel_list",
    "char_list",
    "chat",
    "code_name",
    "connect",
    "create_character",
    "enter_world",
    "find_character",
    "hash_password",
    "join",
    "login",
    "logout",
    "move",
    "receive_initial_data",
    "require_ok",
    "select_character",
    "select_server",
    "text",
    "whisper",
]

#: Encoding of names and messages on the wire (the protocol defines none; docs/protocol.md §9.3).
#: Latin-1 round-trips every byte, so whatever the server sends can be compared exactly.
ENCODING: Final = "latin-1"


class Refused(BotError):
    """The server answered a request with a non-OK result code.

    ``packet`` is the reply's protocol name, ``field`` the result field, ``code`` the symbolic
    name of the value (``"INVALID_PASSWORD"``, or the number when the protocol defines no name
    for it) and ``value`` the number.
    """

    def __init__(self, step: str, packet: str, field_name: str, value: int, code: str) -> None:
        super().__init__(step, f"step {step!r}: {packet}.{field_name} = {code} ({value})")
        self.packet = packet
        self.field = field_name
        self.value = value
        self.code = code


def hash_password(password: str) -> str:
    """The password as the protocol carries it: lowercase hex SHA-256 (docs/protocol.md §7.2)."""
    return hashlib.sha256(password.encode("utf-8")).hexdigest()


def text(value: bytes) -> str:
    """A wire string as ``str`` (lossless Latin-1, see :data:`ENCODING`)."""
    return value.decode(ENCODING)


def _wire(value: str, what: str) -> bytes:
    try:
        return value.encode(ENCODING)
    except UnicodeEncodeError as exc:
        raise LocalProtocolError(f"{what} {value!r} is not {ENCODING}", kind="bad_field") from exc


def code_name(value: int) -> str:
    """The symbolic name of a result code (``"OK"``), or its number as text."""
    return value.name if isinstance(value, IntEnum) else str(int(value))


def require_ok(
    step: str, reply: Packet, field_name: str = "result", ok: int = 0
) -> None:
    """Raise :class:`Refused` naming ``step`` unless ``reply.<field_name> == ok``."""
    value = getattr(reply, field_name)
    if int(value) != ok:
        raise Refused(step, reply.NAME, field_name, int(value), code_name(value))


async def connect(
    host: str,
    port: int,
    *,
    cipher: str = "plain",
    profile: str = "2026",
    timeout: float = DEFAULT_TIMEOUT,
    label: str = "",
    step: str = "connect",
    do_accept: bool = True,
    local_host: str | None = None,
) -> GameClient:
    """Open a connection to one leg and, unless ``do_accept`` is false, do the accept exchange.

    Every ROSE connection starts with ``PAKCS_ACCEPT_REQ`` (docs/protocol.md §7.1); a reply other
    than ``ACCEPTED`` raises :class:`Refused`. The caller owns (and closes) the client.
    """
    client = await GameClient.connect(
        host, port, cipher=cipher, profile=profile, label=label, timeout=timeout, step=step,
        local_host=local_host,
    )
    if do_accept:
        try:
            reply = await accept(client, step=step)
            require_ok(step, reply, ok=AcceptReplyResult.ACCEPTED)
        except BaseException:
            await client.aclose()
            raise
    return client


async def accept(client: GameClient, *, step: str = "accept") -> SrvAcceptReply:
    """Send ``PAKCS_ACCEPT_REQ``; return ``PAKSS_ACCEPT_REPLY``."""
    await client.send(CliAcceptReq(), step=step)
    return await client.expect(SrvAcceptReply, step=step)


async def login(
    client: GameClient, username: str, password: str, *, step: str = "login"
) -> SrvLoginReply:
    """Send ``PAKCS_LOGIN_REQ`` (SHA-256 hex of ``password``); return ``PAKLC_LOGIN_REPLY``."""
    request = CliLoginReq(
        password=hash_password(password).encode("ascii"), username=_wire(username, "username")
    )
    await client.send(request, step=step)
    return await client.expect(SrvLoginReply, step=step)


async def channel_list(
    client: GameClient, server_id: int, *, step: str = "channel_list"
) -> SrvChannelListReply:
    """Send ``PAKCS_CHANNEL_LIST_REQ``; return ``PAKLC_CHANNEL_LIST_REPLY``."""
    await client.send(CliChannelListReq(server_id=server_id), step=step)
    return await client.expect(SrvChannelListReply, step=step)


async def select_server(
    client: GameClient, server_id: int, channel_id: int, *, step: str = "select_server"
) -> SrvSrvSelectReply:
    """Send ``PAKCS_SRV_SELECT_REQ``; return ``PAKLC_SRV_SELECT_REPLY`` (session id, address)."""
    await client.send(CliSrvSelectReq(server_id=server_id, channel_id=channel_id), step=step)
    return await client.expect(SrvSrvSelectReply, step=step)


async def join(
    client: GameClient, session_id: int, password: str, *, step: str = "join"
) -> SrvJoinServerReply:
    """Send ``PAKCS_JOIN_SERVER_REQ``; return ``PAKSC_JOIN_SERVER_REPLY``.

    The same request opens the character leg and the world leg; which one it is depends on
    the session's phase on the server side.
    """
    request = CliJoinServerReq(
        session_id=session_id, password=hash_password(password).encode("ascii")
    )
    await client.send(request, step=step)
    return await client.expect(SrvJoinServerReply, step=step)


async def char_list(client: GameClient, *, step: str = "char_list") -> SrvCharListReply:
    """Send ``PAKCS_CHAR_LIST_REQ``; return ``PAKCC_CHAR_LIST_REPLY``."""
    await client.send(CliCharListReq(), step=step)
    return await client.expect(SrvCharListReply, step=step)


@dataclass(frozen=True, slots=True)
class CharacterTemplate:
    """The looks and start zone of a character the bot creates (``PAKCS_CREATE_CHAR_REQ``)."""

    race: int = 0
    stone: int = 1
    hair: int = 1
    face: int = 1
    weapon: int = 1
    zone: int = 1


async def create_character(
    client: GameClient,
    name: str,
    template: CharacterTemplate | None = None,
    *,
    step: str = "create_character",
) -> SrvCreateCharReply:
    """Send ``PAKCS_CREATE_CHAR_REQ``; return ``PAKCC_CREATE_CHAR_REPLY``."""
    looks = template or CharacterTemplate()
    request = CliCreateCharReq(
        race=looks.race,
        stone=looks.stone,
        hair=looks.hair,
        face=looks.face,
        weapon=looks.weapon,
        zone=looks.zone,
        name=_wire(name, "character name"),
    )
    await client.send(request, step=step)
    return await client.expect(SrvCreateCharReply, step=step)


async def select_character(
    client: GameClient,
    char_id: int,
    name: str,
    *,
    run_mode: int = 0,
    ride_mode: int = 0,
    step: str = "select_character",
) -> SrvSwitchServer:
    """Send ``PAKCS_SELECT_CHAR_REQ`` (``char_id`` = index in the last list); return
    ``PAKCC_SWITCH_SERVER`` (the world endpoint)."""
    request = CliSelectCharReq(
        char_id=char_id, run_mode=run_mode, ride_mode=ride_mode, name=_wire(name, "name")
    )
    await client.send(request, step=step)
    return await client.expect(SrvSwitchServer, step=step)


@dataclass(frozen=True, slots=True)
class InitialData:
    """The four packets a first world join delivers, in order (docs/protocol.md §7.4 step 4)."""

    character: SrvSelectCharReply
    inventory: SrvInventoryData
    quests: SrvQuestData
    billing: SrvBillingMessage


_INITIAL_ORDER: Final = (SrvSelectCharReply, SrvInventoryData, SrvQuestData, SrvBillingMessage)


async def receive_initial_data(client: GameClient, *, step: str = "initial_data") -> InitialData:
    """Wait for the initial character data, strictly in protocol order.

    One of the four packets arriving before an earlier one raises
    :class:`~gateway_core.bot.client.UnexpectedPacket`
    (rather than waiting for a packet that already went by); other packets in between are
    set aside as unexpected.
    """
    received: list[Packet] = []
    for index, wanted in enumerate(_INITIAL_ORDER):
        received.append(
            await client.expect(wanted, step=step, reject=_INITIAL_ORDER[index + 1 :])
        )
    character, inventory, quests, billing = received
    assert isinstance(character, SrvSelectCharReply)
    assert isinstance(inventory, SrvInventoryData)
    assert isinstance(quests, SrvQuestData)
    assert isinstance(billing, SrvBillingMessage)
    return InitialData(character, inventory, quests, billing)


async def change_map(
    client: GameClient, *, weight_rate: int = 0, z: int = 0, step: str = "change_map"
) -> SrvChangeMapReply:
    """Send ``PAKCS_CHANGE_MAP_REQ``; return ``PAKWC_CHANGE_MAP_REPLY`` (now on the map)."""
    await client.send(CliChangeMapReq(weight_rate=weight_rate, z=z), step=step)
    return await client.expect(SrvChangeMapReply, step=step)


@dataclass(frozen=True, slots=True)
class WorldEntry:
    """Everything the world leg returned on the way in."""

    join: SrvJoinServerReply
    initial: InitialData
    change_map: SrvChangeMapReply

    @property
    def object_id(self) -> int:
        """The character's world object id (from the join reply)."""
        return self.join.id


async def enter_world(
    client: GameClient, session_id: int, password: str, *, step: str = "enter_world"
) -> WorldEntry:
    """Join the world leg, take the initial data and enter the map.

    Composite step: unlike the single-request blocks it checks the join result and raises
    :class:`Refused` when the join is refused (nothing else would follow).
    """
    reply = await join(client, session_id, password, step=step)
    require_ok(step, reply)
    initial = await receive_initial_data(client, step=step)
    on_map = await change_map(client, step=step)
    return WorldEntry(reply, initial, on_map)


async def chat(
    client: GameClient, object_id: int, message: str, *, step: str = "chat"
) -> SrvNormalChat:
    """Send ``PAKCS_NORMAL_CHAT``; return its echo (normal chat reaches the sender too).

    Only the ``PAKWC_NORMAL_CHAT`` from ``object_id`` carrying ``message`` counts; other
    players' chat is set aside.
    """
    wire = _wire(message, "message")
    await client.send(CliNormalChat(message=wire), step=step)
    return await client.expect(
        SrvNormalChat,
        step=step,
        match=lambda packet: packet.char_id == object_id and packet.message == wire,
    )


async def whisper(
    client: GameClient,
    target: str,
    message: str,
    *,
    expect_from: str | None = None,
    step: str = "whisper",
) -> SrvWhisperChat | None:
    """Send ``PAKCS_WHISPER_CHAT`` to ``target``.

    With ``expect_from``, wait for a ``PAKWC_WHISPER_CHAT`` from that sender carrying
    ``message`` (whispering to oneself comes back that way) and return it; otherwise return
    ``None`` at once (a whisper to someone else gets no reply to the sender).
    """
    wire = _wire(message, "message")
    await client.send(CliWhisperChat(target=_wire(target, "target"), message=wire), step=step)
    if expect_from is None:
        return None
    sender = _wire(expect_from, "sender")
    return await client.expect(
        SrvWhisperChat,
        step=step,
        match=lambda packet: packet.sender == sender and packet.message == wire,
    )


async def move(
    client: GameClient, object_id: int, x: float, y: float, *, z: int = 0, step: str = "move"
) -> SrvMouseCmd:
    """Send ``PAKCS_MOUSE_CMD`` (click to move); return the ``PAKWC_MOUSE_CMD`` about us."""
    await client.send(CliMouseCmd(target_id=0, x=x, y=y, z=z), step=step)
    return await client.expect(
        SrvMouseCmd, step=step, match=lambda packet: packet.id == object_id
    )


async def alive(client: GameClient, *, step: str = "alive") -> None:
    """Send ``PAKCS_ALIVE`` (keep-alive; the server never answers it, docs/protocol.md §7.9)."""
    await client.send(CliAlive(), step=step)


async def logout(client: GameClient, *, step: str = "logout") -> SrvLogoutReply:
    """Send ``PAKCS_LOGOUT_REQ``; return ``PAKWC_LOGOUT_REPLY``."""
    await client.send(CliLogoutReq(), step=step)
    return await client.expect(SrvLogoutReply, step=step)


def find_character(reply: SrvCharListReply, name: str) -> tuple[int, CharInfo] | None:
    """The list index and entry of character ``name`` in a character list, if present."""
    wire = _wire(name, "character name")
    for index, info in enumerate(reply.characters):
        if info.name == wire:
            return index, info
    return None
