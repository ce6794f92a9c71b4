"""Packet capture: per-connection taps, capture files, capture on error, the packet trace.

Strategy: a connection driver has a ``tap`` (``None`` unless something wants its packets, so
an ordinary connection pays one ``is None`` test per packet). A :class:`PacketTap` sees every
packet after the cipher: the decoded packets received (``received``) and the wire bytes of
every packet sent (``sent``, decrypted here when the cipher is on). Each packet becomes a
:class:`PacketRecord` holding its plaintext frame (header and payload), with every credential
field masked in place (:func:`mask_packet`), and goes to

- the capture files the connection is part of (``gateway capture``, :class:`Capture`);
- the connection's ring buffer of its last ``CAPTURE_RING_SIZE`` packets when
  ``CAPTURE_ON_ERROR`` is on, dumped to a file in ``CAPTURE_DIR`` on a protocol error or a
  handler exception;
- the packet trace: one debug line per packet on the ``gateway.trace`` logger.

The :class:`CaptureManager` (one per gateway) attaches taps, starts and stops captures (by
connection id, or by user: a user capture also takes that user's later connections, whose
packets are held until the login or join names the user) and answers the admin endpoint.
The file format is documented in docs/capture.md; :func:`read_capture` reads it back.
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
import json
import logging
import os
import re
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

from gateway_core.protocol.cipher import get_codec
from gateway_core.protocol.connection import (
    NEED_DATA,
    ProtocolConnection,
    RawFrame,
    Role,
    encode_packet,
)
from gateway_core.protocol.declarations import Packet, Record
from gateway_core.protocol.errors import ProtocolError
from gateway_core.protocol.framing import FrameDecoder

if TYPE_CHECKING:
    from gateway_core.driver import ConnectionDriver
    from gateway_core.session import ConnectionRegistry, Session

__all__ = [
    "CAPTURE_FORMAT",
    "CAPTURE_VERSION",
    "CREDENTIAL_FIELDS",
    "Capture",
    "CaptureFile",
    "CaptureManager",
    "PacketRecord",
    "PacketTap",
    "decode_frame",
    "mask_packet",
    "packet_fields",
    "read_capture",
]

log = logging.getLogger("gateway.capture")
trace_log = logging.getLogger("gateway.trace")

#: The ``format`` of a capture file's header line, and the version of the format.
CAPTURE_FORMAT: Final = "rose-gateway-capture"
CAPTURE_VERSION: Final = 1
#: Client -> server direction ("in" at the gateway) and server -> client ("out").
C2S: Final = "c2s"
S2C: Final = "s2c"

#: The credential fields of each packet type: masked in every capture and trace.
CREDENTIAL_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "PAKCS_LOGIN_REQ": ("password",),  # SHA-256 hex of the password
    "PAKCS_JOIN_SERVER_REQ": ("password",),  # the same hash, on the character and world joins
    "PAKCS_LOGIN_TOKEN_REQ": ("token",),
    "PAKCS_JOIN_SERVER_TOKEN_REQ": ("token",),
    "PAKCS_BANK_LIST_REQ": ("password",),  # the storage password
}
#: The byte a masked credential is made of (the length stays, so the packet still decodes).
MASK_BYTE: Final = b"*"
#: Packets held per connection while a user capture waits to learn the connection's user.
PENDING_LIMIT: Final = 512
#: Error dumps written per connection at most (a handler that fails on every packet).
MAX_DUMPS_PER_CONNECTION: Final = 3


def mask_packet(packet: Packet | RawFrame) -> Packet | RawFrame:
    """``packet`` with every credential field's bytes replaced by ``*`` (same length)."""
    if isinstance(packet, RawFrame):
        return packet
    names = CREDENTIAL_FIELDS.get(packet.NAME)
    if not names:
        return packet
    changes = {}
    for name in names:
        value = getattr(packet, name, None)
        if isinstance(value, bytes) and value:
            changes[name] = MASK_BYTE * len(value)
    return dataclasses.replace(packet, **changes) if changes else packet  # type: ignore[type-var]


def _value(value: object) -> object:
    if isinstance(value, bytes):
        text = value.decode("latin-1")
        return text if text.isprintable() else value.hex()
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, Record | Packet):
        return {f.name: _value(getattr(value, f.name))
                for f in dataclasses.fields(cast(Any, value))}
    if isinstance(value, tuple | list):
        return [_value(item) for item in value]
    if isinstance(value, float):
        return round(value, 3)
    return value


def packet_fields(packet: Packet | RawFrame) -> dict[str, object]:
    """The fields of a decoded packet as plain JSON values (strings, numbers, lists, dicts);
    a raw frame's payload as hex. Credentials are masked."""
    packet = mask_packet(packet)
    if isinstance(packet, RawFrame):
        return {"payload": packet.payload.hex()}
    return {f.name: _value(getattr(packet, f.name))
            for f in dataclasses.fields(cast(Any, packet))}


def event_name(event: Packet | RawFrame) -> str:
    """The protocol name of a packet (``0x....`` for a type the profile does not know)."""
    if isinstance(event, RawFrame):
        return event.type_name or f"0x{event.type_value:04X}"
    return event.NAME


def decode_frame(frame: bytes, direction: str, profile: str) -> Packet | RawFrame:
    """Decode one plaintext frame of a capture (``direction`` ``c2s`` or ``s2c``).

    Raises :class:`~gateway_core.protocol.errors.ProtocolError` (or ValueError for a frame
    that is not exactly one packet)."""
    proto = ProtocolConnection(Role.SERVER if direction == C2S else Role.CLIENT,
                               cipher="plain", profile=profile)
    proto.receive_data(frame)
    event = proto.next_event()
    if event is NEED_DATA or proto.buffered_bytes:
        raise ValueError(f"not one complete frame ({len(frame)} bytes)")
    return event


@dataclass(frozen=True, slots=True)
class PacketRecord:
    """One captured packet: wall-clock time, connection, direction, type and plaintext frame."""

    time: float
    connection: int
    direction: str  # C2S or S2C
    type_value: int
    name: str
    frame: bytes  # header + payload, credentials masked

    def to_json(self) -> dict[str, object]:
        return {"t": round(self.time, 6), "conn": self.connection, "dir": self.direction,
                "type": self.type_value, "name": self.name, "size": len(self.frame),
                "hex": self.frame.hex()}


def _now_stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"{time.time() % 1:.3f}"[1:]


class CaptureFile:
    """A capture file being written: the header line, then one JSON line per record."""

    def __init__(self, path: Path, header: Mapping[str, object]) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # Line-buffered: every record is on disk as soon as it is written.
        self._file = open(path, "w", encoding="utf-8", buffering=1)
        self.records = 0
        self._line({"format": CAPTURE_FORMAT, "version": CAPTURE_VERSION, **header})

    def _line(self, obj: Mapping[str, object]) -> None:
        self._file.write(json.dumps(obj, separators=(",", ":")) + "\n")

    def packet(self, record: PacketRecord) -> None:
        if not self._file.closed:
            self._line(record.to_json())
            self.records += 1

    def event(self, connection: int, event: str, *, at: float | None = None,
              **fields: object) -> None:
        if not self._file.closed:
            when = time.time() if at is None else at
            self._line({"t": round(when, 6), "conn": connection, "event": event, **fields})

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


@dataclass(eq=False)
class Capture:
    """One on-demand capture: what it takes (a user or a connection) and its file."""

    id: int
    file: CaptureFile
    user: str | None = None
    connection: int | None = None
    started: float = field(default_factory=time.time)
    connections: set[int] = field(default_factory=set)

    def describe(self) -> dict[str, object]:
        return {"id": self.id, "file": str(self.file.path), "user": self.user,
                "connection": self.connection, "connections": sorted(self.connections),
                "packets": self.file.records, "started": round(self.started, 3)}


class PacketTap:
    """What one connection's packets feed: capture files, the error ring, the trace."""

    __slots__ = ("_dumps", "_out_frames", "_plain", "driver", "manager", "pending", "ring",
                 "sinks", "trace")

    def __init__(self, manager: CaptureManager, driver: ConnectionDriver) -> None:
        self.manager = manager
        self.driver = driver
        self.sinks: list[Capture] = []
        self.ring: deque[PacketRecord] | None = (
            deque(maxlen=manager.ring_size) if manager.on_error else None)
        #: Packets held until the connection's user is known (a user capture is armed).
        self.pending: deque[PacketRecord] | None = None
        self.trace = False
        self._dumps = 0
        self._plain = get_codec("plain", server_side=True)
        # Decrypts what the gateway sends, as the client would (ciphers are stateless).
        self._out_frames = FrameDecoder(get_codec(manager.cipher, server_side=False))

    @property
    def connection_id(self) -> int:
        return self.driver.session.connection_id

    @property
    def idle(self) -> bool:
        """Nothing wants this connection's packets any more."""
        return not self.sinks and self.ring is None and self.pending is None and not self.trace

    # -- fed by the driver ---------------------------------------------------------------------

    def received(self, event: Packet | RawFrame) -> None:
        """A packet from the client, decoded."""
        masked = mask_packet(event)
        try:
            frame = encode_packet(masked, role=Role.CLIENT, cipher="plain",
                                  profile=self.manager.profile)
        except Exception:  # never let a capture break the connection
            log.debug("cannot re-encode %s for the capture", event_name(event), exc_info=True)
            return
        value = event.type_value if isinstance(event, RawFrame) else int.from_bytes(
            frame[2:4], "little")
        self._record(PacketRecord(time.time(), self.connection_id, C2S, value,
                                  event_name(event), frame), masked)

    def sent(self, data: bytes) -> None:
        """The wire bytes of packets sent to the client."""
        frames = self._out_frames
        try:
            frames.feed(data)
            while (frame := frames.next_frame()) is not None:
                type_value, payload = frame
                plain = self._plain.encode(type_value, payload)
                try:
                    packet = decode_frame(plain, S2C, self.manager.profile)
                    name = event_name(packet)
                except (ProtocolError, ValueError):
                    packet, name = None, f"0x{type_value:04X}"
                self._record(PacketRecord(time.time(), self.connection_id, S2C, type_value,
                                          name, plain), packet)
        except ProtocolError:
            log.debug("cannot read back the packets sent for the capture", exc_info=True)
            self._out_frames = FrameDecoder(get_codec(self.manager.cipher, server_side=False))

    def _record(self, record: PacketRecord, packet: Packet | RawFrame | None) -> None:
        if self.trace:
            _trace(record, packet, self.driver.session)
        if self.ring is not None:
            self.ring.append(record)
        for capture in self.sinks:
            capture.file.packet(record)
        if self.pending is not None:
            self.pending.append(record)
            self.manager._resolve(self)

    def error(self, kind: str, detail: str) -> None:
        """A protocol error or a handler exception on this connection: dump the ring."""
        for capture in self.sinks:
            capture.file.event(self.connection_id, "error", kind=kind, detail=detail)
        if self.ring is None or self._dumps >= MAX_DUMPS_PER_CONNECTION:
            return
        self._dumps += 1
        self.manager._dump(self, kind, detail)

    def closed(self, reason: str) -> None:
        for capture in self.sinks:
            capture.file.event(self.connection_id, "close", reason=reason)
        self.manager._forget(self)


def _trace(record: PacketRecord, packet: Packet | RawFrame | None, session: Session) -> None:
    fields = packet_fields(packet) if packet is not None else {}
    text = " ".join(f"{k}={json.dumps(v, separators=(',', ':'))}" for k, v in fields.items())
    trace_log.debug("%s #%d %s %dB %s", "in" if record.direction == C2S else "out",
                    record.connection, record.name, len(record.frame), text,
                    extra={"connection": record.connection, "packet": record.name,
                           "direction": record.direction, "size": len(record.frame),
                           "fields": fields, **_session_fields(session)})


def _session_fields(session: Session) -> dict[str, object]:
    from gateway_core.logs import session_fields

    return session_fields(session)


_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class CaptureManager:
    """The captures of one gateway, its connections' taps and the error dumps."""

    def __init__(
        self,
        *,
        connections: ConnectionRegistry,
        gateway_id: str,
        profile: str,
        cipher: str,
        on_error: bool,
        ring_size: int,
        directory: str | os.PathLike[str],
    ) -> None:
        self.connections = connections
        self.gateway_id = gateway_id
        self.profile = profile
        self.cipher = cipher
        self.on_error = on_error
        self.ring_size = ring_size
        self.directory = Path(directory)
        self.captures: dict[int, Capture] = {}
        self.taps: dict[int, PacketTap] = {}  # by connection id
        self.dumps: list[Path] = []  # error dumps written, oldest first
        self._ids = itertools.count(1)

    @classmethod
    def from_settings(cls, settings: Any, *, connections: ConnectionRegistry,
                      gateway_id: str) -> CaptureManager:
        directory = settings.CAPTURE_DIR or os.path.join(str(settings.DATA_DIR), "captures")
        return cls(connections=connections, gateway_id=gateway_id,
                   profile=str(settings.PACKET_PROFILE), cipher=str(settings.CIPHER),
                   on_error=bool(settings.CAPTURE_ON_ERROR),
                   ring_size=int(settings.CAPTURE_RING_SIZE), directory=directory)

    def _armed_users(self) -> set[str]:
        return {c.user for c in self.captures.values() if c.user is not None}

    # -- taps ------------------------------------------------------------------------------------

    def tap_for(self, driver: ConnectionDriver) -> PacketTap | None:
        """The tap of a new connection, or None when nothing wants its packets (the driver
        calls this once, when the connection is made)."""
        trace = trace_log.isEnabledFor(logging.DEBUG)
        armed = self._armed_users()
        if not (self.on_error or trace or armed):
            return None
        tap = PacketTap(self, driver)
        tap.trace = trace
        if armed:
            tap.pending = deque(maxlen=PENDING_LIMIT)
        self.taps[driver.session.connection_id] = tap
        return tap

    def _tap_of(self, session: Session) -> PacketTap | None:
        from gateway_core.driver import ConnectionDriver

        tap = self.taps.get(session.connection_id)
        if tap is not None:
            return tap
        driver = session._outbox
        if not isinstance(driver, ConnectionDriver) or driver.closed:
            return None
        tap = PacketTap(self, driver)
        driver.tap = tap
        self.taps[session.connection_id] = tap
        return tap

    def _release(self, tap: PacketTap) -> None:
        if tap.idle:
            if tap.driver.tap is tap:
                tap.driver.tap = None
            self.taps.pop(tap.connection_id, None)

    def _resolve(self, tap: PacketTap) -> None:
        """A pending tap: once the connection's user is known, join its user captures."""
        username = tap.driver.session.username
        if username is None:
            return
        pending, tap.pending = tap.pending, None
        for capture in self.captures.values():
            if capture.user is not None and capture.user.lower() == username.lower() \
                    and capture not in tap.sinks:
                self._join(capture, tap, backlog=pending or ())
        self._release(tap)

    def _join(self, capture: Capture, tap: PacketTap, backlog: Iterable[PacketRecord] = ()
              ) -> None:
        session = tap.driver.session
        host, port = session.peer_address
        backlog = list(backlog)
        # A connection captured from its first packet opened at its accept.
        at = session.created_at if backlog else None
        capture.file.event(session.connection_id, "open", at=at, peer=f"{host}:{port}",
                           user=session.username)
        for record in backlog:
            capture.file.packet(record)
        capture.connections.add(session.connection_id)
        tap.sinks.append(capture)

    def _forget(self, tap: PacketTap) -> None:
        self.taps.pop(tap.connection_id, None)
        tap.sinks.clear()

    # -- captures ----------------------------------------------------------------------------

    def start(self, *, user: str | None = None, connection: int | None = None,
              path: str | os.PathLike[str] | None = None) -> Capture:
        """Start capturing connection ``connection``, or every connection of ``user`` (those
        open now and those to come, from their first packet). Raises LookupError for a
        connection id that is not open."""
        if (user is None) == (connection is None):
            raise ValueError("give exactly one of user and connection")
        session = None
        if connection is not None:
            session = self.connections.get(connection)
            if session is None:
                raise LookupError(f"no open connection #{connection}")
        capture_id = next(self._ids)
        what = f"conn{connection}" if user is None else f"user-{_SAFE.sub('_', user)}"
        target = Path(path) if path is not None else self.directory / (
            f"capture-{self.gateway_id}-{what}-{_now_stamp()}.jsonl")
        header: dict[str, object] = {
            "gateway": self.gateway_id, "profile": self.profile, "cipher": self.cipher,
            "started": round(time.time(), 6), "reason": "on demand",
            "user": user, "connection": connection,
        }
        capture = Capture(capture_id, CaptureFile(target, header), user=user,
                          connection=connection)
        self.captures[capture_id] = capture
        sessions = [session] if session is not None else [
            s for s in self.connections
            if s.username is not None and s.username.lower() == str(user).lower()]
        for s in sessions:
            tap = self._tap_of(s)
            if tap is not None:
                self._join(capture, tap)
        log.info("capture %d started (%s) into %s", capture_id,
                 f"user {user}" if user is not None else f"connection #{connection}", target)
        return capture

    def stop(self, *, capture_id: int | None = None, user: str | None = None,
             connection: int | None = None) -> list[Capture]:
        """Stop the matching captures (all of them when nothing is given); returns them."""
        stopped = []
        for capture in list(self.captures.values()):
            if capture_id is not None and capture.id != capture_id:
                continue
            if user is not None and (capture.user or "").lower() != user.lower():
                continue
            if connection is not None and capture.connection != connection:
                continue
            stopped.append(capture)
            del self.captures[capture.id]
            for tap in list(self.taps.values()):
                if capture in tap.sinks:
                    tap.sinks.remove(capture)
                if not self._armed_users():
                    tap.pending = None
                self._release(tap)
            capture.file.close()
            log.info("capture %d stopped: %d packets in %s", capture.id, capture.file.records,
                     capture.file.path)
        return stopped

    def close(self) -> None:
        """Stop every capture (the gateway is shutting down)."""
        self.stop()

    def describe(self) -> list[dict[str, object]]:
        return [capture.describe() for capture in self.captures.values()]

    # -- errors ------------------------------------------------------------------------------

    def handler_error(self, session: Session, name: str, plugin: str) -> None:
        """The router's report of a handler exception."""
        tap = self.taps.get(session.connection_id)
        if tap is not None:
            tap.error("handler_error", f"plugin {plugin} raised handling {name}")

    def _dump(self, tap: PacketTap, kind: str, detail: str) -> None:
        ring = tap.ring if tap.ring is not None else ()
        session = tap.driver.session
        path = self.directory / (
            f"error-{self.gateway_id}-conn{session.connection_id}-{_now_stamp()}.jsonl")
        header: dict[str, object] = {
            "gateway": self.gateway_id, "profile": self.profile, "cipher": self.cipher,
            "started": round(time.time(), 6), "reason": kind, "detail": detail,
            "user": session.username, "connection": session.connection_id,
        }
        try:
            dump = CaptureFile(path, header)
            try:
                host, port = session.peer_address
                dump.event(session.connection_id, "open", at=session.created_at,
                           peer=f"{host}:{port}", user=session.username)
                for record in ring:
                    dump.packet(record)
                dump.event(session.connection_id, "error", kind=kind, detail=detail)
            finally:
                dump.close()
        except OSError as exc:
            log.warning("cannot write the error capture %s: %s", path, exc)
            return
        if tap.ring is not None:
            tap.ring.clear()
        self.dumps.append(path)
        log.warning("connection #%d: %s, last %d packets written to %s",
                    session.connection_id, kind, dump.records, path,
                    extra={"connection": session.connection_id})


# -- reading --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaptureEvent:
    """A non-packet line of a capture: ``open``, ``close`` or ``error`` of a connection."""

    time: float
    connection: int
    event: str
    fields: Mapping[str, object]


def read_capture(path: str | os.PathLike[str]) -> tuple[dict[str, Any],
                                                         list[PacketRecord | CaptureEvent]]:
    """Read a capture file: its header and its records in order. Raises ValueError for a
    file that is not a capture (of a version this code reads)."""
    with open(path, encoding="utf-8") as handle:
        return _parse(handle)


def _parse(lines: Iterable[str]) -> tuple[dict[str, Any], list[PacketRecord | CaptureEvent]]:
    it: Iterator[str] = iter(lines)
    try:
        header = json.loads(next(it))
    except (StopIteration, json.JSONDecodeError) as exc:
        raise ValueError(f"not a capture file: {exc}") from None
    if not isinstance(header, dict) or header.get("format") != CAPTURE_FORMAT:
        raise ValueError(f"not a capture file (no {CAPTURE_FORMAT!r} header)")
    if header.get("version") != CAPTURE_VERSION:
        raise ValueError(f"capture version {header.get('version')!r} is not supported")
    records: list[PacketRecord | CaptureEvent] = []
    for number, line in enumerate(it, start=2):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if "event" in obj:
                rest = {k: v for k, v in obj.items() if k not in ("t", "conn", "event")}
                records.append(CaptureEvent(float(obj["t"]), int(obj["conn"]),
                                            str(obj["event"]), rest))
            else:
                records.append(PacketRecord(float(obj["t"]), int(obj["conn"]), str(obj["dir"]),
                                            int(obj["type"]), str(obj["name"]),
                                            bytes.fromhex(obj["hex"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"line {number}: not a capture record: {exc}") from None
    return header, records
