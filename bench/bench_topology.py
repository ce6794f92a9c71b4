"""Scale-out run on one machine: several gateways, replicated auth and character services on
PostgreSQL, the world sharded by map, the players spread over the shards.

Run on demand (PostgreSQL server binaries needed, as for the test suite)::

    python bench/bench_topology.py [--gateways 2] [--sizes 250,500] [--seconds 8] [--json]

The script starts, each as its own process, with logs under a temporary directory:

* a throwaway PostgreSQL server (``gateway_core.testing.PostgresServer``) with one database
  that every auth and character replica shares;
* per gateway ``k``: one auth replica and one character replica (one ``AUTH_BINDING_KEY`` for
  all), the character replica starting new characters on map ``SHARD_MAPS[k % shards]``;
* one chat service;
* ``--shards`` world services (default: one per gateway), shard ``s`` owning the maps of
  ``shard_ranges()`` (``WORLD_SERVICE_MAPS``);
* the gateways, each pointing at its auth and character replica, the chat service and every
  shard (``WORLD_SHARDS``);

then one ``bench/bench_players.py --attach`` per gateway at the same time, each with its own
load generator, its own account names (``--prefix``) and the same sizes: gateway ``k``'s
players are created through replica ``k`` and so start, and play, on the map of shard
``k % shards``. Each prints the figures of ``bench_players.py`` for its gateway (deliveries/s,
p50/p99/p99.9, the gateway's CPU and RSS, CPU per delivered event, lost deliveries); this
script prints them side by side per size and the total (deliveries/s summed, the worst p99,
the CPU summed), and the CPU of every service process over the whole run.

On a 2-core machine every process shares the same two cores (nothing is pinned): the figures
say what the topology costs in CPU per delivery, not how far it scales; on a machine with a
core per process the same command measures the scale-out.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_players

from gateway_core.testing import PostgresServer, free_port

#: The start map of shard ``s``'s players: maps the built-in pack does not hold (no bounds, no
#: NPCs or monsters: the players are measured, as in bench_players).
SHARD_MAPS = (20, 30, 40, 50)
#: The line ``gateway serve`` prints on its standard output once its listener is bound.
GATEWAY_LISTENING = re.compile(r"^gateway \S+ listening on (\S+):(\d+)", re.M)
#: Seconds a process has to say it listens.
START_TIMEOUT = 60.0


def shard_ranges(shards: int) -> list[str]:
    """The maps of each shard (``WORLD_SERVICE_MAPS`` syntax): every map id, split so that
    shard ``s`` holds ``SHARD_MAPS[s]`` (shard 0 from map 0, the last one to 65535)."""
    bounds = [0] + [SHARD_MAPS[s] for s in range(1, shards)] + [0x10000]
    return [f"{bounds[s]}-{bounds[s + 1] - 1}" for s in range(shards)]


@dataclass
class Proc:
    """A process of the topology and where its output goes."""

    label: str
    popen: subprocess.Popen[bytes]
    log: Path
    cpu_start: float = 0.0

    def cpu(self) -> float:
        try:
            return bench_players.proc_cpu(self.popen.pid)
        except OSError:
            return 0.0

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


@dataclass
class GatewayProc:
    """A gateway of the topology: its process, game port and metrics port."""

    proc: Proc
    port: int
    metrics: int
    shard: int


@dataclass
class Topology:
    """Every process started, in start order (stopped in reverse)."""

    root: Path
    procs: list[Proc] = field(default_factory=list)

    def start(self, label: str, args: Sequence[str], env: dict[str, str],
              ready: re.Pattern[str]) -> tuple[Proc, re.Match[str]]:
        """Start ``args`` and wait until its output has a line ``ready`` matches; returns the
        process and the match."""
        log = self.root / f"{label}.log"
        with open(log, "wb") as out:
            popen = subprocess.Popen(list(args), env=env, cwd=self.root, stdout=out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        proc = Proc(label, popen, log)
        self.procs.append(proc)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            match = ready.search(log.read_text(errors="replace"))
            if match:
                proc.cpu_start = proc.cpu()
                return proc, match
            if popen.poll() is not None:
                break
            time.sleep(0.1)
        tail = log.read_text(errors="replace")[-2000:]
        raise SystemExit(f"{label} did not start (exit code {popen.poll()}): {tail}")

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()


def service(topology: Topology, name: str, label: str, env: dict[str, str]) -> str:
    """Start ``gateway service <name>`` on a free loopback port; its address."""
    address = f"127.0.0.1:{free_port()}"
    topology.start(label, [sys.executable, "-m", "gateway_core", "service", name,
                           "--listen", address], env,
                   re.compile(rf"^service {name} listening on ", re.M))
    return address


@contextlib.contextmanager
def postgres(root: Path) -> Iterator[PostgresServer]:
    reason = PostgresServer.unavailable()
    if reason is not None:
        raise SystemExit(f"bench_topology needs a PostgreSQL server: {reason}")
    # Its own directory, not under ``root``: the server may run as the postgres account, and
    # ``root`` is private to this one.
    server = PostgresServer(tempfile.mkdtemp(prefix="bench-topology-postgres-"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
        with contextlib.suppress(OSError):
            shutil.rmtree(server.directory)


def build(topology: Topology, args: argparse.Namespace,
          database_url: str) -> list[GatewayProc]:
    """Start the services and the gateways."""
    base = {k: v for k, v in os.environ.items() if not k.endswith("_SERVICE_ADDR")}
    settings = bench_players.gateway_settings(max(args.sizes), args.view_radius)
    common = {**base, **settings, "DATABASE_URL": database_url, "LOG_LEVEL": "warning",
              "AUTH_BINDING_KEY": secrets.token_hex(32), "DATA_DIR": str(topology.root)}
    shards = args.shards or args.gateways
    world = [service(topology, "world", f"world-{s}",
                     {**common, "WORLD_SERVICE_MAPS": maps})
             for s, maps in enumerate(shard_ranges(shards))]
    table = ";".join(f"{maps}={address}"
                     for maps, address in zip(shard_ranges(shards), world, strict=True))
    chat = service(topology, "chat", "chat", common)
    gateways: list[GatewayProc] = []
    for k in range(args.gateways):
        auth = service(topology, "auth", f"auth-{k}", common)
        character = service(topology, "character", f"character-{k}",
                            {**common, "CHARACTER_START_MAP": str(SHARD_MAPS[k % shards])})
        metrics = free_port()
        env = {**common, "AUTH_SERVICE_ADDR": auth, "CHARACTER_SERVICE_ADDR": character,
               "CHAT_SERVICE_ADDR": chat, "WORLD_SHARDS": table, "GATEWAY_ID": f"gw-{k}",
               "PACKET_METRICS_PORT": str(metrics), "LOG_LEVEL": "info"}
        proc, match = topology.start(f"gateway-{k}",
                                     [sys.executable, "-m", "gateway_core", "serve"], env,
                                     GATEWAY_LISTENING)
        gateways.append(GatewayProc(proc, int(match.group(2)), metrics, k % shards))
    return gateways


def run_players(gateways: Sequence[GatewayProc],
                args: argparse.Namespace) -> list[dict[str, Any]]:
    """One bench_players --attach per gateway, all at once; their JSON results."""
    script = Path(__file__).resolve().parent / "bench_players.py"
    runs = []
    for k, gateway in enumerate(gateways):
        attach = f"{gateway.port}:{gateway.proc.popen.pid}:{gateway.metrics}"
        command = [sys.executable, str(script), "--json", "--no-pin", "--attach", attach,
                   "--prefix", f"g{k}x", "--sizes", ",".join(map(str, args.sizes)),
                   "--seconds", str(args.seconds), "--workers", str(args.workers),
                   "--view-radius", str(args.view_radius), "--budget", str(args.budget),
                   "--monster-ticks", "1", "--monster-channels", "1", "--monster-players", "0"]
        runs.append(subprocess.Popen(command, stdout=subprocess.PIPE, text=True))
    results = []
    for k, run in enumerate(runs):
        out, _ = run.communicate(timeout=args.budget + 600)
        if run.returncode != 0:
            raise SystemExit(f"bench_players for gateway {k} failed ({run.returncode})")
        results.append(json.loads(out))
    return results


def report(gateways: Sequence[GatewayProc], procs: Sequence[Proc],
           results: Sequence[dict[str, Any]], wall: float, as_json: bool) -> None:
    by_size: dict[int, list[dict[str, Any]]] = {}
    for result in results:
        for row in result["rows"]:
            by_size.setdefault(int(row["players"]), []).append(row)
    totals = []
    for size, rows in sorted(by_size.items()):
        complete = len(rows) == len(gateways)
        totals.append({
            "players_per_gateway": size, "players": size * len(rows), "complete": complete,
            "deliveries_per_s": sum(r["deliveries_per_s"] for r in rows),
            "p99_ms_worst": max(r["p99_ms"] for r in rows),
            "gateway_cpu_sum": sum(r["gateway_cpu"] for r in rows),
            "lost": sum(r["lost"] for r in rows),
        })
    cpu = {proc.label: (proc.cpu() - proc.cpu_start) / wall for proc in procs}
    if as_json:
        print(json.dumps({"per_gateway": [r["rows"] for r in results], "total": totals,
                          "service_cpu": cpu}, indent=2))
        return
    for size, rows in sorted(by_size.items()):
        print(f"\nN={size} per gateway:")
        for k, row in enumerate(rows):
            print(f"  gateway {k}: {row['deliveries_per_s']:,.0f} deliveries/s, p50/p99/p99.9 "
                  f"{row['p50_ms']:.1f}/{row['p99_ms']:.1f}/{row['p999_ms']:.1f} ms, cpu "
                  f"{row['gateway_cpu']:.0%}, {row['cpu_us_per_delivery']:.1f} us/delivery, "
                  f"lost {row['lost']}")
    print("\ntotal:")
    for total in totals:
        print(f"  {total['players']} players ({total['players_per_gateway']} per gateway"
              f"{'' if total['complete'] else ', not every gateway ran it'}): "
              f"{total['deliveries_per_s']:,.0f} deliveries/s, worst p99 "
              f"{total['p99_ms_worst']:.1f} ms, gateway cpu {total['gateway_cpu_sum']:.0%} "
              f"(sum), lost {total['lost']}")
    print("\nprocesses, mean cpu over the run (gateways included):")
    for label, share in cpu.items():
        print(f"  {label}: {share:.0%}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--gateways", type=int, default=2)
    parser.add_argument("--shards", type=int, default=0,
                        help="world shards (default: one per gateway, at most 4)")
    parser.add_argument("--sizes", default="250,500", help="players per gateway (%(default)s)")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--workers", type=int, default=1,
                        help="load generator workers per gateway (%(default)s)")
    parser.add_argument("--view-radius", type=float, default=10000.0)
    parser.add_argument("--budget", type=float, default=300.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        args.sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    except ValueError:
        parser.error("--sizes expects integers separated by commas")
    if not 1 <= args.gateways <= 8 or not 0 <= args.shards <= len(SHARD_MAPS):
        parser.error(f"--gateways 1..8, --shards 0..{len(SHARD_MAPS)}")
    if not args.shards and args.gateways > len(SHARD_MAPS):
        parser.error(f"more than {len(SHARD_MAPS)} gateways need --shards")
    with tempfile.TemporaryDirectory(prefix="bench-topology-") as tmp:
        root = Path(tmp)
        topology = Topology(root)
        with postgres(root) as server:
            try:
                url = server.create_database()
                gateways = build(topology, args, url)
                services = [p for p in topology.procs if all(p is not g.proc for g in gateways)]
                if not args.json:
                    print(f"cpus {os.cpu_count()}, load {os.getloadavg()[0]:.2f}; "
                          f"{len(gateways)} gateways, {len(services)} service processes, "
                          f"PostgreSQL; shards {shard_ranges(args.shards or args.gateways)}",
                          flush=True)
                began = time.monotonic()
                results = run_players(gateways, args)
                report(gateways, topology.procs, results,
                       time.monotonic() - began, args.json)
            finally:
                topology.stop_all()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
