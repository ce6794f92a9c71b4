"""Property tests: untrusted byte streams only ever yield events or RemoteProtocolError, the
receive buffer stays bounded, and encode/decode round-trip however the stream is split."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway_core.protocol import (
    NEED_DATA,
    ProtocolConnection,
    RawFrame,
    RemoteProtocolError,
    Role,
)
from gateway_core.protocol.cipher import get_codec
from gateway_core.protocol.declarations import Packet
from gateway_core.protocol.framing import MAX_PAYLOAD_SIZE, FrameDecoder
from gateway_core.protocol.packets import CliMouseCmd, CliNormalChat, SrvNormalChat

SETTINGS = settings(max_examples=200, deadline=None)

ciphers = st.sampled_from(["plain", "rosecrypt"])
roles = st.sampled_from([Role.SERVER, Role.CLIENT])
profiles = st.sampled_from(["2026", "2021"])
max_buffers = st.sampled_from([2047, 4096, 65536])


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` cut at the given positions (taken modulo its length, sorted)."""
    points = sorted({c % (len(data) + 1) for c in cuts})
    chunks, start = [], 0
    for point in [*points, len(data)]:
        chunks.append(data[start:point])
        start = point
    return [c for c in chunks if c]


def run(
    conn: ProtocolConnection, chunks: list[bytes], drain: bool
) -> tuple[list[object], str | None]:
    """Feed ``chunks`` (then end of stream); return the events and the error kind, if any."""
    got: list[object] = []

    def pump() -> None:
        while (event := conn.next_event()) is not NEED_DATA:
            assert isinstance(event, Packet | RawFrame)
            got.append(event)

    try:
        for chunk in chunks:
            conn.receive_data(chunk)
            assert conn.buffered_bytes <= conn.max_buffer
            if drain:
                pump()
        conn.receive_data(b"")
        pump()
    except RemoteProtocolError as exc:
        try:
            conn.next_event()
        except RemoteProtocolError as again:
            assert again.kind == "dead_connection"
        else:
            raise AssertionError("connection still alive after an error") from exc
        return got, exc.kind
    return got, None


@SETTINGS
@given(
    data=st.binary(max_size=4000),
    cuts=st.lists(st.integers(0, 4000), max_size=30),
    cipher=ciphers,
    role=roles,
    profile=profiles,
    max_buffer=max_buffers,
    drain=st.booleans(),
)
def test_arbitrary_bytes_yield_only_events_or_remote_errors(
    data: bytes,
    cuts: list[int],
    cipher: str,
    role: Role,
    profile: str,
    max_buffer: int,
    drain: bool,
) -> None:
    conn = ProtocolConnection(role, cipher=cipher, profile=profile, max_buffer=max_buffer)
    events, _ = run(conn, split(data, cuts), drain)
    assert conn.buffered_bytes <= max_buffer
    assert len(events) <= len(data) // 6


@SETTINGS
@given(
    data=st.binary(max_size=3000),
    cuts=st.lists(st.integers(0, 3000), max_size=30),
    cipher=ciphers,
    role=roles,
)
def test_arbitrary_bytes_decode_the_same_however_split(
    data: bytes, cuts: list[int], cipher: str, role: Role
) -> None:
    whole = run(ProtocolConnection(role, cipher=cipher), [data] if data else [], drain=True)
    pieces = run(ProtocolConnection(role, cipher=cipher), split(data, cuts), drain=True)
    assert pieces == whole


@st.composite
def framed_headers(draw: st.DrawFn) -> bytes:
    """Streams of plausible plain headers with random payloads (reaches deeper than noise)."""
    out = b""
    for _ in range(draw(st.integers(1, 8))):
        type_value = draw(st.sampled_from([0x500, 0x505, 0x547, 0x562, 0x51D, 0x7F0, 0x6F6D]))
        payload = draw(st.binary(max_size=40))
        size = draw(st.sampled_from([len(payload) + 6, len(payload) + 6, len(payload), 3, 2048]))
        out += size.to_bytes(2, "little") + type_value.to_bytes(2, "little") + b"\0\0" + payload
    return out


@SETTINGS
@given(data=framed_headers(), cuts=st.lists(st.integers(0, 500), max_size=20), role=roles)
def test_plausible_plain_streams_yield_only_events_or_remote_errors(
    data: bytes, cuts: list[int], role: Role
) -> None:
    whole = run(ProtocolConnection(role), [data], drain=True)
    assert run(ProtocolConnection(role), split(data, cuts), drain=True) == whole


frames = st.lists(
    st.tuples(st.integers(0, 0x7FF), st.binary(max_size=MAX_PAYLOAD_SIZE)), max_size=6
)


@SETTINGS
@given(
    items=frames,
    cuts=st.lists(st.integers(0, 12000), max_size=40),
    cipher=ciphers,
    server_side=st.booleans(),
)
def test_framing_and_cipher_round_trip_however_split(
    items: list[tuple[int, bytes]], cuts: list[int], cipher: str, server_side: bool
) -> None:
    sender = get_codec(cipher, server_side=server_side)
    receiver = FrameDecoder(get_codec(cipher, server_side=not server_side))
    stream = b"".join(sender.encode(t, p) for t, p in items)
    got = []
    for chunk in split(stream, cuts):
        receiver.feed(chunk)
        while (frame := receiver.next_frame()) is not None:
            got.append(frame)
    assert got == items
    assert receiver.buffered_bytes == 0


messages = st.binary(max_size=300).map(lambda b: b.replace(b"\x00", b"."))
u16 = st.integers(0, 0xFFFF)
# Floats that survive f32 exactly, without NaN (NaN != NaN would defeat equality).
f32s = st.floats(width=32, allow_nan=False)


@st.composite
def client_packets(draw: st.DrawFn) -> Packet:
    if draw(st.booleans()):
        return CliNormalChat(message=draw(messages))
    return CliMouseCmd(target_id=draw(u16), x=draw(f32s), y=draw(f32s), z=draw(u16))


@SETTINGS
@given(
    requests=st.lists(client_packets(), max_size=8),
    replies=st.lists(st.builds(SrvNormalChat, char_id=u16, message=messages), max_size=8),
    cuts=st.lists(st.integers(0, 3000), max_size=20),
    cipher=ciphers,
    profile=profiles,
)
def test_packets_round_trip_between_client_and_server(
    requests: list[Packet],
    replies: list[Packet],
    cuts: list[int],
    cipher: str,
    profile: str,
) -> None:
    server = ProtocolConnection(Role.SERVER, cipher=cipher, profile=profile)
    client = ProtocolConnection(Role.CLIENT, cipher=cipher, profile=profile)
    assert run(server, split(b"".join(map(client.send, requests)), cuts), True) == (requests, None)
    assert run(client, split(b"".join(map(server.send, replies)), cuts), True) == (replies, None)
