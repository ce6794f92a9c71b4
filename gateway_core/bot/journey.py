"""The scripted ROSE client's journey: whole runs of one or N clients.

Strategy: :func:`run_flow` chains the building blocks of :mod:`gateway_core.bot.steps` into the
client's journey of docs/protocol.md §7 (login leg, character leg, world leg, logout), checks every
result code (:func:`~gateway_core.bot.steps.require_ok` turns a refusal into
:class:`~gateway_core.bot.steps.Refused`) and records a
:class:`~gateway_core.bot.results.StepResult` per step; it never raises for a failed flow, it
returns a :class:`~gateway_core.bot.results.FlowResult` saying where and why. :func:`run_clients`
runs N flows concurrently under one total deadline. :class:`FlowOptions` says what one client
does.

The character connection stays open until logout (docs/protocol.md §7.3 step 10, §9.2 item 14):
the osIROSE servers end the session when it closes, and our gateway tolerates either.

A flow that does not reach its own logout (a failure, the total timeout, Ctrl-C) still ends its
session, so that the next run of the same accounts is not refused ``ALREADY_LOGGEDIN``: a
session outlives its last connection by the gateway's SESSION_GRACE, but ``PAKCS_LOGOUT_REQ``
ends it at once (README "What happens to a session"). So the flow remembers which of its
connections may hold the session (the login leg from its login request until it is closed,
each later leg from its join request) and, at the end, sends the logout on the newest of them
that is still open and waits for the reply; when none is open but the session id is known, a
new connection joins the session and logs it out. Each connection handles its packets in
order, so a logout sent behind a login or join still in flight is handled after it.

:class:`RunControl` lets the caller stop a run (:meth:`RunControl.interrupt`, the CLI's Ctrl-C):
every flow stops where it is and logs out; a second interruption abandons the logouts. It also
carries the run's live :class:`~gateway_core.bot.progress.RunProgress`. With ``stay`` the client
stays in the world that many seconds, moving and chatting at ``move_rate`` and ``chat_rate``
per second and reading everything the server sends, before its logout: a soak.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final

import anyio

from gateway_core.bot.client import (
    DEFAULT_TIMEOUT,
    BadServerData,
    BotError,
    ConnectFailed,
    ConnectionClosed,
    Event,
    GameClient,
    StepTimeout,
    UnexpectedPacket,
)
from gateway_core.bot.progress import RunProgress
from gateway_core.bot.results import FlowResult, SoakStats, StepResult, failure_reason
from gateway_core.bot.steps import (
    CharacterTemplate,
    Refused,
    alive,
    change_map,
    channel_list,
    char_list,
    chat,
    code_name,
    connect,
    create_character,
    find_character,
    join,
    login,
    logout,
    move,
    receive_initial_data,
    require_ok,
    select_character,
    select_server,
    text,
    whisper,
)
from gateway_core.protocol.errors import LocalProtocolError
from gateway_core.protocol.packets import (
    CharInfo,
    CliMouseCmd,
    CliNormalChat,
    CliTeleportReq,
    CreateCharResult,
    JoinResult,
    ServerSelectResult,
    SrvCharListReply,
    SrvMouseCmd,
    SrvNormalChat,
    SrvTeleportReply,
    SrvWhisperChat,
)

__all__ = [
    "DEFAULT_CHAT_RATE",
    "DEFAULT_MOVE_RATE",
    "INDEX_PLACEHOLDER",
    "RUN_SPEED",
    "FlowFailed",
    "FlowOptions",
    "RunControl",
    "WarpGate",
    "results_ok",
    "run_clients",
    "run_flow",
]

#: Placeholder in usernames and character names replaced by the client index.
INDEX_PLACEHOLDER: Final = "{i}"
#: A new character's run speed (map units per second): how long walking to a gate takes.
RUN_SPEED: Final = 425.0
#: How long the client looks around after arriving on a map (spawns come in on their own).
LOOK_SECONDS: Final = 1.0
#: Moves and chat lines per client per second while staying (``--stay``): modest, well
#: below the gateway's flood limit (MAX_PACKETS_PER_SECOND) and a player's pace.
DEFAULT_MOVE_RATE: Final = 0.5
DEFAULT_CHAT_RATE: Final = 0.1
#: How far from where it stands a staying client walks (map units): a few seconds' walk.
STAY_RADIUS: Final = 200.0
#: Keep-alive period of the connections of a staying client (below the gateway's IDLE_TIMEOUT).
ALIVE_INTERVAL: Final = 60.0
#: How long a stay waits at its end for the replies to its last moves and lines.
SETTLE_SECONDS: Final = 1.0
#: The sender of the whispers by which the gateway tells a player that something failed.
SERVER_SENDER: Final = b"server msg"


@dataclass(frozen=True, slots=True)
class WarpGate:
    """A warp gate to take (from the content pack the server runs): its id, map and centre."""

    id: int
    map_id: int
    x: float
    y: float


class FlowFailed(BotError):
    """The flow cannot continue for a reason that is not a result code (e.g. empty list)."""


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
    a smoke test of a gateway without map handlers. ``warp`` walks to that gate once on the
    map, takes it (``PAKCS_TELEPORT_REQ``), enters the destination map and looks around; the
    NPCs, monsters and players seen are in the result. ``timeout`` bounds each single wait.

    ``stay`` (seconds, 0 = none) keeps the client on the map after the steps above, sending
    click-to-moves around where it stands at ``move_rate`` and normal chat lines at
    ``chat_rate`` (per second each, 0 = none) and counting the replies (``FlowResult.soak``).
    With ``release`` (the default) a flow that does not reach its logout still ends its
    session (see the module docstring). ``index`` is the client's number (set by
    :meth:`for_client`).
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
    warp: WarpGate | None = None
    stay: float = 0.0
    move_rate: float = DEFAULT_MOVE_RATE
    chat_rate: float = DEFAULT_CHAT_RATE
    release: bool = True
    index: int = 0

    def for_client(self, index: int) -> FlowOptions:
        """These options for client number ``index`` (placeholders replaced)."""
        character = self.character
        if character is not None:
            character = character.replace(INDEX_PLACEHOLDER, str(index))
        return dataclasses.replace(
            self, username=self.username.replace(INDEX_PLACEHOLDER, str(index)),
            character=character, index=index,
        )


class RunControl:
    """Stops the flows of a run, and carries its live :class:`RunProgress`.

    :meth:`interrupt` (the CLI calls it on Ctrl-C) stops every flow in its step and every
    client a ramp has not started yet; the flows then end their sessions (logout). A second
    call abandons those logouts too: everything closes at once. Use one per run, on one event
    loop.
    """

    def __init__(self, progress: RunProgress | None = None) -> None:
        self.progress = progress if progress is not None else RunProgress()
        self.interrupted = False
        self.abandoned = False
        self._flows: set[anyio.CancelScope] = set()
        self._releases: set[anyio.CancelScope] = set()

    def interrupt(self) -> None:
        """Stop the run (the flows log out); a second call also abandons the logouts."""
        if self.interrupted:
            self.abandon()
            return
        self.interrupted = True
        self.progress.phase = "interrupted"
        for scope in list(self._flows):
            scope.cancel()

    def abandon(self) -> None:
        """Stop the run and every logout in progress at once."""
        self.interrupted = self.abandoned = True
        self.progress.phase = "abandoning"
        for scope in [*self._flows, *self._releases]:
            scope.cancel()

    @contextlib.contextmanager
    def _watch(self, scope: anyio.CancelScope, *, release: bool = False) -> Iterator[None]:
        scopes = self._releases if release else self._flows
        scopes.add(scope)
        if self.abandoned or (self.interrupted and not release):
            scope.cancel()
        try:
            yield
        finally:
            scopes.discard(scope)


class _Flow:
    """One flow's bookkeeping: times steps and fills a :class:`FlowResult`, remembers the step
    in progress, the connections (``clients``), those that may hold the session (``holders``)
    and the session id with the address to rejoin it (``session``), and updates the run's
    progress."""

    def __init__(self, result: FlowResult, progress: RunProgress) -> None:
        self.result = result
        self.progress = progress
        self.current: str | None = None
        self.clients: list[GameClient] = []
        self.holders: list[GameClient] = []
        self.session: tuple[int, str, int] | None = None
        self.connected = False
        self.in_world = False

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[StepResult]:
        record = StepResult(name=name, ok=False, elapsed=0.0)
        self.current = name
        self.progress.enter(name)
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
        finally:
            self.progress.leave(name)
        record.elapsed = time.perf_counter() - started
        record.ok = True
        self.result.steps.append(record)
        self.current = None

    def hold(self, leg: GameClient) -> None:
        """``leg`` is about to ask for (or take up) the session: it may hold it from now."""
        if leg not in self.holders:
            self.holders.append(leg)

    def unhold(self, leg: GameClient) -> None:
        """``leg`` holds no session (refused, or closed by the client between legs)."""
        if leg in self.holders:
            self.holders.remove(leg)

    def ended(self) -> None:
        """The session ended (logout answered): nothing is left to release."""
        self.holders.clear()
        self.session = None
        self.set_in_world(False)

    def set_connected(self, value: bool) -> None:
        if value != self.connected:
            self.connected = value
            self.progress.connected += 1 if value else -1

    def set_in_world(self, value: bool) -> None:
        if value != self.in_world:
            self.in_world = value
            self.progress.in_world += 1 if value else -1


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


def _error_kind(exc: BotError) -> str:
    if isinstance(exc, Refused):
        return "refused"
    if isinstance(exc, StepTimeout):
        return "timeout"
    if isinstance(exc, ConnectFailed):
        return "connect"
    if isinstance(exc, ConnectionClosed):
        return "closed"
    if isinstance(exc, UnexpectedPacket):
        return "unexpected"
    if isinstance(exc, BadServerData):
        return "bad_data"
    return "flow"


async def run_flow(
    options: FlowOptions, *, deadline: float | None = None, control: RunControl | None = None
) -> FlowResult:
    """Run one client's whole journey; never raises for a failed flow.

    ``deadline`` (anyio clock) bounds the whole flow; reaching it fails the step in progress
    with "total timeout". ``control`` stops the flow on :meth:`RunControl.interrupt` (the step
    in progress fails as "interrupted") and receives its progress. A flow that did not log
    out ends its session on the way out (``options.release``; ``FlowResult.release`` says
    how). Returns a :class:`FlowResult` with one step record per step run.
    """
    control = control if control is not None else RunControl()
    progress = control.progress
    result = FlowResult(client=options.username)
    flow = _Flow(result, progress)
    progress.started += 1
    started = time.perf_counter()
    scope = anyio.CancelScope(deadline=deadline if deadline is not None else float("inf"))
    try:
        with control._watch(scope), scope:
            try:
                await _journey(options, flow)
                result.ok = True
            except BotError as exc:
                result.failed_step = exc.step
                result.error = str(exc)
                result.error_kind = _error_kind(exc)
                if isinstance(exc, Refused):
                    result.code = exc.code
                    result.code_value = exc.value
            except LocalProtocolError as exc:  # e.g. a name the wire cannot carry
                result.failed_step = flow.current or "?"
                result.error = f"step {result.failed_step!r}: cannot send: {exc}"
                result.error_kind = "cannot_send"
            except Exception as exc:
                # One client's surprise must not take the other clients of a run down with it;
                # the repr keeps the cause visible in the result.
                result.failed_step = flow.current or "?"
                result.error = f"step {result.failed_step!r}: internal error: {exc!r}"
                result.error_kind = "internal"
        if scope.cancelled_caught:
            why = "interrupted" if control.interrupted else "total timeout reached"
            result.ok = False
            result.failed_step = flow.current or "?"
            result.error = f"step {result.failed_step!r}: {why}"
            result.error_kind = "interrupted" if control.interrupted else "total_timeout"
            if result.steps and result.steps[-1].name == result.failed_step:
                result.steps[-1].detail = why
    finally:
        try:
            if options.release and (flow.holders or flow.session is not None):
                await _release_session(options, flow, control)
        finally:
            with anyio.CancelScope(shield=True):
                for client in flow.clients:
                    result.unexpected.update(client.unexpected_counts)
                    await client.aclose()
            flow.set_connected(False)
            flow.set_in_world(False)
            result.elapsed = time.perf_counter() - started
            if result.ok:
                progress.succeeded += 1
            else:
                progress.failed += 1
                progress.failures[failure_reason(result)] += 1
    return result


async def _release_session(options: FlowOptions, flow: _Flow, control: RunControl) -> None:
    """End the session of a flow that did not log out (see the module docstring); bounded by
    two waits of ``options.timeout``, shielded from the cancellation that ended the flow, and
    cut short by :meth:`RunControl.abandon`."""
    result = flow.result
    progress = flow.progress
    if control.abandoned:
        result.release = "abandoned"
        return
    progress.releasing += 1
    try:
        with anyio.CancelScope(shield=True) as release_scope, control._watch(release_scope,
                                                                            release=True):
            release_scope.deadline = anyio.current_time() + 2 * options.timeout
            try:
                result.release = await _logout_somehow(options, flow)
            except BotError as exc:
                result.release = "failed"
                result.release_error = str(exc)
            except LocalProtocolError as exc:
                result.release = "failed"
                result.release_error = f"cannot send: {exc}"
            except Exception as exc:  # never let the release take the run down
                result.release = "failed"
                result.release_error = f"internal error: {exc!r}"
        if release_scope.cancelled_caught:
            if control.abandoned:
                result.release = "abandoned"
            else:
                result.release = "failed"
                result.release_error = (f"no logout reply within {2 * options.timeout:g}s; the "
                                        "session ends SESSION_GRACE seconds after its last "
                                        "connection closed")
    finally:
        progress.releasing -= 1
    if result.release in ("logged_out", "rejoined"):
        progress.released += 1


async def _logout_somehow(options: FlowOptions, flow: _Flow) -> str:
    """Log out on the newest open connection that may hold the session, else on a new one that
    joins it; one of ``logged_out``, ``rejoined``, ``nothing_held``."""
    stuck: StepTimeout | None = None
    for leg in reversed(flow.holders):
        if leg.closed:
            continue
        try:
            await logout(leg, step="release")
        except (ConnectionClosed, BadServerData):
            continue  # it held nothing (closed on an out-of-state logout)
        except StepTimeout as exc:
            stuck = exc  # e.g. a login still queued behind the argon2 work of others
            continue
        flow.ended()
        return "logged_out"
    if flow.session is None:
        if stuck is not None:
            raise stuck
        return "nothing_held"
    session_id, host, port = flow.session
    addresses = [(host, port)]
    if (options.host, options.port) != (host, port):
        addresses.append((options.host, options.port))  # one port serves every leg here
    for index, (leg_host, leg_port) in enumerate(addresses):
        try:
            leg = await connect(leg_host, leg_port, cipher=options.cipher,
                                profile=options.profile, timeout=options.timeout,
                                label=options.username, step="release")
        except ConnectFailed:
            if index == len(addresses) - 1:
                raise
            continue
        flow.clients.append(leg)
        joined = await join(leg, session_id, options.password, step="release")
        if joined.result != JoinResult.OK:
            return "nothing_held"  # ended or expired meanwhile
        await logout(leg, step="release")
        flow.ended()
        return "rejoined"
    return "nothing_held"


async def _journey(options: FlowOptions, flow: _Flow) -> None:
    result = flow.result

    async def open_leg(host: str, port: int, step: str) -> GameClient:
        leg = await connect(host, port, cipher=options.cipher, profile=options.profile,
                            timeout=options.timeout, label=options.username, step=step)
        flow.clients.append(leg)
        flow.set_connected(True)
        return leg

    # Login leg (docs/protocol.md §7.2).
    with flow.step("login_connect"):
        login_leg = await open_leg(options.host, options.port, "login_connect")
    with flow.step("login") as record:
        flow.hold(login_leg)
        reply = await login(login_leg, options.username, options.password)
        _note(record, "result", reply.result)
        if reply.result != 0:
            flow.unhold(login_leg)
        require_ok("login", reply)
        record.detail = f"{len(reply.servers_info)} server(s)"
        if not reply.servers_info:
            raise FlowFailed("login", "step 'login': the server list is empty")
    server_id = options.server_id if options.server_id is not None else reply.servers_info[0].id
    with flow.step("channel_list") as record:
        channels = await channel_list(login_leg, server_id)
        record.detail = f"{len(channels.channels)} channel(s)"
        if options.channel_id is None and not channels.channels:
            raise FlowFailed("channel_list", f"step 'channel_list': server {server_id} "
                             "has no channels")
    channel_id = options.channel_id if options.channel_id is not None else channels.channels[0].id
    with flow.step("select_server") as record:
        selected = await select_server(login_leg, server_id, channel_id)
        _note(record, "result", selected.result)
        require_ok("select_server", selected, ok=ServerSelectResult.OK)
        result.session_id = selected.session_id
    char_host, char_port = _leg_address(options, selected.ip, selected.port)
    flow.session = (selected.session_id, char_host, char_port)
    flow.unhold(login_leg)
    await login_leg.aclose()  # the client leaves the login server here (§7.2 step 8)

    # Character leg (§7.3); kept open until logout.
    with flow.step("char_connect"):
        char_leg = await open_leg(char_host, char_port, "char_connect")
    with flow.step("char_join") as record:
        flow.hold(char_leg)
        joined = await join(char_leg, selected.session_id, options.password, step="char_join")
        _note(record, "result", joined.result)
        if joined.result != JoinResult.OK:
            flow.unhold(char_leg)
        require_ok("char_join", joined, ok=JoinResult.OK)
    with flow.step("char_list") as record:
        listing = await char_list(char_leg)
        record.detail = f"{len(listing.characters)} character(s)"
        name, found = _choose(options, listing)
        if found is None and not options.create:
            have = ", ".join(text(info.name) for info in listing.characters) or "none"
            raise FlowFailed("char_list", f"step 'char_list': character {name!r} not found "
                             f"(have: {have}); use --create to create it")
    if found is None:
        with flow.step("create_character") as record:
            created = await create_character(char_leg, name, options.template)
            _note(record, "result", created.result)
            require_ok("create_character", created, ok=CreateCharResult.OK)
        with flow.step("char_list_after_create") as record:
            listing = await char_list(char_leg, step="char_list_after_create")
            record.detail = f"{len(listing.characters)} character(s)"
            found = find_character(listing, name)
            if found is None:
                raise FlowFailed("char_list_after_create", "step 'char_list_after_create': "
                                 f"created character {name!r} is not in the list")
    char_id, info = found
    result.character = text(info.name)
    with flow.step("select_character") as record:
        switch = await select_character(char_leg, char_id, text(info.name))
        record.detail = f"world at {text(switch.ip) or '?'}:{switch.port}"

    # World leg (§7.4).
    world_host, world_port = _leg_address(options, switch.ip, switch.port)
    session_id = switch.session_id or selected.session_id
    flow.session = (session_id, world_host, world_port)
    with flow.step("world_connect"):
        world_leg = await open_leg(world_host, world_port, "world_connect")
    with flow.step("world_join") as record:
        flow.hold(world_leg)
        joined = await join(world_leg, session_id, options.password, step="world_join")
        _note(record, "result", joined.result)
        if joined.result != JoinResult.OK:
            flow.unhold(world_leg)
        require_ok("world_join", joined, ok=JoinResult.OK)
        object_id = joined.id
        result.object_id = object_id
        flow.set_in_world(True)
    with flow.step("initial_data") as record:
        initial = await receive_initial_data(world_leg)
        result.map_id = initial.character.map
        record.detail = (f"map {initial.character.map} at "
                         f"({initial.character.x:.0f}, {initial.character.y:.0f})")
    position = (initial.character.x, initial.character.y)
    if options.enter_map:
        with flow.step("change_map") as record:
            on_map = await change_map(world_leg)
            record.detail = f"object {on_map.object_index}"

        # Optional play.
        if options.chat is not None:
            with flow.step("chat"):
                await chat(world_leg, object_id, options.chat)
            with flow.step("whisper"):
                await whisper(world_leg, result.character, options.chat,
                              expect_from=result.character)
        if options.move is not None:
            x, y = options.move
            with flow.step("move") as record:
                moved = await move(world_leg, object_id, x, y)
                record.detail = f"to ({moved.x:.0f}, {moved.y:.0f})"
                position = (moved.x, moved.y)
        if options.warp is not None:
            position = await _take_gate(options.warp, world_leg, object_id, flow,
                                        (initial.character.x, initial.character.y),
                                        options.timeout)
        if options.stay > 0:
            stats = SoakStats()
            result.soak = stats
            flow.progress.staying += 1
            try:
                with flow.step("stay") as record:
                    await _stay(options, world_leg, [world_leg, char_leg], object_id, position,
                                stats, flow.progress.soak)
                    record.detail = stats.describe()
            finally:
                flow.progress.staying -= 1

    with flow.step("logout") as record:
        bye = await logout(world_leg)
        record.codes["wait_time"] = bye.wait_time
        flow.ended()


def _bump(name: str, *counts: SoakStats) -> None:
    for stats in counts:
        setattr(stats, name, getattr(stats, name) + 1)


async def _stay(
    options: FlowOptions,
    leg: GameClient,
    keep_alive: Sequence[GameClient],
    object_id: int,
    home: tuple[float, float],
    stats: SoakStats,
    totals: SoakStats,
) -> None:
    """Stay on the map ``options.stay`` seconds: click-to-move around ``home`` and say lines
    at the options' rates (each client at its own random phase, so that a run's clients do not
    send in lockstep), read and count everything that arrives, keep the idle connections
    alive; then wait briefly for the last replies. Raises what a dead connection raises."""
    rng = random.Random(f"{options.username}/{options.index}")
    started = anyio.current_time()
    end = started + options.stay

    def first(rate: float) -> float:
        return started + rng.uniform(0.0, 1.0 / rate) if rate > 0 else math.inf

    next_move, next_chat = first(options.move_rate), first(options.chat_rate)
    next_alive = started + ALIVE_INTERVAL
    prefix = f"soak {options.index} #".encode()

    def count(event: Event) -> None:
        if isinstance(event, SrvMouseCmd) and event.id == object_id:
            _bump("move_replies", stats, totals)
        elif (isinstance(event, SrvNormalChat) and event.char_id == object_id
              and event.message.startswith(prefix)):
            _bump("chat_replies", stats, totals)
        else:
            if isinstance(event, SrvWhisperChat) and event.sender == SERVER_SENDER:
                _bump("server_messages", stats, totals)
                stats.last_server_message = totals.last_server_message = text(event.message)
            else:
                _bump("other_packets", stats, totals)
            leg.set_aside(event)

    try:
        while (now := anyio.current_time()) < end:
            if now >= next_move:
                x = home[0] + rng.uniform(-STAY_RADIUS, STAY_RADIUS)
                y = home[1] + rng.uniform(-STAY_RADIUS, STAY_RADIUS)
                await leg.send(CliMouseCmd(target_id=0, x=x, y=y, z=0), step="stay")
                _bump("moves", stats, totals)
                # A client that fell behind (a slow loop) does not make up with a burst.
                next_move = max(next_move + 1.0 / options.move_rate, now)
            if now >= next_chat:
                line = prefix + str(stats.chats + 1).encode()
                await leg.send(CliNormalChat(message=line), step="stay")
                _bump("chats", stats, totals)
                next_chat = max(next_chat + 1.0 / options.chat_rate, now)
            if now >= next_alive:
                for other in keep_alive:
                    if not other.closed:
                        await alive(other, step="stay")
                next_alive += ALIVE_INTERVAL
            event = await leg.poll(min(next_move, next_chat, next_alive, end) - now, step="stay")
            if event is not None:
                count(event)
        settle = anyio.current_time() + min(SETTLE_SECONDS, options.timeout)
        while stats.unanswered and (now := anyio.current_time()) < settle:
            event = await leg.poll(settle - now, step="stay")
            if event is not None:
                count(event)
    finally:
        stats.seconds = anyio.current_time() - started


async def _take_gate(
    gate: WarpGate,
    leg: GameClient,
    object_id: int,
    flow: _Flow,
    start: tuple[float, float],
    timeout: float,
) -> tuple[float, float]:
    """Look around, walk to ``gate`` (the server checks the walk takes its time), take it,
    enter the destination map and look around again (docs/protocol.md §7.7); returns where
    the character arrived."""
    result = flow.result
    await leg.drain(LOOK_SECONDS)
    if result.map_id is not None and result.map_id != gate.map_id:
        raise FlowFailed("walk_to_gate", f"step 'walk_to_gate': gate {gate.id} is on map "
                         f"{gate.map_id}, the character on map {result.map_id}")
    with flow.step("walk_to_gate") as record:
        moved = await move(leg, object_id, gate.x, gate.y, step="walk_to_gate")
        distance = math.hypot(moved.x - start[0], moved.y - start[1])
        walk = distance / RUN_SPEED
        if walk > timeout * 10:
            raise FlowFailed("walk_to_gate", f"step 'walk_to_gate': {distance:.0f} units to "
                             f"gate {gate.id} is more than {timeout * 10:g}s of walking")
        await leg.drain(walk * 1.05 + 0.3)  # arrive, with room for the server's rounding
        record.detail = f"{distance:.0f} units in {walk:.1f}s"
    with flow.step("warp") as record:
        await leg.send(CliTeleportReq(id=gate.id, x=gate.x, y=gate.y), step="warp")
        reply = await leg.expect(SrvTeleportReply, step="warp")
        record.detail = f"to map {reply.map} at ({reply.x:.0f}, {reply.y:.0f})"
    if reply.map != result.map_id:
        result.map_id = reply.map
        with flow.step("change_map_after_warp"):
            await change_map(leg, step="change_map_after_warp")
    await leg.drain(LOOK_SECONDS)
    return reply.x, reply.y


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
    ramp: float | None = None,
    control: RunControl | None = None,
) -> list[FlowResult]:
    """Run ``count`` independent clients concurrently (one task group), results in order.

    Client ``k`` uses ``options.for_client(first_index + k)``. ``ramp`` (clients per second)
    starts client ``k`` ``k / ramp`` seconds after the first instead of all at once.
    ``total_timeout`` (seconds) bounds the run on top of the ramp's spread and the stay
    (``options.stay``): clients still running then fail with "total timeout". ``control``
    stops the run (:meth:`RunControl.interrupt`): the clients not started yet are left out of
    the results, which then hold fewer than ``count``.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, not {count}")
    if ramp is not None and not ramp > 0:
        raise ValueError(f"ramp must be a positive rate, not {ramp}")
    control = control if control is not None else RunControl()
    control.progress.total = count
    start = anyio.current_time()
    spread = (count - 1) / ramp if ramp is not None else 0.0
    deadline = (None if total_timeout is None
                else start + total_timeout + spread + max(0.0, options.stay))
    results: list[FlowResult | None] = [None] * count

    async def _one(slot: int) -> None:
        if ramp is not None and slot:
            with anyio.CancelScope() as waiting, control._watch(waiting):
                await anyio.sleep_until(start + slot / ramp)
        if control.interrupted:
            return
        results[slot] = await run_flow(options.for_client(first_index + slot),
                                       deadline=deadline, control=control)

    async with anyio.create_task_group() as group:
        for slot in range(count):
            group.start_soon(_one, slot)
    return [result for result in results if result is not None]


def results_ok(results: Sequence[FlowResult]) -> bool:
    """True when there is at least one result and every client completed its flow."""
    return bool(results) and all(result.ok for result in results)
