"""Players benchmark: N players on one map, moving and chatting, against one ``gateway serve``.

Run on demand::

    python bench/bench_players.py [--sizes 250,500,1000,2000,5000,10000] [--seconds 8]
        [--workers 2] [--budget 300] [--tree PATH ...] [--set KEY=VALUE ...] [--json]

For each tree (default: the installed one; ``--tree PATH`` runs ``python -m gateway_core serve``
from the checkout at PATH with ``PYTHONPATH=PATH:PATH/protos:PATH/plugins/*/``; repeat it, e.g.
``--tree /tmp/before --tree .``, to measure several trees in one run) the script starts one
gateway subprocess with every built-in plugin and its embedded services (temporary DATA_DIR,
loopback, ephemeral ports, ``AUTH_CREATE_ACCOUNT_ON_FAIL=true``, argon2 at its cheapest so that
thousands of logins are not the bottleneck, session and idle timeouts longer than the run, a
connection limit above 2 N) and grows the population size by size, the players of the last size
staying logged in:

* each new player goes through the real flow with the bot's building blocks
  (``gateway_core.bot``): accept, login, channel list, server select, character leg (join,
  list, create, list, select; that connection stays open like the client's), world leg (join,
  initial data), loads the map at the start point (``PAKCS_CHANGE_MAP_REQ``) and puts itself
  at its grid point with one ``PAKCS_STOP_MOVING`` (the bench gateway runs with
  ``WORLD_POSITION_TOLERANCE=1e9``, so the world takes the point instead of correcting it,
  docs/protocol.md §10.12; warp gates no longer go to a client's point);
* the grid points are the lattice points nearest to the start point (CHARACTER_START_X/Y),
  spaced ``WORLD_VIEW_RADIUS / 3.08``: an inner player sees the 28 others within 3 lattice steps
  (the next ones are at sqrt(10) steps, 267 units outside the radius at the default 10000), and
  a bigger population only adds players at the border;
* then every player sends ``PAKCS_MOUSE_CMD`` at 2 Hz (phases spread over the half second) to a
  point at most ``--jitter`` units (default 90, the most that keeps every pair on its side of
  the view radius) from its grid point in x and y, about 100 units from the last one (a walk of
  ~0.24 s at the base run speed, so the world's tick has walkers to follow), and every
  ``--chat-every``-th tick a ``PAKCS_NORMAL_CHAT`` too.

Latency: the move's destination encodes a sequence number (the offsets from the grid point),
and the sender writes its CLOCK_MONOTONIC send time (ns) for that number into shared memory
before the write; a chat line carries the sender's index and send time in its text. Every
receiver timestamps each ``PAKWC_MOUSE_CMD`` / ``PAKWC_NORMAL_CHAT`` on arrival (once per read
chunk). Expected deliveries: per event sent within the window, the sender and every player
within the view radius of its grid point; received deliveries are those of the same events
that arrived before the end of the drain (``--drain`` s after the window); the difference is
reported as lost (negative: more than expected).

Per size it prints deliveries/s, p50/p99/p99.9 delivery latency (moves and chat together, then
chat alone), the gateway process's CPU share (``/proc/<pid>/stat``, all its threads: the
embedded services run in it) and RSS, gateway CPU microseconds per delivered event, lost
deliveries, and the load generator's own figures: its CPU (per worker, a share of one core) and
how late its sends were against their schedule. It stops after the size that saturates (p99 over
``--saturation-ms``, default 500, more than 5% lost, a failed login, or a load generator that
could not keep up: a worker above 90% CPU or sends more than 50 ms late at p99; such a figure
measures the load generator, and the line says so), and prints the largest size with p99 below
50 ms. The gateway is pinned to CPU 0 and the load generator's workers (``--workers``, each an
asyncio + uvloop process driving its share of the players) to the other CPUs, where there are
two or more (``--no-pin`` to leave scheduling alone). How long the gateway and the workers were
runnable but waiting for a CPU (``/proc/<pid>/schedstat``: other processes on the machine) is
printed too; a worker waiting over 25% of the time marks the line "machine busy". The login
phase prints its rate, the gateway's CPU per player joined and the mean time of each step. The
gateway's drop and disconnect counters (``gateway_world_drops_total``,
``gateway_router_drops_total``, slow-client and flood disconnects, handler errors, buffer pool
exhaustion) are read from its ``/metrics`` (on a free port) before and after each window and
printed when they moved: where lost deliveries went.

Monsters: before the sweep, the world service's own cost of monsters is measured in this
process (no sockets): one ``WorldState`` with the built-in content pack and ``--monster-players``
players among the monsters of its field map (map 22) on each of ``--monster-channels``
channels (each channel has its own monsters), ticked ``--monster-ticks`` times at the default
tick interval on a hand-moved clock (so monsters wander and the players see them walk), and
the same players on a copy of the pack without spawns, in the same run. It prints the tick time
with and without monsters and the difference per monster per tick. ``--monsters-only`` stops
after it.

Options: ``--sizes`` (comma list), ``--seconds`` (measured window per size, default 8),
``--warmup`` (s of play before the window, default 1), ``--drain`` (default 2), ``--workers``,
``--chat-every`` (default 10: one chat per player every 5 s), ``--view-radius`` (default 10000),
``--jitter`` (default 90; ``--jitter 40``: shorter walks, as in the first figures),
``--login-concurrency`` (flows at once per worker, default 16; a failed flow is retried once),
``--timeout`` (each wait of a bot, default 20 s), ``--budget`` (seconds per tree, default 300:
a size whose logins would not fit at the rate measured so far is skipped, and the sweep ends),
``--set KEY=VALUE`` (extra gateway setting, repeatable), ``--tree PATH`` (repeatable),
``--no-pin``, ``--json``.

Fighting (``--fight``, bench/README.md "Combat"): the bench writes its own content pack into
its temporary directory (one map covering the grid, a spawn of FIGHT_MONSTERS passive monsters
next to every grid point, ``--monster-hp``, ``--respawn`` s) and points WORLD_CONTENT,
CHARACTER_CONTENT and CHARACTER_START_MAP at it; players do not move: each attacks one of the
monsters it sees (``PAKCS_ATTACK``; another after a kill or every ``--retarget`` s) and chats as
above (latency is chat only). Per size it adds damage packets delivered per second, hits, kills
and the world service's combat tick cost (``GetStats`` over the gateway's embedded gRPC port,
before and after the window). The monster measurement is skipped.

Every phase is bounded; the gateway is stopped (SIGTERM, then SIGKILL after 15 s) and the
workers are ended when the script ends.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import json
import math
import multiprocessing
import multiprocessing.connection
import multiprocessing.process
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.shared_memory import SharedMemory
from pathlib import Path
from typing import Any, cast

import anyio
import anyio.abc

LISTENING = re.compile(r"listening on (\S+):(\d+)")
START_TIMEOUT = 90.0
#: Start point of new characters (the gateway's CHARACTER_START_X/Y), the grid's centre.
CENTRE = 520000
#: Grid spacing = view radius / this: 28 others within the radius, the next at sqrt(10) steps.
SPACING_DIVISOR = 3.08
#: Default largest offset of a move's destination from the grid point, per axis (map units).
JITTER = 90
MOVE_INTERVAL_NS = 500_000_000  # 2 Hz
#: Latency samples kept per worker and kind; beyond, every k-th delivery is sampled.
MAX_SAMPLES = 1_000_000
SATURATION_LOSS = 0.05
GENERATOR_CPU_LIMIT = 0.90
GENERATOR_LAG_LIMIT_MS = 50.0
GENERATOR_WAIT_LIMIT = 0.25


# -- layout ------------------------------------------------------------------------------------


def spacing(view_radius: float) -> float:
    """Distance between neighbouring grid points."""
    return view_radius / SPACING_DIVISOR


def layout(count: int, view_radius: float) -> list[tuple[int, int]]:
    """The grid points of players 0..count-1, nearest to the centre first (so the first n of a
    bigger layout are the layout of n). Integer coordinates: exact in the packets' f32."""
    reach = int(math.sqrt(count / math.pi)) + 3
    cells = [(gx, gy) for gx in range(-reach, reach + 1) for gy in range(-reach, reach + 1)]
    cells.sort(key=lambda c: (c[0] * c[0] + c[1] * c[1], math.atan2(c[1], c[0])))
    step = spacing(view_radius)
    return [(CENTRE + round(gx * step), CENTRE + round(gy * step)) for gx, gy in cells[:count]]


def observer_counts(homes: Sequence[tuple[int, int]], view_radius: float) -> list[int]:
    """For each player, how many others are within the view radius of its grid point."""
    step = spacing(view_radius)
    where = {_cell(x, y, step): i for i, (x, y) in enumerate(homes)}
    limit = view_radius * view_radius
    counts = []
    for x, y in homes:
        gx, gy = _cell(x, y, step)
        seen = 0
        for dx in range(-4, 5):
            for dy in range(-4, 5):
                j = where.get((gx + dx, gy + dy))
                if j is None or (dx == 0 and dy == 0):
                    continue
                ox, oy = homes[j]
                if (ox - x) ** 2 + (oy - y) ** 2 <= limit:
                    seen += 1
        counts.append(seen)
    return counts


def _cell(x: float, y: float, step: float) -> tuple[int, int]:
    return (round((x - CENTRE) / step), round((y - CENTRE) / step))


def max_jitter(view_radius: float) -> int:
    """The largest jitter that never moves a pair of players across the view radius: both may
    be up to jitter * sqrt(2) from their grid points (3 and sqrt(10) steps apart around it)."""
    step = spacing(view_radius)
    margin = min(view_radius - 3 * step, math.sqrt(10) * step - view_radius)
    return int((margin - 2) / (2 * math.sqrt(2)))


@dataclass(frozen=True)
class Moves:
    """How a move's sequence number k is carried: its destination is the grid point plus the
    offsets (a, b) - jitter of code = k * mult mod span^2 (a = code % span, b = code // span;
    scrambled, so that consecutive moves walk some way across the square), and its send time
    is in shared-memory slot k % span of the player (kept for ``span`` moves)."""

    jitter: int
    span: int
    codes: int
    mult: int
    inverse: int

    @classmethod
    def of(cls, jitter: int) -> Moves:
        span = 2 * jitter + 1
        codes = span * span
        mult = int(codes * 0.618)
        while math.gcd(mult, codes) != 1:
            mult += 1
        return cls(jitter, span, codes, mult, pow(mult, -1, codes))


# -- the world connection: the bot's GameClient during the flow, then a direct feed -------------


class Wire(asyncio.Protocol):
    """One world-leg socket. Until :meth:`detach` it hands whole frames (plain cipher: the
    first u16 is the size) to :class:`WireStream`, one per ``receive``, so the bot's
    ``GameClient`` never holds a partial or undelivered packet; after, every chunk goes straight
    to the sink, without a task switch."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.frames: deque[bytes] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.closed = False
        self.sink: Callable[[bytes], None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.sink is not None:
            self.sink(data)
            return
        buf = self.buffer
        buf += data
        off, end = 0, len(buf)
        while end - off >= 2:
            size = buf[off] | buf[off + 1] << 8
            if size < 6:  # malformed: let the protocol layer say so
                size = end - off
            if end - off < size:
                break
            self.frames.append(bytes(buf[off : off + size]))
            off += size
        del buf[:off]
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def detach(self, sink: Callable[[bytes], None]) -> None:
        """From now on feed ``sink``; what arrived but was not taken goes first."""
        pending = b"".join(self.frames) + bytes(self.buffer)
        self.frames.clear()
        self.buffer.clear()
        self.sink = sink
        if pending:
            sink(pending)

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)


class WireStream(anyio.abc.ByteStream):
    """An anyio byte stream over a :class:`Wire` (what ``GameClient`` reads and writes)."""

    def __init__(self, wire: Wire) -> None:
        self.wire = wire

    async def receive(self, max_bytes: int = 65536) -> bytes:
        wire = self.wire
        while not wire.frames:
            if wire.closed:
                raise anyio.EndOfStream
            wire.waiter = asyncio.get_running_loop().create_future()
            await wire.waiter
        return wire.frames.popleft()

    async def send(self, item: bytes) -> None:
        if self.wire.closed:
            raise anyio.BrokenResourceError
        self.wire.write(item)

    async def send_eof(self) -> None:
        if self.wire.transport is not None and self.wire.transport.can_write_eof():
            self.wire.transport.write_eof()

    async def aclose(self) -> None:
        if self.wire.transport is not None:
            self.wire.transport.close()


# -- one worker process ------------------------------------------------------------------------


@dataclass
class Player:
    index: int
    home: tuple[int, int]
    wire: Wire
    char_leg: Any  # the character leg's GameClient (kept open), or None
    phase_ns: int
    moves: int = 0
    #: --fight: the player's object id, the monsters it sees (id -> x, y), its target (0:
    #: none) and when it chose it (monotonic ns).
    object_id: int = 0
    monsters: dict[int, tuple[float, float]] = field(default_factory=dict)
    target: int = 0
    target_ns: int = 0


@dataclass
class Window:
    """Counters of one measured window in one worker."""

    t0: int
    t1: int
    stride: int
    sent_moves: int = 0
    sent_chats: int = 0
    expected_moves: int = 0
    expected_chats: int = 0
    received_moves: int = 0
    received_chats: int = 0
    stale: int = 0
    seen: int = 0
    move_lat: array.array[int] = field(default_factory=lambda: array.array("q"))
    chat_lat: array.array[int] = field(default_factory=lambda: array.array("q"))
    lag: array.array[int] = field(default_factory=lambda: array.array("q"))
    #: --fight: PAKWC_DAMAGE received within the window, kills of the worker's own players
    #: among them, PAKCS_ATTACK sent.
    damages: int = 0
    own_kills: int = 0
    attacks: int = 0


class Worker:
    """Drives its share of the players (``index % workers == number``)."""

    def __init__(self, number: int, options: dict[str, Any]) -> None:
        from gateway_core.protocol.connection import ProtocolConnection, Role
        from gateway_core.protocol.packets import (
            SrvDamage,
            SrvMobChar,
            SrvMouseCmd,
            SrvNormalChat,
            SrvRemoveObject,
        )

        self.number = number
        self.options = options
        self.host: str = options["host"]
        self.port: int = options["port"]
        self.radius: float = options["view_radius"]
        self.step = spacing(self.radius)
        self.homes = layout(options["max_players"], self.radius)
        self.where = {_cell(x, y, self.step): i for i, (x, y) in enumerate(self.homes)}
        self.players: list[Player] = []
        self.observers: list[int] = []
        self.shm = SharedMemory(name=options["shm"])
        buf = self.shm.buf
        assert buf is not None
        self.slots = buf.cast("q")
        self.window: Window | None = None
        self.moves = Moves.of(options["jitter"])
        self.others: Counter[str] = Counter()
        self.step_seconds: defaultdict[str, float] = defaultdict(float)
        self.encoder = ProtocolConnection(Role.CLIENT)
        self.new_conn: Callable[[], ProtocolConnection] = lambda: ProtocolConnection(Role.CLIENT)
        self.mouse_cls = SrvMouseCmd
        self.chat_cls = SrvNormalChat
        self.fight: bool = options.get("fight", False)
        self.damage_cls, self.mob_cls, self.remove_cls = SrvDamage, SrvMobChar, SrvRemoveObject

    # -- login and placement

    async def grow(self, indexes: Sequence[int]) -> dict[str, Any]:
        semaphore = asyncio.Semaphore(self.options["login_concurrency"])
        failures: Counter[str] = Counter()
        started = time.perf_counter()
        cpu0 = time.process_time()

        retries = 0
        retried: Counter[str] = Counter()

        async def one(index: int) -> None:
            nonlocal retries
            async with semaphore:
                for attempt in range(2):  # one retry: a login queued past its deadline
                    try:
                        with anyio.fail_after(self.options["flow_timeout"]):
                            self.players.append(await self.join(index))
                        return
                    except Exception as exc:
                        step = getattr(exc, "step", "?")
                        reason = f"{step}: {type(exc).__name__}: {str(exc)[:120]}"
                        if attempt == 0:
                            retries += 1
                            retried[reason] += 1
                            continue
                        failures[reason] += 1

        await asyncio.gather(*(one(i) for i in indexes))
        self.players.sort(key=lambda p: p.phase_ns)
        steps = dict(self.step_seconds)
        self.step_seconds.clear()
        return {"joined": len(indexes) - sum(failures.values()), "failures": dict(failures),
                "seconds": time.perf_counter() - started, "steps": steps,
                "cpu": time.process_time() - cpu0, "retries": retries,
                "retried": dict(retried)}

    async def join(self, index: int) -> Player:
        from gateway_core import bot
        from gateway_core.bot import GameClient
        from gateway_core.protocol.packets import CliStopMoving, SrvMobChar

        timeout = self.options["timeout"]
        prefix = self.options["prefix"]
        user, password, name = f"{prefix}bench{index}", "pw", f"{prefix}Bench{index}"
        clock = [time.perf_counter()]

        def mark(step: str) -> None:
            now = time.perf_counter()
            self.step_seconds[step] += now - clock[0]
            clock[0] = now

        login_leg = await bot.connect(self.host, self.port, timeout=timeout, label=user,
                                      step="login_connect")
        try:
            mark("login_connect")
            reply = await bot.login(login_leg, user, password)
            bot.require_ok("login", reply)
            mark("login")
            server_id = reply.servers_info[0].id
            channels = await bot.channel_list(login_leg, server_id)
            selected = await bot.select_server(login_leg, server_id, channels.channels[0].id)
            bot.require_ok("select_server", selected)
            mark("select_server")
        finally:
            await login_leg.aclose()
        char_leg = await bot.connect(self.leg_host(selected.ip), selected.port or self.port,
                                     timeout=timeout, label=user, step="char_connect")
        try:
            joined = await bot.join(char_leg, selected.session_id, password, step="char_join")
            bot.require_ok("char_join", joined)
            mark("char_join")
            listing = await bot.char_list(char_leg)
            found = bot.find_character(listing, name)
            if found is None:
                created = await bot.create_character(char_leg, name)
                bot.require_ok("create_character", created)
                found = bot.find_character(await bot.char_list(char_leg), name)
                if found is None:
                    raise RuntimeError(f"created character {name} is not listed")
            switch = await bot.select_character(char_leg, found[0], name)
            mark("create_select_character")
            loop = asyncio.get_running_loop()
            _, wire = await loop.create_connection(Wire, self.leg_host(switch.ip),
                                                   switch.port or self.port)
            world = GameClient(WireStream(wire), label=user, timeout=timeout)
            try:
                await bot.accept(world, step="world_connect")
                joined = await bot.join(world, switch.session_id or selected.session_id,
                                        password, step="world_join")
                bot.require_ok("world_join", joined)
                initial = await bot.receive_initial_data(world)
                mark("world_join")
                del initial
                entered = await bot.change_map(world)
                mark("change_map")
                home = self.homes[index]
                # Taken as is: the bench gateway's position tolerance is unbounded.
                await world.send(CliStopMoving(x=float(home[0]), y=float(home[1]), z=0),
                                 step="place")
                mark("place")
            except BaseException:
                await world.aclose()
                raise
        except BaseException:
            await char_leg.aclose()
            raise
        kept: GameClient | None = char_leg
        if index >= self.options["char_legs_below"]:
            await char_leg.aclose()
            kept = None
        player = Player(index, self.homes[index], wire, kept,
                        phase_ns=int((index * 0.6180339887) % 1.0 * MOVE_INTERVAL_NS),
                        object_id=entered.object_index)
        for event in world.unexpected:  # monsters seen during the flow
            if isinstance(event, SrvMobChar) and event.hp > 0:
                player.monsters[event.id] = (event.x, event.y)
        wire.detach(self.receiver(player))
        return player

    def leg_host(self, ip: bytes) -> str:
        """The host a reply hands out for the next leg (the wildcard: the one we reached)."""
        host = ip.decode("latin-1")
        return self.host if host in ("", "0.0.0.0", "::") else host

    # -- receiving

    def receiver(self, player: Player) -> Callable[[bytes], None]:
        conn = self.new_conn()
        fight, monsters = self.fight, player.monsters
        damage_cls, mob_cls, remove_cls = self.damage_cls, self.mob_cls, self.remove_cls
        receive_data, events = conn.receive_data, conn.events
        mouse_cls, chat_cls = self.mouse_cls, self.chat_cls
        slots, where, homes, step = self.slots, self.where, self.homes, self.step
        jitter, span, codes, inverse = (self.moves.jitter, self.moves.span, self.moves.codes,
                                        self.moves.inverse)
        others = self.others
        monotonic_ns = time.monotonic_ns

        def feed(data: bytes) -> None:
            now = monotonic_ns()
            w = self.window
            receive_data(data)
            for event in events():
                cls = type(event)
                if fight:
                    if cls is damage_cls:
                        if event.action & DAMAGE_DEAD:  # type: ignore[union-attr]
                            dead = event.defender_id  # type: ignore[union-attr]
                            monsters.pop(dead, None)
                            if dead == player.target:
                                player.target = 0
                                if (w is not None and event.attacker_id  # type: ignore[union-attr]
                                        == player.object_id):
                                    w.own_kills += 1
                        if w is not None and w.t0 <= now < w.t1:
                            w.damages += 1
                        continue
                    if cls is mob_cls:
                        if event.hp > 0:  # type: ignore[union-attr]
                            monsters[event.id] = (event.x, event.y)  # type: ignore[union-attr]
                        continue
                    if cls is remove_cls:
                        gone = event.id  # type: ignore[union-attr]
                        monsters.pop(gone, None)
                        if gone == player.target:
                            player.target = 0
                        continue
                    if cls is mouse_cls:  # monsters wandering, players chasing
                        continue
                if cls is mouse_cls:
                    if w is None:
                        continue
                    x, y = event.x, event.y  # type: ignore[union-attr]
                    j = where.get((round((x - CENTRE) / step), round((y - CENTRE) / step)))
                    if j is None:
                        others["move_unknown_point"] += 1
                        continue
                    hx, hy = homes[j]
                    code = (int(y) - hy + jitter) * span + int(x) - hx + jitter
                    base = (j * span + code * inverse % codes % span) * 2
                    if slots[base + 1] != code:
                        w.stale += 1
                        continue
                    sent = slots[base]
                    if w.t0 <= sent < w.t1:
                        w.received_moves += 1
                        if w.received_moves % w.stride == 0:
                            w.move_lat.append(now - sent)
                elif cls is chat_cls:
                    if w is None:
                        continue
                    parts = event.message.split(b":")  # type: ignore[union-attr]
                    if len(parts) != 3 or parts[0] != b"t":
                        others["chat_other"] += 1
                        continue
                    sent = int(parts[2])
                    if w.t0 <= sent < w.t1:
                        w.received_chats += 1
                        w.chat_lat.append(now - sent)
                else:
                    others[type(event).__name__] += 1

        return feed

    # -- playing

    async def play(self, start: int, t0: int, t1: int, count: int) -> dict[str, Any]:
        from gateway_core.protocol.packets import CliAttack, CliMouseCmd, CliNormalChat

        self.observers = observer_counts(self.homes[:count], self.radius)
        chat_every = self.options["chat_every"]
        expected_rate = sum(o + 1 for o in self.observers) * 2 / max(1, self.options["workers"])
        stride = max(1, math.ceil(expected_rate * (t1 - t0) / 1e9 / MAX_SAMPLES))
        window = Window(t0, t1, stride)
        self.window = window
        self.others.clear()  # spawns of the login phase are not news
        send = self.encoder.send
        slots, players, observers = self.slots, self.players, self.observers
        jitter, span, codes, mult = (self.moves.jitter, self.moves.span, self.moves.codes,
                                     self.moves.mult)
        cpu0, wait0 = time.process_time(), proc_wait("self")
        monotonic_ns = time.monotonic_ns
        position, rounds = 0, 0
        while players:
            now = monotonic_ns()
            if now >= t1:
                break
            due = start + rounds * MOVE_INTERVAL_NS + players[position].phase_ns
            if due > now:
                await asyncio.sleep((due - now) / 1e9)
                continue
            player = players[position]
            if self.fight:
                # Standing at its grid point: a new target when it has none (a kill, or gone
                # from view) or every --retarget seconds, then a chat every --chat-every ticks.
                data = b""
                if (not player.target
                        or now - player.target_ns >= self.options["retarget_ns"]):
                    target = pick_target(player)
                    if target:
                        player.target, player.target_ns = target, now
                        data = send(CliAttack(target_id=target))
                        if t0 <= now < t1:
                            window.attacks += 1
                chat = chat_every > 0 and player.moves % chat_every == chat_every - 1
                sent = monotonic_ns()
                if chat:
                    data += send(CliNormalChat(message=b"t:%d:%d" % (player.index, sent)))
                if data:
                    player.wire.write(data)
                player.moves += 1
                if t0 <= sent < t1:
                    window.lag.append(sent - due)
                    if chat:
                        window.sent_chats += 1
                        window.expected_chats += observers[player.index] + 1
                position += 1
                if position == len(players):
                    position, rounds = 0, rounds + 1
                if position % 64 == 0:
                    await asyncio.sleep(0)
                continue
            code = player.moves * mult % codes
            hx, hy = player.home
            base = (player.index * span + player.moves % span) * 2
            packet = CliMouseCmd(target_id=0, x=float(hx + code % span - jitter),
                                 y=float(hy + code // span - jitter), z=0)
            data = send(packet)
            chat = chat_every > 0 and player.moves % chat_every == chat_every - 1
            sent = monotonic_ns()
            slots[base] = sent
            slots[base + 1] = code
            if chat:
                data += send(CliNormalChat(message=b"t:%d:%d" % (player.index, sent)))
            player.wire.write(data)
            player.moves += 1
            if t0 <= sent < t1:
                seen = observers[player.index] + 1
                window.sent_moves += 1
                window.expected_moves += seen
                window.lag.append(sent - due)
                if chat:
                    window.sent_chats += 1
                    window.expected_chats += seen
            position += 1
            if position == len(players):
                position, rounds = 0, rounds + 1
            if position % 64 == 0:
                await asyncio.sleep(0)
        cpu, wait = time.process_time() - cpu0, proc_wait("self") - wait0
        await asyncio.sleep(self.options["drain"])
        self.window = None
        closed = sum(1 for p in players if p.wire.closed)
        return {
            "sent_moves": window.sent_moves, "sent_chats": window.sent_chats,
            "expected_moves": window.expected_moves, "expected_chats": window.expected_chats,
            "received_moves": window.received_moves, "received_chats": window.received_chats,
            "stale": window.stale, "stride": stride, "closed": closed,
            "cpu": cpu / ((t1 - start) / 1e9), "wait": wait / ((t1 - start) / 1e9),
            "move_lat": window.move_lat.tobytes(), "chat_lat": window.chat_lat.tobytes(),
            "lag": window.lag.tobytes(), "others": dict(self.others),
            "damages": window.damages, "own_kills": window.own_kills,
            "attacks": window.attacks,
        }


def pick_target(player: Player) -> int:
    """A monster near the player's grid point other than its current target (one of the 3
    nearest, in turn), or 0 when it sees none."""
    hx, hy = player.home
    near = sorted((math.hypot(x - hx, y - hy), mid) for mid, (x, y) in player.monsters.items()
                  if mid != player.target)[:3]
    if not near:
        return 0
    return near[player.moves % len(near)][1]


def worker_main(number: int, conn: multiprocessing.connection.Connection,
                options: dict[str, Any]) -> None:
    if options["cpus"]:
        os.sched_setaffinity(0, set(options["cpus"]))
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    async def main() -> None:
        worker = Worker(number, options)
        loop = asyncio.get_running_loop()
        try:
            while True:
                command: dict[str, Any] = await loop.run_in_executor(None, conn.recv)
                if command["cmd"] == "grow":
                    conn.send(await worker.grow(command["indexes"]))
                elif command["cmd"] == "play":
                    conn.send(await worker.play(command["start"], command["t0"], command["t1"],
                                                command["count"]))
                else:
                    break
        finally:
            for player in worker.players:
                if player.wire.transport is not None:
                    player.wire.transport.abort()
            worker.slots.release()
            worker.shm.close()

    anyio.run(main, backend_options={"use_uvloop": True})


# -- the gateway -------------------------------------------------------------------------------


def gateway_settings(players: int, view_radius: float) -> dict[str, str]:
    """The bench gateway's settings: loopback, ephemeral ports, every built-in plugin with its
    embedded service, accounts created on first login, argon2 at its cheapest (logins are not
    what is measured), sessions and idle connections outliving the run, room for 2 connections
    per player (character and world legs)."""
    return {
        "LISTEN_ADDR": "127.0.0.1", "SERVICE_PORT": "0", "PACKET_METRICS_PORT": "0",
        "LOG_LEVEL": "warning", "GATEWAY_LOAD_PLUGINS": "auth,character,chat,world",
        "AUTH_CREATE_ACCOUNT_ON_FAIL": "true", "AUTH_ARGON2_TIME_COST": "1",
        "AUTH_ARGON2_MEMORY_KIB": "64", "AUTH_ARGON2_PARALLELISM": "1",
        "AUTH_SESSION_TTL": "3600", "IDLE_TIMEOUT": "3600",
        "MAX_CONCURRENT_CONNECTIONS": str(2 * players + 1000),
        "WORLD_VIEW_RADIUS": str(view_radius),
        # Map 20 is none of the built-in pack's: no bounds, no NPCs or monsters, so the grid of
        # a large N fits and the sweep measures players (the monsters are measured apart).
        "CHARACTER_START_MAP": "20",
        "CHARACTER_START_X": str(float(CENTRE)), "CHARACTER_START_Y": str(float(CENTRE)),
        # Players place themselves with one stop at their grid point (see the module doc).
        "WORLD_POSITION_TOLERANCE": "1e9",
    }


#: The field map of the built-in content pack (its monster spawns).
MONSTER_MAP = 22

#: --fight: the bench's own map (its content pack), monsters per player, their distance from
#: the player's grid point (within reach: no chase moves a player across the view radius).
FIGHT_MAP = 40
FIGHT_MONSTERS = 3
FIGHT_OFFSET = 80.0
FIGHT_SPAWN_RADIUS = 40.0
#: SrvDamage.action bit of a killing hit.
DAMAGE_DEAD = 0x10


def fight_pack(path: Path, homes: Sequence[tuple[int, int]], view_radius: float, *,
               hp: int, respawn: float) -> Path:
    """Write the --fight content pack: one map whose bounds cover every grid point (plus a
    view radius), and next to each grid point a spawn of FIGHT_MONSTERS passive monsters
    (no aggro radius, weak attack, ``hp`` each, ``respawn`` seconds) that drop a little zuly."""
    margin = view_radius + 1000
    lo_x = min(x for x, _ in homes) - margin
    lo_y = min(y for _, y in homes) - margin
    hi_x = max(x for x, _ in homes) + margin
    hi_y = max(y for _, y in homes) + margin
    lines = [
        'name = "bench-fight"', 'version = "1.0.0"',
        'description = "bench_players --fight: monsters next to every player."', "",
        "[[map]]", f"id = {FIGHT_MAP}", 'name = "Bench Field"',
        f"bounds = {{ min_x = {lo_x:.1f}, min_y = {lo_y:.1f}, max_x = {hi_x:.1f}, "
        f"max_y = {hi_y:.1f} }}",
        f"spawn = {{ x = {float(CENTRE):.1f}, y = {float(CENTRE):.1f} }}",
        f"revive = [{{ x = {float(CENTRE):.1f}, y = {float(CENTRE):.1f} }}]", "",
        "[[monster]]", 'id = "sandbag"', "type = 2", 'name = "Sandbag"', "level = 1",
        f"hp = {hp}", "attack = 1", "defence = 0", "attack_range = 150.0",
        "attack_speed = 50", "move_speed = 100.0", "xp = 1",
        "drops = [{ zuly = { min = 1, max = 5 }, chance = 0.5 }]", "",
    ]
    for i, (x, y) in enumerate(homes):
        lines += ["[[spawn]]", f'id = "s{i}"', 'monster = "sandbag"', f"map = {FIGHT_MAP}",
                  f"centre = {{ x = {x + FIGHT_OFFSET:.1f}, y = {float(y):.1f} }}",
                  f"radius = {FIGHT_SPAWN_RADIUS:.1f}", f"count = {FIGHT_MONSTERS}",
                  f"respawn_seconds = {respawn:g}", ""]
    path.write_text("\n".join(lines))
    return path


def monster_tick_cost(*, ticks: int, channels: int, players: int,
                      view_radius: float) -> dict[str, float]:
    """The world service's tick cost of the built-in pack's monsters (see the module doc):
    mean seconds per tick with and without monsters, and per monster per tick."""
    import dataclasses
    import random
    from types import MappingProxyType

    from gateway_protos.v1 import world_pb2
    from gateway_world.service import DEFAULT_TICK_INTERVAL, WorldState

    from gateway_core.api import load_default_pack
    from gateway_core.testing import ManualClock

    pack = load_default_pack()
    bare = dataclasses.replace(pack, spawns=MappingProxyType({}))
    spawns = pack.spawns_on(MONSTER_MAP)

    def run(content: Any) -> tuple[float, int]:
        clock = ManualClock(1000.0)
        state = WorldState(view_radius=view_radius, queue_limit=1 << 30, clock=clock,
                           content=content, rng=random.Random(1))
        stream = state.connect("bench")
        rng = random.Random(2)
        for channel in range(1, channels + 1):
            for n in range(players):
                spawn = spawns[n % len(spawns)]
                entity = state.enter(
                    stream, character_id=channel * 100_000 + n + 1, name=f"b{channel}_{n}",
                    map_id=MONSTER_MAP, channel_id=channel,
                    position=world_pb2.Position(x=spawn.centre.x + rng.uniform(-500, 500),
                                                y=spawn.centre.y + rng.uniform(-500, 500)),
                    look=world_pb2.PlayerLook(),
                )
                state.make_ready(entity)

        def drain() -> None:
            state.flush()
            while not stream.queue.empty():
                state.written(stream, len(stream.queue.get_nowait().events))

        drain()
        spent = 0.0
        for _ in range(ticks):
            clock.advance(DEFAULT_TICK_INTERVAL)
            started = time.perf_counter()
            state.tick()
            spent += time.perf_counter() - started
            drain()
        monsters = sum(len(instance.monsters) for instance in state.maps.values())
        return spent / ticks, monsters

    without, _ = run(bare)
    with_monsters, monsters = run(pack)
    return {"ticks": ticks, "channels": channels, "players": players * channels,
            "monsters": monsters, "tick_without_s": without, "tick_with_s": with_monsters,
            "per_monster_tick_s": (with_monsters - without) / max(1, monsters)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tree_env(tree: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    if tree is not None:
        paths = [tree, tree / "protos", *sorted(p for p in (tree / "plugins").glob("*/")
                                                if p.is_dir())]
        env["PYTHONPATH"] = os.pathsep.join(str(p) for p in paths)
    return env


def start_gateway(tree: Path | None, data_dir: Path, settings: dict[str, str],
                  pin: int | None) -> tuple[subprocess.Popen[bytes], int]:
    env = {**_tree_env(tree), **settings, "DATA_DIR": str(data_dir)}
    for name in [n for n in env if n.endswith("_SERVICE_ADDR")]:
        del env[name]  # embedded services only
    out = data_dir / "gateway.out"

    def limits() -> None:
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        if pin is not None:
            os.sched_setaffinity(0, {pin})

    with open(out, "wb") as stdout, open(data_dir / "gateway.err", "wb") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "gateway_core", "serve"], env=env,
                                   cwd=data_dir, stdout=stdout, stderr=stderr,
                                   stdin=subprocess.DEVNULL, preexec_fn=limits)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        match = LISTENING.search(out.read_text(errors="replace"))
        if match:
            return process, int(match.group(2))
        time.sleep(0.1)
    stop_gateway(process)
    err = (data_dir / "gateway.err").read_text(errors="replace")[-2000:]
    raise SystemExit(f"the gateway did not start (exit code {process.returncode}): {err}")


@dataclass(frozen=True)
class Attached:
    """A gateway started elsewhere (``--attach PORT:PID:METRICS``): its client port, its
    process (for CPU and RSS) and its metrics port (for the drop counters)."""

    port: int
    pid: int
    metrics: int

    @classmethod
    def parse(cls, text: str) -> Attached:
        port, pid, metrics = (int(part) for part in text.split(":"))
        return cls(port, pid, metrics)


def stop_gateway(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


#: Gateway counters read from /metrics around each window: what was dropped, and why.
DROP_METRICS = ("gateway_world_drops_total", "gateway_router_drops_total",
                "gateway_slow_client_disconnects_total", "gateway_flood_disconnects_total",
                "gateway_handler_errors_total", "gateway_buffer_pool_exhausted_total")


def scrape_drops(port: int) -> dict[str, float]:
    """The gateway's drop and disconnect counters (by series), or {} when unreachable."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
            text = reply.read().decode("utf-8", "replace")
    except OSError:
        return {}
    found = {}
    for line in text.splitlines():
        if line.startswith(DROP_METRICS):
            series, _, value = line.rpartition(" ")
            with contextlib.suppress(ValueError):
                found[series] = float(value)
    return found


def listening_ports(pid: int) -> set[int]:
    """The TCP ports a process listens on (its sockets in /proc/<pid>/fd, LISTEN in
    /proc/net/tcp and tcp6)."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as f:
            next(f)
            for line in f:
                cols = line.split()
                if cols[3] == "0A" and cols[9] in inodes:
                    ports.add(int(cols[1].rpartition(":")[2], 16))
    return ports


class WorldStats:
    """The embedded world service's GetStats, over its gRPC port: the gateway's embedded
    services listen on an ephemeral loopback port (gateway_core.service_host), the one
    listening port of the gateway process that is neither the game port nor /metrics."""

    def __init__(self, pid: int, known: set[int]) -> None:
        import grpc
        from gateway_protos.v1 import world_pb2, world_pb2_grpc

        ports = sorted(listening_ports(pid) - known)
        if len(ports) != 1:
            raise RuntimeError(f"cannot tell the gateway's gRPC port among {ports}")
        self.channel = grpc.insecure_channel(f"127.0.0.1:{ports[0]}")
        self.stub = world_pb2_grpc.WorldStub(self.channel)
        self.request = world_pb2.WorldStatsRequest()

    def get(self) -> dict[str, float]:
        reply = self.stub.GetStats(self.request, timeout=10)
        return {key: float(getattr(reply, key)) for key in (
            "hits", "kills", "deaths", "ground_items", "combat_ticks", "combat_tick_seconds",
            "monsters", "characters", "events", "dropped_events")}

    def close(self) -> None:
        self.channel.close()


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) of a process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_wait(pid: int | str) -> float:
    """Seconds the process's main thread spent runnable but waiting for a CPU (schedstat):
    other processes on its CPUs, not its own load."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return math.nan


def proc_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return math.nan


# -- orchestration -----------------------------------------------------------------------------


def _log_kind(line: str) -> str:
    """A gateway log line without its numbers; of a traceback, only the message and the last
    line (the exception)."""
    message, _, exc = line.split("msg=", 1)[-1].partition(" exc=")
    text = message[:140]
    if exc:
        text += " -> " + exc.strip('"').replace("\\n", "\n").strip().splitlines()[-1][:160]
    return re.sub(r"\d+", "#", text)


def _percentiles(samples: array.array[int]) -> dict[str, float]:
    if not samples:
        return {"p50_ms": math.nan, "p99_ms": math.nan, "p999_ms": math.nan}
    ordered = sorted(samples)

    def at(fraction: float) -> float:
        return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)] / 1e6

    return {"p50_ms": at(0.50), "p99_ms": at(0.99), "p999_ms": at(0.999)}


def _merge(results: Sequence[dict[str, Any]], key: str) -> array.array[int]:
    merged: array.array[int] = array.array("q")
    for result in results:
        merged.frombytes(result[key])
    return merged


class Bench:
    def __init__(self, args: argparse.Namespace, tree: Path | None) -> None:
        self.args = args
        self.tree = tree
        self.max_players = max(args.sizes)
        self.pipes: list[multiprocessing.connection.Connection] = []
        self.processes: list[multiprocessing.process.BaseProcess] = []

    def ask(self, commands: Sequence[dict[str, Any]], timeout: float) -> list[dict[str, Any]]:
        for pipe, command in zip(self.pipes, commands, strict=True):
            pipe.send(command)
        answers = []
        deadline = time.monotonic() + timeout
        for pipe in self.pipes:
            if not pipe.poll(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"a load generator worker did not answer in {timeout:.0f} s")
            answers.append(pipe.recv())
        return answers

    def run(self) -> list[dict[str, Any]]:
        args = self.args
        cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        pin = cpus[0] if args.pin and len(cpus) >= 2 else None
        worker_cpus = cpus[1:] if pin is not None else []
        # Two connections per player in the gateway: beyond the fd limit, players close their
        # character leg after the select (the gateway tolerates either, docs/protocol.md §9.2).
        char_legs_below = (resource.getrlimit(resource.RLIMIT_NOFILE)[1] - 512) // 2
        attached = args.attach
        self.metrics_port = attached.metrics if attached is not None else free_port()
        settings = {
            **gateway_settings(self.max_players, args.view_radius),
            "PACKET_METRICS_PORT": str(self.metrics_port),
            **args.settings,
        }
        label = str(self.tree) if self.tree is not None else "installed"
        rows: list[dict[str, Any]] = []
        slots = self.max_players * Moves.of(args.jitter).span * 2
        self.world_stats: WorldStats | None = None
        with tempfile.TemporaryDirectory(prefix="bench-players-") as tmp:
            if args.fight:
                pack = fight_pack(Path(tmp) / "fight.toml",
                                  layout(self.max_players, args.view_radius), args.view_radius,
                                  hp=args.monster_hp, respawn=args.respawn)
                settings = {**settings, "WORLD_CONTENT": str(pack),
                            "CHARACTER_CONTENT": str(pack),
                            "CHARACTER_START_MAP": str(FIGHT_MAP), **args.settings}
            if attached is None:
                process, port = start_gateway(self.tree, Path(tmp), settings, pin)
            else:  # a gateway someone else started (bench_topology.py): measured, not run
                process, port = attached, attached.port
                (Path(tmp) / "gateway.err").touch()
            shm = SharedMemory(create=True, size=slots * 8)
            try:
                if args.fight:
                    self.world_stats = WorldStats(process.pid, {port, self.metrics_port})
                options = {
                    "host": "127.0.0.1", "port": port, "view_radius": args.view_radius,
                    "max_players": self.max_players, "shm": shm.name, "cpus": worker_cpus,
                    "jitter": args.jitter,
                    "login_concurrency": args.login_concurrency, "timeout": args.timeout,
                    "flow_timeout": args.timeout * 4, "chat_every": args.chat_every,
                    "drain": args.drain, "workers": args.workers,
                    "char_legs_below": char_legs_below,
                    "fight": args.fight, "retarget_ns": int(args.retarget * 1e9),
                    "prefix": args.prefix,
                }
                context = multiprocessing.get_context("spawn")
                for number in range(args.workers):
                    parent, child = context.Pipe()
                    worker: multiprocessing.process.BaseProcess = context.Process(
                        target=worker_main, args=(number, child, options), daemon=True)
                    worker.start()
                    self.pipes.append(parent)
                    self.processes.append(worker)
                self.say(f"\n== tree {label}: gateway pid {process.pid} on 127.0.0.1:{port}"
                         f"{f' (cpu {pin})' if pin is not None else ''}, {args.workers} load "
                         f"generator workers{f' on cpus {worker_cpus}' if worker_cpus else ''}; "
                         f"view radius {args.view_radius:g}, grid step "
                         f"{spacing(args.view_radius):.0f}; character legs "
                         "kept open" + (f" (closed from player {char_legs_below} on: fd limit)"
                                        if char_legs_below < self.max_players else ""))
                rows = self.sweep(process)
            finally:
                for pipe in self.pipes:
                    with contextlib.suppress(OSError):
                        pipe.send({"cmd": "quit"})
                for worker in self.processes:
                    worker.join(timeout=10)
                    if worker.is_alive():
                        worker.kill()
                        worker.join()
                if self.world_stats is not None:
                    self.world_stats.close()
                if attached is None:
                    stop_gateway(process)
                shm.close()
                shm.unlink()
                errors = (Path(tmp) / "gateway.err").read_text(errors="replace").splitlines()
                if errors:
                    kinds = Counter(_log_kind(line) for line in errors)
                    self.say(f"  gateway stderr: {len(errors)} lines; most frequent:")
                    for text, count in kinds.most_common(5):
                        self.say(f"    x{count}: {text}")
        for row in rows:
            row["tree"] = label
        return rows

    def say(self, text: str) -> None:
        if not self.args.json:
            print(text, flush=True)

    def sweep(self, process: subprocess.Popen[bytes] | Attached) -> list[dict[str, Any]]:
        args = self.args
        rows: list[dict[str, Any]] = []
        present = 0
        workers = args.workers
        began = time.monotonic()
        login_seconds = 0.0
        for size in args.sizes:
            new = list(range(present, size))
            left = args.budget - (time.monotonic() - began)
            rate = present / login_seconds if login_seconds > 0 else math.inf
            needed = len(new) / rate + args.warmup + args.seconds + args.drain + 5
            if needed > left:
                self.say(f"N={size} skipped: at {rate:.0f} logins/s it needs ~{needed:.0f} s, "
                         f"{max(0.0, left):.0f} s of --budget left")
                break
            cpu0, wall0 = proc_cpu(process.pid), time.monotonic()
            grown = self.ask(
                [{"cmd": "grow", "indexes": [i for i in new if i % workers == w]}
                 for w in range(workers)], timeout=args.timeout * 4 + len(new) * 0.5 + 60)
            joined = sum(g["joined"] for g in grown)
            failures: Counter[str] = Counter()
            for g in grown:
                failures.update(g["failures"])
            login_s = max(g["seconds"] for g in grown)
            login_seconds += login_s
            retries = sum(g["retries"] for g in grown)
            retried: Counter[str] = Counter()
            for g in grown:
                retried.update(g["retried"])
            login_cpu_s = proc_cpu(process.pid) - cpu0
            login_cpu = login_cpu_s / (time.monotonic() - wall0)
            gen_login_cpu = sum(g["cpu"] for g in grown) / login_s
            steps: defaultdict[str, float] = defaultdict(float)
            for g in grown:
                for key, value in g["steps"].items():
                    steps[key] += value
            mean = {k: round(v / max(1, joined) * 1000) for k, v in steps.items()}
            present = size
            self.say(f"N={size}: {joined}/{len(new)} new players in {login_s:.1f} s "
                     f"({len(new) / login_s:.0f}/s, {retries} retried)"
                     + (f", failures {dict(failures.most_common(3))}" if failures else "")
                     + (f", first attempts failed: {dict(retried.most_common(3))}"
                        if retried else "")
                     + f"; gateway cpu {login_cpu:.0%} ({login_cpu_s * 1000 / max(1, joined):.0f}"
                     f" cpu-ms per player), load generator cpu {gen_login_cpu:.0%}"
                     + f"; mean ms per step {mean}")
            time.sleep(1.5)  # spawns settle
            start = time.monotonic_ns() + 200_000_000
            t0 = start + int(args.warmup * 1e9)
            t1 = t0 + int(args.seconds * 1e9)
            drops0 = scrape_drops(self.metrics_port)
            world = self.world_stats
            for pipe in self.pipes:
                pipe.send({"cmd": "play", "start": start, "t0": t0, "t1": t1, "count": size})
            time.sleep(max(0.0, (t0 - time.monotonic_ns()) / 1e9))
            stats0 = world.get() if world is not None else {}
            cpu0, wall0 = proc_cpu(process.pid), time.monotonic()
            wait0 = proc_wait(process.pid)
            time.sleep(max(0.0, (t1 - time.monotonic_ns()) / 1e9))
            cpu1, wall1 = proc_cpu(process.pid), time.monotonic()
            stats1 = world.get() if world is not None else {}
            waited = (proc_wait(process.pid) - wait0) / (wall1 - wall0)
            rss = proc_rss_mib(process.pid)
            played = []
            for pipe in self.pipes:
                if not pipe.poll(args.drain + 60):
                    raise TimeoutError("a load generator worker did not finish its window")
                played.append(pipe.recv())
            row = self.figures(size, played, cpu1 - cpu0, wall1 - wall0, rss, failures,
                               login_s)
            if world is not None:
                row["combat"] = self.combat_figures(size, played, stats0, stats1,
                                                    wall1 - wall0)
            drops1 = scrape_drops(self.metrics_port)
            row["gateway_drops"] = {k: v - drops0.get(k, 0.0) for k, v in drops1.items()
                                    if v - drops0.get(k, 0.0) > 0}
            row["gateway_cpu_wait"] = round(waited, 3)
            row["generator_cpu_wait"] = [round(p["wait"], 3) for p in played]
            rows.append(row)
            self.print_row(row)
            if "combat" in row:
                c = row["combat"]
                self.say(
                    f"    combat: {c['damage_per_s']:,.0f} damage packets delivered/s "
                    f"({c['hits_per_s']:,.0f} hits/s in the world, {c['attacks']} attacks "
                    f"sent), {c['kills']} kills ({c['own_kills']} seen by their killer), "
                    f"{c['deaths']} deaths, {c['monsters']} monsters, {c['ground_items']} "
                    f"ground items; combat tick {c['tick_us']:,.1f} us x {c['ticks']} ticks "
                    f"({c['tick_us_per_player']:.2f} us per fighting player, "
                    f"{c['tick_cpu_share']:.1%} of a core)")
            self.say("    waiting for a CPU (other processes): gateway "
                     f"{waited:.0%}, load generator "
                     + ", ".join(f"{p['wait']:.0%}" for p in played))
            if row["gateway_drops"]:
                self.say(f"    gateway drops (/metrics, window and drain): {row['gateway_drops']}")
            if row["saturated"]:
                self.say(f"  stopping: {row['saturated']}")
                break
        good = [r["players"] for r in rows if r["p99_ms"] < 50 and not r["generator_limited"]]
        self.say(f"largest N with p99 < 50 ms: {max(good) if good else 'none'}")
        return rows

    def combat_figures(self, size: int, played: Sequence[dict[str, Any]],
                       before: dict[str, float], after: dict[str, float],
                       wall: float) -> dict[str, Any]:
        """The --fight figures of one window: GetStats deltas and what the players saw."""
        delta = {k: after[k] - before.get(k, 0.0) for k in after}
        ticks = delta["combat_ticks"]
        seconds = delta["combat_tick_seconds"]
        tick_us = seconds * 1e6 / ticks if ticks else math.nan
        return {
            "damage_per_s": round(sum(p["damages"] for p in played) / self.args.seconds, 1),
            "hits_per_s": round(delta["hits"] / wall, 1),
            "attacks": sum(p["attacks"] for p in played),
            "kills": int(delta["kills"]), "own_kills": sum(p["own_kills"] for p in played),
            "deaths": int(delta["deaths"]), "monsters": int(after["monsters"]),
            "ground_items": int(after["ground_items"]), "ticks": int(ticks),
            "tick_us": round(tick_us, 2), "tick_us_per_player": round(tick_us / size, 3),
            "tick_cpu_share": round(seconds / wall, 4),
        }

    def figures(self, size: int, played: Sequence[dict[str, Any]], cpu: float, wall: float,
                rss: float, failures: Counter[str], login_s: float) -> dict[str, Any]:
        args = self.args
        both = _merge(played, "move_lat")
        stride = max(p["stride"] for p in played)
        chats = _merge(played, "chat_lat")
        both.extend(chats[::stride] if stride > 1 else chats)
        lag = _merge(played, "lag")
        expected = sum(p["expected_moves"] + p["expected_chats"] for p in played)
        received = sum(p["received_moves"] + p["received_chats"] for p in played)
        lost = expected - received
        lat = _percentiles(both)
        chat = _percentiles(chats)
        gen_cpu = [round(p["cpu"], 3) for p in played]
        lags = _percentiles(lag)
        lag_p99 = lags["p99_ms"]
        homes = layout(size, args.view_radius)
        observers = observer_counts(homes, args.view_radius)
        others: Counter[str] = Counter()
        for p in played:
            others.update(p["others"])
        limited = []
        if max(gen_cpu) > GENERATOR_CPU_LIMIT:
            limited.append(f"load generator worker at {max(gen_cpu):.0%} CPU")
        if lag_p99 > GENERATOR_LAG_LIMIT_MS:
            limited.append(f"load generator sends {lag_p99:.0f} ms late at p99")
        waits = [p["wait"] for p in played]
        busy = ""
        if max(waits) > GENERATOR_WAIT_LIMIT:
            busy = (f"load generator waited {max(waits):.0%} of the time for a CPU (other "
                    "processes on its CPUs)")
        saturated = []
        if lat["p99_ms"] > args.saturation_ms:
            saturated.append(f"p99 {lat['p99_ms']:.0f} ms > {args.saturation_ms:g} ms")
        if expected and lost > SATURATION_LOSS * expected:
            saturated.append(f"{lost / expected:.0%} of the deliveries lost")
        if failures:
            saturated.append(f"{sum(failures.values())} players failed to join")
        saturated.extend(limited)
        seconds = args.seconds
        return {
            "players": size,
            "mean_observers": round(sum(observers) / len(observers), 1),
            "login_s": round(login_s, 1),
            "events_per_s": round(sum(p["sent_moves"] + p["sent_chats"] for p in played)
                                  / seconds, 1),
            "deliveries_per_s": round(received / seconds, 1),
            "expected": expected, "received": received, "lost": lost,
            "stale": sum(p["stale"] for p in played),
            **{k: round(v, 2) for k, v in lat.items()},
            "chat": {k: round(v, 2) for k, v in chat.items()},
            "gateway_cpu": round(cpu / wall, 3),
            "gateway_rss_mib": round(rss, 1),
            "cpu_us_per_delivery": round(cpu * 1e6 / received, 2) if received else math.nan,
            "generator_cpu": gen_cpu,
            "generator_lag_p99_ms": round(lag_p99, 2),
            "generator_lag_p50_ms": round(lags["p50_ms"], 2),
            "generator_lag_max_ms": round(max(lag, default=0) / 1e6, 2),
            "closed_connections": sum(p["closed"] for p in played),
            "other_packets": dict(others.most_common(6)),
            "generator_limited": "; ".join(limited),
            "machine_busy": busy,
            "saturated": "; ".join(saturated),
        }

    def print_row(self, r: dict[str, Any]) -> None:
        self.say(
            f"  N={r['players']} (~{r['mean_observers']} others in view): "
            f"{r['deliveries_per_s']:,.0f} deliveries/s ({r['events_per_s']:,.0f} events/s); "
            f"latency p50 {r['p50_ms']:.1f} / p99 {r['p99_ms']:.1f} / p99.9 "
            f"{r['p999_ms']:.1f} ms (chat {r['chat']['p50_ms']:.1f} / {r['chat']['p99_ms']:.1f}"
            f" / {r['chat']['p999_ms']:.1f})\n"
            f"    gateway cpu {r['gateway_cpu']:.0%}, rss {r['gateway_rss_mib']:.0f} MiB, "
            f"{r['cpu_us_per_delivery']:.1f} cpu-us/delivery; lost {r['lost']:,} of "
            f"{r['expected']:,} ({r['stale']} stale); load generator cpu "
            f"{', '.join(f'{c:.0%}' for c in r['generator_cpu'])}, send lag p50 / p99 / max "
            f"{r['generator_lag_p50_ms']:.1f} / {r['generator_lag_p99_ms']:.1f} / "
            f"{r['generator_lag_max_ms']:.0f} ms"
            + (f"; closed connections {r['closed_connections']}" if r["closed_connections"]
               else "")
            + (f"\n    LOAD GENERATOR LIMITED: {r['generator_limited']}"
               if r["generator_limited"] else "")
            + (f"\n    machine busy: {r['machine_busy']}" if r["machine_busy"] else "")
            + (f"\n    other packets while playing (visibility changes?): {r['other_packets']}"
               if r["other_packets"] else ""))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="250,500,1000,2000,5000,10000",
                        help="player counts, comma-separated (%(default)s)")
    parser.add_argument("--seconds", type=float, default=8.0, help="window per size (%(default)s)")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--drain", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chat-every", type=int, default=10,
                        help="a chat every k moves (0 = none; %(default)s)")
    parser.add_argument("--view-radius", type=float, default=10000.0)
    parser.add_argument("--jitter", type=int, default=None,
                        help=f"largest offset of a move from the grid point ({JITTER}, at most "
                        "what keeps every pair on its side of the view radius)")
    parser.add_argument("--login-concurrency", type=int, default=16)
    parser.add_argument("--budget", type=float, default=300.0,
                        help="seconds per tree: a size whose logins would not fit is skipped")
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("--saturation-ms", type=float, default=500.0)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--tree", action="append", default=[], type=Path, metavar="PATH")
    parser.add_argument("--no-pin", dest="pin", action="store_false")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--attach", default=None, metavar="PORT:PID:METRICS",
                        help="measure a gateway that is already running (client port, process "
                        "id, metrics port) instead of starting one; its settings are its own")
    parser.add_argument("--prefix", default="",
                        help="prefix of the players' account and character names (several "
                        "runs against one character database)")
    parser.add_argument("--monster-ticks", type=int, default=300,
                        help="world ticks of the monster measurement (%(default)s)")
    parser.add_argument("--monster-channels", type=int, default=10,
                        help="channels (monster sets) of the monster measurement (%(default)s)")
    parser.add_argument("--monster-players", type=int, default=20,
                        help="players per channel among the monsters (%(default)s)")
    parser.add_argument("--monsters-only", action="store_true",
                        help="only the monster measurement")
    parser.add_argument("--fight", action="store_true",
                        help="the fighting scenario: players stand, attack monsters and chat "
                        "(no moves; skips the monster measurement)")
    parser.add_argument("--retarget", type=float, default=5.0,
                        help="--fight: a player picks another monster after this many "
                        "seconds (and after a kill; %(default)s)")
    parser.add_argument("--monster-hp", type=int, default=60,
                        help="--fight: the monsters' HP (%(default)s)")
    parser.add_argument("--respawn", type=float, default=2.0,
                        help="--fight: the monsters' respawn seconds (%(default)s)")
    args = parser.parse_args(argv)
    try:
        args.sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    except ValueError:
        parser.error("--sizes expects integers separated by commas")
    if not args.sizes or args.sizes[0] < 1 or args.workers < 1:
        parser.error("--sizes and --workers must be at least 1")
    limit = max_jitter(args.view_radius)
    if args.jitter is None:
        args.jitter = min(JITTER, limit)
    if not 1 <= args.jitter <= limit:
        parser.error(f"--jitter must be 1..{limit} at view radius {args.view_radius:g}")
    try:
        args.attach = Attached.parse(args.attach) if args.attach else None
    except ValueError:
        parser.error("--attach expects PORT:PID:METRICS (three integers)")
    if args.attach is not None and args.tree:
        parser.error("--attach measures one running gateway: no --tree")
    if not all(c.isalnum() for c in args.prefix) or len(args.prefix) > 8:
        parser.error("--prefix: at most 8 letters or digits")
    args.settings = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            parser.error(f"--set expects KEY=VALUE, got {item!r}")
        args.settings[key] = value
    trees: list[Path | None] = [t.resolve() for t in args.tree] or [None]
    for tree in trees:
        if tree is not None and not (tree / "gateway_core").is_dir():
            parser.error(f"--tree {tree}: no gateway_core there")
    if not (1 <= args.monster_ticks <= 100_000 and 1 <= args.monster_channels <= 255
            and 0 <= args.monster_players <= 10_000):
        parser.error("--monster-ticks 1..100000, --monster-channels 1..255, "
                     "--monster-players 0..10000")
    if args.fight and args.monsters_only:
        parser.error("--fight and --monsters-only exclude each other")
    if args.fight and not (args.retarget > 0 and args.monster_hp >= 1 and args.respawn > 0):
        parser.error("--retarget and --respawn must be positive, --monster-hp at least 1")
    if args.fight:
        monsters: dict[str, float] = {}
    else:
        monsters = monster_tick_cost(ticks=args.monster_ticks, channels=args.monster_channels,
                                     players=args.monster_players, view_radius=args.view_radius)
    if not args.json and not args.fight:
        print(f"monsters: {monsters['monsters']} monsters, {monsters['players']} players, "
              f"{monsters['ticks']} ticks: {monsters['tick_with_s'] * 1e3:.3f} ms per tick "
              f"with monsters, {monsters['tick_without_s'] * 1e3:.3f} ms without, "
              f"{monsters['per_monster_tick_s'] * 1e6:.2f} us per monster per tick", flush=True)
    if args.monsters_only:
        if args.json:
            print(json.dumps({"monsters": monsters}, indent=2))
        return 0
    if not args.json:
        print(f"cpus {os.cpu_count()}, load {os.getloadavg()[0]:.2f}; sizes {args.sizes}, "
              f"{args.seconds:g} s per size, "
              + (f"fighting (no moves: a new target after a kill or every {args.retarget:g} s, "
                 f"monsters {FIGHT_MONSTERS} per player with {args.monster_hp} HP, respawn "
                 f"{args.respawn:g} s), a chat every {args.chat_every} ticks of 0.5 s"
                 if args.fight else f"2 Hz moves, a chat every {args.chat_every} moves"))
    rows: list[dict[str, Any]] = []
    for tree in trees:
        rows.extend(Bench(args, tree).run())
    if args.json:
        print(json.dumps({"sizes": args.sizes, "seconds": args.seconds, "rows": rows,
                          "monsters": monsters}, indent=2))
    elif len(trees) > 1:
        print("\nsummary (largest N with p99 < 50 ms, load generator not limiting):")
        for tree in trees:
            label = str(tree) if tree is not None else "installed"
            good = [r["players"] for r in rows if r["tree"] == label and r["p99_ms"] < 50
                    and not r["generator_limited"]]
            print(f"  {label}: {max(good) if good else 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
