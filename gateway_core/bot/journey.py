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
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final

import anyio

from gateway_core.bot.client import DEFAULT_TIMEOUT, BotError, GameClient
from gateway_core.bot.results import FlowResult, StepResult
from gateway_core.bot.steps import (
    CharacterTemplate,
    Refused,
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
    CliTeleportReq,
    CreateCharResult,
    JoinResult,
    ServerSelectResult,
    SrvCharListReply,
    SrvTeleportReply,
)

__all__ = [
    "INDEX_PLACEHOLDER",
    "RUN_SPEED",
    "FlowFailed",
    "FlowOptions",
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

    # Login leg (docs/protocol.md §7.2).
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
        if options.warp is not None:
            await _take_gate(options.warp, world_leg, object_id, recorder,
                             (initial.character.x, initial.character.y), options.timeout)

    with recorder.step("logout") as record:
        bye = await logout(world_leg)
        record.codes["wait_time"] = bye.wait_time


async def _take_gate(
    gate: WarpGate,
    leg: GameClient,
    object_id: int,
    recorder: _Recorder,
    start: tuple[float, float],
    timeout: float,
) -> None:
    """Look around, walk to ``gate`` (the server checks the walk takes its time), take it,
    enter the destination map and look around again (docs/protocol.md §7.7)."""
    result = recorder.result
    await leg.drain(LOOK_SECONDS)
    if result.map_id is not None and result.map_id != gate.map_id:
        raise FlowFailed("walk_to_gate", f"step 'walk_to_gate': gate {gate.id} is on map "
                         f"{gate.map_id}, the character on map {result.map_id}")
    with recorder.step("walk_to_gate") as record:
        moved = await move(leg, object_id, gate.x, gate.y, step="walk_to_gate")
        distance = math.hypot(moved.x - start[0], moved.y - start[1])
        walk = distance / RUN_SPEED
        if walk > timeout * 10:
            raise FlowFailed("walk_to_gate", f"step 'walk_to_gate': {distance:.0f} units to "
                             f"gate {gate.id} is more than {timeout * 10:g}s of walking")
        await leg.drain(walk * 1.05 + 0.3)  # arrive, with room for the server's rounding
        record.detail = f"{distance:.0f} units in {walk:.1f}s"
    with recorder.step("warp") as record:
        await leg.send(CliTeleportReq(id=gate.id, x=gate.x, y=gate.y), step="warp")
        reply = await leg.expect(SrvTeleportReply, step="warp")
        record.detail = f"to map {reply.map} at ({reply.x:.0f}, {reply.y:.0f})"
    if reply.map != result.map_id:
        result.map_id = reply.map
        with recorder.step("change_map_after_warp"):
            await change_map(leg, step="change_map_after_warp")
    await leg.drain(LOOK_SECONDS)


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
