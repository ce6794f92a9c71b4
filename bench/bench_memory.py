"""The gateway's memory before, during and after a series of attacks: does RSS come back?

A fresh ``gateway serve`` (embedded services, SQLite in a temporary directory, the production
argon2 cost: its hashing memory is part of what is measured) is started; a well-behaved player
enters the world and keeps reading, and after each attack it must still get the echo of its
chat line. The gateway process's RSS (``VmRSS`` of ``/proc/PID/status``; "tree" adds its child
processes, e.g. a password-hashing pool) is sampled every 0.1 s. The attacks, one after the
other, each followed by ``--settle`` seconds of quiet:

* ``connections``: ``--connections`` connections (accept exchange done) opened, then all closed
  at once;
* ``logins``: ``--logins`` wrong-password logins from 10 loopback addresses, 50 at a time (the
  login throttle's free failures raised so that every one is really checked with argon2: the
  worst case for the hashing memory);
* ``chat``: 5 players in the world, each sending ``--lines`` normal lines and as many shouts
  (CHAT_RATE off, the shout limit at its default: the shouts are muted);
* ``silent``: ``--silent`` connections that send nothing, held ``--hold`` seconds, closed;
* ``slow-reader``: a player in the world who never reads (4 KiB receive buffer) while another
  sends ``--lines`` long lines to the map: the gateway disconnects it at SEND_QUEUE_LIMIT.

Printed: the cold baseline (the player in the world, settled, before any attack), the peak
during and the RSS after each attack, and two deltas of the final RSS. The verdict is on the
growth that stays: ``--warmup-rounds`` series (default 1) run first, the baseline is the RSS
settled after them, and ``--rounds`` more series (default 2) must end within the margin of it:
``--margin-mb`` (default 10) or ``--margin-pct`` (default 15) of that baseline, whichever is
larger. The delta against the cold baseline is printed too: it includes the one-time
high-water of the first series (heap pages and allocator arenas first touched by the largest
flood, caches the first attacks fill), which later series do not add to. Exit status 1 when
the final delta is over the margin, or the player stopped being served.

Options: the counts above, ``--settle`` (default 5 s), ``--warmup-rounds``, ``--rounds``,
``--env NAME=VALUE`` (repeatable: a setting or environment variable for the gateway, e.g.
glibc's ``MALLOC_ARENA_MAX=2`` to compare).
Bounded: loopback only, fixed counts, every wait has a timeout; the gateway is stopped by its
PID at the end (SIGTERM, SIGKILL after 10 s).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import socket
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import anyio.abc
import grpc.aio
from gateway_protos.v1 import auth_pb2, auth_pb2_grpc

from gateway_core.bot import GameClient
from gateway_core.bot import steps as flow
from gateway_core.protocol.packets import (
    CliNormalChat,
    CliShoutChat,
    LoginResult,
    SrvNormalChat,
)
from gateway_core.testing import (
    GATEWAY_TEST_ENV,
    embedded_services_address,
    enter_world_direct,
    serve_process,
)

SOURCES = [f"127.0.0.{10 + n}" for n in range(10)]
TIMEOUT = 60.0


def rss_kib(pid: int) -> int:
    """VmRSS of ``pid`` in KiB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def descendants(pid: int) -> list[int]:
    """The PIDs of ``pid``'s child processes, recursively."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@dataclass
class Sampler:
    """RSS of the gateway (and of its process tree) every ``interval`` seconds."""

    pid: int
    interval: float = 0.1
    peak: int = 0
    peak_tree: int = 0
    samples: list[tuple[float, int, int]] = field(default_factory=list)

    def now(self) -> tuple[int, int]:
        own = rss_kib(self.pid)
        return own, own + sum(rss_kib(child) for child in descendants(self.pid))

    async def run(self) -> None:
        while True:
            own, tree = self.now()
            self.samples.append((time.monotonic(), own, tree))
            self.peak, self.peak_tree = max(self.peak, own), max(self.peak_tree, tree)
            await anyio.sleep(self.interval)


class Walker:
    """The well-behaved player: reads everything in the background; :meth:`served` checks
    that the echo of a chat line comes back."""

    def __init__(self, client: GameClient) -> None:
        self.client = client
        self.echoes: set[bytes] = set()
        self.received = 0

    async def read(self) -> None:
        with contextlib.suppress(Exception):
            while True:
                event = await self.client.receive(timeout=3600)
                self.received += 1
                if isinstance(event, SrvNormalChat):
                    self.echoes.add(bytes(event.message))
                    if len(self.echoes) > 100:
                        self.echoes.clear()

    async def served(self, line: str, timeout: float = 15.0) -> bool:
        message = line.encode()
        with contextlib.suppress(Exception):
            await self.client.send(CliNormalChat(message=message))
            with anyio.move_on_after(timeout):
                while message not in self.echoes:
                    await anyio.sleep(0.02)
                return True
        return False


async def drain(client: GameClient) -> None:
    """Read and drop everything ``client`` gets (a bot that is not the one measured)."""
    with contextlib.suppress(Exception):
        while True:
            await client.receive(timeout=3600)


@dataclass
class Bench:
    args: argparse.Namespace
    port: int
    channel: grpc.aio.Channel
    tg: anyio.abc.TaskGroup
    opened: list[GameClient] = field(default_factory=list)
    players: int = 0

    async def player(self, *, read: bool = True) -> GameClient:
        self.players += 1
        name = f"Bench{self.players}"
        world, _ = await enter_world_direct(self.port, self.channel, name.lower(), name,
                                            opened=self.opened, timeout=TIMEOUT)
        if read:
            self.tg.start_soon(drain, world)
        return world

    async def connections(self) -> None:
        clients: list[GameClient] = []
        limit = anyio.Semaphore(200)

        async def one() -> None:
            async with limit:
                with contextlib.suppress(Exception):
                    clients.append(await flow.connect("127.0.0.1", self.port, timeout=TIMEOUT))

        with anyio.fail_after(TIMEOUT * 3):
            async with anyio.create_task_group() as tg:
                for _ in range(self.args.connections):
                    tg.start_soon(one)
        print(f"    {len(clients)} connections open", flush=True)
        async with anyio.create_task_group() as tg:
            for client in clients:
                tg.start_soon(client.aclose)

    async def logins(self) -> None:
        limit = anyio.Semaphore(50)
        results: dict[str, int] = {}

        async def one(n: int) -> None:
            async with limit:
                try:
                    client = await flow.connect("127.0.0.1", self.port, timeout=TIMEOUT,
                                                local_host=SOURCES[n % len(SOURCES)])
                except Exception:
                    results["no connection"] = results.get("no connection", 0) + 1
                    return
                try:
                    reply = await flow.login(client, f"victim{n % 20}", f"wrong{n}")
                    name = LoginResult(reply.result).name
                except Exception as exc:
                    name = type(exc).__name__
                finally:
                    await client.aclose()
                results[name] = results.get(name, 0) + 1

        with anyio.fail_after(TIMEOUT * 5):
            async with anyio.create_task_group() as tg:
                for n in range(self.args.logins):
                    tg.start_soon(one, n)
        print(f"    logins: {results}", flush=True)

    async def chat(self) -> None:
        chatters = [await self.player() for _ in range(5)]
        payload = b"spam " * 40
        with anyio.fail_after(TIMEOUT * 2):
            for _ in range(0, self.args.lines, 50):
                for chatter in chatters:
                    with contextlib.suppress(Exception):
                        await chatter.send(*(CliNormalChat(message=payload)
                                             for _ in range(50)),
                                           *(CliShoutChat(message=payload) for _ in range(50)))
                await anyio.sleep(0.05)
        await anyio.sleep(1.0)
        for chatter in chatters:
            await chatter.aclose()

    async def silent(self) -> None:
        streams: list[anyio.abc.SocketStream] = []
        with anyio.fail_after(TIMEOUT):
            for _ in range(self.args.silent):
                with contextlib.suppress(OSError):
                    streams.append(await anyio.connect_tcp("127.0.0.1", self.port))
        await anyio.sleep(self.args.hold)
        for stream in streams:
            await stream.aclose()

    async def slow_reader(self) -> None:
        slow = await self.player(read=False)
        raw = slow._stream.extra(anyio.abc.SocketAttribute.raw_socket)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sender = await self.player()
        payload = b"x" * 200
        with anyio.fail_after(TIMEOUT * 2):
            for _ in range(0, self.args.lines, 50):
                with contextlib.suppress(Exception):
                    await sender.send(*(CliNormalChat(message=payload) for _ in range(50)))
                await anyio.sleep(0.02)
        await anyio.sleep(1.0)
        await sender.aclose()
        await slow.aclose()


async def accounts(channel: grpc.aio.Channel) -> None:
    auth = auth_pb2_grpc.AuthStub(channel)
    for n in range(20):
        await auth.CreateAccount(auth_pb2.CreateAccountRequest(
            username=f"victim{n}", password_hash=flow.hash_password("right"), access_level=1),
            timeout=TIMEOUT)


def mib(kib: int) -> str:
    return f"{kib / 1024:7.1f}"


async def run(args: argparse.Namespace) -> int:
    attacks = ["connections", "logins", "chat", "silent", "slow-reader"]
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        env = {k: v for k, v in {**os.environ, **GATEWAY_TEST_ENV}.items()
               if not k.startswith("AUTH_ARGON2_")}  # the production argon2 cost
        env.update({"DATA_DIR": str(Path(tmp) / "data"), "LOG_LEVEL": "info",
                    "GRPC_DEADLINE": "10", "AUTH_LOGIN_FREE_FAILURES": "100000",
                    "AUTH_LOGIN_LOCK_FAILURES": "100000", "AUTH_SOURCE_FREE_FAILURES": "100000",
                    "AUTH_SOURCE_LOCK_FAILURES": "100000", "AUTH_LOGIN_PENDING_PER_SOURCE": "0",
                    "MAX_CONCURRENT_CONNECTIONS": str(max(10000, args.connections + 100))})
        env.pop("CHAT_SHOUT_RATE", None)  # the default shout limit: the flood gets muted
        for item in args.env:
            name, _, value = item.partition("=")
            env[name] = value
        async with serve_process(env, Path(tmp) / "gateway.log", timeout=60) as gateway, \
                anyio.create_task_group() as tg:
            sampler = Sampler(gateway.popen.pid)
            tg.start_soon(sampler.run)
            channel = grpc.aio.insecure_channel(embedded_services_address(gateway.log))
            bench = Bench(args, gateway.port, channel, tg)
            await accounts(channel)
            walker = Walker(await bench.player(read=False))
            tg.start_soon(walker.read)
            ok = await walker.served("hello")
            runs: dict[str, Callable[[], Awaitable[None]]] = {
                "connections": bench.connections, "logins": bench.logins, "chat": bench.chat,
                "silent": bench.silent, "slow-reader": bench.slow_reader}

            async def settle() -> tuple[int, int]:
                await anyio.sleep(args.settle)
                return sampler.now()

            start_own, start_tree = await settle()
            print(f"cold baseline: {mib(start_own)} MiB (tree {mib(start_tree)})", flush=True)
            rows: list[tuple[str, int, int, int, int]] = []
            baseline, baseline_tree = start_own, start_tree
            for round_ in range(1, args.warmup_rounds + args.rounds + 1):
                warmup = round_ <= args.warmup_rounds
                for name in attacks:
                    sampler.peak = sampler.peak_tree = 0
                    print(f"  round {round_}{' (warm-up)' if warmup else ''}: {name}",
                          flush=True)
                    await runs[name]()
                    ok = await walker.served(f"after {name} {round_}") and ok
                    own, tree = await settle()
                    rows.append((f"{round_}:{name}", sampler.peak, own, sampler.peak_tree, tree))
                if round_ == args.warmup_rounds:
                    baseline, baseline_tree = await settle()
                    rows.append(("baseline", 0, baseline, 0, baseline_tree))
                    print(f"baseline after the warm-up: {mib(baseline)} MiB "
                          f"(tree {mib(baseline_tree)})", flush=True)
            final, final_tree = await settle()
            tg.cancel_scope.cancel()
            with anyio.CancelScope(shield=True):
                await channel.close()
                for client in bench.opened:
                    await client.aclose()
    margin = max(args.margin_mb * 1024, baseline * args.margin_pct / 100)
    print(f"\n{'attack':<16} {'peak MiB':>9} {'after MiB':>9} {'tree peak':>9} "
          f"{'tree after':>10}")
    print(f"{'cold baseline':<16} {'':>9} {mib(start_own):>9} {'':>9} {mib(start_tree):>10}")
    for label, peak, own, peak_tree, tree in rows:
        peaks = (f"{'':>9}", f"{'':>9}") if label == "baseline" else (mib(peak), mib(peak_tree))
        print(f"{label:<16} {peaks[0]:>9} {mib(own):>9} {peaks[1]:>9} {mib(tree):>10}")
    delta, delta_tree = final - baseline, final_tree - baseline_tree
    verdict = "within" if delta <= margin and delta_tree <= margin else "OVER"
    print(f"\nbaseline {mib(baseline).strip()} MiB (tree {mib(baseline_tree).strip()}) "
          f"after {args.warmup_rounds} warm-up round(s), final {mib(final).strip()} MiB "
          f"(tree {mib(final_tree).strip()}) after {args.rounds} more: "
          f"delta {delta / 1024:+.1f} MiB (tree {delta_tree / 1024:+.1f}), "
          f"{verdict} the margin of {margin / 1024:.1f} MiB; against the cold baseline "
          f"{mib(start_own).strip()} MiB: {(final - start_own) / 1024:+.1f} MiB; "
          f"player served throughout: {'yes' if ok else 'NO'}")
    return 0 if verdict == "within" and ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--logins", type=int, default=300)
    parser.add_argument("--lines", type=int, default=300)
    parser.add_argument("--silent", type=int, default=1000)
    parser.add_argument("--hold", type=float, default=3.0)
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument("--warmup-rounds", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--margin-mb", type=float, default=10.0)
    parser.add_argument("--margin-pct", type=float, default=15.0)
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()
    if args.warmup_rounds < 0 or args.rounds < 1:
        parser.error("--warmup-rounds must be at least 0 and --rounds at least 1")
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the bench holds 5,000 sockets
    return anyio.run(run, args, backend="asyncio")


if __name__ == "__main__":
    sys.exit(main())
