"""ProtocolConnection: the sans-IO state of one ROSE connection (the h11 interface).

Strategy: the transport hands every received chunk to :meth:`ProtocolConnection.receive_data`
and then calls :meth:`ProtocolConnection.next_event` until it returns :data:`NEED_DATA`; going
the other way, :meth:`ProtocolConnection.send` (or the module-level :func:`encode_packet`, for
broadcasts) turns a packet into the bytes to write. No socket, no clock, no async here.

``next_event`` runs once per received packet, so everything it needs is resolved when the
connection is built: the framer's bound method, and one dict per numbering profile (built once
per process) mapping a type value straight to ``(name, packet class or None)``. A packet then
costs one header decode, one dict lookup and the class's own ``decode_payload``.

Where the connection's numbering profile lays a packet type out differently from its
declaration (profile 2021, docs/protocol.md §9.1), the profile's tables hold that layout
instead: received packets are still the declared classes and ``send`` takes them, the layout
only changes the bytes. The default profile has no such layouts and pays one empty-dict test
per ``send``.

Blame is split at this boundary, as in h11: whatever the peer sends can only ever produce
packets, raw frames, warnings or a :class:`RemoteProtocolError`, after which the connection is
dead for reading; :class:`LocalProtocolError` means our own code asked for something the
protocol cannot carry. Encoding is stateless, so a failed ``send`` does not affect the
connection, and ``send`` still works after a receive error (to say goodbye).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias

from gateway_core.protocol.cipher import PlainCodec, get_codec
from gateway_core.protocol.errors import LocalProtocolError, RemoteProtocolError
from gateway_core.protocol.framing import (
    DEFAULT_MAX_BUFFER,
    HEADER_SIZE,
    MAX_PACKET_SIZE,
    FrameDecoder,
)
from gateway_core.protocol.numbering import DEFAULT_PROFILE, NumberingProfile, get_profile

if TYPE_CHECKING:
    from gateway_core.protocol.declarations import Decoded, Packet, ProfileLayout

__all__ = [
    "NEED_DATA",
    "Event",
    "NeedData",
    "ProtocolConnection",
    "RawFrame",
    "Role",
    "WarningCallback",
    "encode_packet",
]


class Role(enum.Enum):
    """Which end of the connection we are."""

    #: The gateway: decodes client->server packets, encodes server->client packets.
    SERVER = "server"
    #: Bots and tests: the mirror (encodes client->server, decodes server->client).
    CLIENT = "client"


class _NeedData(enum.Enum):
    NEED_DATA = "NEED_DATA"

    def __repr__(self) -> str:
        return "NEED_DATA"

    __str__ = __repr__


#: Returned by ``next_event`` when no complete packet is buffered. Test with ``is``.
NEED_DATA: Final = _NeedData.NEED_DATA
NeedData: TypeAlias = Literal[_NeedData.NEED_DATA]


@dataclass(frozen=True, slots=True)
class RawFrame:
    """A packet delivered or sent without a payload definition.

    Received for types that have no definition (``type_name`` set) and for values the
    numbering profile does not know (``type_name`` None). Can also be passed to ``send``:
    ``type_value`` and ``payload`` are sent as they are (``type_name`` is not consulted).
    """

    type_value: int
    type_name: str | None
    payload: bytes


Event: TypeAlias = "Packet | RawFrame"

#: ``on_warning(kind, type_name, detail)``; kinds: ``"short_payload"``, ``"extra_bytes"``,
#: ``"unknown_type"`` (``type_name`` is then ``"UNKNOWN"``, the value is in ``detail``).
WarningCallback: TypeAlias = Callable[[str, str, str], None]

UNKNOWN_TYPE_NAME: Final = "UNKNOWN"


class _LayoutDecoder:
    """Stands in for a packet class in a decode table where the profile has its own layout
    of the type (docs/protocol.md §9.1): decodes that layout, returns the declared class."""

    __slots__ = ("_DECODE_EXACT", "_layout")

    def __init__(self, layout: type[ProfileLayout]) -> None:
        self._layout = layout
        exact = layout._DECODE_EXACT

        def decode_exact(buf: bytes) -> Packet | None:
            decoded = exact(buf)
            return None if decoded is None else decoded.to_packet()

        self._DECODE_EXACT = decode_exact

    def decode_payload(self, payload: bytes) -> Decoded[Packet]:
        from gateway_core.protocol.declarations import Decoded

        decoded = self._layout.decode_payload(payload)
        return Decoded(decoded.packet.to_packet(), decoded.missing, decoded.extra)


#: (name, the class or layout decoder, or None for a type without a definition).
_DecodeEntry: TypeAlias = "tuple[str, Any]"


def _packet_classes() -> Mapping[str, type[Packet]]:
    # Imported on first use, not at module import: the connection module stays cheap to import
    # and the 204 packet declarations are compiled only when a connection is built.
    from gateway_core.protocol.packets import PACKETS_BY_NAME

    return PACKETS_BY_NAME


@cache
def _layout_table(profile_name: str) -> Mapping[str, type[ProfileLayout]]:
    # The types this profile lays out differently from their declarations (empty for 2026).
    _packet_classes()  # the layouts are declared with the packets
    from gateway_core.protocol.declarations import profile_layouts

    return dict(profile_layouts(profile_name))


@cache
def _decode_table(profile_name: str) -> Mapping[int, _DecodeEntry]:
    # Built once per profile per process, on the first connection that needs it: importing the
    # packet definitions is deferred until then.
    classes = _packet_classes()
    layouts = _layout_table(profile_name)
    table: dict[int, _DecodeEntry] = {}
    for value, info in get_profile(profile_name).values.items():
        layout = layouts.get(info.name)
        table[value] = (
            info.name, _LayoutDecoder(layout) if layout is not None else classes.get(info.name)
        )
    return table


@cache
def _value_table(profile_name: str) -> Mapping[str, int]:
    return {name: info.value for name, info in get_profile(profile_name).names.items()}


def _in_layout(packet: Packet, layouts: Mapping[str, type[ProfileLayout]]) -> Packet:
    """``packet`` in its profile's own layout where the profile has one (else unchanged)."""
    layout = layouts.get(packet.NAME)
    if layout is None or isinstance(packet, layout):
        return packet
    try:
        return layout.from_packet(packet)
    except (LocalProtocolError, TypeError, AttributeError, ValueError) as exc:
        raise LocalProtocolError(
            f"{packet.NAME}: cannot encode in the {layout.PROFILE} layout: {exc!r}",
            kind="bad_field",
        ) from exc


def _profile_name(profile: str | NumberingProfile) -> str:
    if isinstance(profile, NumberingProfile):
        return profile.name
    get_profile(profile)  # validates the name
    return profile


def _encode(
    packet: Packet | RawFrame,
    encode: Callable[[int, bytes], bytes],
    values: Mapping[str, int],
    profile_name: str,
    plain: bool = False,
) -> bytes:
    if isinstance(packet, RawFrame):
        return encode(packet.type_value, packet.payload)
    layouts = _layout_table(profile_name)
    if layouts:
        packet = _in_layout(packet, layouts)
    name = packet.NAME
    value = values.get(name)
    if value is None:
        raise LocalProtocolError(
            f"{name} has no type value in numbering profile {profile_name}", kind="bad_type"
        )
    if plain:
        # Header and payload in one go (generated per class); anything it cannot do (a bad
        # field, too large) is left to the general path below, which raises the right error.
        try:
            data = type(packet)._ENCODE_FRAME(packet, value)
        except Exception:
            data = None
        if data is not None:
            return data
    return encode(value, packet.encode_payload())


def encode_packet(
    packet: Packet | RawFrame,
    *,
    role: Role = Role.SERVER,
    cipher: str = "plain",
    profile: str | NumberingProfile = DEFAULT_PROFILE,
) -> bytes:
    """Return the wire bytes of ``packet`` as a connection with these settings would send it.

    Ciphers are stateless, so the result can be queued to every recipient of a broadcast
    that shares the settings. Raises LocalProtocolError if the packet cannot be sent (too
    large, a field out of range, a type the profile or the cipher cannot carry) and
    ValueError for an unknown cipher or profile name.
    """
    name = _profile_name(profile)
    codec = get_codec(cipher, server_side=role is Role.SERVER)
    return _encode(packet, codec.encode, _value_table(name), name, isinstance(codec, PlainCodec))


class ProtocolConnection:
    """One connection's protocol state: bytes in, packets out, packets in, bytes out.

    ``role``: :attr:`Role.SERVER` for the gateway, :attr:`Role.CLIENT` for bots and tests.
    ``cipher``: ``"plain"`` or ``"rosecrypt"``. ``profile``: packet numbering ``"2026"`` or
    ``"2021"``. ``max_buffer``: most undecoded bytes held before the peer is considered to be
    flooding (at least 2047). ``on_warning(kind, type_name, detail)`` is told about lenient
    decoding (``"short_payload"``, ``"extra_bytes"``) and unknown type values
    (``"unknown_type"``); it runs inside ``next_event`` and should not raise.
    """

    __slots__ = (
        "_decoders",
        "_encode",
        "_error",
        "_frames",
        "_layouts",
        "_next_frame",
        "_on_warning",
        "_plain",
        "_profile",
        "_values",
        "cipher",
        "role",
    )

    def __init__(
        self,
        role: Role = Role.SERVER,
        *,
        cipher: str = "plain",
        profile: str | NumberingProfile = DEFAULT_PROFILE,
        max_buffer: int = DEFAULT_MAX_BUFFER,
        on_warning: WarningCallback | None = None,
    ) -> None:
        if not isinstance(role, Role):
            raise TypeError(f"role must be a Role, not {role!r}")
        profile_name = _profile_name(profile)
        codec = get_codec(cipher, server_side=role is Role.SERVER)
        self.role: Final = role
        self.cipher: Final = cipher
        self._profile = get_profile(profile_name)
        self._frames = FrameDecoder(codec, max_buffer=max_buffer)
        self._next_frame = self._frames.next_frame
        self._encode = codec.encode
        self._plain = isinstance(codec, PlainCodec)
        self._decoders = _decode_table(profile_name)
        self._values = _value_table(profile_name)
        self._layouts = _layout_table(profile_name)
        self._on_warning = on_warning
        self._error: RemoteProtocolError | None = None

    @property
    def profile(self) -> NumberingProfile:
        """The packet numbering profile in use."""
        return self._profile

    @property
    def buffered_bytes(self) -> int:
        """Received bytes not yet returned as events (at most ``max_buffer``)."""
        return self._frames.buffered_bytes

    @property
    def max_buffer(self) -> int:
        """The cap on undecoded buffered bytes."""
        return self._frames.max_buffer

    @property
    def peer_closed(self) -> bool:
        """True once the end of the stream (``receive_data(b"")``) was received."""
        return self._frames.eof

    @property
    def error(self) -> RemoteProtocolError | None:
        """The error that killed the connection, if any."""
        return self._error

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Feed bytes read from the peer; ``b""`` means the peer closed the stream.

        The data is copied, so the caller may reuse its buffer at once. Never raises for
        anything the peer sent (problems surface from ``next_event``); after an error the
        data is ignored. Feeding data after ``b""`` is a LocalProtocolError.
        """
        if self._error is None:
            self._frames.feed(data)

    def next_event(self) -> Packet | RawFrame | NeedData:
        """Return the next received packet, or :data:`NEED_DATA` when more bytes are needed.

        Types with a definition come back as their packet class, others as :class:`RawFrame`.
        Raises RemoteProtocolError if the peer broke the protocol (``.kind`` says how: see
        :class:`RemoteProtocolError`); the connection is then dead and every later call raises
        again (kind ``dead_connection``). After the end of the stream, a complete buffer
        yields NEED_DATA and a partial packet raises (kind ``truncated``).
        """
        if self._error is not None:
            raise RemoteProtocolError(
                f"connection failed earlier: {self._error}", kind="dead_connection"
            ) from self._error
        try:
            frame = self._next_frame()
        except RemoteProtocolError as exc:
            self._error = exc
            raise
        if frame is None:
            return NEED_DATA
        type_value, payload = frame
        entry = self._decoders.get(type_value)
        if entry is None:
            if self._on_warning is not None:
                self._on_warning(
                    "unknown_type",
                    UNKNOWN_TYPE_NAME,
                    f"type value 0x{type_value:04X} is not a packet type of profile "
                    f"{self._profile.name} ({len(payload)} payload bytes)",
                )
            return RawFrame(type_value, None, payload)
        name, cls = entry
        if cls is None:
            return RawFrame(type_value, name, payload)
        try:
            # The well-formed case: the payload is exactly one packet (no warning to give).
            packet = cls._DECODE_EXACT(payload)
            if packet is not None:
                return packet  # type: ignore[no-any-return]
            decoded: Decoded[Packet] = cls.decode_payload(payload)
        except Exception as exc:  # the lenient decoder must not raise; if it does, the peer
            # still only ever sees RemoteProtocolError (and the cause stays chained for logs)
            self._error = RemoteProtocolError(
                f"{name}: undecodable payload of {len(payload)} bytes: {exc!r}",
                kind="undecodable",
            )
            raise self._error from exc
        if self._on_warning is not None:
            if decoded.missing is not None:
                self._on_warning(
                    "short_payload",
                    name,
                    f"payload of {len(payload)} bytes ends before field {decoded.missing!r}",
                )
            elif decoded.extra:
                self._on_warning(
                    "extra_bytes", name, f"{decoded.extra} trailing payload bytes ignored"
                )
        return decoded.packet

    def events(self) -> Iterator[Packet | RawFrame]:
        """Yield the buffered packets one by one, exactly as repeated :meth:`next_event` calls
        would return them, and stop where it would return :data:`NEED_DATA`; raises what it
        raises. Each packet is decoded only when the next one is asked for, so stopping
        early (e.g. once the connection is closing) leaves the rest buffered, untouched.

        The server loop's fast path: for well-formed packets of defined types with a clear
        header, the framing is done here in line (one header read, one slice, the class's
        exact decoder) instead of three calls per packet; everything else (incomplete data,
        bad headers, unknown or raw types, payloads with warnings, errors) goes through
        :meth:`next_event` itself.
        """
        frames = self._frames
        next_event = self.next_event
        decoders = self._decoders
        read_header = frames._decode_header
        fast = frames._clear_body
        while True:
            # The framer's state is re-read after every yield: the caller may feed data.
            while fast and self._error is None:
                buf = frames._buf
                off = frames._off
                if len(buf) - off < HEADER_SIZE:
                    break
                size, type_value = read_header(buf, off)
                if size < HEADER_SIZE or size > MAX_PACKET_SIZE or len(buf) - off < size:
                    break
                entry = decoders.get(type_value)
                if entry is None or entry[1] is None:
                    break
                payload = buf[off + HEADER_SIZE : off + size]
                if type(payload) is not bytes:
                    payload = bytes(payload)
                try:
                    packet = entry[1]._DECODE_EXACT(payload)
                except Exception:
                    break  # next_event decodes it again and reports the failure
                if packet is None:
                    break
                frames._off = off + size
                yield packet
            event = next_event()
            if event is NEED_DATA:
                return
            yield event

    def send(self, packet: Packet | RawFrame) -> bytes:
        """Return the wire bytes (header, cipher applied) for ``packet``.

        Raises LocalProtocolError if it cannot be sent (over 2047 bytes, a field out of range,
        a type the profile or the cipher cannot carry); the connection is unaffected.
        """
        # The plain-cipher packet case of _encode inlined: this runs for every reply.
        if self._layouts and not isinstance(packet, RawFrame):
            packet = _in_layout(packet, self._layouts)
        if self._plain and not isinstance(packet, RawFrame):
            value = self._values.get(packet.NAME)
            if value is not None:
                try:
                    data = type(packet)._ENCODE_FRAME(packet, value)
                except Exception:
                    data = None
                if data is not None:
                    return data
        return _encode(packet, self._encode, self._values, self._profile.name, self._plain)

    def __repr__(self) -> str:
        state = "failed" if self._error else "closed" if self.peer_closed else "open"
        return (
            f"<ProtocolConnection {self.role.name} cipher={self.cipher} "
            f"profile={self._profile.name} {state} buffered={self.buffered_bytes}>"
        )
