"""The listener and the per-connection read/dispatch/write loop.

Strategy: measured on this machine kind (DESIGN.md's table, and bench/bench_dispatch.py), the
anyio stream layer alone costs half the throughput of an asyncio ``Protocol`` under uvloop,
which would leave no room for decoding and dispatch within the 0.5 target. So the socket side
is an asyncio ``BufferedProtocol`` (the route DESIGN.md allows when the backend is asyncio),
while anyio keeps the structure around it (the gateway's task group, signals, cancellation,
``task_status``). This module stays as thin as hypercorn's ``tcp_server``:

* reads land in a pooled buffer (:mod:`gateway_core.bufferpool`), held only until the
  connection's dispatcher task takes the bytes; while a buffer is full, reading pauses;
* the dispatcher feeds the bytes to the sans-IO ``ProtocolConnection`` and hands every
  complete packet, in order, to the router's ``dispatch_nowait``, which runs the handler in
  the dispatcher task without an await unless the handler really suspends (one wake-up per
  chunk, never one await per packet);
* replies go to a per-connection queue. Replies queued while the dispatcher works through a
  chunk are written in one ``transport.write`` when the chunk is done (or before the
  dispatcher waits for a suspended handler); anything queued at other times (broadcasts,
  pushes from backends) is written by one coalescing flush scheduled with ``call_soon``.
  Queueing never waits: when the queue plus the transport's unsent bytes exceed SEND_QUEUE_LIMIT the
  peer is a slow reader and is aborted and counted, so it never delays anyone else;
* reading pauses while a chunk is dispatched, so a client that pipelines faster than its
  handlers finish is paced by TCP backpressure: at most one pooled buffer plus the
  protocol buffer are held per connection. That bounds memory, not CPU: a client flooding
  cheap packets would still get the event loop's time at everyone else's expense, so each
  connection also has a token bucket (MAX_PACKETS_PER_SECOND, MAX_PACKETS_BURST), refilled
  once per chunk from the clock read the idle timer needs anyway; per packet it costs one
  subtraction. The packet that overdraws it is not dispatched, nor is anything after it:
  the connection is closed (aborted if the flooder does not read its replies either),
  logged once and counted;
* one sweeper task closes connections idle for IDLE_TIMEOUT (any received packet resets it).
"""

from __future__ import annotations

import asyncio
import logging
import math
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import anyio

from gateway_core.bufferpool import BufferPool
from gateway_core.protocol.connection import (
    ProtocolConnection,
    RawFrame,
    Role,
)
from gateway_core.protocol.errors import LocalProtocolError, RemoteProtocolError
from gateway_core.session import Session, SessionState

if TYPE_CHECKING:
    from gateway_core.metrics import GatewayMetrics
    from gateway_core.plugins import GatewayPluginManager
    from gateway_core.protocol.packets import Packet
    from gateway_core.router import PacketContext, Router
    from gateway_core.session import ConnectionRegistry

log = logging.getLogger("gateway.server")

# The largest packet is 2047 bytes, so a connection's protocol buffer never holds more than
# one pooled buffer plus one partial packet.
_MAX_PACKET = 2047


class ClientConnection(asyncio.BufferedProtocol):
    """One client socket: the asyncio protocol, the dispatcher task and the send queue.

    Implements :class:`gateway_core.session.Outbox` for its :class:`Session`.
    """

    def __init__(self, server: Server) -> None:
        self._server = server
        self._transport: asyncio.Transport | None = None
        self.session: Session | None = None
        self._proto: ProtocolConnection | None = None
        self._contexts: dict[str, PacketContext] = {}
        # receive side
        self._buf: bytearray | None = None
        self._pooled = False
        self._reserved: bytearray | None = None  # a pooled buffer handed over while waiting
        self._waiting_pool = False
        self._filled = 0
        self._paused = False
        self._eof = False
        self._waiter: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        # flood limit: packets this connection may still send (inf = unlimited), and when the
        # bucket was last refilled
        self._tokens = float(server.packet_burst) if server.packet_rate else math.inf
        self._stamp = self._opened = time.monotonic()
        self._packets = 0  # packets charged to the bucket so far (only counted when limited)
        # send side
        self._out: list[bytes] = []
        self._out_bytes = 0
        self._flush_scheduled = False
        self._sent = server.metrics.sent
        self._dispatching = False  # the dispatcher flushes at the end of its chunk
        self._closed = False  # no more output, no more dispatch
        self.close_reason = ""

    # -- asyncio protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        server = self._server
        if len(server.connections) >= server.max_connections or server.stopping:
            self._closed = True
            self.close_reason = "connection limit" if not server.stopping else "shutting down"
            if not server.stopping:
                server.metrics.connection_rejected()
                log.warning("connection refused: MAX_CONCURRENT_CONNECTIONS (%d) reached",
                            server.max_connections)
            self._transport.abort()
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        service = server.service
        session = Session(
            service.next_connection_id(),
            peer_address=_address(transport.get_extra_info("peername")),
            local_address=_address(transport.get_extra_info("sockname")),
            outbox=self,
        )
        self.session = session
        self._proto = server.new_protocol(session)
        service.add(session)
        server.connections.add(self)
        server.metrics.connection_opened()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def get_buffer(self, sizehint: int) -> memoryview:
        buf = self._buf
        if buf is None:
            buf = self._reserved
            self._reserved = None
            if buf is None:
                buf = self._server.pool.try_acquire()
            if buf is None:
                # Pool exhausted: read this chunk into a temporary buffer, then stop reading
                # until a pooled buffer is handed to us (see bufferpool's Strategy).
                buf = bytearray(self._server.pool.buffer_size)
                self._pooled = False
                if not self._waiting_pool:
                    self._waiting_pool = True
                    self._server.pool.wait(self._on_pool_buffer)
            else:
                self._pooled = True
            self._buf = buf
        return memoryview(buf)[self._filled :]

    def buffer_updated(self, nbytes: int) -> None:
        self._filled += nbytes
        self._server.metrics.received_bytes(nbytes)
        buf = self._buf
        if (buf is not None and self._filled >= len(buf)) or self._waiting_pool:
            self._pause()
        self._wake()

    def eof_received(self) -> bool | None:
        self._eof = True
        self._wake()
        return None  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        if not self._closed:
            self._closed = True
            self.close_reason = self.close_reason or ("peer closed" if exc is None else str(exc))
        self._out.clear()
        self._wake()

    # -- pool --------------------------------------------------------------------------------

    def _on_pool_buffer(self, buf: bytearray) -> None:
        self._waiting_pool = False
        if self._closed:
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
        if not self._paused and self._transport is not None and not self._closed:
            self._paused = True
            self._transport.pause_reading()

    def _resume(self) -> None:
        if self._paused and self._transport is not None and not self._closed:
            self._paused = False
            self._transport.resume_reading()

    @property
    def buffered_bytes(self) -> int:
        """Bytes read from the client and not dispatched yet (pooled buffer plus the protocol
        buffer). Bounded, because reading pauses while a chunk is dispatched."""
        proto = self._proto
        return self._filled + (proto.buffered_bytes if proto is not None else 0)

    @property
    def reading_paused(self) -> bool:
        """True while the server does not read from this client (TCP backpressure)."""
        return self._paused

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- dispatcher ----------------------------------------------------------------------------

    async def _run(self) -> None:
        server = self._server
        session = self.session
        proto = self._proto
        assert session is not None and proto is not None
        dispatch = server.router.dispatch_nowait
        contexts = self._contexts
        loop = asyncio.get_running_loop()
        rate = server.packet_rate
        burst = float(server.packet_burst)
        try:
            await server.pm.call_lifecycle("gateway_session_opened", session=session)
            while not self._closed:
                if not self._filled and not self._eof:
                    self._waiter = loop.create_future()
                    await self._waiter
                    self._waiter = None
                    continue
                if self._filled:
                    proto.receive_data(memoryview(cast(bytearray, self._buf))[: self._filled])
                    self._return_buffer()
                    if not self._waiting_pool:
                        self._resume()
                elif self._eof:
                    proto.receive_data(b"")
                now = time.monotonic()
                session.last_activity = now
                tokens = self._tokens
                if rate:
                    tokens = min(burst, tokens + (now - self._stamp) * rate)
                    self._stamp = now
                start_tokens = tokens
                self._dispatching = True
                # events() decodes each packet only when asked for the next one, so nothing
                # after a packet that closed the connection is decoded.
                for event in () if self._closed else proto.events():
                    tokens -= 1.0
                    if tokens < 0.0:
                        break  # over the limit: neither this packet nor any later one
                    if isinstance(event, RawFrame):
                        name = event.type_name or "UNKNOWN"
                    else:
                        name = event.NAME
                    rest = dispatch(session, name, event, contexts)
                    if rest is not None:
                        # The handler suspended: what is queued goes out now, not after it.
                        self._dispatching = False
                        if self._out:
                            self._flush()
                        await rest
                        self._dispatching = True
                    if self._closed:
                        break
                if rate:
                    self._packets += round(start_tokens - tokens)
                    if tokens < 0.0:
                        self._flooded(now)
                self._tokens = tokens
                self._dispatching = False
                if self._out:
                    self._flush()
                if self._eof and not self._filled:
                    break
        except RemoteProtocolError as exc:
            server.metrics.protocol_error(exc.kind)
            log.info("connection #%d: protocol error %s: %s", session.connection_id, exc.kind,
                     exc)
            self.close(f"protocol error: {exc.kind}")
        except asyncio.CancelledError:
            self.abort("cancelled")
            raise
        except Exception:
            # Our own bug (the router already isolates handlers): this connection only.
            log.exception("connection #%d: internal error", session.connection_id)
            self.close("internal error")
        finally:
            self._dispatching = False
            self._closed = True
            await self._finish()

    async def _finish(self) -> None:
        server = self._server
        session = self.session
        assert session is not None
        transport = self._transport
        if transport is not None and not transport.is_closing():
            self._flush()
            transport.close()
        self._return_buffer()
        if self._reserved is not None:
            server.pool.release(self._reserved)
            self._reserved = None
        if self._waiting_pool:
            server.pool.cancel_wait(self._on_pool_buffer)
            self._waiting_pool = False
        server.connections.discard(self)
        server.metrics.connection_closed()
        try:
            with anyio.CancelScope(shield=True):
                await session.set_state(SessionState.CLOSING)
                await server.pm.call_lifecycle("gateway_session_closed", session=session)
        finally:
            server.service.remove(session)
            log.debug("connection #%d closed: %s", session.connection_id, self.close_reason)

    # -- Outbox (send side) ------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once the connection is closing or gone."""
        return self._closed

    def send_packet(self, packet: Packet | RawFrame) -> None:
        """Encode ``packet`` for this client and queue it."""
        if self._closed or self._proto is None:
            return
        try:
            data = self._proto.send(packet)
        except LocalProtocolError:
            log.exception("cannot encode %r for connection #%d", packet,
                          self.session.connection_id if self.session else 0)
            raise
        name = (packet.type_name or "raw") if isinstance(packet, RawFrame) else packet.NAME
        # send_encoded, inlined: every reply passes here.
        self._out.append(data)
        self._out_bytes += len(data)
        self._sent(name)
        if self._out_bytes > self._server.send_queue_limit:
            self._slow()
            return
        if not self._flush_scheduled and not self._dispatching:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def send_encoded(self, data: bytes, type_name: str) -> None:
        """Queue the encoded bytes of one packet; never waits on the peer."""
        if self._closed:
            return
        self._out.append(data)
        self._out_bytes += len(data)
        self._sent(type_name)
        if self._out_bytes > self._server.send_queue_limit:
            self._slow()
            return
        if not self._flush_scheduled and not self._dispatching:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        out = self._out
        if not out or self._transport is None:
            return
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        self._out_bytes = 0
        transport = self._transport
        if transport.is_closing():
            return
        transport.write(data)
        self._server.metrics.sent_bytes(len(data))
        if transport.get_write_buffer_size() > self._server.send_queue_limit:
            self._slow()

    def _flooded(self, now: float) -> None:
        server = self._server
        server.metrics.flood_disconnect()
        session = self.session
        if session is not None:
            host, port = session.peer_address
            elapsed = max(now - self._opened, 1e-3)
            log.warning(
                "connection #%d from %s:%d: over MAX_PACKETS_PER_SECOND=%g (burst %d), "
                "%d packets in %.3fs (%.0f/s); disconnecting flooding client",
                session.connection_id, host, port, server.packet_rate, server.packet_burst,
                self._packets, elapsed, self._packets / elapsed)
        # Replies to the packets dispatched before the overflow still go out, unless the
        # flooder does not read them either: then the socket is not kept open for them.
        self.close("flood")
        transport = self._transport
        if transport is not None and transport.get_write_buffer_size():
            transport.abort()

    def _slow(self) -> None:
        self._server.metrics.slow_client_disconnect()
        session = self.session
        log.warning("connection #%d: send queue over SEND_QUEUE_LIMIT, disconnecting slow "
                    "client", session.connection_id if session else 0)
        self.abort("slow client")

    def close(self, reason: str) -> None:
        """Write what is queued, then close; nothing more is dispatched."""
        if self._closed:
            return
        self._closed = True
        self.close_reason = reason
        self._flush()
        if self._transport is not None:
            self._transport.close()
        self._wake()

    def abort(self, reason: str) -> None:
        """Drop the connection at once, discarding unsent output."""
        if not self._closed:
            self._closed = True
            self.close_reason = reason
        self._out.clear()
        self._out_bytes = 0
        if self._transport is not None:
            self._transport.abort()
        self._wake()


class Server:
    """The client listener of one gateway and its live connections."""

    def __init__(
        self,
        *,
        settings: Any,
        router: Router,
        service: ConnectionRegistry,
        pm: GatewayPluginManager,
        metrics: GatewayMetrics,
        on_warning: Callable[[str, str, str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.router = router
        self.service = service
        self.pm = pm
        self.metrics = metrics
        self.max_connections = int(settings.MAX_CONCURRENT_CONNECTIONS)
        self.send_queue_limit = int(settings.SEND_QUEUE_LIMIT)
        self.idle_timeout = float(settings.IDLE_TIMEOUT)
        self.packet_rate = float(settings.MAX_PACKETS_PER_SECOND)  # 0 = unlimited
        self.packet_burst = int(settings.MAX_PACKETS_BURST)
        self.pool = BufferPool(
            int(settings.BUFFER_POOL_SIZE),
            int(settings.RECEIVE_BUFFER_SIZE),
            on_change=lambda used: metrics.buffer_pool(used, self.pool.size),
            on_exhausted=metrics.buffer_pool_empty,
        )
        metrics.buffer_pool(0, self.pool.size)
        self.connections: set[ClientConnection] = set()
        self.stopping = False
        self._cipher = str(settings.CIPHER)
        self._profile = str(settings.PACKET_PROFILE)
        self._max_buffer = self.pool.buffer_size + _MAX_PACKET
        self._on_warning = on_warning or self._count_warning
        self._listener: asyncio.Server | None = None
        self.address: tuple[str, int] | None = None

    def _count_warning(self, kind: str, type_name: str, detail: str) -> None:
        self.metrics.protocol_warning(kind)
        log.debug("protocol warning %s on %s: %s", kind, type_name, detail)

    def new_protocol(self, session: Session) -> ProtocolConnection:
        """The sans-IO protocol state of a new connection."""
        return ProtocolConnection(
            Role.SERVER,
            cipher=self._cipher,
            profile=self._profile,
            max_buffer=self._max_buffer,
            on_warning=self._on_warning,
        )

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self.address is None:
            raise RuntimeError("the listener is not started")
        return self.address[1]

    async def start(self) -> tuple[str, int]:
        """Bind LISTEN_ADDR:SERVICE_PORT and start accepting; returns the bound address."""
        loop = asyncio.get_running_loop()
        self._listener = await loop.create_server(
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

    async def sweep_idle(self) -> None:
        """Close connections that received nothing for IDLE_TIMEOUT; runs until cancelled."""
        timeout = self.idle_timeout
        interval = max(0.02, min(1.0, timeout / 4))
        while True:
            await anyio.sleep(interval)
            deadline = time.monotonic() - timeout
            for conn in list(self.connections):
                session = conn.session
                if session is not None and not conn.closed and session.last_activity < deadline:
                    self.metrics.idle_timeout()
                    log.info("connection #%d idle for %.1fs, closing", session.connection_id,
                             timeout)
                    conn.close("idle timeout")

    def stop_accepting(self) -> None:
        """Close the listening socket; open connections are untouched."""
        self.stopping = True
        if self._listener is not None:
            self._listener.close()

    async def close_connections(self, deadline: float) -> None:
        """Flush and close every connection and wait for their session-closed hooks; after
        ``deadline`` seconds abort what is left."""
        for conn in list(self.connections):
            conn.close("shutdown")
        tasks = [c._task for c in list(self.connections) if c._task is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=deadline)
            for conn in list(self.connections):
                conn.abort("shutdown deadline")
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
