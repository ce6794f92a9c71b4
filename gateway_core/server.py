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
* one sweeper task closes connections idle for IDLE_TIMEOUT (any received packet resets it).
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
from gateway_core.driver import ConnectionDriver, DriverConfig

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

    # -- asyncio protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        tr = self._transport = cast(asyncio.Transport, transport)
        server = self._server
        if len(server.connections) >= server.max_connections or server.stopping:
            if not server.stopping:
                server.metrics.connection_rejected()
                log.warning("connection refused: MAX_CONCURRENT_CONNECTIONS (%d) reached",
                            server.max_connections)
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
                                       peer_address=_address(tr.get_extra_info("peername")),
                                       local_address=_address(tr.get_extra_info("sockname")))
        server.connections.add(self)
        server.metrics.connection_opened()
        self._task = loop.create_task(self._run())

    def get_buffer(self, sizehint: int) -> memoryview:
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
        self.stopping = False
        self._listener: asyncio.Server | None = None
        self.address: tuple[str, int] | None = None

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self.address is None:
            raise RuntimeError("the listener is not started")
        return self.address[1]

    async def start(self) -> tuple[str, int]:
        """Bind LISTEN_ADDR:SERVICE_PORT and start accepting; returns the bound address."""
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
        tasks = [c._task for c in list(self.connections) if c._task is not None]
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
