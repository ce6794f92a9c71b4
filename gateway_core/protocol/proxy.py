"""The PROXY protocol header (HAProxy's spec, versions 1 and 2), sans-IO.

Strategy: a load balancer in front of the gateway sends one header before the client's bytes,
naming the real client address. :func:`parse_proxy_header` looks at the bytes received so far
and answers ``None`` (not complete yet), a :class:`ProxyHeader` (with the length it took; the
bytes after it are the client's), or raises :class:`ProxyHeaderError` for anything malformed
or longer than ``max_size``. It never touches a socket; the caller bounds the time.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Collection
from dataclasses import dataclass

from gateway_core.protocol.errors import RemoteProtocolError

__all__ = [
    "MAX_HEADER_SIZE",
    "V1_MAX",
    "V2_SIGNATURE",
    "ProxyHeader",
    "ProxyHeaderError",
    "parse_proxy_header",
    "starts_like_proxy_header",
]

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V1_PREFIX = b"PROXY "
#: The longest v1 line the spec allows, CRLF included.
V1_MAX = 107
#: Default bound of a whole header (v2 TLVs included).
MAX_HEADER_SIZE = 2048

_V2_FIXED = 16
_V2_LEN = struct.Struct("!H")
_INET = struct.Struct("!4s4sHH")
_INET6 = struct.Struct("!16s16sHH")


class ProxyHeaderError(RemoteProtocolError):
    """The peer sent a malformed, unsupported or oversized PROXY header."""

    def __init__(self, message: str) -> None:
        super().__init__(message, kind="proxy_header")


@dataclass(frozen=True, slots=True)
class ProxyHeader:
    """A complete PROXY header: its ``version`` (1 or 2), the client's address ``source`` and
    the address it reached ``destination`` (both ``None`` for v1 ``UNKNOWN``, v2 ``LOCAL`` and
    families other than IPv4/IPv6: then the connection's own addresses count), and ``length``,
    the bytes the header took."""

    version: int
    source: tuple[str, int] | None
    destination: tuple[str, int] | None
    length: int


def starts_like_proxy_header(data: bytes | bytearray | memoryview) -> bool:
    """True when ``data`` begins like a v1 or v2 header (at least two bytes are needed: a
    ROSE packet's second byte, the size's high byte, is never above 0x07)."""
    head = bytes(data[: len(V2_SIGNATURE)])
    if len(head) < 2:
        return False
    return V1_PREFIX.startswith(head[:6]) or V2_SIGNATURE.startswith(head)


def parse_proxy_header(
    data: bytes | bytearray | memoryview,
    *,
    versions: Collection[int] = (1, 2),
    max_size: int = MAX_HEADER_SIZE,
) -> ProxyHeader | None:
    """Parse the header at the start of ``data``: ``None`` while it is incomplete, else the
    header; raises :class:`ProxyHeaderError` when it is malformed, of a version not in
    ``versions``, or longer than ``max_size``."""
    data = bytes(data[: max(max_size, _V2_FIXED)])
    if not data:
        return None
    if data[0:1] == b"\r":
        if not V2_SIGNATURE.startswith(data[:12]):
            raise ProxyHeaderError("not a PROXY header")
        if 2 not in versions:
            raise ProxyHeaderError("PROXY protocol v2 is not accepted")
        return _parse_v2(data, max_size)
    if data[0:1] == b"P":
        if not V1_PREFIX.startswith(data[:6]):
            raise ProxyHeaderError("not a PROXY header")
        if 1 not in versions:
            raise ProxyHeaderError("PROXY protocol v1 is not accepted")
        return _parse_v1(data, min(max_size, V1_MAX))
    raise ProxyHeaderError("not a PROXY header")


def _parse_v1(data: bytes, limit: int) -> ProxyHeader | None:
    end = data.find(b"\r\n", 0, limit)
    if end < 0:
        if len(data) >= limit or b"\n" in data[:limit]:
            raise ProxyHeaderError(f"PROXY v1 line without CRLF within {limit} bytes")
        return None
    try:
        line = data[:end].decode("ascii")
    except UnicodeDecodeError:
        raise ProxyHeaderError("PROXY v1 line is not ASCII") from None
    parts = line.split(" ")
    if len(parts) >= 2 and parts[1] == "UNKNOWN":
        return ProxyHeader(1, None, None, end + 2)
    if len(parts) != 6 or parts[1] not in ("TCP4", "TCP6"):
        raise ProxyHeaderError(f"malformed PROXY v1 line {line[:64]!r}")
    family = 4 if parts[1] == "TCP4" else 6
    source = (_v1_address(parts[2], family), _v1_port(parts[4]))
    destination = (_v1_address(parts[3], family), _v1_port(parts[5]))
    return ProxyHeader(1, source, destination, end + 2)


def _v1_address(text: str, family: int) -> str:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise ProxyHeaderError(f"bad address {text[:48]!r} in a PROXY v1 line") from None
    if address.version != family:
        raise ProxyHeaderError(f"address {text!r} is not of the family the line names")
    return str(address)


def _v1_port(text: str) -> int:
    if not text.isdigit() or not text.isascii() or len(text) > 5 or \
            (len(text) > 1 and text[0] == "0") or int(text) > 65535:
        raise ProxyHeaderError(f"bad port {text[:8]!r} in a PROXY v1 line")
    return int(text)


def _parse_v2(data: bytes, max_size: int) -> ProxyHeader | None:
    if len(data) < _V2_FIXED:
        return None
    ver_cmd, fam = data[12], data[13]
    (length,) = _V2_LEN.unpack_from(data, 14)
    total = _V2_FIXED + length
    if ver_cmd >> 4 != 2:
        raise ProxyHeaderError(f"PROXY v2 header of version {ver_cmd >> 4}")
    command = ver_cmd & 0x0F
    if command not in (0, 1):
        raise ProxyHeaderError(f"PROXY v2 header with command {command}")
    if total > max_size:
        raise ProxyHeaderError(f"PROXY v2 header of {total} bytes (at most {max_size})")
    if len(data) < total:
        return None
    family, transport = fam >> 4, fam & 0x0F
    if family > 3 or transport > 2:
        raise ProxyHeaderError(f"PROXY v2 header with family byte 0x{fam:02x}")
    if command == 0:  # LOCAL: the balancer's own connection (a health check)
        return ProxyHeader(2, None, None, total)
    if transport == 2:
        raise ProxyHeaderError("PROXY v2 header for a datagram (UDP) connection")
    block = data[_V2_FIXED:total]
    if family == 1:
        if len(block) < _INET.size:
            raise ProxyHeaderError("PROXY v2 IPv4 header too short for its addresses")
        src, dst, sport, dport = _INET.unpack_from(block)
        return ProxyHeader(2, (str(ipaddress.IPv4Address(src)), sport),
                           (str(ipaddress.IPv4Address(dst)), dport), total)
    if family == 2:
        if len(block) < _INET6.size:
            raise ProxyHeaderError("PROXY v2 IPv6 header too short for its addresses")
        src, dst, sport, dport = _INET6.unpack_from(block)
        return ProxyHeader(2, (str(ipaddress.IPv6Address(src)), sport),
                           (str(ipaddress.IPv6Address(dst)), dport), total)
    if family == 3 and len(block) < 216:
        raise ProxyHeaderError("PROXY v2 unix header too short for its addresses")
    return ProxyHeader(2, None, None, total)  # UNSPEC or unix: the connection's addresses
