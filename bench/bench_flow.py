"""Full client flow benchmark: N bots log in, join the character and world legs, log out.

Run on demand: ``python bench/bench_flow.py [--count 100] [--rounds 1] [--set KEY=VALUE ...]``.

Starts ``gateway serve`` as a subprocess (every installed plugin, embedded reference services,
a temporary DATA_DIR, AUTH_CREATE_ACCOUNT_ON_FAIL=true, loopback, ephemeral port, no metrics
port, the production defaults for everything else, argon2 included), then runs the scripted bot
flow (``gateway_core.bot.run_clients``: login, channel list, server select, character join,
character creation on the first round, world join, initial data, map entry, logout) for
``--count`` clients at once, in this process. ``--rounds 2`` runs the same clients again against
the same data: the first round creates the accounts and characters (one argon2 hash per login),
later rounds log into existing accounts (one argon2 verification per login).

Prints, per round: completed/failed clients (failures grouped by step and error), flows/s and
logins/s (completed flows and OK logins over the round's wall time), and p50/p99 of the login
step (PAKCS_LOGIN_REQ -> PAKLC_LOGIN_REPLY), of the character and world joins, and of the whole
flow, over the clients that completed that step.

Options: ``--count N`` (clients, default 100), ``--rounds R`` (default 1), ``--timeout S``
(each single wait of a bot; default: the bot's own default), ``--total-timeout S`` (bound of
one round, default 120), ``--set KEY=VALUE`` (extra gateway setting, repeatable, e.g.
``--set AUTH_HASH_CONCURRENCY=1``), ``--json`` (the figures as one JSON document).
The gateway is stopped (SIGTERM, then SIGKILL after 15 s) when the script ends.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio

from gateway_core.bot.client import DEFAULT_TIMEOUT
from gateway_core.bot.journey import FlowOptions, run_clients
from gateway_core.bot.results import FlowResult

LISTENING = re.compile(r"listening on (\S+):(\d+)")
START_TIMEOUT = 60.0


def _percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (NaN for no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def _step_times(results: Sequence[FlowResult], name: str) -> list[float]:
    return [s.elapsed for r in results for s in r.steps if s.name == name and s.ok]


def _start_gateway(data_dir: Path, extra: dict[str, str]) -> tuple[subprocess.Popen[str], int]:
    env = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "LISTEN_ADDR": "127.0.0.1",
        "SERVICE_PORT": "0",
        "PACKET_METRICS_PORT": "0",
        "AUTH_CREATE_ACCOUNT_ON_FAIL": "true",
        "LOG_LEVEL": "warning",
        **extra,
    }
    for name in [n for n in env if n.endswith("_SERVICE_ADDR")]:
        del env[name]  # embedded services only
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway_core", "serve"],
        env=env,
        cwd=data_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    started = time.monotonic()
    while time.monotonic() - started < START_TIMEOUT:
        line = process.stdout.readline()
        if not line:
            break
        match = LISTENING.search(line)
        if match:
            return process, int(match.group(2))
    _stop(process)
    raise SystemExit(f"the gateway did not start (exit code {process.returncode})")


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _round_figures(results: Sequence[FlowResult], wall: float) -> dict[str, Any]:
    completed = [r for r in results if r.ok]
    failures = Counter(f"{r.failed_step}: {r.error}" for r in results if not r.ok)
    logins = _step_times(results, "login")

    def ms(values: Sequence[float]) -> dict[str, float]:
        return {
            "p50_ms": round(_percentile(values, 0.50) * 1000.0, 1),
            "p99_ms": round(_percentile(values, 0.99) * 1000.0, 1),
            "count": len(values),
        }

    return {
        "clients": len(results),
        "completed": len(completed),
        "failed": len(results) - len(completed),
        "wall_s": round(wall, 3),
        "flows_per_s": round(len(completed) / wall, 2),
        "logins_per_s": round(len(logins) / wall, 2),
        "login": ms(logins),
        "char_join": ms(_step_times(results, "char_join")),
        "world_join": ms(_step_times(results, "world_join")),
        "flow": ms([r.elapsed for r in completed]),
        "failures": dict(failures.most_common()),
    }


def _print_round(index: int, figures: dict[str, Any]) -> None:
    print(f"round {index}: {figures['completed']}/{figures['clients']} completed, "
          f"{figures['failed']} failed in {figures['wall_s']:.2f} s: "
          f"{figures['flows_per_s']:.1f} flows/s, {figures['logins_per_s']:.1f} logins/s")
    for key in ("login", "char_join", "world_join", "flow"):
        part = figures[key]
        print(f"  {key:<10} p50 {part['p50_ms']:>8.1f} ms  p99 {part['p99_ms']:>8.1f} ms  "
              f"(n={part['count']})")
    for reason, count in figures["failures"].items():
        print(f"  failed x{count}: {reason}")


async def _run_rounds(options: FlowOptions, args: argparse.Namespace) -> list[dict[str, Any]]:
    rounds = []
    for index in range(1, args.rounds + 1):
        started = time.perf_counter()
        results = await run_clients(options, args.count, total_timeout=args.total_timeout)
        figures = _round_figures(results, time.perf_counter() - started)
        rounds.append(figures)
        if not args.json:
            _print_round(index, figures)
    return rounds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=100, help="concurrent clients (100)")
    parser.add_argument("--rounds", type=int, default=1, help="runs of the same clients (1)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help="seconds for each single wait of a bot (%(default)s)")
    parser.add_argument("--total-timeout", type=float, default=120.0,
                        help="seconds for one round (%(default)s)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="extra gateway setting (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.count < 1 or args.rounds < 1:
        parser.error("--count and --rounds must be at least 1")
    extra = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            parser.error(f"--set expects KEY=VALUE, got {item!r}")
        extra[key] = value
    with tempfile.TemporaryDirectory(prefix="bench-flow-") as tmp:
        process, port = _start_gateway(Path(tmp), extra)
        try:
            options = FlowOptions(
                host="127.0.0.1", port=port, username="bot{i}", password="pw",
                character="Bot{i}", create=True, timeout=args.timeout,
            )
            if not args.json:
                print(f"gateway pid {process.pid} on 127.0.0.1:{port}; {args.count} clients, "
                      f"bot timeout {args.timeout:g} s, settings {extra or 'default'}")
            rounds = anyio.run(_run_rounds, options, args, backend="asyncio")
        finally:
            _stop(process)
    if args.json:
        print(json.dumps({"count": args.count, "timeout": args.timeout, "settings": extra,
                          "rounds": rounds}, indent=2))
    return 0 if all(r["failed"] == 0 for r in rounds) else 1


if __name__ == "__main__":
    sys.exit(main())
