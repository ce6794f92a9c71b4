"""SIGTERM with N players online: how many characters the shutdown saves, and how long it takes.

For each N (``--players 500,1000,2000``) a fresh ``gateway serve`` (embedded services, SQLite in
a temporary directory, cheap password hashing) is started and N players enter the world: the
account, login, server select, character and world phase are made by calling the embedded
auth and character services directly (:func:`gateway_core.testing.enter_world_direct`), then
each player joins the world leg through the gateway and walks to a point of its own. Then the
gateway gets SIGTERM (``--leave-first``: all players disconnect and SIGTERM follows a few
milliseconds later). Printed per N: the seconds the logins took, the seconds from SIGTERM to
the exit, the gateway's own account of its shutdown steps, the exit code, how many of the N
characters the character service's database holds at their last point, the "NOT saved" lines
(lost saves, each with the character's name) and whether the output holds a traceback.

Options: ``--players`` (comma-separated N, default 500,1000,2000), ``--deadline``
(SHUTDOWN_DEADLINE, default 10), ``--concurrency`` (logins at once, default 50),
``--view-radius`` (WORLD_VIEW_RADIUS, default 50: the players, 100 units apart, do not see
each other, so the logins do not cost N squared spawn packets; what is measured is the
shutdown), ``--data-dir`` (where the temporary data directory goes, default the system's
temporary directory: its disk's commit latency is part of the figures), ``--leave-first``.
Bounded: each N stops after ``--timeout`` seconds of logins (default 900) and reports what it
got.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import anyio
import grpc.aio

from gateway_core.bot import GameClient
from gateway_core.bot import steps as flow
from gateway_core.testing import (
    GATEWAY_TEST_ENV,
    embedded_services_address,
    enter_world_direct,
    serve_process,
)


def point_of(index: int) -> tuple[float, float]:
    """A distinct point of Zant (map 1 of the built-in pack) for player ``index``."""
    return 502000.0 + 100.0 * (index % 300), 502000.0 + 100.0 * (index // 300)


async def run(players: int, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-shutdown-", dir=args.data_dir) as tmp:
        data = Path(tmp) / "data"
        env = {**os.environ, **GATEWAY_TEST_ENV, "DATA_DIR": str(data), "LOG_LEVEL": "info",
               "SHUTDOWN_DEADLINE": str(args.deadline), "GRPC_DEADLINE": "30",
               "WORLD_VIEW_RADIUS": str(args.view_radius),
               "MAX_CONCURRENT_CONNECTIONS": str(max(2000, 2 * players))}
        opened: list[GameClient] = []
        online: list[int] = []
        failed = 0
        async with serve_process(env, Path(tmp) / "gateway.log", timeout=60) as gateway:
            channel = grpc.aio.insecure_channel(embedded_services_address(gateway.log))
            limit = anyio.Semaphore(args.concurrency)
            started = time.monotonic()

            async def play(index: int) -> None:
                nonlocal failed
                async with limit:
                    try:
                        world, object_id = await enter_world_direct(
                            gateway.port, channel, f"bench{index}", f"Bench{index}",
                            opened=opened, timeout=60)
                        await flow.move(world, object_id, *point_of(index))
                    except (Exception, TimeoutError) as exc:  # refused on a loaded machine
                        failed += 1
                        if failed == 1:
                            print(f"first failed login: {exc!r}", flush=True)
                        return
                    online.append(index)

            with anyio.move_on_after(args.timeout):
                async with anyio.create_task_group() as tg:
                    for index in range(players):
                        tg.start_soon(play, index)
            logins = time.monotonic() - started
            if args.leave_first:
                async with anyio.create_task_group() as tg:
                    for client in opened:
                        tg.start_soon(client.aclose)
                await anyio.sleep(0.005)
            term = time.monotonic()
            gateway.popen.send_signal(signal.SIGTERM)
            while gateway.popen.poll() is None and time.monotonic() - term < args.deadline + 30:
                await anyio.sleep(0.02)
            stopped = time.monotonic() - term
            with anyio.CancelScope(shield=True):
                await channel.close()
                for client in opened:
                    await client.aclose()
        output = gateway.log.read_text(errors="replace")
        if "Traceback" in output:
            at = output.index("Traceback")
            print(output[max(0, at - 300): at + 2500], flush=True)
        steps = re.search(r"gateway stopped \(seconds: ([^)]*)\)", output)
        with sqlite3.connect(data / "character.sqlite3") as db:
            rows = dict(((name, (x, y)) for name, x, y in
                         db.execute("SELECT name, x, y FROM character_characters")))
        saved = sum(rows.get(f"Bench{i}") == point_of(i) for i in online)
        print(f"N={players:5d}  online {len(online):5d} ({failed} failed, {logins:6.1f}s)  "
              f"SIGTERM->exit {stopped:5.2f}s  rc={gateway.popen.returncode}  "
              f"saved {saved:5d}/{len(online)}  lost lines {output.count('NOT saved'):4d}  "
              f"traceback {'yes' if 'Traceback' in output else 'no'}  "
              f"[{steps.group(1) if steps else 'no stop line'}]", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--players", default="500,1000,2000")
    parser.add_argument("--deadline", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--view-radius", type=float, default=50.0)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--leave-first", action="store_true")
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args()
    for n in (int(v) for v in args.players.split(",") if v):
        anyio.run(run, n, args, backend="asyncio")
    return 0


if __name__ == "__main__":
    sys.exit(main())
