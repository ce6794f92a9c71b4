"""SIGTERM with N players online: how many characters the shutdown saves, and how long it takes.

For each N (``--players 500,1000,2000``) a fresh ``gateway serve`` (embedded services, SQLite in
a temporary directory, cheap password hashing) is started, N headless players log in (the
account is created on the first login), enter the world and walk to a point of their own; then
the gateway gets SIGTERM. Printed per N: the seconds the logins took, the seconds from SIGTERM
to the exit, the exit code, how many of the N characters the character service's database holds
at their last point, the "NOT saved" lines (lost saves, each with the character's name) and
whether the output holds a traceback.

Options: ``--players`` (comma-separated N, default 500,1000), ``--deadline`` (SHUTDOWN_DEADLINE,
default 10), ``--concurrency`` (logins at once, default 50). Bounded: each N stops after
``--timeout`` seconds of logins (default 600) and reports what it got.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import anyio

from gateway_core.bot import GameClient
from gateway_core.bot import steps as flow
from gateway_core.testing import GATEWAY_TEST_ENV, enter_world_at, serve_process


def point_of(index: int) -> tuple[float, float]:
    """A distinct point of Zant (map 1 of the built-in pack) for player ``index``."""
    return 502000.0 + 40.0 * (index % 1000), 502000.0 + 40.0 * (index // 1000)


async def run(players: int, deadline: float, concurrency: int, timeout: float) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-shutdown-") as tmp:
        data = Path(tmp) / "data"
        env = {**os.environ, **GATEWAY_TEST_ENV, "DATA_DIR": str(data),
               "AUTH_CREATE_ACCOUNT_ON_FAIL": "true", "LOG_LEVEL": "warning",
               "SHUTDOWN_DEADLINE": str(deadline), "GRPC_DEADLINE": "30",
               "MAX_CONCURRENT_CONNECTIONS": str(max(2000, 4 * players))}
        opened: list[GameClient] = []
        online: list[int] = []
        failed = 0
        async with serve_process(env, Path(tmp) / "gateway.log", timeout=60) as gateway:
            limit = anyio.Semaphore(concurrency)
            started = time.monotonic()

            async def play(index: int) -> None:
                nonlocal failed
                async with limit:
                    try:
                        world, object_id = await enter_world_at(
                            gateway.port, f"bench{index}", f"Bench{index}", new=True,
                            opened=opened, timeout=60)
                        await flow.move(world, object_id, *point_of(index))
                    except (Exception, TimeoutError):  # a login the loaded machine refused
                        failed += 1
                        return
                    online.append(index)

            with anyio.move_on_after(timeout):
                async with anyio.create_task_group() as tg:
                    for index in range(players):
                        tg.start_soon(play, index)
            logins = time.monotonic() - started
            term = time.monotonic()
            gateway.popen.send_signal(signal.SIGTERM)
            while gateway.popen.poll() is None and time.monotonic() - term < deadline + 30:
                await anyio.sleep(0.02)
            stopped = time.monotonic() - term
            with anyio.CancelScope(shield=True):
                for client in opened:
                    await client.aclose()
        output = gateway.log.read_text(errors="replace")
        if "Traceback" in output:
            at = output.index("Traceback")
            print(output[max(0, at - 300): at + 2500], flush=True)
        with sqlite3.connect(data / "character.sqlite3") as db:
            rows = dict(((name, (x, y)) for name, x, y in
                         db.execute("SELECT name, x, y FROM character_characters")))
        saved = sum(rows.get(f"Bench{i}") == point_of(i) for i in online)
        print(f"N={players:5d}  online {len(online):5d} ({failed} logins failed, "
              f"{logins:6.1f}s)  SIGTERM->exit {stopped:5.2f}s  rc={gateway.popen.returncode}  "
              f"saved {saved:5d}/{len(online)}  "
              f"lost lines {output.count('NOT saved'):4d}  traceback "
              f"{'yes' if 'Traceback' in output else 'no'}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--players", default="500,1000")
    parser.add_argument("--deadline", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    for n in (int(v) for v in args.players.split(",") if v):
        anyio.run(run, n, args.deadline, args.concurrency, args.timeout, backend="asyncio")
    return 0


if __name__ == "__main__":
    sys.exit(main())
