"""The scripted ROSE client flow: building blocks per step, and whole runs of one or N clients.

Strategy: two layers. The *building blocks* (:func:`connect`, :func:`login`, :func:`join`,
:func:`select_character`, :func:`enter_world`, :func:`logout`, ...) each send one request and
wait for its reply, returning the decoded reply packet *without judging it*, so end-to-end
tests can drive single steps and assert on each answer (a forged session id refused, a name
taken). Only timeouts, closed connections and protocol errors raise (:class:`BotError`).
:func:`run_flow` chains them into the client's journey of PROTOCOL.md §7 (login leg, character
leg, world leg, logout), checks every result code (:func:`require_ok` turns a refusal into
:class:`Refused`) and records a :class:`~gateway_core.bot.results.StepResult` per step; it never
raises for a failed flow, it returns a :class:`~gateway_core.bot.results.FlowResult` saying
where and why. :func:`run_clients` runs N flows concurrently under one total deadline.

The character connection stays open until logout (PROTOCOL.md §7.3 step 10, §9.2 item 14):
the osIROSE servers end the session when it closes, and our gateway tolerates either.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Final

import anyio

from gateway_core.bot.client import (
    DEFAULT_TIMEOUT,
    BotError,
    GameClient,
)
from gateway_core.bot.results import FlowResult, StepResult
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
    CreateCharResult,
    JoinResult,
    Packet,
    ServerSelectResult,
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
    "CharacterTemplate",
    "FlowFailed",
    "FlowOptions",
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
    "results_ok",
    "run_clients",
    "run_flow",
    "select_character",
    "select_server",
    "text",
    "whisper",
]

#: Encoding of names and messages on the wire (the protocol defines none; PROTOCOL.md §9.3).
#: Latin-1 round-trips every byte, so whatever the server sends can be compared exactly.
ENCODING: Final = "latin-1"

#: Placeholder in usernames and character names replaced by the client index.
INDEX_PLACEHOLDER: Final = "{i}"


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


class FlowFailed(BotError):
    """The flow cannot continue for a reason that is not a result code (e.g. empty list)."""


def hash_password(password: str) -> str:
    """The password as the protocol carries it: lowercase hex SHA-256 (PROTOCOL.md §7.2)."""
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


# ------------------------------------------------------------------------------------------
# Building blocks: one request, its reply, no judgement of the result code.


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
) -> GameClient:
    """Open a connection to one leg and, unless ``do_accept`` is false, do the accept exchange.

    Every ROSE connection starts with ``PAKCS_ACCEPT_REQ`` (PROTOCOL.md §7.1); a reply other
    than ``ACCEPTED`` raises :class:`Refused`. The caller owns (and closes) the client.
    """
    client = await GameClient.connect(
        host, port, cipher=cipher, profile=profile, label=label, timeout=timeout, step=step
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
    """The four packets a first world join delivers, in this order (PROTOCOL.md §7.4 step 4)."""

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
    """Send ``PAKCS_ALIVE`` (keep-alive; the server never answers it, PROTOCOL.md §7.9)."""
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


# ------------------------------------------------------------------------------------------
# The whole flow


@dataclass(frozen=True, slots=True)
class FlowOptions:
    """What one client does. ``{i}`` in ``username``/``character`` is the client index.

    ``character`` None picks the first character of the list (or, with ``create``, creates one
    named after the user when the list is empty). ``chat`` sends a normal chat and a whisper to
    oneself, each awaited; ``move`` a click-to-move to (x, y), awaited. ``server_id`` /
    ``channel_id`` None pick the first offered. With ``follow_addresses`` false the handed-out
    addresses are ignored and every leg uses ``host:port`` (a gateway behind a NAT that hands
    out an address the tester cannot reach). With ``enter_map`` false the client stops after
    the world join's initial data (no ``PAKCS_CHANGE_MAP_REQ``, no chat or move) and logs out:
    a smoke test of a gateway without map handlers. ``timeout`` bounds each single wait.
    """

    host: str = "127.0.0.1"
    port: int = 29000
    username: str = "bot"
    password: str = "bot"
    character: str | None = None
    create: bool = False
    template: CharacterTemplate = field(default_factory=CharacterTemplate)
    cipher: str = "plain"
    profile: str = "2026"
    timeout: float = DEFAULT_TIMEOUT
    chat: str | None = None
    move: tuple[float, float] | None = None
    server_id: int | None = None
    channel_id: int | None = None
    follow_addresses: bool = True
    enter_map: bool = True

    def for_client(self, index: int) -> FlowOptions:
        """These options for client number ``index`` (placeholders replaced)."""
        character = self.character
        if character is not None:
            character = character.replace(INDEX_PLACEHOLDER, str(index))
        return dataclasses.replace(
            self, username=self.username.replace(INDEX_PLACEHOLDER, str(index)),
            character=character,
        )


class _Recorder:
    """Times steps and fills a :class:`FlowResult`; remembers the step in progress."""

    def __init__(self, result: FlowResult) -> None:
        self.result = result
        self.current: str | None = None

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[StepResult]:
        record = StepResult(name=name, ok=False, elapsed=0.0)
        self.current = name
        started = time.perf_counter()
        try:
            yield record
        except BaseException as exc:
            record.elapsed = time.perf_counter() - started
            if isinstance(exc, Refused):
                record.codes.setdefault(exc.field, exc.value)
                record.names.setdefault(exc.field, exc.code)
            record.detail = str(exc) or type(exc).__name__
            self.result.steps.append(record)
            raise
        record.elapsed = time.perf_counter() - started
        record.ok = True
        self.result.steps.append(record)
        self.current = None


def _note(record: StepResult, field_name: str, value: int) -> None:
    record.codes[field_name] = int(value)
    record.names[field_name] = code_name(value)


def _leg_address(options: FlowOptions, ip: bytes, port: int) -> tuple[str, int]:
    if not options.follow_addresses:
        return options.host, options.port
    host = text(ip)
    # A server bound to every interface may hand out the wildcard; reach it the way we did.
    if host in ("", "0.0.0.0", "::"):
        host = options.host
    return host, port or options.port


async def run_flow(options: FlowOptions, *, deadline: float | None = None) -> FlowResult:
    """Run one client's whole journey; never raises for a failed flow.

    ``deadline`` (anyio clock) bounds the whole flow; reaching it fails the step in progress
    with "total timeout". Returns a :class:`FlowResult` with one step record per step run.
    """
    result = FlowResult(client=options.username)
    recorder = _Recorder(result)
    started = time.perf_counter()
    clients: list[GameClient] = []
    scope = anyio.CancelScope(deadline=deadline if deadline is not None else float("inf"))
    try:
        with scope:
            try:
                await _journey(options, recorder, clients)
                result.ok = True
            except BotError as exc:
                result.failed_step = exc.step
                result.error = str(exc)
                if isinstance(exc, Refused):
                    result.code = exc.code
                    result.code_value = exc.value
            except LocalProtocolError as exc:  # e.g. a name the wire cannot carry
                result.failed_step = recorder.current or "?"
                result.error = f"step {result.failed_step!r}: cannot send: {exc}"
            except Exception as exc:
                # One client's surprise must not take the other clients of a run down with it;
                # the repr keeps the cause visible in the result.
                result.failed_step = recorder.current or "?"
                result.error = f"step {result.failed_step!r}: internal error: {exc!r}"
        if scope.cancelled_caught:
            result.failed_step = recorder.current or "?"
            result.error = f"step {result.failed_step!r}: total timeout reached"
            if result.steps and result.steps[-1].name == result.failed_step:
                result.steps[-1].detail = "total timeout reached"
    finally:
        with anyio.CancelScope(shield=True):
            for client in clients:
                result.unexpected.update(client.unexpected_counts)
                await client.aclose()
        result.elapsed = time.perf_counter() - started
    return result


async def _journey(
    options: FlowOptions, recorder: _Recorder, clients: list[GameClient]
) -> None:
    result = recorder.result

    async def open_leg(host: str, port: int, step: str) -> GameClient:
        leg = await connect(host, port, cipher=options.cipher, profile=options.profile,
                            timeout=options.timeout, label=options.username, step=step)
        clients.append(leg)
        return leg

    # Login leg (PROTOCOL.md §7.2).
    with recorder.step("login_connect"):
        login_leg = await open_leg(options.host, options.port, "login_connect")
    with recorder.step("login") as record:
        reply = await login(login_leg, options.username, options.password)
        _note(record, "result", reply.result)
        require_ok("login", reply)
        record.detail = f"{len(reply.servers_info)} server(s)"
        if not reply.servers_info:
            raise FlowFailed("login", "step 'login': the server list is empty")
    server_id = options.server_id if options.server_id is not None else reply.servers_info[0].id
    with recorder.step("channel_list") as record:
        channels = await channel_list(login_leg, server_id)
        record.detail = f"{len(channels.channels)} channel(s)"
        if options.channel_id is None and not channels.channels:
            raise FlowFailed("channel_list", f"step 'channel_list': server {server_id} "
                             "has no channels")
    channel_id = options.channel_id if options.channel_id is not None else channels.channels[0].id
    with recorder.step("select_server") as record:
        selected = await select_server(login_leg, server_id, channel_id)
        _note(record, "result", selected.result)
        require_ok("select_server", selected, ok=ServerSelectResult.OK)
        result.session_id = selected.session_id
    await login_leg.aclose()  # the client leaves the login server here (§7.2 step 8)

    # Character leg (§7.3); kept open until logout.
    char_host, char_port = _leg_address(options, selected.ip, selected.port)
    with recorder.step("char_connect"):
        char_leg = await open_leg(char_host, char_port, "char_connect")
    with recorder.step("char_join") as record:
        joined = await join(char_leg, selected.session_id, options.password, step="char_join")
        _note(record, "result", joined.result)
        require_ok("char_join", joined, ok=JoinResult.OK)
    with recorder.step("char_list") as record:
        listing = await char_list(char_leg)
        record.detail = f"{len(listing.characters)} character(s)"
        name, found = _choose(options, listing)
        if found is None and not options.create:
            have = ", ".join(text(info.name) for info in listing.characters) or "none"
            raise FlowFailed("char_list", f"step 'char_list': character {name!r} not found "
                             f"(have: {have}); use --create to create it")
    if found is None:
        with recorder.step("create_character") as record:
            created = await create_character(char_leg, name, options.template)
            _note(record, "result", created.result)
            require_ok("create_character", created, ok=CreateCharResult.OK)
        with recorder.step("char_list_after_create") as record:
            listing = await char_list(char_leg, step="char_list_after_create")
            record.detail = f"{len(listing.characters)} character(s)"
            found = find_character(listing, name)
            if found is None:
                raise FlowFailed("char_list_after_create", "step 'char_list_after_create': "
                                 f"created character {name!r} is not in the list")
    char_id, info = found
    result.character = text(info.name)
    with recorder.step("select_character") as record:
        switch = await select_character(char_leg, char_id, text(info.name))
        record.detail = f"world at {text(switch.ip) or '?'}:{switch.port}"

    # World leg (§7.4).
    world_host, world_port = _leg_address(options, switch.ip, switch.port)
    session_id = switch.session_id or selected.session_id
    with recorder.step("world_connect"):
        world_leg = await open_leg(world_host, world_port, "world_connect")
    with recorder.step("world_join") as record:
        joined = await join(world_leg, session_id, options.password, step="world_join")
        _note(record, "result", joined.result)
        require_ok("world_join", joined, ok=JoinResult.OK)
        object_id = joined.id
        result.object_id = object_id
    with recorder.step("initial_data") as record:
        initial = await receive_initial_data(world_leg)
        result.map_id = initial.character.map
        record.detail = (f"map {initial.character.map} at "
                         f"({initial.character.x:.0f}, {initial.character.y:.0f})")
    if options.enter_map:
        with recorder.step("change_map") as record:
            on_map = await change_map(world_leg)
            record.detail = f"object {on_map.object_index}"

        # Optional play.
        if options.chat is not None:
            with recorder.step("chat"):
                await chat(world_leg, object_id, options.chat)
            with recorder.step("whisper"):
                await whisper(world_leg, result.character, options.chat,
                              expect_from=result.character)
        if options.move is not None:
            x, y = options.move
            with recorder.step("move") as record:
                moved = await move(world_leg, object_id, x, y)
                record.detail = f"to ({moved.x:.0f}, {moved.y:.0f})"

    with recorder.step("logout") as record:
        bye = await logout(world_leg)
        record.codes["wait_time"] = bye.wait_time


def _choose(
    options: FlowOptions, listing: SrvCharListReply
) -> tuple[str, tuple[int, CharInfo] | None]:
    """The character to play: by name, else the first listed, else a new one named as the user."""
    if options.character is not None:
        return options.character, find_character(listing, options.character)
    if listing.characters:
        return text(listing.characters[0].name), (0, listing.characters[0])
    return options.username, None


async def run_clients(
    options: FlowOptions,
    count: int,
    *,
    total_timeout: float | None = None,
    first_index: int = 0,
) -> list[FlowResult]:
    """Run ``count`` independent clients concurrently (one task group), results in order.

    Client ``k`` uses ``options.for_client(first_index + k)``. ``total_timeout`` (seconds)
    bounds the whole run: clients still running then fail with "total timeout".
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, not {count}")
    deadline = None if total_timeout is None else anyio.current_time() + total_timeout
    results: list[FlowResult | None] = [None] * count

    async def _one(slot: int) -> None:
        results[slot] = await run_flow(options.for_client(first_index + slot), deadline=deadline)

    async with anyio.create_task_group() as group:
        for slot in range(count):
            group.start_soon(_one, slot)
    return [result for result in results if result is not None]


def results_ok(results: Sequence[FlowResult]) -> bool:
    """True when there is at least one result and every client completed its flow."""
    return bool(results) and all(result.ok for result in results)
