"""Packet framing: the 6-byte header and the receive buffer (docs/protocol.md §2, §4).

Strategy: a read offset walks over the received bytes and each complete packet is cut out
after one ``struct.unpack_from`` on its header, so a chunk holding a hundred packets costs a
hundred header reads and slices, never a per-byte loop or a copy of the remaining buffer. When
a chunk arrives on a packet boundary (the usual case) it is kept as ``bytes``, so each payload
is a single slice; only a packet split across chunks moves the remainder into a ``bytearray``
that later chunks are appended to, and the consumed prefix is dropped only when new data
arrives, so the cost stays linear however the stream is split. The header itself is read by a
:class:`FrameCodec` (see :mod:`gateway_core.protocol.cipher`): plain framing reads the clear
``size``, the cipher first unscrambles it. The buffer never holds more than ``max_buffer``
undecoded bytes; beyond that the peer is flooding us and we stop accepting data.
"""

from __future__ import annotations

import struct
from typing import Final, Protocol

from gateway_core.protocol.errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "DEFAULT_MAX_BUFFER",
    "HEADER",
    "HEADER_SIZE",
    "MAX_PACKET_SIZE",
    "MAX_PAYLOAD_SIZE",
    "FrameCodec",
    "FrameDecoder",
    "bad_size",
    "pack_frame",
    "unpack_frame",
]

#: ``u16 size`` (header included), ``u16 type``, ``u16 crc`` (always written 0, never checked).
HEADER: Final = struct.Struct("<HHH")
HEADER_SIZE: Final = 6
#: Largest packet, header included: the C++ receive buffer and the cipher's 11-bit length.
MAX_PACKET_SIZE: Final = 0x7FF
MAX_PAYLOAD_SIZE: Final = MAX_PACKET_SIZE - HEADER_SIZE
#: Default cap on undecoded buffered bytes: 32 maximum-size packets.
DEFAULT_MAX_BUFFER: Final = 64 * 1024

_SIZE_TYPE: Final = struct.Struct("<HH")
_pack_header = HEADER.pack
_unpack_size_type = _SIZE_TYPE.unpack_from


class FrameCodec(Protocol):
    """How one side of a connection turns header+payload into wire bytes and back.

    Decoding is split in two so the framer can learn the packet size from the first six bytes
    before the rest has arrived: ``decode_header`` returns the wire size and an opaque ``state``
    that ``decode_body`` receives back once ``size`` bytes are buffered.
    """

    @property
    def name(self) -> str:
        """The cipher name (``"plain"``, ``"rosecrypt"``)."""
        ...

    @property
    def clear_body(self) -> bool:
        """True if the payload travels in clear and ``state`` is the type value.

        The framer then slices the payload itself instead of calling ``decode_body`` (the
        plain codec's hot path saves a call per packet).
        """
        ...

    def decode_header(self, buf: bytes | bytearray, offset: int) -> tuple[int, int]:
        """Read the 6 header bytes at ``offset``; return (wire size, state)."""
        ...

    def decode_body(
        self, buf: bytes | bytearray, offset: int, size: int, state: int
    ) -> tuple[int, bytes]:
        """Decode the ``size`` bytes at ``offset``; return (type value, payload).

        Raises RemoteProtocolError when the bytes are corrupt.
        """
        ...

    def encode(self, type_value: int, payload: bytes) -> bytes:
        """Return the wire bytes of one packet; LocalProtocolError if it cannot be sent."""
        ...


def pack_frame(type_value: int, payload: bytes) -> bytes:
    """Return a plain packet: header (size, type, crc 0) followed by ``payload``.

    Raises LocalProtocolError for a packet over 2047 bytes or a type outside u16.
    """
    size = HEADER_SIZE + len(payload)
    if size > MAX_PACKET_SIZE:
        raise LocalProtocolError(
            f"packet of {size} bytes exceeds the maximum of {MAX_PACKET_SIZE}", kind="too_large"
        )
    if not 0 <= type_value <= 0xFFFF:
        raise LocalProtocolError(f"type value {type_value} does not fit in u16", kind="bad_type")
    return _pack_header(size, type_value, 0) + payload


def unpack_frame(data: bytes) -> tuple[int, bytes]:
    """Split one complete plain packet into (type value, payload).

    Raises RemoteProtocolError (``bad_size``) when the header size is out of range or does not
    match ``len(data)``. Meant for tests and tools; connections use :class:`FrameDecoder`.
    """
    if len(data) < HEADER_SIZE:
        raise RemoteProtocolError(f"{len(data)} bytes cannot hold a header", kind="bad_size")
    size, type_value = _unpack_size_type(data, 0)
    if size != len(data) or size > MAX_PACKET_SIZE:
        raise RemoteProtocolError(
            f"header says {size} bytes, packet has {len(data)}", kind="bad_size"
        )
    return type_value, bytes(data[HEADER_SIZE:])


def bad_size(size: int) -> RemoteProtocolError:
    """The error for a header announcing ``size`` bytes (outside 6..2047)."""
    return RemoteProtocolError(
        f"header announces {size} bytes (allowed {HEADER_SIZE}..{MAX_PACKET_SIZE})",
        kind="bad_size",
    )


class FrameDecoder:
    """Receive buffer that yields one (type value, payload) per complete packet.

    ``feed`` copies the data (the caller may reuse its buffer at once); ``b""`` marks the end
    of the stream. ``next_frame`` returns the next complete packet or None when more bytes
    are needed, and raises RemoteProtocolError for a bad header, a corrupt packet, a buffer
    overflow (after every complete packet before it was delivered) or a stream that ended in
    the middle of a packet.
    """

    __slots__ = (
        "_buf",
        "_clear_body",
        "_codec",
        "_decode_body",
        "_decode_header",
        "_eof",
        "_max_buffer",
        "_off",
        "_overflow",
    )

    def __init__(self, codec: FrameCodec, *, max_buffer: int = DEFAULT_MAX_BUFFER) -> None:
        if max_buffer < MAX_PACKET_SIZE:
            raise ValueError(f"max_buffer must be at least {MAX_PACKET_SIZE} (one full packet)")
        self._codec = codec
        self._decode_header = codec.decode_header
        self._decode_body = codec.decode_body
        self._clear_body = codec.clear_body
        self._max_buffer = max_buffer
        self._buf: bytes | bytearray = b""
        self._off = 0
        self._eof = False
        self._overflow = False

    @property
    def codec(self) -> FrameCodec:
        """The codec reading headers and bodies."""
        return self._codec

    @property
    def buffered_bytes(self) -> int:
        """Bytes received but not yet returned as packets (never above ``max_buffer``)."""
        return len(self._buf) - self._off

    @property
    def max_buffer(self) -> int:
        """The cap on undecoded buffered bytes."""
        return self._max_buffer

    @property
    def eof(self) -> bool:
        """True once the end of the stream was fed."""
        return self._eof

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append received bytes; ``b""`` (or an empty view) marks the end of the stream.

        Bytes that would push the buffer over ``max_buffer`` are discarded and the overflow is
        reported by ``next_frame`` once the packets already buffered are consumed. Feeding
        after the end of the stream is a LocalProtocolError (a bug in the caller).
        """
        n = len(data)
        if self._eof:
            if n:
                raise LocalProtocolError("data received after end of stream", kind="closed")
            return
        if not n:
            self._eof = True
            return
        if self._overflow:
            return
        buf = self._buf
        off = self._off
        rest = len(buf) - off
        if rest + n > self._max_buffer:
            self._overflow = True
            return
        if not rest:
            # The common case (the last chunk ended on a packet boundary): keep the chunk as
            # immutable bytes, so payload slices are bytes with one copy instead of two.
            self._buf = bytes(data)
            self._off = 0
            return
        if isinstance(buf, bytes):
            with memoryview(buf) as view:
                buf = self._buf = bytearray(view[off:])
        elif off:
            del buf[:off]
        self._off = 0
        buf += data

    def next_frame(self) -> tuple[int, bytes] | None:
        """Return the next complete (type value, payload), or None if more data is needed."""
        buf = self._buf
        off = self._off
        avail = len(buf) - off
        if avail >= HEADER_SIZE:
            size, state = self._decode_header(buf, off)
            if size < HEADER_SIZE or size > MAX_PACKET_SIZE:
                raise bad_size(size)
            if avail >= size:
                end = off + size
                if self._clear_body:
                    payload = buf[off + HEADER_SIZE : end]
                    if type(payload) is not bytes:
                        payload = bytes(payload)
                    self._off = end
                    return state, payload
                frame = self._decode_body(buf, off, size, state)
                self._off = end
                return frame
        if self._overflow:
            raise RemoteProtocolError(
                f"receive buffer too long: more than {self._max_buffer} undecoded bytes",
                kind="buffer_overflow",
            )
        if self._eof and avail:
            raise RemoteProtocolError(
                f"stream ended inside a packet ({avail} bytes pending)", kind="truncated"
            )
        return None
