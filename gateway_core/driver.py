"""One client connection without its socket: bytes in, packets dispatched, bytes out.

Strategy: everything about a connection that does not need a socket lives here, so that it can
be driven and tested without one (``tests/test_driver.py`` uses a fake transport); the asyncio
side (:mod:`gateway_core.server`) only reads into pooled buffers, hands the bytes over and
carries out what the driver decides, like hypercorn's ``tcp_server`` feeding raw data to its
protocol and getting bytes back through an injected send. The driver is told how to reach the
peer through a small :class:`Transport` (write, close, abort, pause/resume reading, the size
of the unsent backlog, and ``schedule`` to run a callback on a later event-loop turn).

Receive side: :meth:`ConnectionDriver.receive_data` feeds one chunk to the sans-IO
``ProtocolConnection`` and hands every complete packet, in order, to the router's
``dispatch_nowait``, which runs the handler without an await unless it really suspends. When
none does, the whole chunk is done when ``receive_data`` returns ``None``; when one suspends,
``receive_data`` returns an awaitable that finishes that handler and then the rest of the
chunk, which the caller awaits (in its task) before feeding the next chunk. A caller that
feeds data while such an awaitable is pending (a push-style transport) is not refused: the
chunk is kept, reading is paused, and the pending awaitable dispatches it and resumes reading.

Per chunk the flood bucket (MAX_PACKETS_PER_SECOND refill, MAX_PACKETS_BURST capacity) is
refilled from one clock read, which also stamps the session's ``last_activity`` for the idle
timer; per packet it costs one subtraction. The packet that overdraws it is not dispatched, nor
is anything after it: the connection is closed (aborted if the flooder does not read its
replies either), logged once and counted. A packet that closes the connection (a router
policy, ``ctx.close``, a fatal handler error) stops the chunk the same way.

Send side (the session's :class:`~gateway_core.session.Outbox`): encoded replies are appended
to the connection's out-queue; nothing ever waits on the peer. Replies queued while a chunk is
dispatched are written in one ``write`` when the chunk is done (or before the caller waits for
a suspended handler); anything queued at other times (broadcasts, pushes from backends) is
written by one coalescing flush per event-loop turn, scheduled through ``Transport.schedule``
(bound once per connection: no loop lookup per send); while that flush is pending, a chunk's
end leaves its replies to it, so a busy connection gets one write per turn. A broadcast queues
the same bytes object to every recipient. When the queue, or the transport's
unsent backlog after a write, exceeds SEND_QUEUE_LIMIT the peer is a slow reader: it is
aborted and counted, so it never delays anyone else.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from gateway_core.protocol.connection import ProtocolConnection, RawFrame, Role
from gateway_core.protocol.errors import LocalProtocolError, RemoteProtocolError
from gateway_core.session import Session, SessionState

if TYPE_CHECKING:
    from collections.abc import Iterator

    from gateway_core.metrics import GatewayMetrics
    from gateway_core.protocol.packets import Packet
    from gateway_core.router import PacketContext, Router
    from gateway_core.session import ConnectionRegistry

log = logging.getLogger("gateway.server")


class Transport(Protocol):
    """What a :class:`ConnectionDriver` needs from the socket side."""

    def write(self, data: bytes) -> None:
        """Write ``data`` to the peer (never waits; unsent bytes are buffered)."""

    def close(self) -> None:
        """Close after writing what is buffered."""

    def abort(self) -> None:
        """Drop the connection at once, discarding what is buffered."""

    def pause_reading(self) -> None:
        """Stop handing received data to the driver until :meth:`resume_reading`."""

    def resume_reading(self) -> None:
        """Hand received data to the driver again."""

    def get_write_buffer_size(self) -> int:
        """Bytes written and not yet sent to the peer."""
        ...

    def schedule(self, callback: Callable[[], object], /) -> object:
        """Run ``callback`` soon, on a later turn of the event loop (``loop.call_soon``)."""


class PacketTap(Protocol):
    """What sees a connection's packets when set as its ``tap`` (gateway_core.capture)."""

    def received(self, event: Packet | RawFrame) -> None:
        """A packet from the client, decoded, before it is dispatched."""

    def sent(self, data: bytes) -> None:
        """The wire bytes of a packet queued to the client."""

    def error(self, kind: str, detail: str) -> None:
        """A protocol error on the connection."""

    def closed(self, reason: str) -> None:
        """The connection is gone."""


@dataclass(frozen=True, slots=True)
class DriverConfig:
    """What every connection of one listener shares."""

    router: Router
    registry: ConnectionRegistry
    metrics: GatewayMetrics
    new_protocol: Callable[[], ProtocolConnection]
    on_open: Callable[[Session], Awaitable[object]]
    on_close: Callable[[Session], Awaitable[object]]
    send_queue_limit: int
    packet_rate: float = 0.0  # packets per second; 0 = unlimited
    packet_burst: int = 0
    clock: Callable[[], float] = field(default=time.monotonic)
    #: Gives a new connection its packet tap (capture, error ring, trace), or None.
    tap_for: Callable[[ConnectionDriver], PacketTap | None] | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Any,
        *,
        router: Router,
        registry: ConnectionRegistry,
        metrics: GatewayMetrics,
        on_open: Callable[[Session], Awaitable[object]],
        on_close: Callable[[Session], Awaitable[object]],
        max_buffer: int,
        on_warning: Callable[[str, str, str], None] | None = None,
    ) -> DriverConfig:
        """The connections' configuration from the gateway's settings (CIPHER, PACKET_PROFILE,
        SEND_QUEUE_LIMIT, MAX_PACKETS_PER_SECOND, MAX_PACKETS_BURST). ``max_buffer`` caps the
        undecoded bytes a protocol buffer holds; lenient-decode warnings go to ``on_warning``
        (default: counted and logged at debug level)."""
        cipher, profile = str(settings.CIPHER), str(settings.PACKET_PROFILE)

        def count_warning(kind: str, type_name: str, detail: str) -> None:
            metrics.protocol_warning(kind)
            log.debug("protocol warning %s on %s: %s", kind, type_name, detail)

        warn = on_warning or count_warning
        return cls(
            router=router, registry=registry, metrics=metrics,
            new_protocol=lambda: ProtocolConnection(Role.SERVER, cipher=cipher, profile=profile,
                                                    max_buffer=max_buffer, on_warning=warn),
            on_open=on_open, on_close=on_close,
            send_queue_limit=int(settings.SEND_QUEUE_LIMIT),
            packet_rate=float(settings.MAX_PACKETS_PER_SECOND),  # 0 = unlimited
            packet_burst=int(settings.MAX_PACKETS_BURST),
        )


class ConnectionDriver:
    """The receive/dispatch/send logic of one connection over an injected :class:`Transport`.

    Implements :class:`gateway_core.session.Outbox` for its :attr:`session`; ``closed`` is a
    plain attribute (read on every recipient of a broadcast).
    """

    __slots__ = (
        "_burst",
        "_busy",
        "_clock",
        "_contexts",
        "_dispatch",
        "_dispatching",
        "_encode",
        "_flush_cb",
        "_limit",
        "_metrics",
        "_opened",
        "_out",
        "_out_bytes",
        "_packets",
        "_paused",
        "_pending",
        "_rate",
        "_schedule",
        "_scheduled",
        "_sent",
        "_sent_bytes",
        "_stamp",
        "_tokens",
        "_transport",
        "_write",
        "_write_closed",
        "close_reason",
        "closed",
        "config",
        "proto",
        "session",
        "tap",
    )

    def __init__(
        self,
        config: DriverConfig,
        transport: Transport,
        *,
        peer_address: tuple[str, int] = ("", 0),
        local_address: tuple[str, int] = ("", 0),
    ) -> None:
        self.config = config
        self._transport = transport
        self._write = transport.write
        self._schedule = transport.schedule
        self._flush_cb = self._flush
        self.proto = config.new_protocol()
        registry = config.registry
        self.session = Session(registry.next_connection_id(), peer_address=peer_address,
                               local_address=local_address, outbox=self)
        self._contexts: dict[str, PacketContext[Any]] = {}
        self._dispatch = config.router.dispatch_nowait
        self._encode = self.proto.send
        metrics = self._metrics = config.metrics
        self._sent = metrics.sent
        self._sent_bytes = metrics.sent_bytes
        self._limit = config.send_queue_limit
        self._clock = config.clock
        self._rate = config.packet_rate
        self._burst = float(config.packet_burst)
        # receive side
        self._busy = False  # a suspended handler's chunk is being finished
        self._pending: deque[bytes] = deque()  # chunks fed while busy
        self._paused = False  # the driver paused reading (push-style feeding while busy)
        # flood limit: packets this connection may still send (inf = unlimited), and when the
        # bucket was last refilled
        self._tokens = float(config.packet_burst) if config.packet_rate else math.inf
        self._stamp = self._opened = config.clock()
        self._packets = 0  # packets charged to the bucket so far (only counted when limited)
        # send side
        self._out: list[bytes] = []
        self._out_bytes = 0
        self._scheduled = False  # a coalescing flush is queued on the loop
        self._dispatching = False  # the chunk's end flushes
        self._write_closed = False  # the transport was closed or aborted (or is gone)
        #: True once the connection is closing or gone: no more output, no more dispatch.
        self.closed = False
        self.close_reason = ""
        #: Sees every packet in and out when set (gateway_core.capture); None normally.
        self.tap: PacketTap | None = None
        registry.add(self.session)
        if config.tap_for is not None:
            self.tap = config.tap_for(self)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Run the session-opened hooks (before the first chunk is fed)."""
        await self.config.on_open(self.session)

    def connection_lost(self, exc: BaseException | None = None) -> None:
        """The transport is gone: nothing more can be written."""
        self._write_closed = True
        if not self.closed:
            self.closed = True
            self.close_reason = self.close_reason or ("peer closed" if exc is None else str(exc))
        self._out.clear()
        self._out_bytes = 0

    def shutdown(self) -> None:
        """Stop for good: write what is queued and close the transport (if still open)."""
        if not self.closed:
            self.closed = True
            self.close_reason = "end of stream"
        if not self._write_closed:
            self._flush()
            self._write_closed = True
            self._transport.close()
        self._out.clear()
        self._pending.clear()

    async def finish(self) -> None:
        """After :meth:`shutdown`: the session goes to CLOSING, the session-closed hooks run,
        and the session leaves the registry (even if a hook raises or is cancelled)."""
        session = self.session
        try:
            await session.set_state(SessionState.CLOSING)
            await self.config.on_close(session)
        finally:
            self.config.registry.remove(session)
            if self.tap is not None:
                self.tap.closed(self.close_reason)
                self.tap = None
            log.debug("connection #%d closed: %s", session.connection_id, self.close_reason)

    @property
    def send_queue_bytes(self) -> int:
        """Bytes queued for the client and not written to the socket yet: the driver's queue
        plus the transport's write buffer (what SEND_QUEUE_LIMIT bounds)."""
        if self._write_closed:
            return 0
        return self._out_bytes + self._transport.get_write_buffer_size()

    @property
    def buffered_bytes(self) -> int:
        """Bytes received and not dispatched yet that the driver holds."""
        return self.proto.buffered_bytes + sum(map(len, self._pending))

    # -- receive side ------------------------------------------------------------------------

    def receive_data(self, data: bytes | bytearray | memoryview) -> Awaitable[None] | None:
        """Feed one chunk read from the peer (``b""``: the peer closed its side) and dispatch
        every complete packet in it, in order. The data is copied: the caller may reuse its
        buffer at once.

        Returns ``None`` when the chunk is done, or an awaitable that finishes it (a handler
        suspended); await it in the calling task before the next chunk. Must be called from a
        running task (the router's ``dispatch_nowait`` runs handlers in it).
        """
        if self.closed:
            return None
        self.session.bytes_in += len(data)
        if self._busy:
            self._pending.append(bytes(data))
            if not self._paused:
                self._paused = True
                self._transport.pause_reading()
            return None
        proto = self.proto
        try:
            proto.receive_data(data)
            events = proto.events()
            self._refill()
            rest = self._drain(events)
        except RemoteProtocolError as exc:
            self._protocol_error(exc)
            return None
        except Exception:
            self._internal_error()
            return None
        if rest is None:
            return None
        self._busy = True
        return self._finish_chunk(rest, events)

    def _refill(self) -> None:
        now = self._clock()
        self.session.last_activity = now
        rate = self._rate
        if rate:
            self._tokens = min(self._burst, self._tokens + (now - self._stamp) * rate)
            self._stamp = now

    def _drain(self, events: Iterator[Packet | RawFrame]) -> Awaitable[None] | None:
        """Dispatch ``events`` until they run out, the connection closes or a handler
        suspends; returns what is left of that handler. What was queued is flushed."""
        session = self.session
        dispatch = self._dispatch
        contexts = self._contexts
        tokens = start = self._tokens
        flooded = False
        self._dispatching = True
        try:
            # events() decodes each packet only when asked for the next one, so nothing
            # after a packet that closed the connection is decoded.
            for event in events:
                tokens -= 1.0
                if tokens < 0.0:
                    flooded = True  # over the limit: neither this packet nor any later one
                    break
                if isinstance(event, RawFrame):
                    name = event.type_name or "UNKNOWN"
                else:
                    name = event.NAME
                session.packets_in += 1
                session.last_packet = name
                if self.tap is not None:
                    self.tap.received(event)
                rest = dispatch(session, name, event, contexts)
                if rest is not None:
                    return rest  # the handler suspended
                if self.closed:
                    break
            return None
        finally:
            self._tokens = tokens
            if self._rate:
                self._packets += round(start - tokens)
            self._dispatching = False
            if flooded:
                self._flooded()
            elif self._out and not self._scheduled:
                # (A coalescing flush already on the loop writes it all in one go.)
                self._flush()

    async def _finish_chunk(self, rest: Awaitable[None],
                            events: Iterator[Packet | RawFrame]) -> None:
        """Finish a suspended handler, then the rest of its chunk, then chunks fed since."""
        try:
            while True:
                await rest  # the router handles the handler's errors; only cancellation raises
                next_rest = None if self.closed else self._drain(events)
                while next_rest is None and self._pending and not self.closed:
                    self.proto.receive_data(self._pending.popleft())
                    events = self.proto.events()
                    self._refill()
                    next_rest = self._drain(events)
                if next_rest is None:
                    return
                rest = next_rest
        except RemoteProtocolError as exc:
            self._protocol_error(exc)
        except Exception:
            self._internal_error()
        except BaseException:
            self.abort("cancelled")
            raise
        finally:
            self._busy = False
            if self.closed:
                self._pending.clear()
            if self._paused:
                self._paused = False
                if not self.closed:
                    self._transport.resume_reading()

    def _protocol_error(self, exc: RemoteProtocolError) -> None:
        self._metrics.protocol_error(exc.kind)
        log.info("connection #%d: protocol error %s: %s", self.session.connection_id, exc.kind,
                 exc, extra={"connection": self.session.connection_id})
        if self.tap is not None:
            self.tap.error(f"protocol_error:{exc.kind}", str(exc))
        self.close(f"protocol error: {exc.kind}")

    def _internal_error(self) -> None:
        # Our own bug (the router already isolates handlers): this connection only.
        log.exception("connection #%d: internal error", self.session.connection_id)
        self.close("internal error")

    def _flooded(self) -> None:
        config = self.config
        self._metrics.flood_disconnect()
        session = self.session
        host, port = session.peer_address
        elapsed = max(config.clock() - self._opened, 1e-3)
        packets = self._packets
        log.warning(
            "connection #%d from %s:%d: over MAX_PACKETS_PER_SECOND=%g (burst %d), "
            "%d packets in %.3fs (%.0f/s); disconnecting flooding client",
            session.connection_id, host, port, config.packet_rate, config.packet_burst,
            packets, elapsed, packets / elapsed)
        # Replies to the packets dispatched before the overflow still go out, unless the
        # flooder does not read them either: then the socket is not kept open for them.
        self.close("flood")
        if self._transport.get_write_buffer_size():
            self.abort("flood")

    # -- Outbox (send side) ------------------------------------------------------------------

    def send_packet(self, packet: Packet | RawFrame) -> None:
        """Encode ``packet`` for this client and queue it."""
        if self.closed:
            return
        try:
            data = self._encode(packet)
        except LocalProtocolError:
            log.exception("cannot encode %r for connection #%d", packet,
                          self.session.connection_id)
            raise
        if isinstance(packet, RawFrame):
            self._sent(packet.type_name or "raw")
        else:
            self._sent(packet.NAME)
        if self.tap is not None:
            self.tap.sent(data)
        self.session.packets_out += 1
        # send_encoded, inlined: every reply passes here.
        self._out.append(data)
        self._out_bytes += len(data)
        if self._out_bytes > self._limit:
            self._slow()
        elif not self._dispatching and not self._scheduled:
            self._scheduled = True
            self._schedule(self._flush_cb)

    def send_encoded(self, data: bytes, type_name: str) -> None:
        """Queue the encoded bytes of one packet (a broadcast's shared bytes); never waits on
        the peer."""
        if self.closed:
            return
        self._sent(type_name)
        if self.tap is not None:
            self.tap.sent(data)
        self.session.packets_out += 1
        self._out.append(data)
        self._out_bytes += len(data)
        if self._out_bytes > self._limit:
            self._slow()
        elif not self._dispatching and not self._scheduled:
            self._scheduled = True
            self._schedule(self._flush_cb)

    def _flush(self) -> None:
        """Write everything queued in one ``write`` (also the scheduled coalescing flush)."""
        self._scheduled = False
        out = self._out
        if not out:
            return
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        self._out_bytes = 0
        if self._write_closed:
            return
        self._write(data)
        self._sent_bytes(len(data))
        self.session.bytes_out += len(data)
        if self._transport.get_write_buffer_size() > self._limit:
            self._slow()

    def _slow(self) -> None:
        self._metrics.slow_client_disconnect()
        log.warning("connection #%d: send queue over SEND_QUEUE_LIMIT, disconnecting slow "
                    "client", self.session.connection_id)
        self.abort("slow client")

    def close(self, reason: str) -> None:
        """Write what is queued, then close; nothing more is dispatched."""
        if self.closed:
            return
        self.closed = True
        self.close_reason = reason
        self._flush()
        if not self._write_closed:
            self._write_closed = True
            self._transport.close()

    def abort(self, reason: str) -> None:
        """Drop the connection at once, discarding unsent output."""
        if not self.closed:
            self.closed = True
            self.close_reason = reason
        self._out.clear()
        self._out_bytes = 0
        self._write_closed = True
        self._transport.abort()
