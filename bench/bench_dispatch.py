"""Dispatch benchmark: the gateway against a hand-written asyncio Protocol + uvloop baseline.

Run on demand: ``python bench/bench_dispatch.py [--duration 3] [--tree PATH ...]
[--observers 0,30] [--plugin-depth 64] [--no-plugins] [--profile] [--json]``.

Three servers, each in its own process pinned to CPU 0, are driven by the same load generator
in a separate process pinned to CPU 1 (``os.sched_setaffinity`` where available):

* ``raw``: echoes bytes without framing: the ceiling of the load generator and the loop;
* ``baseline``: asyncio ``Protocol`` + uvloop doing the same framing as the gateway (6-byte
  header, every packet of a chunk) and answering each PAKCS_NORMAL_CHAT with a
  PAKWC_NORMAL_CHAT, all replies of a chunk in one write;
* ``gateway``: the real Gateway with a trivial plugin handler that answers the same way.

Scenarios: 100 connections x 16 requests in flight, and 1 connection x 1 in flight. Requests
are 38-byte packets. Prints packets/s, p50/p99 latency, the server process's CPU share and CPU
microseconds per packet (``/proc/<pid>/stat`` over the measured window / packets answered), and
the gateway/baseline ratio of the same run. ``--profile`` runs the gateway under cProfile (in
the 100x16 scenario, or the one given with ``--profile-scenario 1x1``) and prints the top
entries by internal time.

Then the real plugins: ``gateway serve`` as a subprocess (every built-in plugin, embedded
services, temporary DATA_DIR, cheap argon2, ``MAX_PACKETS_PER_SECOND=0``; the settings of
``bench_players.gateway_settings``), players logged in through the real flow with the bot's
building blocks, all at the start point (so each sees all the others), and one actor
connection keeping ``--plugin-depth`` requests in flight:

* ``char_list``: ``PAKCS_CHAR_LIST_REQ`` on the character leg, answered by the character
  service (``ListCharacters``; the account has one character);
* ``move``: ``PAKCS_MOUSE_CMD`` through the world plugin and the world service, which sends
  ``PAKWC_MOUSE_CMD`` to the actor and each of the N observers (``--observers``, a list);
* ``chat``: ``PAKCS_NORMAL_CHAT`` the same way (``PAKWC_NORMAL_CHAT``).

Each prints requests answered per second (the actor's own reply), latency, the gateway
process's CPU share (its embedded services included), CPU microseconds per request and per
delivered packet, and ``x baseline``: CPU per request over the baseline's CPU per packet at
100x16 in the same run.

``--tree PATH`` (repeatable) runs every gateway (the echo-plugin one and ``gateway serve``) from
the checkout at PATH (``PYTHONPATH=PATH:PATH/protos:PATH/plugins/*/``), e.g. ``--tree
/tmp/before --tree .`` measures both trees against the same baseline in one run; the raw and
baseline servers and the load generators always run from the installed tree.

Each line also shows the load generator's CPU use: near 100% means that figure is bounded by
the load generator, not by the server (the ``raw`` 100x16 figure usually is; ``baseline`` and
``gateway`` should stay well below it).
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import importlib.util
import json
import math
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HEADER = struct.Struct("<HHH")
MESSAGE = b"m" * 31  # + NUL = 32 payload bytes -> 38-byte packets


def _pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > cpu:
        os.sched_setaffinity(0, {cpu})


def _install_uvloop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def _type_value(name: str) -> int:
    from gateway_core.protocol.numbering import get_profile

    return get_profile("2026").by_name(name).value


def _types() -> tuple[int, int]:
    return _type_value("PAKCS_NORMAL_CHAT"), _type_value("PAKWC_NORMAL_CHAT")


def _request() -> bytes:
    from gateway_core.protocol.connection import ProtocolConnection, Role
    from gateway_core.protocol.packets import CliNormalChat

    return ProtocolConnection(Role.CLIENT).send(CliNormalChat(message=MESSAGE))


# -- servers -------------------------------------------------------------------------------------


class RawEcho(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)


class Baseline(asyncio.Protocol):
    """What a minimal hand-written server does: frame, answer, one write per chunk."""

    req_type = reply_type = 0  # set by serve()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport
        self.buf = bytearray()

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        out = []
        off = 0
        end = len(buf)
        unpack = HEADER.unpack_from
        while end - off >= 6:
            size, ptype, _ = unpack(buf, off)
            if size < 6 or size > 2047:
                self.transport.abort()
                return
            if end - off < size:
                break
            if ptype == self.req_type:
                payload = bytes(buf[off + 6 : off + size])
                out.append(HEADER.pack(size + 2, self.reply_type, 0) + b"\0\0" + payload)
            off += size
        del buf[:off]
        if out:
            self.transport.write(b"".join(out))


def serve(mode: str, profile: bool) -> None:
    _pin(0)
    if mode == "gateway":
        _serve_gateway(profile)
        return
    _install_uvloop()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        Baseline.req_type, Baseline.reply_type = _types()
        factory = RawEcho if mode == "raw" else Baseline
        server = await loop.create_server(factory, "127.0.0.1", 0, backlog=1024)
        print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        server.close()

    asyncio.run(main())


def _serve_gateway(profile: bool) -> None:
    from gateway_core.app import Gateway, run_gateway

    try:
        from gateway_core.core_packets import ANY_STATE
    except ImportError:  # trees before the rename of gateway_core.builtins
        from gateway_core.builtins import ANY_STATE  # type: ignore[import-not-found,no-redef]
    from gateway_core.hookspecs import hookimpl
    from gateway_core.plugins import GatewayPluginManager
    from gateway_core.protocol.packets import CliNormalChat, SrvNormalChat

    # A handler that only replies is a plain ``def`` where the plugin API allows one (it never
    # builds a coroutine); trees before gateway_core.registry existed need an ``async def``.
    plain_handlers = importlib.util.find_spec("gateway_core.registry") is not None

    class EchoPlugin:
        @hookimpl
        def gateway_register_packets(self, register: Any) -> None:
            handler = self.on_normal_chat if plain_handlers else self.on_normal_chat_async
            register("PAKCS_NORMAL_CHAT", handler, states=ANY_STATE)

        def on_normal_chat(self, ctx: Any, packet: CliNormalChat) -> None:
            ctx.reply(SrvNormalChat(char_id=0, message=packet.message))

        async def on_normal_chat_async(self, ctx: Any, packet: CliNormalChat) -> None:
            ctx.reply(SrvNormalChat(char_id=0, message=packet.message))

    pm = GatewayPluginManager()
    pm.register(EchoPlugin(), "bench-echo")
    gateway = Gateway(overrides={
        "LISTEN_ADDR": "127.0.0.1", "SERVICE_PORT": 0, "PACKET_METRICS_PORT": 0,
        "GATEWAY_LOAD_PLUGINS": (), "LOG_LEVEL": "warning",
        # The load generator pipelines far more than any player: no flood limit here.
        "MAX_PACKETS_PER_SECOND": 0,
    }, environ={}, pm=pm)

    def listening(address: tuple[str, int]) -> None:
        print(f"PORT {address[1]}", flush=True)

    if not profile:
        run_gateway(gateway, listening)
        return
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    run_gateway(gateway, listening)
    profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stderr)
    stats.sort_stats("tottime").print_stats(18)


# -- load generator --------------------------------------------------------------------------------


class LoadConn(asyncio.Protocol):
    def __init__(self, request: bytes, reply_size: int, depth: int, stats: dict[str, Any]):
        self.request = request
        self.reply_size = reply_size
        self.depth = depth
        self.stats = stats
        self.pending = 0
        self.sent: collections.deque[float] = collections.deque()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport
        now = time.perf_counter()
        self.sent.extend([now] * self.depth)
        transport.write(self.request * self.depth)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.pending += len(data)
        n, self.pending = divmod(self.pending, self.reply_size)
        if not n:
            return
        now = time.perf_counter()
        stats = self.stats
        sent = self.sent
        if stats["recording"]:
            stats["count"] += n
            lat = stats["lat"]
            for i in range(n):
                t = sent.popleft()
                if i == 0:  # one sample per read keeps the generator cheap
                    lat.append(now - t)
        else:
            for _ in range(n):
                sent.popleft()
        sent.extend([now] * n)
        self.transport.write(self.request * n)


def load(port: int, conns: int, depth: int, duration: float, reply_size: int,
         server_pid: int) -> None:
    _pin(1)
    _install_uvloop()
    request = _request()

    async def main() -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        stats: dict[str, Any] = {"recording": False, "count": 0, "lat": []}
        transports = []
        for _ in range(conns):
            transport, _ = await loop.create_connection(
                lambda: LoadConn(request, reply_size, depth, stats), "127.0.0.1", port)
            transports.append(transport)
        await asyncio.sleep(min(0.5, duration / 4))  # warm-up
        stats["recording"] = True
        start = time.perf_counter()
        cpu0, server0 = time.process_time(), proc_cpu(server_pid)
        await asyncio.sleep(duration)
        stats["recording"] = False
        elapsed = time.perf_counter() - start
        cpu, server = time.process_time() - cpu0, proc_cpu(server_pid) - server0
        for transport in transports:
            transport.close()
        lat = sorted(stats["lat"])
        return {
            "pps": stats["count"] / elapsed,
            "p50_us": lat[len(lat) // 2] * 1e6 if lat else None,
            "p99_us": lat[int(len(lat) * 0.99)] * 1e6 if lat else None,
            "loadgen_cpu": cpu / elapsed,
            "server_cpu": server / elapsed,
            "cpu_us_per_pkt": server * 1e6 / stats["count"] if stats["count"] else None,
        }

    print(json.dumps(asyncio.run(main())), flush=True)


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system, every thread) of process ``pid`` (``/proc/<pid>/stat``)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- real plugins: a `gateway serve` subprocess, players logged in through the real flow ----------


class Counting(asyncio.Protocol):
    """A player's socket after the flow (plain framing): counts the frames of ``reply_type``;
    as the actor, answers each with the next request (``depth`` in flight), timing one per
    read like :class:`LoadConn`."""

    def __init__(self, wire: Any, reply_type: int, stats: dict[str, Any]) -> None:
        self.wire = wire
        self.reply_type = reply_type
        self.stats = stats
        self.buf = bytearray()
        self.received = 0
        self.requests: list[bytes] = []
        self.sent: collections.deque[float] = collections.deque()
        self.turn = 0

    def start(self, requests: list[bytes], depth: int) -> None:
        self.requests = requests
        now = time.perf_counter()
        self.sent.extend([now] * depth)
        self.wire.write(b"".join(self._next() for _ in range(depth)))

    def _next(self) -> bytes:
        self.turn += 1
        return self.requests[self.turn % len(self.requests)]

    def feed(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        off, end, n = 0, len(buf), 0
        reply_type = self.reply_type
        while end - off >= 6:
            size, ptype, _ = HEADER.unpack_from(buf, off)
            if end - off < size or size < 6:
                break
            if ptype == reply_type:
                n += 1
            off += size
        del buf[:off]
        if not n:
            return
        self.received += n
        if not self.requests:
            return
        now = time.perf_counter()
        stats, sent = self.stats, self.sent
        for i in range(min(n, len(sent))):
            t = sent.popleft()
            if i == 0 and stats["recording"]:
                stats["lat"].append(now - t)
        if stats["recording"]:
            stats["count"] += n
        sent.extend([now] * n)
        self.wire.write(b"".join(self._next() for _ in range(n)))


async def _player(port: int, index: int, *, world: bool) -> Any:
    """Log player ``index`` in with the bot's building blocks; return the Wire of its world leg
    (on the map, ready) or, with ``world`` false, of its character leg (a character created)."""
    from bench_players import Wire, WireStream

    from gateway_core import bot
    from gateway_core.bot import GameClient
    from gateway_core.protocol.packets import AcceptReplyResult

    loop = asyncio.get_running_loop()
    user, password, name = f"disp{index}", "pw", f"Disp{index}"

    async def leg(host: bytes, leg_port: int) -> tuple[Any, Any]:
        where = host.decode("latin-1")
        _, wire = await loop.create_connection(
            Wire, "127.0.0.1" if where in ("", "0.0.0.0", "::") else where, leg_port or port)
        client = GameClient(WireStream(wire), label=user)
        bot.require_ok("accept", await bot.accept(client), ok=AcceptReplyResult.ACCEPTED)
        return client, wire

    login = await bot.connect("127.0.0.1", port, label=user)
    try:
        reply = await bot.login(login, user, password)
        bot.require_ok("login", reply)
        server_id = reply.servers_info[0].id
        channels = await bot.channel_list(login, server_id)
        selected = await bot.select_server(login, server_id, channels.channels[0].id)
    finally:
        await login.aclose()
    char, char_wire = await leg(selected.ip, selected.port)
    bot.require_ok("char_join", await bot.join(char, selected.session_id, password))
    bot.require_ok("create_character", await bot.create_character(char, name))
    found = bot.find_character(await bot.char_list(char), name)
    assert found is not None
    if not world:
        return char_wire
    switch = await bot.select_character(char, found[0], name)
    world_leg, world_wire = await leg(switch.ip, switch.port)
    bot.require_ok("world_join", await bot.join(world_leg, switch.session_id, password))
    await bot.receive_initial_data(world_leg)
    await bot.change_map(world_leg)
    return world_wire


async def _measure(actor: Any, observers: list[Any], requests: list[bytes], reply_type: int,
                   depth: int, duration: float, pid: int) -> dict[str, Any]:
    stats: dict[str, Any] = {"recording": False, "count": 0, "lat": []}
    counters = [Counting(wire, reply_type, stats) for wire in [actor, *observers]]
    for counter, wire in zip(counters, [actor, *observers], strict=True):
        wire.sink = counter.feed
    counters[0].start(requests, depth)
    await asyncio.sleep(min(0.5, duration / 4))  # warm-up
    delivered0 = sum(c.received for c in counters)
    stats["recording"] = True
    start = time.perf_counter()
    cpu0, server0 = time.process_time(), proc_cpu(pid)
    await asyncio.sleep(duration)
    stats["recording"] = False
    elapsed = time.perf_counter() - start
    cpu, server = time.process_time() - cpu0, proc_cpu(pid) - server0
    delivered = sum(c.received for c in counters) - delivered0
    counters[0].requests = []  # stop; let what is in flight arrive and be dropped
    await asyncio.sleep(0.5)
    for wire in [actor, *observers]:
        wire.sink = lambda data: None
    lat = sorted(stats["lat"])
    count = stats["count"]
    return {
        "pps": count / elapsed,
        "p50_us": lat[len(lat) // 2] * 1e6 if lat else None,
        "p99_us": lat[int(len(lat) * 0.99)] * 1e6 if lat else None,
        "deliveries_per_s": delivered / elapsed,
        "loadgen_cpu": cpu / elapsed,
        "server_cpu": server / elapsed,
        "cpu_us_per_pkt": server * 1e6 / count if count else None,
        "cpu_us_per_delivery": server * 1e6 / delivered if delivered else None,
    }


def plugin_load(port: int, pid: int, observer_counts: list[int], duration: float,
                depth: int) -> None:
    """The real-plugin scenarios against a running ``gateway serve`` (pid ``pid``)."""
    _pin(1)
    _install_uvloop()
    from gateway_core.protocol.connection import ProtocolConnection, Role
    from gateway_core.protocol.packets import CliCharListReq, CliMouseCmd, CliNormalChat

    encode = ProtocolConnection(Role.CLIENT).send
    start = 520000.0  # CHARACTER_START_X/Y: every player starts there and sees the others

    async def main() -> list[dict[str, Any]]:
        results = []
        char_wire = await _player(port, 0, world=False)
        r = await _measure(char_wire, [], [encode(CliCharListReq())],
                           _type_value("PAKCC_CHAR_LIST_REPLY"), depth, duration, pid)
        results.append({"scenario": "char_list", "observers": 0, **r})
        players: list[Any] = []
        moves = [encode(CliMouseCmd(target_id=0, x=start + dx, y=start, z=0))
                 for dx in (-20.0, 20.0)]
        chat = [encode(CliNormalChat(message=MESSAGE))]
        for count in observer_counts:
            new = range(1 + len(players), 2 + count)
            for first in range(new.start, new.stop, 16):
                players.extend(await asyncio.gather(
                    *(_player(port, i, world=True) for i in range(first, min(first + 16,
                                                                             new.stop)))))
            await asyncio.sleep(1.0)  # spawns settle
            actor, observers = players[0], players[1:]
            for scenario, requests, reply in (("move", moves, "PAKWC_MOUSE_CMD"),
                                              ("chat", chat, "PAKWC_NORMAL_CHAT")):
                r = await _measure(actor, observers, requests, _type_value(reply), depth,
                                   duration, pid)
                results.append({"scenario": scenario, "observers": count, **r})
        return results

    import anyio

    print(json.dumps(anyio.run(main, backend="asyncio", backend_options={"use_uvloop": True})),
          flush=True)


def _run_plugins(tree: Path | None, observers: list[int], duration: float,
                 depth: int) -> list[dict[str, Any]]:
    import tempfile

    from bench_players import gateway_settings, start_gateway, stop_gateway

    settings = {**gateway_settings(max(observers) + 2, 10000.0), "MAX_PACKETS_PER_SECOND": "0"}
    me = str(Path(__file__).resolve())
    with tempfile.TemporaryDirectory(prefix="bench-dispatch-") as tmp:
        process, port = start_gateway(tree, Path(tmp), settings, pin=0 if _can_pin() else None)
        try:
            out = subprocess.run(
                [sys.executable, me, "plugload", "--port", str(port), "--pid", str(process.pid),
                 "--observers", ",".join(map(str, observers)), "--duration", str(duration),
                 "--depth", str(depth)],
                capture_output=True, text=True, timeout=120 + 4 * duration * len(observers),
                check=False)
        finally:
            stop_gateway(process)
        if out.returncode:
            raise RuntimeError(f"plugin load failed: {out.stderr[-3000:]}")
    results: list[dict[str, Any]] = json.loads(out.stdout)
    return results


def _can_pin() -> bool:
    return hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1


# -- orchestration ---------------------------------------------------------------------------------


def _tree_env(tree: Path | None) -> dict[str, str]:
    from bench_players import _tree_env as tree_env

    return tree_env(tree)


def _run(mode: str, conns: int, depth: int, duration: float, profile: bool,
         tree: Path | None = None) -> dict[str, Any]:
    me = str(Path(__file__).resolve())
    env = _tree_env(tree if mode == "gateway" else None)
    server = subprocess.Popen(
        [sys.executable, me, "serve", mode] + (["--profile"] if profile else []),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"{mode} server did not start: {line!r} "
                               f"{server.stderr.read() if server.stderr else ''}")
        port = int(line.split()[1])
        reply_size = 38 if mode == "raw" else 40
        out = subprocess.run(
            [sys.executable, me, "load", "--port", str(port), "--conns", str(conns),
             "--depth", str(depth), "--duration", str(duration), "--reply-size",
             str(reply_size), "--pid", str(server.pid)],
            capture_output=True, text=True, timeout=duration + 60, check=True)
        result: dict[str, Any] = json.loads(out.stdout)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            _, err = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            _, err = server.communicate()
    if profile:
        result["profile"] = err
    return result


def _num(value: float | None) -> float:
    return math.nan if value is None else value


def _line(label: str, r: dict[str, Any]) -> str:
    return (f"  {label:<22s} {r['pps']:>11,.0f} pkt/s   p50 {_num(r['p50_us']):8.1f} us   "
            f"p99 {_num(r['p99_us']):8.1f} us   server cpu {r['server_cpu']:4.0%}, "
            f"{_num(r.get('cpu_us_per_pkt')):6.1f} cpu-us/pkt   "
            f"load-gen cpu {r['loadgen_cpu']:.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd")
    s = sub.add_parser("serve")
    s.add_argument("mode", choices=["raw", "baseline", "gateway"])
    s.add_argument("--profile", action="store_true")
    ld = sub.add_parser("load")
    ld.add_argument("--port", type=int, required=True)
    ld.add_argument("--conns", type=int, required=True)
    ld.add_argument("--depth", type=int, required=True)
    ld.add_argument("--duration", type=float, required=True)
    ld.add_argument("--reply-size", type=int, required=True)
    ld.add_argument("--pid", type=int, required=True)
    pl = sub.add_parser("plugload")
    pl.add_argument("--port", type=int, required=True)
    pl.add_argument("--pid", type=int, required=True)
    pl.add_argument("--observers", required=True)
    pl.add_argument("--duration", type=float, required=True)
    pl.add_argument("--depth", type=int, required=True)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--profile-scenario", choices=["100x16", "1x1"], default="100x16")
    parser.add_argument("--tree", action="append", default=[], type=Path, metavar="PATH",
                        help="run the gateway from this checkout (repeatable)")
    parser.add_argument("--observers", default="0,30",
                        help="observer counts of the move and chat scenarios (%(default)s)")
    parser.add_argument("--plugin-depth", type=int, default=64,
                        help="requests in flight on the real-plugin actor (%(default)s)")
    parser.add_argument("--no-plugins", dest="plugins", action="store_false",
                        help="only the echo-plugin scenarios")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.cmd == "serve":
        serve(args.mode, args.profile)
        return
    if args.cmd == "load":
        load(args.port, args.conns, args.depth, args.duration, args.reply_size, args.pid)
        return
    if args.cmd == "plugload":
        plugin_load(args.port, args.pid, [int(n) for n in args.observers.split(",")],
                    args.duration, args.depth)
        return
    trees: list[Path | None] = [t.resolve() for t in args.tree] or [None]
    observers = sorted({int(n) for n in args.observers.split(",")})
    say = (lambda text: None) if args.json else print
    say(f"cpus: {os.cpu_count()}, servers pinned to cpu 0, load generator to cpu 1; "
        f"{args.duration:.1f}s per run, 38-byte requests; load {os.getloadavg()[0]:.2f}")
    everything: dict[str, Any] = {"duration": args.duration, "echo": {}, "plugins": {}}
    baseline: dict[str, Any] = {}
    for conns, depth in ((100, 16), (1, 1)):
        scenario = f"{conns}x{depth}"
        results = {mode: _run(mode, conns, depth, args.duration, False)
                   for mode in ("raw", "baseline")}
        for tree in trees:
            results[f"gateway {tree or 'installed'}"] = _run(
                "gateway", conns, depth, args.duration, False, tree)
        baseline[scenario] = results["baseline"]
        everything["echo"][scenario] = results
        say(f"\n{conns} conn x {depth} in flight")
        for mode, r in results.items():
            say(_line(mode, r))
            if mode.startswith("gateway"):
                ratio = r["pps"] / results["baseline"]["pps"]
                say(f"  {mode}/baseline ratio: {ratio:.2f} (goal >= 0.5)")
    if args.plugins:
        base = baseline["100x16"]["cpu_us_per_pkt"]
        for tree in trees:
            label = str(tree or "installed")
            say(f"\nreal plugins, gateway serve from {label} (embedded services, "
                f"{args.plugin_depth} in flight on one connection); cpu-us/pkt = gateway "
                "process cpu / requests answered; x baseline = that / the baseline's "
                "cpu-us/pkt at 100x16")
            rows = _run_plugins(tree, observers, args.duration, args.plugin_depth)
            for r in rows:
                cpu = r["cpu_us_per_pkt"]
                r["x_baseline"] = cpu / base if base and cpu is not None else None
                name = f"{r['scenario']} ({r['observers']} obs)"
                say(_line(name, r) + f"   {_num(r['x_baseline']):.1f}x baseline, "
                    f"{r['deliveries_per_s']:,.0f} deliveries/s, "
                    f"{_num(r['cpu_us_per_delivery']):.1f} cpu-us/delivery")
            everything["plugins"][label] = rows
    if args.json:
        print(json.dumps(everything, indent=2))
    if args.profile:
        conns, depth = (int(n) for n in args.profile_scenario.split("x"))
        r = _run("gateway", conns, depth, args.duration, True)
        print(f"\nprofile of the gateway process ({args.profile_scenario}, {r['pps']:,.0f} pkt/s "
              "under cProfile)")
        print(r["profile"])


if __name__ == "__main__":
    main()
