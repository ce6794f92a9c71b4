"""The asyncio transport: the listener, pooled reads, one task per connection, idle sweeping.

Strategy: measured on this machine kind (docs/protocol.md §10.10, bench/bench_dispatch.py), the
anyio stream layer alone costs half the throughput of an asyncio ``Protocol`` under uvloop,
which would leave no room for decoding and dispatch within the 0.5 target. So the socket side
is an asyncio ``BufferedProtocol`` (allowed where the anyio backend is asyncio),
while anyio keeps the structure around it (the gateway's task group, signals, cancellation,
``task_status``). What needs no socket (dispatch, the flood limit, the send queue, close and
abort decisions) is the transport-agnostic :class:`~gateway_core.driver.ConnectionDriver`;
this module only carries bytes to and from it, as hypercorn's ``tcp_server`` does:

* reads land in a pooled buffer (:mod:`gateway_core.bufferpool`), held only until the
  connection's task hands the bytes to the driver; while a buffer is full, reading pauses, so
  a client that pipelines faster than its handlers finish is paced by TCP backpressure (at
  most one pooled buffer plus the protocol buffer are held per connection);
* the task feeds each chunk to the driver and awaits what it returns when a handler suspends
  (one wake-up per chunk, never one await per packet);
* the connection is the driver's ``Transport``: ``write`` and ``get_write_buffer_size`` are
  asyncio's own, ``schedule`` is the loop's ``call_soon``, all bound once per connection;
* one sweeper task closes connections idle for IDLE_TIMEOUT (any received packet resets it);
* admission is decided once per accepted socket, before any packet is read
  (:mod:`gateway_core.limits`): the capacity (MAX_CONCURRENT_CONNECTIONS, or fewer under the
  open-file limit), then the per-address limits, and with PROXY_PROTOCOL on, a trusted
  balancer's PROXY header (:mod:`gateway_core.protocol.proxy`) read into a small private
  buffer first, so the limits and the session see the client's address; a refused socket is
  aborted, counted and logged (rate-limited).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import anyio

from gateway_core.bufferpool import BufferPool
from gateway_core.config import ConfigError
from gateway_core.driver import ConnectionDriver, DriverConfig
from gateway_core.limits import (
    AddressSet,
    ConnectionLimiter,
    RefusalLog,
    limit_key,
    open_descriptors,
    raise_open_file_limit,
    report_file_limit,
)
from gateway_core.memory import HeapTrimmer, trim_heap
from gateway_core.protocol.proxy import (
    MAX_HEADER_SIZE,
    ProxyHeaderError,
    parse_proxy_header,
    starts_like_proxy_header,
)

if TYPE_CHECKING:
    from gateway_core.metrics import GatewayMetrics
    from gateway_core.plugin_runtime import LifecycleHooks
    from gateway_core.router import Router
    from gateway_core.session import ConnectionRegistry, Session

log = logging.getLogger("gateway.server")

# The largest packet is 2047 bytes, so a connection's protocol buffer never holds more than
# one pooled buffer plus one partial packet.
_MAX_PACKET = 2047


class ClientConnection(asyncio.BufferedProtocol):
    """One client socket: the asyncio protocol, the task feeding its driver, and the driver's
    :class:`~gateway_core.driver.Transport`."""

    def __init__(self, server: Server) -> None:
        self._server = server
        self._transport: asyncio.Transport | None = None
        self.driver: ConnectionDriver | None = None  # None: refused
        self._buf: bytearray | None = None
        self._pooled = False
        self._reserved: bytearray | None = None  # a pooled buffer handed over while waiting
        self._waiting_pool = False
        self._filled = 0
        self._paused = False  # reading paused: a full buffer, the pool, or the driver
        self._driver_paused = False
        self._eof = False
        self._waiter: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._limit_key = ""  # what the per-address limits count this connection under
        self._gate = False  # a PROXY header to read (or to refuse) before the driver reads
        self._header: bytearray | None = None  # the PROXY header being read
        self._header_timer: asyncio.TimerHandle | None = None

    # -- asyncio protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        tr = self._transport = cast(asyncio.Transport, transport)
        server = self._server
        if server.stopping:
            tr.abort()
            return
        peer = _address(tr.get_extra_info("peername"))
        if len(server.connections) + len(server.awaiting_header) >= server.capacity:
            server.refuse("max_connections" if server.capacity >= server.max_connections
                          else "fd_headroom", peer[0])
            tr.abort()
            return
        if server.proxy_versions:
            if peer[0] in server.proxy_trusted:
                # The balancer's connection: the limits apply to the client its header names.
                self._header = bytearray(server.proxy_max)
                self._gate = True
                server.awaiting_header.add(self)
                self._header_timer = asyncio.get_running_loop().call_later(
                    server.proxy_timeout, self._header_timeout)
                return
            self._gate = True  # a direct client: it must not send a PROXY header
        self._admit(peer)

    def _admit(self, peer: tuple[str, int]) -> None:
        """Apply the per-address limits to ``peer`` and open the connection (or refuse)."""
        server = self._server
        tr = cast(asyncio.Transport, self._transport)
        reason, self._limit_key = server.limiter.admit(peer[0])
        if reason is not None:
            server.refuse(reason, peer[0])
            tr.abort()
            return
        sock = tr.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        loop = asyncio.get_running_loop()
        self.write = tr.write  # type: ignore[method-assign]
        self.get_write_buffer_size = tr.get_write_buffer_size  # type: ignore[method-assign]
        self.schedule = loop.call_soon  # type: ignore[method-assign]
        self.driver = ConnectionDriver(server.driver_config, self,
                                       peer_address=peer,
                                       local_address=_address(tr.get_extra_info("sockname")))
        server.connections.add(self)
        server.metrics.connection_opened()
        self._task = task = loop.create_task(self._run())
        # Tracked until its close hooks (the character save) are done, after it left
        # ``connections``: the shutdown waits for those too.
        server.tasks.add(task)
        task.add_done_callback(server.tasks.discard)

    # -- the PROXY header (PROXY_PROTOCOL on): once per connection, before any packet -------

    def _gate_data(self) -> bool:
        """Data arrived while the gate is up; True when it is not the driver's to read yet."""
        server = self._server
        header = self._header
        if header is None:
            # A direct (untrusted) client: refuse one that sends a PROXY header.
            if self._filled < 2 or self._buf is None:
                return False
            self._gate = False
            if starts_like_proxy_header(memoryview(self._buf)[: self._filled]):
                server.refuse("proxy_untrusted", self._peer_host())
                if self.driver is not None:
                    self.driver.abort("PROXY header from an untrusted peer")
                self.abort()
                return True
            return False
        try:
            parsed = parse_proxy_header(memoryview(header)[: self._filled],
                                        versions=server.proxy_versions,
                                        max_size=server.proxy_max)
        except ProxyHeaderError as exc:
            self._end_header()
            server.refuse("proxy_header", self._peer_host(), detail=str(exc))
            self.abort()
            return True
        if parsed is None:
            return True
        rest = bytes(header[parsed.length : self._filled])
        self._end_header()
        self._filled = 0
        peer = parsed.source or _address(
            cast(asyncio.Transport, self._transport).get_extra_info("peername"))
        self._admit(peer)
        if self.driver is not None and rest:
            # The client's first bytes came with the header: hand them over as one read.
            buf = self._buf = bytearray(max(self._server.pool.buffer_size, len(rest)))
            buf[: len(rest)] = rest
            self._filled = len(rest)
            self._pooled = False
            if self._filled >= len(buf):
                self._pause()
            self._wake()
        return True

    def _end_header(self) -> None:
        self._gate = False
        self._header = None
        self._server.awaiting_header.discard(self)
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timeout(self) -> None:
        self._header_timer = None
        if self._header is not None:
            self._end_header()
            self._server.refuse("proxy_timeout", self._peer_host())
            self.abort()

    def _peer_host(self) -> str:
        if self.driver is not None:
            return self.driver.session.peer_address[0]
        peer = self._transport.get_extra_info("peername") if self._transport else None
        return _address(peer)[0]

    def get_buffer(self, sizehint: int) -> memoryview:
        if self._header is not None:
            return memoryview(self._header)[self._filled :]
        buf = self._buf
        if buf is None:
            pool = self._server.pool
            buf, self._reserved = self._reserved, None
            if buf is None:
                buf = pool.try_acquire()
            self._pooled = buf is not None
            if buf is None:
                # Pool exhausted: read this chunk into a temporary buffer, then stop reading
                # until a pooled buffer is handed to us (see bufferpool's Strategy).
                buf = bytearray(pool.buffer_size)
                if not self._waiting_pool:
                    self._waiting_pool = True
                    pool.wait(self._on_pool_buffer)
            self._buf = buf
        return memoryview(buf)[self._filled :]

    def buffer_updated(self, nbytes: int) -> None:
        self._filled += nbytes
        self._server.metrics.received_bytes(nbytes)
        if self._gate and self._gate_data():
            return
        if self._waiting_pool or (self._buf is not None and self._filled >= len(self._buf)):
            self._pause()
        self._wake()

    def eof_received(self) -> bool | None:
        self._eof = True
        self._wake()
        # Keep the write side open: the task dispatches what is buffered, and the driver
        # writes the replies and then closes (its shutdown).
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        if self._header is not None:
            self._end_header()
        if self.driver is not None:
            self.driver.connection_lost(exc)
        self._wake()

    # -- the driver's Transport (write, get_write_buffer_size, schedule: bound on connect) --

    def write(self, data: bytes) -> None:
        raise ConnectionError("not connected")

    def get_write_buffer_size(self) -> int:
        return 0

    def schedule(self, callback: Callable[[], object], /) -> object:
        return asyncio.get_running_loop().call_soon(callback)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        self._wake()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()
        self._wake()

    def pause_reading(self) -> None:
        self._driver_paused = True
        self._pause()

    def resume_reading(self) -> None:
        self._driver_paused = False
        buf = self._buf
        if not self._waiting_pool and (buf is None or self._filled < len(buf)):
            self._resume()

    # -- pool and pacing ---------------------------------------------------------------------

    def _on_pool_buffer(self, buf: bytearray) -> None:
        self._waiting_pool = False
        if self.closed:
            self._server.pool.release(buf)
            return
        self._reserved = buf
        if self._buf is None:
            self._resume()

    def _return_buffer(self) -> None:
        buf, self._buf = self._buf, None
        self._filled = 0
        if buf is not None and self._pooled:
            self._server.pool.release(buf)
        self._pooled = False

    def _pause(self) -> None:
        if not self._paused and self._transport is not None and not self.closed:
            self._paused = True
            self._transport.pause_reading()

    def _resume(self) -> None:
        if self._paused and not self._driver_paused and not self.closed:
            self._paused = False
            cast(asyncio.Transport, self._transport).resume_reading()

    @property
    def closed(self) -> bool:
        """True once the connection is closing or gone."""
        return self.driver is None or self.driver.closed

    @property
    def session(self) -> Session | None:
        """The connection's session (``None`` for a refused connection)."""
        return self.driver.session if self.driver is not None else None

    @property
    def buffered_bytes(self) -> int:
        """Bytes read from the client and not dispatched yet (the pooled buffer plus what
        the driver holds). Bounded, because reading pauses while a buffer is full."""
        return self._filled + (self.driver.buffered_bytes if self.driver is not None else 0)

    @property
    def reading_paused(self) -> bool:
        """True while the server does not read from this client (TCP backpressure)."""
        return self._paused

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- the connection's task ---------------------------------------------------------------

    async def _run(self) -> None:
        driver = cast(ConnectionDriver, self.driver)
        loop = asyncio.get_running_loop()
        try:
            await driver.start()
            while not driver.closed:
                buf = self._buf
                if buf is not None and self._filled:
                    rest = driver.receive_data(memoryview(buf)[: self._filled])
                    self._return_buffer()
                    if not self._waiting_pool:
                        self._resume()
                elif self._eof:
                    rest = driver.receive_data(b"")
                else:
                    self._waiter = loop.create_future()
                    await self._waiter
                    self._waiter = None
                    continue
                if rest is not None:
                    await rest
                if self._eof and not self._filled:
                    break
        except asyncio.CancelledError:
            driver.abort("cancelled")
            raise
        except Exception:
            log.exception("connection #%d: internal error", driver.session.connection_id)
            driver.close("internal error")
        finally:
            server = self._server
            driver.shutdown()
            self._return_buffer()
            if self._reserved is not None:
                server.pool.release(self._reserved)
                self._reserved = None
            if self._waiting_pool:
                server.pool.cancel_wait(self._on_pool_buffer)
                self._waiting_pool = False
            server.connections.discard(self)
            server.limiter.release(self._limit_key)
            server.metrics.connection_closed()
            with anyio.CancelScope(shield=True):
                await driver.finish()


class Server:
    """The client listener of one gateway and its live connections."""

    def __init__(
        self,
        *,
        settings: Any,
        router: Router,
        service: ConnectionRegistry,
        pm: LifecycleHooks,
        metrics: GatewayMetrics,
        on_warning: Callable[[str, str, str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.max_connections = int(settings.MAX_CONCURRENT_CONNECTIONS)
        #: Client connections held at most: MAX_CONCURRENT_CONNECTIONS, or fewer when the
        #: open-file limit is lower (set by :meth:`start`).
        self.capacity = self.max_connections
        self.limiter = ConnectionLimiter(
            max_per_address=int(settings.get("MAX_CONNECTIONS_PER_IP", 0)),
            rate=float(settings.get("CONNECT_RATE_PER_IP", 0.0)),
            burst=int(settings.get("CONNECT_BURST_PER_IP", 1)),
            allow=AddressSet(settings.get("CONNECTION_LIMIT_ALLOW", ())),
        )
        self.refusals = RefusalLog()
        #: After a wave of connections closed, their freed pages go back to the OS (glibc
        #: keeps them in the heap otherwise: +70 MB after 5,000; bench/bench_memory.py).
        self.trimmer = HeapTrimmer()
        proxy = str(settings.get("PROXY_PROTOCOL", "off"))
        #: The PROXY protocol versions trusted peers send (empty: PROXY_PROTOCOL off).
        self.proxy_versions: frozenset[int] = frozenset(
            {"off": (), "v1": (1,), "v2": (2,), "any": (1, 2)}[proxy])
        self.proxy_trusted = AddressSet(settings.get("PROXY_TRUSTED", ()))
        if self.proxy_versions and not self.proxy_trusted:
            raise ConfigError("PROXY_TRUSTED", "", f"PROXY_PROTOCOL={proxy} needs the addresses "
                              "of the load balancers (0.0.0.0/0,::/0 trusts every peer)")
        self.proxy_timeout = float(settings.get("PROXY_HEADER_TIMEOUT", 3.0))
        self.proxy_max = MAX_HEADER_SIZE
        #: Connections of trusted peers whose PROXY header is not read yet.
        self.awaiting_header: set[ClientConnection] = set()
        self.idle_timeout = float(settings.IDLE_TIMEOUT)
        self.pool = BufferPool(
            int(settings.BUFFER_POOL_SIZE),
            int(settings.RECEIVE_BUFFER_SIZE),
            on_change=lambda used: metrics.buffer_pool(used, self.pool.size),
            on_exhausted=metrics.buffer_pool_empty,
        )
        metrics.buffer_pool(0, self.pool.size)
        self.driver_config = DriverConfig.from_settings(
            settings, router=router, registry=service, metrics=metrics,
            on_open=lambda session: pm.call_lifecycle("gateway_session_opened", session=session),
            on_close=lambda session: pm.call_lifecycle("gateway_session_closed", session=session),
            max_buffer=self.pool.buffer_size + _MAX_PACKET, on_warning=on_warning,
        )
        self.connections: set[ClientConnection] = set()
        #: The task of every connection until it ends (its session-closed hooks included).
        self.tasks: set[asyncio.Task[None]] = set()
        self.stopping = False
        self._listener: asyncio.Server | None = None
        self.address: tuple[str, int] | None = None

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self.address is None:
            raise RuntimeError("the listener is not started")
        return self.address[1]

    def refuse(self, reason: str, host: str, *, detail: str = "") -> None:
        """Count a connection refused at accept time and log it (at most one line per
        address per interval, see :class:`~gateway_core.limits.RefusalLog`)."""
        self.metrics.connection_refused(reason)
        if reason in ("max_connections", "fd_headroom"):
            self.metrics.connection_rejected()
        skipped = self.refusals.should_log(limit_key(host))
        if skipped is None:
            return
        why = {
            "per_ip": f"MAX_CONNECTIONS_PER_IP ({self.limiter.max_per_address}) open",
            "rate": f"over CONNECT_RATE_PER_IP ({self.limiter.rate:g}/s, burst "
                    f"{self.limiter.burst:g})",
            "max_connections": f"MAX_CONCURRENT_CONNECTIONS ({self.max_connections}) reached",
            "fd_headroom": f"{self.capacity} connections open, all the open-file limit "
                           "allows (see the start-up warning)",
            "proxy_header": f"malformed PROXY header ({detail})",
            "proxy_timeout": f"no complete PROXY header within {self.proxy_timeout:g}s",
            "proxy_untrusted": "PROXY header from a peer not in PROXY_TRUSTED",
        }.get(reason, reason)
        more = f" ({skipped} more from this address not logged)" if skipped else ""
        log.warning("connection from %s refused: %s%s", host, why, more)

    async def start(self) -> tuple[str, int]:
        """Raise the open-file limit, bind LISTEN_ADDR:SERVICE_PORT and start accepting;
        returns the bound address."""
        self.capacity = report_file_limit(raise_open_file_limit(), self.max_connections,
                                          open_descriptors())
        self._listener = await asyncio.get_running_loop().create_server(
            lambda: ClientConnection(self),
            host=str(self.settings.LISTEN_ADDR),
            port=int(self.settings.SERVICE_PORT),
            backlog=1024,
            reuse_address=True,
        )
        sockname = self._listener.sockets[0].getsockname()
        self.address = (str(sockname[0]), int(sockname[1]))
        log.info("listening on %s:%d", *self.address)
        return self.address

    def _drivers(self) -> list[ConnectionDriver]:
        return [c.driver for c in list(self.connections) if c.driver is not None]

    async def sweep_idle(self) -> None:
        """Close connections that received nothing for IDLE_TIMEOUT; runs until cancelled."""
        timeout = self.idle_timeout
        interval = max(0.02, min(1.0, timeout / 4))
        while True:
            await anyio.sleep(interval)
            deadline = time.monotonic() - timeout
            self.limiter.prune()
            self.refusals.prune()
            if self.trimmer.should_trim(len(self.connections)):
                await anyio.to_thread.run_sync(trim_heap)
            for driver in self._drivers():
                if not driver.closed and driver.session.last_activity < deadline:
                    self.metrics.idle_timeout()
                    log.info("connection #%d idle for %.1fs, closing",
                             driver.session.connection_id, timeout)
                    driver.close("idle timeout")

    def stop_accepting(self) -> None:
        """Close the listening socket; open connections are untouched."""
        self.stopping = True
        if self._listener is not None:
            self._listener.close()

    async def close_connections(self, deadline: float) -> None:
        """Flush and close every connection and wait for their session-closed hooks; after
        ``deadline`` seconds abort what is left."""
        for driver in self._drivers():
            driver.close("shutdown")
        # Every connection's task, those that closed just before (still running their
        # session-closed hooks, e.g. the character save) included.
        tasks = list(self.tasks)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=deadline)
            for driver in self._drivers():
                driver.abort("shutdown deadline")
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)
        if self._listener is not None:
            self._listener.close()
            # wait_closed waits for connections on 3.12+; ours are gone already.
            with anyio.move_on_after(1.0):
                await self._listener.wait_closed()
            self._listener = None


def _address(value: object) -> tuple[str, int]:
    if isinstance(value, tuple) and len(value) >= 2:
        return (str(value[0]), int(value[1]))
    return ("", 0)


def running_on_asyncio() -> bool:
    """True when the current anyio backend is asyncio (the server requires it)."""
    # No sniffio: anyio no longer depends on it. Under asyncio a loop is running in this
    # thread; under trio there is none.
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def uvloop_policy() -> Any:
    """uvloop's event loop policy when uvloop is installed, else ``None``."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.EventLoopPolicy()
