"""Test support for the gateway and its plugins (the built-in ones and a third party's).

Real parts on loopback, as the project's tests use them: :func:`serve_on_loopback` runs a
reference service on a ``grpc.aio`` server on 127.0.0.1 (the :class:`~gateway_core.backend_clients.
ServiceHost` the gateway itself uses), :class:`StreamReader` reads a streaming call in the
background, :func:`running_gateway` runs a whole :class:`~gateway_core.app.Gateway` in-process
on an ephemeral port, :class:`RunningGateway` drives one over TCP with the bot's building
blocks (accounts, connections, a new character's way into the world), :func:`start_service`
runs one reference service as its own process (``gateway service <name>``),
:class:`PostgresServer` runs a throwaway PostgreSQL server for the services' database tests,
:class:`ManualClock` is a time source a test moves by hand (the one boundary the service tests
replace), and :func:`free_port` finds a port for a subprocess.

Nothing here imports pytest: wrap these in the fixtures a suite needs, e.g.::

    @pytest.fixture
    async def inventory() -> AsyncIterator[str]:
        async with serve_on_loopback(InventoryService(...), "inventory") as host:
            yield host.address
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import glob
import itertools
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import anyio
import grpc
import grpc.aio
from gateway_protos.v1 import auth_pb2, auth_pb2_grpc, character_pb2, character_pb2_grpc

from gateway_core.app import Gateway
from gateway_core.bot import GameClient
from gateway_core.bot import steps as flow
from gateway_core.plugins import GatewayPluginManager
from gateway_core.protocol.packets import (
    CliNormalChat,
    CreateCharResult,
    JoinResult,
    LoginResult,
    ServerSelectResult,
    SrvNormalChat,
)
from gateway_core.service_host import ReferenceService, ServiceHost

__all__ = [
    "GATEWAY_TEST_ENV",
    "GATEWAY_TEST_SETTINGS",
    "GatewayProcess",
    "ManualClock",
    "PostgresServer",
    "RunningGateway",
    "ServiceProcess",
    "StreamReader",
    "create_account",
    "drop_table",
    "embedded_services_address",
    "enter_world_at",
    "enter_world_direct",
    "free_port",
    "http_ready",
    "kill_service",
    "query",
    "running_gateway",
    "serve_on_loopback",
    "serve_process",
    "service_process",
    "start_service",
    "start_service_in_thread",
    "started_services",
    "still_served",
]

#: Settings of a gateway with the built-in plugins under test: loopback, ephemeral port, no
#: metrics port, cheap argon2 (the production cost is the auth service tests' business), short
#: timeouts, no chat rate limits (tests script chat lines back to back; the chat abuse tests set
#: their own). Add ``DATA_DIR`` (a tmp dir) and what the test is about.
GATEWAY_TEST_SETTINGS: Mapping[str, object] = {
    "LISTEN_ADDR": "127.0.0.1",
    "SERVICE_PORT": 0,
    "PACKET_METRICS_PORT": 0,
    "GATEWAY_LOAD_PLUGINS": "auth,character,chat,world,items,party",
    "SHUTDOWN_DEADLINE": 3.0,
    "GRPC_DEADLINE": 2.0,
    "AUTH_ARGON2_TIME_COST": 1,
    "AUTH_ARGON2_MEMORY_KIB": 64,
    "AUTH_ARGON2_PARALLELISM": 1,
    "CHAT_RATE": 0.0,
    "CHAT_SHOUT_RATE": 0.0,
}

#: The same as environment variables, for subprocesses (``gateway serve``, ``gateway service``);
#: the listening ports are the test's to choose; no drain notice on SIGTERM.
GATEWAY_TEST_ENV: Mapping[str, str] = {
    "LISTEN_ADDR": "127.0.0.1",
    "PACKET_METRICS_PORT": "0",
    "GATEWAY_LOAD_PLUGINS": "auth,character,chat,world,items,party",
    "GRPC_DEADLINE": "2.0",
    "AUTH_ARGON2_TIME_COST": "1",
    "AUTH_ARGON2_MEMORY_KIB": "64",
    "AUTH_ARGON2_PARALLELISM": "1",
    "CHAT_RATE": "0",
    "CHAT_SHOUT_RATE": "0",
    "DRAIN_NOTICE_SECONDS": "0",  # a test that stops a gateway needs no notice; drain tests do
}

T = TypeVar("T")


_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


@functools.cache
def _below_ephemeral() -> tuple[range, Iterator[int]] | None:
    """The 16,384 ports under the kernel's ephemeral range (where it hands out the source
    ports of outgoing connections) and this process's walk through them, in turn from a start
    of its own; ``None`` where that range is unknown or too low."""
    try:
        low = int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    ports = range(max(1024, low - 16384), low)
    if len(ports) < 1024:
        return None
    first = ports.start + (os.getpid() * 7919) % len(ports)
    return ports, itertools.cycle([*range(first, ports.stop), *range(ports.start, first)])


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on at the moment (for a subprocess to bind).

    A port the kernel picks with ``bind(0)`` is an ephemeral one, so between this call and the
    subprocess's bind any outgoing connection on the machine (a gRPC channel of another
    gateway, a client) may get it as its source port: the bind then fails with "address
    already in use". The ports come from just below the ephemeral range instead, which the
    kernel never hands out by itself, in turn, so a process is given each at most once until
    it has been through all of them."""
    below = _below_ephemeral()
    if below is None:
        with socket.socket() as sock:
            sock.bind((host, 0))
            return int(sock.getsockname()[1])
    ports, walk = below
    for port in itertools.islice(walk, len(ports)):
        with socket.socket() as sock:
            try:
                sock.bind((host, port))  # no SO_REUSEADDR: a port in TIME_WAIT is skipped too
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port in {ports.start}-{ports.stop - 1} on {host}")


class PostgresServer:
    """A throwaway PostgreSQL server on 127.0.0.1 for database tests.

    :meth:`start` runs ``initdb`` into ``directory`` and starts the server on a free port
    (trust authentication on loopback only, fsync off: a test never survives an OS crash, and a
    killed *service* process loses nothing either way); :meth:`create_database` gives each
    test a database of its own; :meth:`stop` stops the server (fast shutdown). PostgreSQL
    refuses to run as root, so under root the server runs as the ``postgres`` account the
    Debian package creates, which then owns ``directory``. :meth:`unavailable` says why a
    server cannot be started here (``None`` when it can).
    """

    #: How to get the server binaries on Debian (what ``.ci/run`` does).
    INSTALL_HINT = "apt-get install postgresql (the server binaries: initdb, pg_ctl)"

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.port = 0
        self._bin = self.binaries()
        self._names = itertools.count(1)
        self._running = False

    @staticmethod
    def binaries() -> Path | None:
        """The directory holding ``initdb`` and ``pg_ctl`` (PATH first, then Debian's
        versioned directories, newest first), or ``None``."""
        found = shutil.which("pg_ctl")
        if found is not None and shutil.which("initdb") is not None:
            return Path(found).resolve().parent
        for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
            if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
                return Path(candidate)
        return None

    @classmethod
    def unavailable(cls) -> str | None:
        """Why no server can be started on this machine, or ``None``."""
        if cls.binaries() is None:
            return f"PostgreSQL server binaries not found; install them with {cls.INSTALL_HINT}"
        if os.geteuid() == 0 and shutil.which("runuser") is None:
            return "running as root without runuser: PostgreSQL cannot be started"
        if os.geteuid() == 0:
            try:
                import pwd

                pwd.getpwnam("postgres")
            except KeyError:
                return "running as root and there is no 'postgres' account to run PostgreSQL"
        return None

    def _run(self, *argv: str) -> None:
        assert self._bin is not None
        command = [str(self._bin / argv[0]), *argv[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({result.returncode}): "
                               f"{result.stderr.strip() or result.stdout.strip()}")

    def start(self) -> None:
        """initdb and start the server (waits until it accepts connections)."""
        reason = self.unavailable()
        if reason is not None:
            raise RuntimeError(reason)
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        data, log = self.directory / "data", self.directory / "server.log"
        self._run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync")
        self.port = free_port()
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._run("pg_ctl", "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60",
                  "start")
        self._running = True

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its async SQLAlchemy URL (asyncpg)."""
        name = name or f"test_{os.getpid()}_{next(self._names)}"
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return self.url(name)

    def url(self, database: str = "postgres") -> str:
        """The async SQLAlchemy URL of ``database`` on this server."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        """Stop the server (fast shutdown: open connections are ended)."""
        if self._running:
            self._running = False
            self._run("pg_ctl", "-D", str(self.directory / "data"), "-m", "fast", "-w", "stop")


async def query(engine: Any, statement: str, **params: Any) -> list[tuple[Any, ...]]:
    """The rows of SQL ``statement`` run on a service's engine (``service.engine``), whatever
    the database: what a test reads behind a service's back."""
    from sqlalchemy import text

    async with engine.begin() as connection:
        result = await connection.execute(text(statement), params)
        return [tuple(row) for row in result.fetchall()] if result.returns_rows else []


async def drop_table(engine: Any, table: str) -> None:
    """Drop ``table`` behind a service's back (to make its database fail), with what depends
    on it on PostgreSQL."""
    from sqlalchemy import text

    cascade = " CASCADE" if engine.dialect.name == "postgresql" else ""
    async with engine.begin() as connection:
        await connection.execute(text(f"DROP TABLE {table}{cascade}"))


class ManualClock:
    """A time source (``Callable[[], float]``) that only moves when told to."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        self.now += seconds


@contextlib.asynccontextmanager
async def serve_on_loopback(
    service: ReferenceService, name: str = "service"
) -> AsyncIterator[ServiceHost]:
    """Start ``service`` and serve it (with the health service, under ``name``) on an ephemeral
    127.0.0.1 port; yields the host (``host.address`` is ``"127.0.0.1:<port>"``). On exit, or
    earlier through ``await host.stop()`` to make the service vanish mid-test, the server stops
    at once (open calls are cancelled), then the service."""
    host = ServiceHost({name: service}, grace=0)
    await host.start()
    try:
        yield host
    finally:
        await host.stop()


class StreamReader(Generic[T]):
    """Reads the responses of a streaming ``call`` into :attr:`events` in the background.

    :meth:`start` begins reading; :attr:`ended` is set when the stream ends (its status, then,
    from :meth:`code`); :meth:`aclose` cancels the call and waits for the reader.
    """

    def __init__(self, call: Any, *, timeout: float = 5.0) -> None:
        self.call = call
        #: Longest :meth:`next` and :meth:`code` wait: only reached when something is broken.
        self.timeout = timeout
        self.events: asyncio.Queue[T] = asyncio.Queue()
        self.ended = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start reading in a task of the running loop."""
        self.task = asyncio.get_running_loop().create_task(self._pump())

    async def _pump(self) -> None:
        try:
            while True:
                event = await self.call.read()
                if event is grpc.aio.EOF:
                    return
                self.events.put_nowait(event)
        except grpc.aio.AioRpcError:
            return
        finally:
            self.ended.set()

    async def next(self) -> T:
        """The next response (raises TimeoutError after :attr:`timeout`)."""
        return await asyncio.wait_for(self.events.get(), self.timeout)

    async def code(self) -> grpc.StatusCode:
        """Wait for the stream to end; its final status."""
        await asyncio.wait_for(self.ended.wait(), self.timeout)
        code: grpc.StatusCode = await self.call.code()
        return code

    async def aclose(self) -> None:
        """Cancel the call and wait for the reader to finish."""
        self.call.cancel()
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)


class _Closable(Protocol):
    async def aclose(self) -> None: ...


R = TypeVar("R")


@contextlib.asynccontextmanager
async def running_gateway(
    overrides: Mapping[str, object],
    make: Callable[[Gateway, str, int], R],
    *,
    environ: Mapping[str, str] | None = None,
    plugins: Iterable[tuple[object, str]] = (),
) -> AsyncIterator[R]:
    """Run a :class:`Gateway` with the settings ``overrides`` (and ``environ``, default none of
    the process's) until the block ends; yields ``make(gateway, host, port)`` for the bound
    listener. ``plugins`` are ``(plugin, name)`` pairs registered besides the installed ones
    (a plugin under test). Clients the yielded object lists in a ``clients`` attribute are
    closed first, shielded from cancellation, then the gateway stops."""
    pm = GatewayPluginManager()
    for plugin, name in plugins:
        pm.register(plugin, name)
    gateway = Gateway(overrides=dict(overrides), environ={} if environ is None else environ,
                      pm=pm)
    async with anyio.create_task_group() as tg:
        host, port = await tg.start(functools.partial(gateway.run, handle_signals=False))
        running = make(gateway, host, port)
        try:
            yield running
        finally:
            clients: list[_Closable] = list(getattr(running, "clients", ()))
            with anyio.CancelScope(shield=True):
                for client in clients:
                    await client.aclose()
            gateway.stop()


@dataclass
class RunningGateway:
    """A started gateway (``make`` of :func:`running_gateway`) and the client connections a
    test opened on it, closed when the block ends. ``timeout`` bounds every client wait."""

    gateway: Gateway
    host: str
    port: int
    cipher: str = "plain"
    clients: list[GameClient] = field(default_factory=list)
    timeout: float = 5.0

    @property
    def auth(self) -> Any:
        """The gateway's auth stub (embedded or remote service)."""
        assert self.gateway.clients is not None
        return self.gateway.clients["auth"]

    async def account(self, username: str, password: str, access_level: int = 1) -> None:
        """Create an account through the auth service."""
        await self.auth.CreateAccount(
            auth_pb2.CreateAccountRequest(
                username=username,
                password_hash=flow.hash_password(password),
                access_level=access_level,
            )
        )

    async def connect(self, host: str | None = None, port: int | None = None, *,
                      source: str | None = None) -> GameClient:
        """A new connection (accept exchange done), closed when the test ends; ``source`` is
        the local address to connect from (another loopback address plays another client
        address)."""
        client = await flow.connect(
            host or self.host, port or self.port, cipher=self.cipher, timeout=self.timeout,
            local_host=source,
        )
        self.clients.append(client)
        return client

    async def join_world(
        self,
        name: str,
        password: str = "pw",
        *,
        access_level: int = 1,
        channel: int = 1,
        new: bool = True,
        account: str | None = None,
    ) -> tuple[GameClient, int]:
        """Account ``name.lower()`` (at ``access_level``), login, first world and ``channel``,
        character select, creation of character ``name`` and world join: the world connection
        after the initial data (the map not entered yet), and the join's object id. With
        ``new`` false the account and its character ``name`` exist already. ``account`` names
        an account that exists already: with ``new``, ``name`` becomes another character of
        it."""
        login_name = account if account is not None else name.lower()
        if new and account is None:
            await self.account(login_name, password, access_level=access_level)
        login = await self.connect()
        assert (await flow.login(login, login_name, password)).result is LoginResult.OK
        selected = await flow.select_server(login, 1, channel)
        await login.aclose()
        char_leg = await self.connect(selected.ip.decode(), selected.port)
        joined = await flow.join(char_leg, selected.session_id, password)
        assert joined.result is JoinResult.OK
        if new:
            created = await flow.create_character(char_leg, name)
            assert created.result is CreateCharResult.OK
        listing = await flow.char_list(char_leg)
        names = [c.name.decode() for c in listing.characters]
        switch = await flow.select_character(char_leg, names.index(name), name)
        world_leg = await self.connect(switch.ip.decode(), switch.port)
        joined = await flow.join(world_leg, switch.session_id, password)
        assert joined.result is JoinResult.OK
        await flow.receive_initial_data(world_leg)
        return world_leg, joined.id

    def sample(self, name: str, labels: Mapping[str, str]) -> float:
        """A sample of the gateway's metrics (0.0 when it was never recorded)."""
        value = self.gateway.metrics.registry.get_sample_value(name, dict(labels))
        return value or 0.0


@dataclass
class ServiceProcess:
    """A reference service running as ``gateway service <name>`` in its own process."""

    name: str
    process: subprocess.Popen[str]
    #: Where it listens, ``"127.0.0.1:<port>"``.
    address: str

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (a graceful stop) and wait; killed when it outlives ``timeout``. Stopping
        a stopped service does nothing."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def start_service(
    name: str, settings: Mapping[str, object] | None = None, *, listen: str = "127.0.0.1:0"
) -> ServiceProcess:
    """Start ``gateway service <name> --listen <listen>`` with ``settings`` added to this
    process's environment (setting names are the variable names) and return once it listens
    (port 0: an ephemeral one; give the old address to bring a service back where its clients
    look for it). Stop it with :meth:`ServiceProcess.stop`."""
    env = {**os.environ, **{key: str(value) for key, value in (settings or {}).items()}}
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway_core", "service", name, "--listen", listen],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    prefix = f"service {name} listening on "
    if not line.startswith(prefix):
        ServiceProcess(name, process, "").stop()
        raise RuntimeError(f"gateway service {name} did not start: {line!r}")
    return ServiceProcess(name, process, line.removeprefix(prefix))


@dataclass
class GatewayProcess:
    """``gateway serve`` running in its own process (:func:`serve_process`)."""

    popen: subprocess.Popen[bytes]
    #: Its game port and its metrics/admin port on 127.0.0.1.
    port: int
    metrics_port: int
    #: Where its output goes.
    log: Path

    def output(self) -> str:
        """The end of its output (for assertion messages)."""
        return self.log.read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        """SIGKILL and wait: the crash of a gateway."""
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)


async def http_ready(port: int, host: str = "127.0.0.1") -> bool:
    """Whether ``GET /readyz`` on ``host:port`` answers 200 (False when nothing listens)."""
    try:
        stream = await anyio.connect_tcp(host, port)
    except OSError:
        return False
    data = b""
    async with stream:
        await stream.send(b"GET /readyz HTTP/1.1\r\nHost: " + host.encode()
                          + b"\r\nConnection: close\r\n\r\n")
        with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError, OSError):
            while len(data) < 16:
                data += await stream.receive()
    return data.split()[1:2] == [b"200"]


@contextlib.asynccontextmanager
async def serve_process(env: Mapping[str, str], log: Path, *, timeout: float = 20.0,
                        nofile: tuple[int, int] | None = None,
                        ) -> AsyncIterator[GatewayProcess]:
    """``gateway serve`` with environment ``env`` (plus free SERVICE_PORT and
    PACKET_METRICS_PORT) until ``/readyz`` says ready; stopped by its PID at the end (SIGTERM,
    then SIGKILL after 10 s) unless it was killed already. ``nofile``: the process's soft and
    hard open-file limits (RLIMIT_NOFILE) instead of the test's."""
    port, metrics = free_port(), free_port()

    def limit_files() -> None:
        import resource

        assert nofile is not None
        resource.setrlimit(resource.RLIMIT_NOFILE, nofile)

    with log.open("wb") as out:
        popen = subprocess.Popen(
            [sys.executable, "-m", "gateway_core", "serve"],
            env={**env, "SERVICE_PORT": str(port), "PACKET_METRICS_PORT": str(metrics)},
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            preexec_fn=limit_files if nofile is not None else None)
    gateway = GatewayProcess(popen, port, metrics, log)
    try:
        with anyio.fail_after(timeout):
            while not await http_ready(metrics):
                assert popen.poll() is None, gateway.output()
                await anyio.sleep(0.05)
        yield gateway
    finally:
        if popen.poll() is None:
            popen.terminate()
            try:
                popen.wait(10)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()


async def still_served(player: GameClient, line: str, *, timeout: float = 10.0) -> None:
    """The player in the world gets the echo of its normal chat ``line`` (it is still served);
    what comes before the echo is set aside in ``player.unexpected``."""
    message = line.encode()
    await player.send(CliNormalChat(message=message))
    with anyio.fail_after(timeout):
        while True:
            event = await player.receive()
            if isinstance(event, SrvNormalChat) and event.message == message:
                return
            player.set_aside(event)


@contextlib.contextmanager
def started_services() -> Iterator[list[ServiceProcess]]:
    """A list for the service processes a test starts; each one still running at the end is
    stopped by its PID."""
    started: list[ServiceProcess] = []
    try:
        yield started
    finally:
        for service in reversed(started):
            service.stop()


def kill_service(service: ServiceProcess) -> None:
    """SIGKILL a service process and wait for it: the crash of a backend."""
    service.process.kill()
    service.process.wait(10)
    if service.process.stdout is not None:
        service.process.stdout.close()


async def start_service_in_thread(started: list[ServiceProcess], name: str,
                                  settings: Mapping[str, object], address: str) -> None:
    """:func:`start_service` off the event loop (services start side by side), added to
    ``started``."""
    started.append(await anyio.to_thread.run_sync(
        functools.partial(start_service, name, settings, listen=address)))


async def create_account(address: str, username: str, password: str = "pw", *,
                         timeout: float = 10.0) -> None:
    """An account through the auth service at ``address`` (a service process of the test)."""
    async with grpc.aio.insecure_channel(address) as channel:
        await auth_pb2_grpc.AuthStub(channel).CreateAccount(auth_pb2.CreateAccountRequest(
            username=username, password_hash=flow.hash_password(password), access_level=1),
            timeout=timeout)


async def enter_world_at(port: int, username: str, name: str, *, new: bool,
                         opened: list[GameClient], password: str = "pw",
                         timeout: float = 10.0) -> tuple[GameClient, int]:
    """Login (retried while a killed gateway's session still holds the account), character
    leg (creating ``name`` when ``new``) and world leg through the gateway on 127.0.0.1
    ``port``: the world connection on the map, and the character's object id. Every
    connection opened is added to ``opened`` (the caller closes them)."""

    async def connect(leg_port: int) -> GameClient:
        client = await flow.connect("127.0.0.1", leg_port, timeout=timeout, label=username)
        opened.append(client)
        return client

    with anyio.fail_after(timeout):
        while True:
            login = await connect(port)
            result = (await flow.login(login, username, password)).result
            if result is LoginResult.OK:
                break
            await login.aclose()
            await anyio.sleep(0.2)
    selected = await flow.select_server(login, 1, 1)
    assert selected.result is ServerSelectResult.OK
    await login.aclose()
    char_leg = await connect(selected.port)
    assert (await flow.join(char_leg, selected.session_id, password)).result is JoinResult.OK
    if new:
        assert (await flow.create_character(char_leg, name)).result is CreateCharResult.OK
    else:
        await flow.char_list(char_leg)
    switch = await flow.select_character(char_leg, 0, name)
    world = await connect(switch.port)
    entry = await flow.enter_world(world, switch.session_id, password)
    await char_leg.aclose()
    return world, int(entry.change_map.object_index)


def embedded_services_address(log: Path) -> str:
    """The address of the embedded reference services of a ``gateway serve`` writing ``log``
    (its start-up line, logged with LOG_LEVEL info or lower)."""
    marker = " listening on "
    for line in log.read_text(errors="replace").splitlines():
        if "reference services" in line and marker in line:
            return line.rpartition(marker)[2].split()[0].strip('"')
    raise LookupError(f"no reference services address in {log} (LOG_LEVEL info?)")


async def enter_world_direct(port: int, services: grpc.aio.Channel, username: str, name: str,
                             *, opened: list[GameClient], password: str = "pw",
                             timeout: float = 30.0) -> tuple[GameClient, int]:
    """The cheap way into the world for a test that needs thousands of players: the account
    and the character are made, logged in, selected and the session moved to the world phase
    by calling the auth and character services themselves (``services``: a channel to them,
    e.g. to :func:`embedded_services_address`); only the world leg goes through the gateway on
    127.0.0.1 ``port`` (one connection and its join instead of three legs). Returns the world
    connection on the map (added to ``opened``) and the character's object id.

    Each player logs in as a source address of its own (``direct:<username>``): the auth
    service queues waiting logins per source and refuses the ninth of one source
    (AUTH_LOGIN_PENDING_PER_SOURCE), which thousands of players sent through one channel
    would otherwise reach whenever the hashing falls behind (a loaded machine)."""
    auth = auth_pb2_grpc.AuthStub(services)
    character = character_pb2_grpc.CharacterStub(services)
    client_hash = flow.hash_password(password)
    with anyio.fail_after(timeout):
        account = await auth.CreateAccount(auth_pb2.CreateAccountRequest(
            username=username, password_hash=client_hash, access_level=1))
        login = await auth.Login(auth_pb2.LoginRequest(
            username=username, password_hash=client_hash, source_address=f"direct:{username}"))
        assert login.result == auth_pb2.LOGIN_RESULT_OK, login
        selected = await auth.SelectServer(auth_pb2.SelectServerRequest(
            session_id=login.session_id, world_id=1, channel_id=1))
        created = await character.CreateCharacter(character_pb2.CreateCharacterRequest(
            account_id=account.user_id, name=name, race=0))
        assert created.result == character_pb2.CREATE_CHAR_RESULT_OK, created
        await auth.SetSessionPhase(auth_pb2.SetSessionPhaseRequest(
            session_id=selected.session_id, phase=auth_pb2.SESSION_PHASE_WORLD,
            character_id=created.character.id, character_name=name))
        world = await flow.connect("127.0.0.1", port, timeout=timeout, label=username)
        opened.append(world)
        entry = await flow.enter_world(world, selected.session_id, password)
    return world, int(entry.change_map.object_index)


@contextlib.contextmanager
def service_process(
    name: str, settings: Mapping[str, object] | None = None, *, listen: str = "127.0.0.1:0"
) -> Iterator[ServiceProcess]:
    """:func:`start_service` for the duration of a ``with`` block."""
    service = start_service(name, settings, listen=listen)
    try:
        yield service
    finally:
        service.stop()
