"""The PROXY protocol header parser (v1 and v2), sans-IO: complete headers, every truncation,
malformed and oversized headers, and arbitrary bytes (only ProxyHeaderError may escape)."""

from __future__ import annotations

import ipaddress
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway_core.protocol.errors import RemoteProtocolError
from gateway_core.protocol.proxy import (
    V2_SIGNATURE,
    ProxyHeader,
    ProxyHeaderError,
    parse_proxy_header,
    starts_like_proxy_header,
)


def v2(command: int = 1, family: int = 1, transport: int = 1, block: bytes | None = None,
       *, version: int = 2) -> bytes:
    if block is None:
        if family == 1:
            block = struct.pack("!4s4sHH", ipaddress.IPv4Address("203.0.113.7").packed,
                                ipaddress.IPv4Address("10.0.0.1").packed, 51234, 29000)
        elif family == 2:
            block = struct.pack("!16s16sHH", ipaddress.IPv6Address("2001:db8::7").packed,
                                ipaddress.IPv6Address("2001:db8::1").packed, 4000, 29000)
        else:
            block = b""
    return (V2_SIGNATURE + bytes([(version << 4) | command, (family << 4) | transport])
            + struct.pack("!H", len(block)) + block)


V1_TCP4 = b"PROXY TCP4 203.0.113.7 10.0.0.1 51234 29000\r\n"
V1_TCP6 = b"PROXY TCP6 2001:db8::7 2001:db8::1 4000 29000\r\n"
V1_UNKNOWN = b"PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n"
CASES: list[tuple[bytes, ProxyHeader]] = [
    (V1_TCP4, ProxyHeader(1, ("203.0.113.7", 51234), ("10.0.0.1", 29000), len(V1_TCP4))),
    (V1_TCP6, ProxyHeader(1, ("2001:db8::7", 4000), ("2001:db8::1", 29000), len(V1_TCP6))),
    (b"PROXY UNKNOWN\r\n", ProxyHeader(1, None, None, 15)),
    (V1_UNKNOWN, ProxyHeader(1, None, None, len(V1_UNKNOWN))),
    (v2(), ProxyHeader(2, ("203.0.113.7", 51234), ("10.0.0.1", 29000), 28)),
    (v2(family=2), ProxyHeader(2, ("2001:db8::7", 4000), ("2001:db8::1", 29000), 52)),
    (v2(command=0, family=0, transport=0), ProxyHeader(2, None, None, 16)),  # LOCAL
    (v2(family=0, transport=0), ProxyHeader(2, None, None, 16)),  # UNSPEC
    (v2(family=3, block=bytes(216)), ProxyHeader(2, None, None, 232)),  # unix socket
    # TLVs after the addresses are skipped (their length is in the header)
    (v2(block=struct.pack("!4s4sHH", bytes([198, 51, 100, 1]), bytes(4), 1, 2)
        + b"\x04\x00\x03abc"), ProxyHeader(2, ("198.51.100.1", 1), ("0.0.0.0", 2), 34)),
]


@pytest.mark.parametrize(("data", "header"), CASES)
def test_proxy_header_is_parsed_and_what_follows_is_left(data: bytes,
                                                         header: ProxyHeader) -> None:
    assert parse_proxy_header(data + b"\x06\x00rest") == header
    assert header.length == len(data)
    assert starts_like_proxy_header(data)


@pytest.mark.parametrize(("data", "header"), CASES)
def test_every_truncation_of_a_header_asks_for_more(data: bytes, header: ProxyHeader) -> None:
    for cut in range(len(data)):
        assert parse_proxy_header(data[:cut]) is None, cut


MALFORMED = [
    b"GET / HTTP/1.1\r\n",
    b"\x06\x00\x07\x07\x00\x00",  # a ROSE packet
    b"PROXY TCP4 203.0.113.7 10.0.0.1 51234\r\n",  # a port missing
    b"PROXY TCP4 2001:db8::7 10.0.0.1 1 2\r\n",  # the wrong family
    b"PROXY TCP4 203.0.113.300 10.0.0.1 1 2\r\n",
    b"PROXY TCP4 203.0.113.7 10.0.0.1 65536 2\r\n",
    b"PROXY TCP4 203.0.113.7 10.0.0.1 01 2\r\n",
    b"PROXY TCP4 203.0.113.7 10.0.0.1 -1 2\r\n",
    b"PROXY TCP4  203.0.113.7 10.0.0.1 1 2\r\n",
    b"PROXY UDP4 203.0.113.7 10.0.0.1 1 2\r\n",
    b"PROXY TCP4 203.0.113.7 10.0.0.1 1 2\n",  # LF without CR
    b"PROXY TCP4 \xff.0.113.7 10.0.0.1 1 2\r\n",
    b"PROXY " + b"x" * 120,  # no CRLF within 107 bytes
    b"PROXYTCP4",
    V2_SIGNATURE[:11] + b"X" + bytes(4),
    v2(version=1),
    v2(command=2),
    v2(family=4),
    v2(transport=3),
    v2(transport=2),  # UDP
    v2(block=bytes(11)),  # IPv4 addresses cut short
    v2(family=2, block=bytes(35)),
    v2(family=3, block=bytes(100)),
]


@pytest.mark.parametrize("data", MALFORMED)
def test_malformed_header_is_a_remote_protocol_error(data: bytes) -> None:
    with pytest.raises(ProxyHeaderError) as info:
        parse_proxy_header(data)
    assert isinstance(info.value, RemoteProtocolError)
    assert info.value.kind == "proxy_header"


def test_oversized_v2_header_is_refused_before_it_arrives() -> None:
    header = V2_SIGNATURE + b"\x21\x11" + struct.pack("!H", 60000)
    with pytest.raises(ProxyHeaderError, match="at most 2048"):
        parse_proxy_header(header)
    assert parse_proxy_header(v2(block=bytes(500)), max_size=1024) is not None
    with pytest.raises(ProxyHeaderError):
        parse_proxy_header(v2(block=bytes(1500)), max_size=1024)


def test_a_version_not_accepted_is_refused() -> None:
    with pytest.raises(ProxyHeaderError, match="v1 is not accepted"):
        parse_proxy_header(V1_TCP4, versions=(2,))
    with pytest.raises(ProxyHeaderError, match="v2 is not accepted"):
        parse_proxy_header(v2(), versions=(1,))


def test_rose_packets_never_look_like_a_proxy_header() -> None:
    for size in range(6, 2048, 7):
        assert not starts_like_proxy_header(struct.pack("<HH", size, 0x0708))
    assert not starts_like_proxy_header(b"P")  # one byte decides nothing
    assert starts_like_proxy_header(b"PR")
    assert starts_like_proxy_header(b"\r\n\r\n")


@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_raise_proxy_header_errors(data: bytes) -> None:
    for head in (b"", b"PROXY ", V2_SIGNATURE):
        try:
            header = parse_proxy_header(head + data)
        except ProxyHeaderError:
            continue
        if header is not None:
            assert 0 < header.length <= len(head + data)
