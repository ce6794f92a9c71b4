"""An async ROSE game client over anyio TCP, for bots, tests, benchmarks and smoke tests.

Strategy: the sans-IO :class:`~gateway_core.protocol.connection.ProtocolConnection` in the
client role does the framing, cipher and decoding; this module only moves bytes. Reads take
whole chunks and queue every event they contain. :meth:`GameClient.expect` waits for one
packet class (optionally matching a predicate) and sets aside everything else that arrives
meanwhile in :attr:`GameClient.unexpected` (spawns, other players' chat, server whispers),
because a live server interleaves such packets with the replies a flow waits for. Every
wait is bounded and a failure names the flow step and the packet that was expected.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.abc

from gateway_core.protocol.connection import (
    NEED_DATA,
    ProtocolConnection,
    RawFrame,
    Role,
)
from gateway_core.protocol.errors import ProtocolError
from gateway_core.protocol.packets import Packet

P = TypeVar("P", bound=Packet)

Event = Packet | RawFrame

#: Default bound on one wait for a reply, in seconds: above the gateway's default GRPC_DEADLINE
#: (5 s), so that the FAILED reply of a backend call that timed out arrives before we give up.
DEFAULT_TIMEOUT = 10.0
#: How many unexpected packets are kept (all are counted in ``unexpected_counts``).
UNEXPECTED_KEEP = 256
_CHUNK = 65536


class BotError(Exception):
    """Base of every error the bot raises; ``step`` names the flow step it happened in."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step = step


class StepTimeout(BotError):
    """No expected packet arrived within the timeout."""

    def __init__(self, step: str, expected: str, timeout: float) -> None:
        super().__init__(
            step, f"step {step!r}: timed out after {timeout:g}s waiting for {expected}"
        )
        self.expected = expected
        self.timeout = timeout


class ConnectionClosed(BotError):
    """The server closed the connection (or it broke) while the client waited or sent."""

    def __init__(self, step: str, expected: str | None) -> None:
        waiting = f" while waiting for {expected}" if expected else ""
        super().__init__(step, f"step {step!r}: connection closed by the server{waiting}")
        self.expected = expected


class ConnectFailed(BotError):
    """The TCP connection could not be opened (refused, unreachable or timed out)."""

    def __init__(self, step: str, host: str, port: int, reason: str) -> None:
        super().__init__(step, f"step {step!r}: cannot connect to {host}:{port}: {reason}")
        self.host = host
        self.port = port


class UnexpectedPacket(BotError):
    """A packet arrived that rules out the one awaited (e.g. initial data out of order)."""

    def __init__(self, step: str, expected: str, received: str) -> None:
        super().__init__(
            step, f"step {step!r}: received {received} while waiting for {expected}"
        )
        self.expected = expected
        self.received = received


class BadServerData(BotError):
    """The server sent bytes the protocol layer rejected (bad size, checksum, ...)."""

    def __init__(self, step: str, error: ProtocolError) -> None:
        kind = getattr(error, "kind", type(error).__name__)
        super().__init__(step, f"step {step!r}: protocol error from the server ({kind}): {error}")
        self.kind: str = str(kind)


def event_name(event: Event) -> str:
    """The protocol name of a received event (``"PAKWC_NPC_CHAR"``, or ``"0x05FF"``)."""
    if isinstance(event, RawFrame):
        return event.type_name or f"0x{event.type_value:04X}"
    return event.NAME


class GameClient:
    """One TCP connection to a gateway leg (login, character or world), client side.

    Create it with :meth:`connect`; use it as an async context manager or call
    :meth:`aclose`. ``label`` names the client in errors and logs (e.g. the username).
    """

    def __init__(
        self,
        stream: anyio.abc.ByteStream,
        *,
        cipher: str = "plain",
        profile: str = "2026",
        label: str = "",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._stream = stream
        self._conn = ProtocolConnection(
            Role.CLIENT, cipher=cipher, profile=profile, on_warning=self._on_warning
        )
        self._events: deque[Event] = deque()
        self._eof = False
        self._closed = False
        self.label = label
        self.timeout = timeout
        #: Packets received that no ``expect`` asked for (the newest ``UNEXPECTED_KEEP``).
        self.unexpected: deque[Event] = deque(maxlen=UNEXPECTED_KEEP)
        #: How many unexpected packets arrived, by packet name (never truncated).
        self.unexpected_counts: Counter[str] = Counter()
        #: Lenient-decode warnings from the protocol layer: (kind, type name, detail).
        self.warnings: list[tuple[str, str, str]] = []

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        *,
        cipher: str = "plain",
        profile: str = "2026",
        label: str = "",
        timeout: float = DEFAULT_TIMEOUT,
        step: str = "connect",
        local_host: str | None = None,
    ) -> GameClient:
        """Open a TCP connection to ``host:port`` within ``timeout`` seconds (from the local
        address ``local_host`` when given, e.g. another loopback address).

        Raises :class:`ConnectFailed` naming ``step`` when the connection cannot be opened.
        """
        try:
            with anyio.fail_after(timeout):
                stream = await anyio.connect_tcp(host, port, local_host=local_host)
        except TimeoutError:
            raise ConnectFailed(step, host, port, f"timed out after {timeout:g}s") from None
        except OSError as exc:
            raise ConnectFailed(step, host, port, exc.strerror or str(exc)) from exc
        return cls(stream, cipher=cipher, profile=profile, label=label, timeout=timeout)

    @property
    def closed(self) -> bool:
        """True once the server closed the connection or :meth:`aclose` was called."""
        return self._closed or self._eof

    async def send(self, *packets: Packet | RawFrame, step: str = "send") -> None:
        """Encode ``packets`` and write them to the socket in one write.

        Raises :class:`ConnectionClosed` naming ``step`` once the connection is closed.
        """
        if self._eof or self._closed:
            raise ConnectionClosed(step, None)
        data = b"".join(self._conn.send(packet) for packet in packets)
        try:
            await self._stream.send(data)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            self._eof = True
            raise ConnectionClosed(step, None) from None

    async def receive(
        self, *, timeout: float | None = None, step: str = "receive", expected: str = "a packet"
    ) -> Event:
        """The next packet from the server, waiting at most ``timeout`` seconds.

        Raises :class:`StepTimeout`, :class:`ConnectionClosed` or :class:`BadServerData`,
        each naming ``step`` and ``expected``.
        """
        limit = self.timeout if timeout is None else timeout
        try:
            with anyio.fail_after(limit):
                return await self._next_event(step, expected)
        except TimeoutError:
            raise StepTimeout(step, expected, limit) from None

    async def expect(
        self,
        packet_class: type[P],
        *,
        step: str,
        timeout: float | None = None,
        match: Callable[[P], bool] | None = None,
        reject: tuple[type[Packet], ...] = (),
    ) -> P:
        """Wait for the next ``packet_class`` packet (for which ``match`` is true, if given).

        Everything else received meanwhile goes to :attr:`unexpected`, except an instance of
        one of the ``reject`` classes, which raises :class:`UnexpectedPacket` (for sequences
        whose order matters). The whole wait is bounded by ``timeout`` (default: the
        client's timeout); on expiry :class:`StepTimeout` names ``step`` and the packet.
        """
        expected = packet_class.NAME
        limit = self.timeout if timeout is None else timeout
        try:
            with anyio.fail_after(limit):
                while True:
                    event = await self._next_event(step, expected)
                    if isinstance(event, packet_class) and (match is None or match(event)):
                        return event
                    if reject and isinstance(event, reject):
                        self._set_aside(event)
                        raise UnexpectedPacket(step, expected, event.NAME)
                    self._set_aside(event)
        except TimeoutError:
            raise StepTimeout(step, expected, limit) from None

    async def poll(self, timeout: float, *, step: str = "poll") -> Event | None:
        """The next packet from the server if one arrives within ``timeout`` seconds, else
        ``None`` (nothing is set aside: the caller judges it, see :meth:`set_aside`).

        Raises :class:`ConnectionClosed` or :class:`BadServerData` naming ``step``.
        """
        if self._events:
            return self._events.popleft()
        with anyio.move_on_after(max(0.0, timeout)):
            return await self._next_event(step, "any packet")
        return None

    def set_aside(self, event: Event) -> None:
        """Keep ``event`` as unexpected (counted in :attr:`unexpected_counts`)."""
        self._set_aside(event)

    async def drain(self, duration: float) -> list[Event]:
        """Collect whatever arrives within ``duration`` seconds (also into ``unexpected``).

        Stops early, without raising, when the server closes the connection.
        """
        collected: list[Event] = []
        with anyio.move_on_after(duration):
            while True:
                try:
                    event = await self._next_event("drain", "any packet")
                except ConnectionClosed:
                    break
                self._set_aside(event)
                collected.append(event)
        return collected

    async def aclose(self) -> None:
        """Close the connection (idempotent)."""
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            await self._stream.aclose()

    async def __aenter__(self) -> GameClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _set_aside(self, event: Event) -> None:
        self.unexpected.append(event)
        self.unexpected_counts[event_name(event)] += 1

    def _on_warning(self, kind: str, type_name: str, detail: str) -> None:
        if len(self.warnings) < UNEXPECTED_KEEP:
            self.warnings.append((kind, type_name, detail))

    async def _next_event(self, step: str, expected: str) -> Event:
        while True:
            if self._events:
                return self._events.popleft()
            if self._eof or self._closed:
                raise ConnectionClosed(step, expected)
            try:
                data = await self._stream.receive(_CHUNK)
            except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
                data = b""
            except OSError:
                data = b""
            if not data:
                self._eof = True
            try:
                self._conn.receive_data(data)
                self._pump()
            except ProtocolError as exc:
                self._eof = True
                raise BadServerData(step, exc) from exc

    def _pump(self) -> None:
        while True:
            event = self._conn.next_event()
            if event is NEED_DATA:
                return
            assert isinstance(event, Packet | RawFrame)
            self._events.append(event)

