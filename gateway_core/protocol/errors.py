"""Protocol errors, split by blame (the h11 model).

* :class:`RemoteProtocolError`: the peer sent bytes we cannot accept (bad size, bad checksum,
  too much undecodable data). Anything a misbehaving client can provoke in the protocol layer
  surfaces as this and nothing else; the connection is dead afterwards.
* :class:`LocalProtocolError`: our own code asked for something the protocol cannot express
  (a packet over 2047 bytes, a type value the cipher cannot carry, a packet unknown to the
  numbering profile). It never depends on peer input.
"""

from __future__ import annotations

__all__ = [
    "LocalProtocolError",
    "ProtocolError",
    "RemoteProtocolError",
]


class ProtocolError(Exception):
    """Base class of every error raised by the protocol layer.

    ``kind`` is a short machine label (for metrics and logs); ``str(error)`` is for humans.
    """

    kind: str

    def __init__(self, message: str, *, kind: str = "protocol_error") -> None:
        super().__init__(message)
        self.kind = kind

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r}, kind={self.kind!r})"


class RemoteProtocolError(ProtocolError):
    """The peer violated the protocol.

    Kinds raised by this package:

    ``bad_size``
        a header announces fewer than 6 or more than 2047 bytes (or, encrypted, an
        inconsistent padded length);
    ``bad_checksum``
        an encrypted packet whose checksum does not match (corrupt or not encrypted at all);
    ``buffer_overflow``
        more undecoded bytes arrived than the connection's ``max_buffer`` allows;
    ``truncated``
        the peer closed the stream in the middle of a packet;
    ``undecodable``
        a payload made the packet decoder fail (a decoder bug: lenient decoding never
        raises by design; the cause is chained);
    ``dead_connection``
        ``next_event`` was called again after an earlier error.
    """


class LocalProtocolError(ProtocolError):
    """We tried to send something the protocol cannot carry.

    Kinds raised by this package: ``too_large`` (a packet over 2047 bytes), ``bad_type``
    (a type value that does not fit the header or the cipher, or a packet the numbering
    profile does not know), ``bad_field`` (a packet field the codec cannot encode),
    ``closed`` (data fed after end of stream).
    """
