"""Scale-out: two gateway processes sharing one set of backend services, each its own process.

The four reference services run as ``gateway service <name>``; two ``gateway serve`` processes
point every ``<SERVICE>_SERVICE_ADDR`` at them. One player enters the world through each
gateway, and what one does reaches the other across the gateways: a whisper by name, the
spawn of the other's character, movement and normal chat. And one client's legs spread over
both gateways: its session lives as long as either gateway carries it (the auth service
arbitrates), not only as long as the gateway of its first legs does. And the world sharded by
map over two world service processes: players of both gateways on both shards, a warp from one
shard's map to the other's, and what they do seen across gateways and shards.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import anyio
import grpc
import pytest
from gateway_protos.v1 import world_pb2, world_pb2_grpc

from gateway_core.bot import GameClient
from gateway_core.bot import steps as flow
from gateway_core.protocol.packets import (
    CliMouseCmd,
    CliNormalChat,
    CliTeleportReq,
    CliWhisperChat,
    CreateCharResult,
    JoinResult,
    LoginResult,
    ServerSelectResult,
    SrvMouseCmd,
    SrvNormalChat,
    SrvPlayerChar,
    SrvRemoveObject,
    SrvTeleportReply,
    SrvWhisperChat,
)
from gateway_core.testing import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

GATEWAY = [sys.executable, "-m", "gateway_core"]
SERVICES = ("auth", "character", "chat", "world")
#: Bound on each single wait of a client, and on the whole scenario (a hang guard: six
#: Python processes start first, which on a loaded 2-core machine took over 30 s).
TIMEOUT = 5.0
SCENARIO_TIMEOUT = 60.0

#: Every process: loopback only, cheap argon2, short deadlines and reconnect delays.
ENV: dict[str, str] = {
    "LISTEN_ADDR": "127.0.0.1",
    "GATEWAY_LOAD_PLUGINS": "auth,character,chat,world",
    "GRPC_DEADLINE": "2.0",
    "SHUTDOWN_DEADLINE": "3.0",
    "LOG_LEVEL": "info",
    "AUTH_ARGON2_TIME_COST": "1",
    "AUTH_ARGON2_MEMORY_KIB": "64",
    "AUTH_ARGON2_PARALLELISM": "1",
    "CHAT_RECONNECT_MAX_DELAY": "0.5",
    "WORLD_RECONNECT_MAX_DELAY": "0.5",
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Proc:
    """A started process and the file its output goes to."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def check_alive(self) -> None:
        assert self.popen.poll() is None, f"{self.name} exited:\n{self.output()}"


class Processes:
    """Processes started by the test; every one is ended by its PID on exit."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[Proc] = []

    def start(self, name: str, args: list[str], env: Mapping[str, str]) -> Proc:
        log = self.logs / f"{name}.log"
        with log.open("wb") as out:  # the child keeps its own descriptor
            popen = subprocess.Popen(args, env=dict(env), stdout=out, stderr=subprocess.STDOUT)
        proc = Proc(name, popen, log)
        self.started.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            if proc.popen.poll() is None:
                proc.popen.terminate()
        for proc in reversed(self.started):
            try:
                proc.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait()


@contextlib.contextmanager
def processes(logs: Path) -> Iterator[Processes]:
    running = Processes(logs)
    try:
        yield running
    finally:
        running.stop_all()


async def http_status(port: int, path: str) -> int | None:
    """The status code of ``GET path`` on the loopback ``port``; None when nothing answers."""
    try:
        stream = await anyio.connect_tcp("127.0.0.1", port)
    except OSError:
        return None
    data = b""
    async with stream:
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        await stream.send(request.encode())
        with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError, OSError):
            while len(data) < 64:
                data += await stream.receive()
    parts = data.split(maxsplit=2)
    return int(parts[1]) if len(parts) > 1 and parts[0].startswith(b"HTTP/") else None


async def wait_listening(proc: Proc, address: str) -> None:
    """Wait until a service accepts connections on ``address`` (host:port)."""
    host, port = address.rsplit(":", 1)
    while True:
        proc.check_alive()
        try:
            stream = await anyio.connect_tcp(host, int(port))
        except OSError:
            await anyio.sleep(0.05)
            continue
        await stream.aclose()
        return


async def wait_ready(proc: Proc, metrics_port: int) -> None:
    """Wait until the gateway's ``/readyz`` says ready (listener up, every backend serving)."""
    while await http_status(metrics_port, "/readyz") != 200:
        proc.check_alive()
        await anyio.sleep(0.05)


async def run_command(args: list[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args,
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=SCENARIO_TIMEOUT,
            check=False,
        )

    return await anyio.to_thread.run_sync(run)


@dataclass
class Player:
    """A bot that entered the world through one gateway."""

    name: str
    gateway_port: int
    world: GameClient
    object_id: int


async def enter_world(port: int, username: str, name: str, opened: list[GameClient]) -> Player:
    """Login, character select and world legs through the gateway on ``port``, creating the
    character ``name``; every leg must stay on that gateway."""

    async def connect(host: str, leg_port: int) -> GameClient:
        client = await flow.connect(host, leg_port, timeout=TIMEOUT, label=username)
        opened.append(client)
        return client

    login = await connect("127.0.0.1", port)
    assert (await flow.login(login, username, "pw")).result is LoginResult.OK
    selected = await flow.select_server(login, 1, 1)
    assert selected.result is ServerSelectResult.OK
    assert (selected.ip.decode(), selected.port) == ("127.0.0.1", port)
    await login.aclose()
    char_leg = await connect("127.0.0.1", selected.port)
    assert (await flow.join(char_leg, selected.session_id, "pw")).result is JoinResult.OK
    assert (await flow.create_character(char_leg, name)).result is CreateCharResult.OK
    switch = await flow.select_character(char_leg, 0, name)
    assert switch.port == port
    world = await connect(switch.ip.decode(), switch.port)
    entry = await flow.enter_world(world, switch.session_id, "pw")
    assert entry.change_map.object_index != 0
    # The join reply already carries the id the world service settled on.
    assert entry.object_id == entry.change_map.object_index
    return Player(name, port, world, entry.change_map.object_index)


@dataclass
class ScaleOut:
    """The two gateways' client ports and the environment that reaches the services."""

    port_a: int
    port_b: int
    env: dict[str, str]

    async def create_account(self, username: str) -> None:
        created = await run_command(
            [*GATEWAY, "account", "create", username, "--password", "pw"], self.env
        )
        assert created.returncode == 0, created.stdout + created.stderr


#: The world sharded by map: the town (map 1 of the built-in pack) on one world service
#: process, everything else (the plains, map 22) on the other.
TOWN_MAPS, OTHER_MAPS = "0-1", "2-65535"


async def start_scale_out(
    procs: Processes, tmp_path: Path, extra: Mapping[str, str] | None = None,
    *, shards: bool = False,
) -> ScaleOut:
    """The four services as processes, then gateway-a and gateway-b (``extra`` settings for
    every process), each ready. ``shards``: a second world service process, ``world-b``, owns
    every map but the town's, and the gateways' WORLD_SHARDS name both."""
    base = {k: v for k, v in os.environ.items() if not k.endswith("_SERVICE_ADDR")}
    env = {**base, **ENV, **(extra or {}), "DATA_DIR": str(tmp_path / "data"),
           "PACKET_METRICS_PORT": "0"}
    addresses = {service: f"127.0.0.1:{free_port()}" for service in SERVICES}
    backends = {f"{service.upper()}_SERVICE_ADDR": addr for service, addr in addresses.items()}
    own: dict[str, dict[str, str]] = {}
    started = dict(addresses)
    if shards:
        started["world-b"] = f"127.0.0.1:{free_port()}"
        own = {"world": {"WORLD_SERVICE_MAPS": TOWN_MAPS},
               "world-b": {"WORLD_SERVICE_MAPS": OTHER_MAPS}}
        backends["WORLD_SHARDS"] = (f"{TOWN_MAPS}={addresses['world']};"
                                    f"{OTHER_MAPS}={started['world-b']}")
    services = [
        (procs.start(name, [*GATEWAY, "service", name.split("-")[0], "--listen", addr],
                     {**env, **own.get(name, {})}), addr)
        for name, addr in started.items()
    ]
    for proc, address in services:
        await wait_listening(proc, address)
    ports: list[int] = []
    for label in ("gateway-a", "gateway-b"):
        port, metrics = free_port(), free_port()
        proc = procs.start(
            label,
            [*GATEWAY, "serve"],
            {
                **env,
                **backends,
                "SERVICE_PORT": str(port),
                "PACKET_METRICS_PORT": str(metrics),
                "GATEWAY_ID": label,
            },
        )
        ports.append(port)
        await wait_ready(proc, metrics)
    return ScaleOut(ports[0], ports[1], {**env, **backends})


async def test_whisper_and_world_events_cross_two_gateway_processes(tmp_path: Path) -> None:
    opened: list[GameClient] = []
    with processes(tmp_path) as procs:
        try:
            with anyio.fail_after(SCENARIO_TIMEOUT):
                scale_out = await start_scale_out(procs, tmp_path)
                port_a, port_b = scale_out.port_a, scale_out.port_b
                for username in ("alice", "bob"):
                    await scale_out.create_account(username)

                alice = await enter_world(port_a, "alice", "Alice", opened)
                bob = await enter_world(port_b, "bob", "Bob", opened)
                # Both gateways allocated object ids on their own; the world keeps them apart.
                assert alice.object_id != bob.object_id

                # World event across gateways: each sees the other's character appear.
                spawn = await bob.world.expect(
                    SrvPlayerChar,
                    step="spawn of Alice on B",
                    timeout=TIMEOUT,
                    match=lambda p: p.id == alice.object_id,
                )
                assert spawn.name == b"Alice"
                await alice.world.expect(
                    SrvPlayerChar,
                    step="spawn of Bob on A",
                    timeout=TIMEOUT,
                    match=lambda p: p.id == bob.object_id,
                )

                # A whisper by name from gateway A reaches the player on gateway B.
                await alice.world.send(CliWhisperChat(target=b"Bob", message=b"hello from A"))
                whisper = await bob.world.expect(
                    SrvWhisperChat, step="whisper on B", timeout=TIMEOUT
                )
                assert (whisper.sender, whisper.message) == (b"Alice", b"hello from A")

                # Movement and normal chat of A's character reach B's player.
                await alice.world.send(CliMouseCmd(target_id=0, x=520100.0, y=520000.0, z=0))
                moved = await bob.world.expect(
                    SrvMouseCmd,
                    step="movement on B",
                    timeout=TIMEOUT,
                    match=lambda p: p.id == alice.object_id,
                )
                assert (moved.x, moved.y) == (520100.0, 520000.0)
                await alice.world.send(CliNormalChat(message=b"hi nearby"))
                said = await bob.world.expect(SrvNormalChat, step="chat on B", timeout=TIMEOUT)
                assert (said.char_id, said.message) == (alice.object_id, b"hi nearby")

                # And the way back: B's whisper reaches A.
                await bob.world.send(CliWhisperChat(target=b"alice", message=b"hello from B"))
                back = await alice.world.expect(
                    SrvWhisperChat, step="whisper on A", timeout=TIMEOUT
                )
                assert (back.sender, back.message) == (b"Bob", b"hello from B")
        except BaseException:
            for proc in procs.started:
                print(f"--- {proc.name} ---\n{proc.output()}")
            raise
        finally:
            with anyio.CancelScope(shield=True):
                for client in opened:
                    await client.aclose()


#: Short session timings of the journey across gateways: the grace period, and the service's
#: TTL (also every hold's lease; the gateways touch every third of it).
GRACE = 0.5
SESSION_TTL = 1.5


async def test_a_session_lives_while_any_gateway_carries_it(tmp_path: Path) -> None:
    opened: list[GameClient] = []

    async def connect(port: int) -> GameClient:
        client = await flow.connect("127.0.0.1", port, timeout=TIMEOUT, label="alice")
        opened.append(client)
        return client

    with processes(tmp_path) as procs:
        try:
            with anyio.fail_after(SCENARIO_TIMEOUT):
                scale_out = await start_scale_out(
                    procs,
                    tmp_path,
                    {"SESSION_GRACE": str(GRACE), "AUTH_SESSION_TTL": str(SESSION_TTL)},
                )
                await scale_out.create_account("alice")

                # Login and character legs on A.
                login = await connect(scale_out.port_a)
                assert (await flow.login(login, "alice", "pw")).result is LoginResult.OK
                selected = await flow.select_server(login, 1, 1)
                assert selected.result is ServerSelectResult.OK
                await login.aclose()
                char_leg = await connect(scale_out.port_a)
                joined = await flow.join(char_leg, selected.session_id, "pw")
                assert joined.result is JoinResult.OK
                created = await flow.create_character(char_leg, "Alice")
                assert created.result is CreateCharResult.OK
                switch = await flow.select_character(char_leg, 0, "Alice")
                session_id = switch.session_id

                # The world leg on B (as a load balancer might send it), then the character
                # select connection on A goes away while the player plays on B.
                world = await connect(scale_out.port_b)
                entry = await flow.enter_world(world, session_id, "pw")
                await char_leg.aclose()
                await anyio.sleep(GRACE + SESSION_TTL)  # A's grace ran out; B touched since

                # Still in the world on B: normal chat comes back to its sender.
                await world.send(CliNormalChat(message=b"still here"))
                said = await world.expect(SrvNormalChat, step="chat echo on B", timeout=TIMEOUT)
                assert (said.char_id, said.message) == (entry.object_id, b"still here")
                # And the session is still live for the auth service: a second world join of
                # it on A is refused because B plays its character (one world connection per
                # character), not because the session ended.
                again = await connect(scale_out.port_a)
                assert (await flow.join(again, session_id, "pw")).result is JoinResult.FAILED
                await again.aclose()

                # Logout on B ends the session for every gateway.
                await flow.logout(world)
                late = await connect(scale_out.port_a)
                refused = await flow.join(late, session_id, "pw")
                assert refused.result is JoinResult.INVALID_PASSWORD
                fresh = await connect(scale_out.port_b)
                assert (await flow.login(fresh, "alice", "pw")).result is LoginResult.OK
        except BaseException:
            for proc in procs.started:
                print(f"--- {proc.name} ---\n{proc.output()}")
            raise
        finally:
            with anyio.CancelScope(shield=True):
                for client in opened:
                    await client.aclose()


#: Gate 1 of the built-in pack's town (map 1) leads to the plains (map 22); new characters
#: start inside its radius.
GATE = (538000.0, 521000.0)
PLAINS = (22, 514000.0, 530000.0)


async def where(address: str, name: str) -> int | None:
    """The map the world service at ``address`` has ``name`` on (None: not there)."""
    async with grpc.aio.insecure_channel(address) as channel:
        try:
            found = await world_pb2_grpc.WorldStub(channel).FindCharacter(
                world_pb2.FindCharacterRequest(name=name), timeout=TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            assert exc.code() is grpc.StatusCode.NOT_FOUND, exc
            return None
    return int(found.map_id)


async def take_gate(player: Player) -> None:
    """Walk through gate 1 and load the plains (an ordinary map change for the client)."""
    await player.world.send(CliTeleportReq(id=1, x=GATE[0], y=GATE[1]))
    reply = await player.world.expect(SrvTeleportReply, step=f"{player.name}'s gate",
                                      timeout=TIMEOUT)
    assert (reply.map, reply.x, reply.y) == PLAINS
    change = await flow.change_map(player.world)
    player.object_id = change.object_index


async def test_a_warp_between_world_shards_with_players_of_two_gateways(tmp_path: Path) -> None:
    opened: list[GameClient] = []
    with processes(tmp_path) as procs:
        try:
            with anyio.fail_after(SCENARIO_TIMEOUT):
                scale_out = await start_scale_out(
                    procs, tmp_path,
                    {"CHARACTER_START_X": str(GATE[0]), "CHARACTER_START_Y": str(GATE[1])},
                    shards=True,
                )
                for username in ("alice", "bob", "carol"):
                    await scale_out.create_account(username)
                # Alice (gateway A) and Bob (gateway B) in town: the town's shard.
                alice = await enter_world(scale_out.port_a, "alice", "Alice", opened)
                bob = await enter_world(scale_out.port_b, "bob", "Bob", opened)
                await alice.world.expect(SrvPlayerChar, step="Bob in town, on A",
                                         timeout=TIMEOUT, match=lambda p: p.name == b"Bob")

                # Bob takes the gate: handed over to the other shard; Alice sees him leave.
                town_id = bob.object_id
                await take_gate(bob)
                await alice.world.expect(SrvRemoveObject, step="Bob left town, on A",
                                         timeout=TIMEOUT, match=lambda p: p.id == town_id)

                # Carol (gateway A) follows him: the plains' shard serves both gateways.
                carol = await enter_world(scale_out.port_a, "carol", "Carol", opened)
                await take_gate(carol)
                await carol.world.expect(SrvPlayerChar, step="Bob on the plains, on A",
                                         timeout=TIMEOUT, match=lambda p: p.name == b"Bob")
                await bob.world.expect(SrvPlayerChar, step="Carol on the plains, on B",
                                       timeout=TIMEOUT, match=lambda p: p.name == b"Carol")

                # Normal chat stays on its map (its shard); a whisper crosses shards too.
                await bob.world.send(CliNormalChat(message=b"on the plains"))
                said = await carol.world.expect(SrvNormalChat, step="Bob's line, on A",
                                                timeout=TIMEOUT)
                assert (said.char_id, said.message) == (bob.object_id, b"on the plains")
                await alice.world.send(CliWhisperChat(target=b"Bob", message=b"from town"))
                whisper = await bob.world.expect(SrvWhisperChat, step="whisper, on B",
                                                 timeout=TIMEOUT)
                assert (whisper.sender, whisper.message) == (b"Alice", b"from town")
                assert not any(isinstance(p, SrvNormalChat) for p in alice.world.unexpected)

                # Each world service process holds the characters of its maps only.
                town_addr = scale_out.env["WORLD_SERVICE_ADDR"]
                plains_addr = scale_out.env["WORLD_SHARDS"].rpartition("=")[2]
                assert await where(plains_addr, "Bob") == 22
                assert await where(plains_addr, "Carol") == 22
                assert await where(plains_addr, "Alice") is None
                assert await where(town_addr, "Alice") == 1
                assert await where(town_addr, "Bob") is None
        except BaseException:
            for proc in procs.started:
                print(f"--- {proc.name} ---\n{proc.output()}")
            raise
        finally:
            with anyio.CancelScope(shield=True):
                for client in opened:
                    await client.aclose()
