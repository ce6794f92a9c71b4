"""Dispatch benchmark: the gateway against a hand-written asyncio Protocol + uvloop baseline.

Run on demand: ``python bench/bench_dispatch.py [--duration 3] [--profile]``.

Three servers, each in its own process pinned to CPU 0, are driven by the same load generator
in a separate process pinned to CPU 1 (``os.sched_setaffinity`` where available):

* ``raw``: echoes bytes without framing: the ceiling of the load generator and the loop;
* ``baseline``: asyncio ``Protocol`` + uvloop doing the same framing as the gateway (6-byte
  header, every packet of a chunk) and answering each PAKCS_NORMAL_CHAT with a
  PAKWC_NORMAL_CHAT, all replies of a chunk in one write;
* ``gateway``: the real Gateway with a trivial plugin handler that answers the same way.

Scenarios: 100 connections x 16 requests in flight, and 1 connection x 1 in flight. Requests
are 38-byte packets. Prints packets/s, p50/p99 latency and the gateway/baseline ratio of the
same run. ``--profile`` runs the gateway under cProfile (in the 100x16 scenario, or the one
given with ``--profile-scenario 1x1``) and prints the top entries by internal time.

Each line also shows the load generator's CPU use: near 100% means that figure is bounded by
the load generator, not by the server (the ``raw`` 100x16 figure usually is; ``baseline`` and
``gateway`` should stay well below it).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
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


def _types() -> tuple[int, int]:
    from gateway_core.protocol.numbering import get_profile

    profile = get_profile("2026")
    return profile.by_name("PAKCS_NORMAL_CHAT").value, profile.by_name("PAKWC_NORMAL_CHAT").value


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
    from gateway_core.core_packets import ANY_STATE
    from gateway_core.hookspecs import hookimpl
    from gateway_core.plugins import GatewayPluginManager
    from gateway_core.protocol.packets import CliNormalChat, SrvNormalChat

    class EchoPlugin:
        @hookimpl
        def gateway_register_packets(self, register: Any) -> None:
            register("PAKCS_NORMAL_CHAT", self.on_normal_chat, states=ANY_STATE)

        async def on_normal_chat(self, ctx: Any, packet: CliNormalChat) -> None:
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


def load(port: int, conns: int, depth: int, duration: float, reply_size: int) -> None:
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
        cpu0 = time.process_time()
        await asyncio.sleep(duration)
        stats["recording"] = False
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu0
        for transport in transports:
            transport.close()
        lat = sorted(stats["lat"])
        return {
            "pps": stats["count"] / elapsed,
            "p50_us": lat[len(lat) // 2] * 1e6 if lat else None,
            "p99_us": lat[int(len(lat) * 0.99)] * 1e6 if lat else None,
            "loadgen_cpu": cpu / elapsed,
        }

    print(json.dumps(asyncio.run(main())), flush=True)


# -- orchestration ---------------------------------------------------------------------------------


def _run(mode: str, conns: int, depth: int, duration: float, profile: bool) -> dict[str, Any]:
    me = str(Path(__file__).resolve())
    server = subprocess.Popen(
        [sys.executable, me, "serve", mode] + (["--profile"] if profile else []),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
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
             str(reply_size)],
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
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--profile-scenario", choices=["100x16", "1x1"], default="100x16")
    args = parser.parse_args()
    if args.cmd == "serve":
        serve(args.mode, args.profile)
        return
    if args.cmd == "load":
        load(args.port, args.conns, args.depth, args.duration, args.reply_size)
        return
    print(f"cpus: {os.cpu_count()}, server pinned to cpu 0, load generator to cpu 1; "
          f"{args.duration:.1f}s per run, 38-byte requests")
    for conns, depth in ((100, 16), (1, 1)):
        results = {mode: _run(mode, conns, depth, args.duration, False)
                   for mode in ("raw", "baseline", "gateway")}
        print(f"\n{conns} conn x {depth} in flight")
        for mode, r in results.items():
            print(f"  {mode:9s} {r['pps']:>11,.0f} pkt/s   p50 {r['p50_us']:8.1f} us   "
                  f"p99 {r['p99_us']:8.1f} us   load-gen cpu {r['loadgen_cpu']:.0%}")
        ratio = results["gateway"]["pps"] / results["baseline"]["pps"]
        print(f"  gateway/baseline ratio: {ratio:.2f} (goal >= 0.5)")
    if args.profile:
        conns, depth = (int(n) for n in args.profile_scenario.split("x"))
        r = _run("gateway", conns, depth, args.duration, True)
        print(f"\nprofile of the gateway process ({args.profile_scenario}, {r['pps']:,.0f} pkt/s "
              "under cProfile)")
        print(r["profile"])


if __name__ == "__main__":
    main()
