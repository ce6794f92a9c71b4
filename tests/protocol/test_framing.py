from __future__ import annotations

import struct

import pytest

from gateway_core.protocol.cipher import PlainCodec
from gateway_core.protocol.errors import LocalProtocolError, RemoteProtocolError
from gateway_core.protocol.framing import (
    DEFAULT_MAX_BUFFER,
    HEADER_SIZE,
    MAX_PACKET_SIZE,
    FrameDecoder,
    pack_frame,
    unpack_frame,
)

# (type value, payload, wire bytes): checked both ways.
CASES = [
    (0x0500, b"", bytes.fromhex("060000050000")),
    (0x0505, b"\x01\x00\x00\x00", bytes.fromhex("0a00050500000100 0000")),
    (0x6F6D, b"ping", bytes.fromhex("0a006d6f0000") + b"ping"),
    (0x0547, b"hi\x00", bytes.fromhex("090047050000") + b"hi\x00"),
]


def decoder(max_buffer: int = DEFAULT_MAX_BUFFER) -> FrameDecoder:
    return FrameDecoder(PlainCodec(), max_buffer=max_buffer)


def drain(frames: FrameDecoder) -> list[tuple[int, bytes]]:
    out = []
    while (frame := frames.next_frame()) is not None:
        out.append(frame)
    return out


def frame_of(size: int, type_value: int = 0x0501) -> bytes:
    return struct.pack("<HHH", size, type_value, 0) + bytes(range(256)) * 8


@pytest.mark.parametrize(("type_value", "payload", "wire"), CASES)
def test_framing_encodes_and_decodes_table(type_value: int, payload: bytes, wire: bytes) -> None:
    assert pack_frame(type_value, payload) == wire
    assert unpack_frame(wire) == (type_value, payload)
    frames = decoder()
    frames.feed(wire)
    assert drain(frames) == [(type_value, payload)]
    assert frames.buffered_bytes == 0


def test_framing_writes_crc_zero_and_ignores_it_on_receipt() -> None:
    wire = pack_frame(0x0504, b"")
    assert wire[4:6] == b"\x00\x00"
    frames = decoder()
    frames.feed(wire[:4] + b"\xab\xcd")
    assert drain(frames) == [(0x0504, b"")]


def test_framing_rejects_size_below_header() -> None:
    frames = decoder()
    frames.feed(struct.pack("<HHH", 5, 0x0500, 0))
    with pytest.raises(RemoteProtocolError) as info:
        frames.next_frame()
    assert info.value.kind == "bad_size"


@pytest.mark.parametrize("size", [0, 1, 5, 2048, 0x7FFF, 0xFFFF])
def test_framing_rejects_sizes_out_of_range_as_soon_as_header_arrives(size: int) -> None:
    frames = decoder()
    frames.feed(struct.pack("<HHH", size, 0x0500, 0))  # only the header: no need to wait
    with pytest.raises(RemoteProtocolError) as info:
        frames.next_frame()
    assert info.value.kind == "bad_size"


def test_framing_accepts_the_largest_packet() -> None:
    payload = bytes(range(256)) * 7 + bytes(MAX_PACKET_SIZE - HEADER_SIZE - 7 * 256)
    wire = pack_frame(0x0522, payload)
    assert len(wire) == MAX_PACKET_SIZE
    frames = decoder()
    frames.feed(wire)
    assert drain(frames) == [(0x0522, payload)]


def test_framing_refuses_to_send_more_than_2047_bytes() -> None:
    pack_frame(0x0500, bytes(MAX_PACKET_SIZE - HEADER_SIZE))
    with pytest.raises(LocalProtocolError) as info:
        pack_frame(0x0500, bytes(MAX_PACKET_SIZE - HEADER_SIZE + 1))
    assert info.value.kind == "too_large"


@pytest.mark.parametrize("type_value", [-1, 0x10000])
def test_framing_refuses_type_outside_u16(type_value: int) -> None:
    with pytest.raises(LocalProtocolError) as info:
        pack_frame(type_value, b"")
    assert info.value.kind == "bad_type"


def test_framing_handles_one_byte_at_a_time() -> None:
    packets = [(0x0500 + i, bytes([i]) * i) for i in range(20)]
    stream = b"".join(pack_frame(t, p) for t, p in packets)
    frames = decoder()
    got = []
    for i in range(len(stream)):
        frames.feed(stream[i : i + 1])
        got.extend(drain(frames))
        assert frames.buffered_bytes < MAX_PACKET_SIZE
    assert got == packets
    assert frames.buffered_bytes == 0


def test_framing_parses_100_packets_in_one_chunk() -> None:
    packets = [(0x0547, b"message %d\x00" % i) for i in range(100)]
    frames = decoder()
    frames.feed(b"".join(pack_frame(t, p) for t, p in packets))
    assert drain(frames) == packets
    assert frames.buffered_bytes == 0


def test_framing_handles_exactly_six_byte_packets() -> None:
    frames = decoder()
    frames.feed(pack_frame(0x0500, b"") * 3)
    assert drain(frames) == [(0x0500, b"")] * 3


@pytest.mark.parametrize("split", range(1, HEADER_SIZE))
def test_framing_waits_for_a_split_header(split: int) -> None:
    wire = pack_frame(0x0505, b"\x01\x00\x00\x00")
    frames = decoder()
    frames.feed(wire[:split])
    assert frames.next_frame() is None
    assert frames.buffered_bytes == split
    frames.feed(wire[split:])
    assert drain(frames) == [(0x0505, b"\x01\x00\x00\x00")]


def test_framing_waits_for_a_split_body_and_keeps_following_packets() -> None:
    first = pack_frame(0x0547, b"hello\x00")
    second = pack_frame(0x0500, b"")
    stream = first + second
    frames = decoder()
    frames.feed(stream[:9])
    assert frames.next_frame() is None
    frames.feed(stream[9:14])
    assert drain(frames) == [(0x0547, b"hello\x00")]
    assert frames.buffered_bytes == 2
    frames.feed(stream[14:])
    assert drain(frames) == [(0x0500, b"")]


def test_framing_copies_fed_data_so_callers_can_reuse_buffers() -> None:
    pooled = bytearray(pack_frame(0x0547, b"abc\x00"))
    frames = decoder()
    frames.feed(memoryview(pooled)[:8])
    pooled[:] = bytes(len(pooled))  # the transport reuses its receive buffer
    frames.feed(pack_frame(0x0547, b"abc\x00")[8:])
    assert drain(frames) == [(0x0547, b"abc\x00")]


def test_framing_accepts_bytearray_and_memoryview() -> None:
    frames = decoder()
    frames.feed(bytearray(pack_frame(0x0500, b"")))
    frames.feed(memoryview(pack_frame(0x0501, b"x")))
    assert drain(frames) == [(0x0500, b""), (0x0501, b"x")]


def test_framing_caps_the_buffer_and_reports_overflow_after_buffered_packets() -> None:
    frames = decoder(max_buffer=4000)
    complete = pack_frame(0x0500, b"") * 10
    frames.feed(complete)
    partial = frame_of(2000)[:1990]
    frames.feed(partial)  # 60 + 1990 bytes: fits
    frames.feed(partial)  # would exceed 4000 bytes: dropped, overflow flagged
    assert frames.buffered_bytes == 60 + 1990
    assert drain_until_error(frames) == [(0x0500, b"")] * 10
    with pytest.raises(RemoteProtocolError) as info:
        frames.next_frame()
    assert info.value.kind == "buffer_overflow"
    frames.feed(b"more")  # ignored, stays bounded
    assert frames.buffered_bytes <= 4000


def drain_until_error(frames: FrameDecoder) -> list[tuple[int, bytes]]:
    out: list[tuple[int, bytes]] = []
    while True:
        try:
            frame = frames.next_frame()
        except RemoteProtocolError:
            return out
        assert frame is not None
        out.append(frame)


def test_framing_buffer_cap_counts_only_undecoded_bytes() -> None:
    frames = decoder(max_buffer=MAX_PACKET_SIZE)
    wire = pack_frame(0x0500, bytes(MAX_PACKET_SIZE - HEADER_SIZE))
    for _ in range(50):  # 100 KiB in total, but drained as it goes
        frames.feed(wire)
        assert drain(frames) == [(0x0500, bytes(MAX_PACKET_SIZE - HEADER_SIZE))]


def test_framing_max_buffer_must_hold_one_packet() -> None:
    with pytest.raises(ValueError, match="2047"):
        decoder(max_buffer=MAX_PACKET_SIZE - 1)


def test_framing_end_of_stream_between_packets_is_clean() -> None:
    frames = decoder()
    frames.feed(pack_frame(0x0500, b""))
    frames.feed(b"")
    assert frames.eof
    assert drain(frames) == [(0x0500, b"")]
    assert frames.next_frame() is None


def test_framing_end_of_stream_inside_a_packet_is_truncation() -> None:
    frames = decoder()
    frames.feed(pack_frame(0x0500, b"") + pack_frame(0x0547, b"abc\x00")[:7])
    frames.feed(b"")
    assert frames.next_frame() == (0x0500, b"")
    with pytest.raises(RemoteProtocolError) as info:
        frames.next_frame()
    assert info.value.kind == "truncated"


def test_framing_data_after_end_of_stream_is_a_caller_bug() -> None:
    frames = decoder()
    frames.feed(b"")
    frames.feed(b"")  # repeating the end is harmless
    with pytest.raises(LocalProtocolError) as info:
        frames.feed(b"x")
    assert info.value.kind == "closed"


def test_unpack_frame_rejects_inconsistent_sizes() -> None:
    with pytest.raises(RemoteProtocolError):
        unpack_frame(b"\x06\x00")
    with pytest.raises(RemoteProtocolError):
        unpack_frame(pack_frame(0x0500, b"ab") + b"c")
