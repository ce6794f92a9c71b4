from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway_core.protocol import (
    NEED_DATA,
    LocalProtocolError,
    ProtocolConnection,
    RawFrame,
    RemoteProtocolError,
    Role,
    encode_packet,
    get_profile,
)
from gateway_core.protocol.declarations import Packet
from gateway_core.protocol.framing import MAX_PACKET_SIZE
from gateway_core.protocol.packets import (
    AcceptReplyResult,
    CliAcceptReq,
    CliAlive,
    CliChannelListReq,
    CliLoginTokenReq,
    CliMouseCmd,
    CliNormalChat,
    SrvAcceptReply,
    SrvNormalChat,
    SrvSelectCharReply,
)

Warning = tuple[str, str, str]

# (role that sends, packet, cipher, profile, wire bytes): checked both ways. The rosecrypt rows
# are the vectors of docs/protocol.md §3.3.
WIRE_CASES: list[tuple[Role, Packet, str, str, str]] = [
    (Role.CLIENT, CliAlive(), "plain", "2026", "06 00 00 05 00 00"),
    (Role.CLIENT, CliChannelListReq(server_id=1), "plain", "2026", "0A 00 05 05 00 00 01 00 00 00"),
    (Role.CLIENT, CliNormalChat(message=b"hi"), "plain", "2026", "09 00 47 05 00 00 68 69 00"),
    (Role.CLIENT, CliNormalChat(message=b"hi"), "plain", "2021", "09 00 45 05 00 00 68 69 00"),
    (
        Role.SERVER,
        SrvNormalChat(char_id=7, message=b"yo"),
        "plain",
        "2026",
        "0B 00 48 05 00 00 07 00 79 6F 00",
    ),
    (Role.CLIENT, CliAcceptReq(), "rosecrypt", "2026", "C2 E8 32 92 45 04"),
    (Role.CLIENT, CliAlive(), "rosecrypt", "2026", "C2 A8 32 92 45 74"),
    (
        Role.CLIENT,
        CliChannelListReq(server_id=1),
        "rosecrypt",
        "2026",
        "C2 F9 36 92 45 54 A7 CE AD EC",
    ),
    (
        Role.SERVER,
        SrvAcceptReply(result=AcceptReplyResult(2), rand_value=0x11223344),
        "rosecrypt",
        "2026",
        "83 2E 1A FC C2 F4 A4 8A 9E CE BC",
    ),
]


def other(role: Role) -> Role:
    return Role.SERVER if role is Role.CLIENT else Role.CLIENT


def events(conn: ProtocolConnection) -> list[Packet | RawFrame]:
    out: list[Packet | RawFrame] = []
    while (event := conn.next_event()) is not NEED_DATA:
        out.append(event)
    return out


def pair(
    cipher: str = "plain", profile: str = "2026"
) -> tuple[ProtocolConnection, ProtocolConnection, list[Warning]]:
    warnings: list[Warning] = []

    def record(kind: str, type_name: str, detail: str) -> None:
        warnings.append((kind, type_name, detail))

    server = ProtocolConnection(Role.SERVER, cipher=cipher, profile=profile, on_warning=record)
    client = ProtocolConnection(Role.CLIENT, cipher=cipher, profile=profile, on_warning=record)
    return server, client, warnings


@pytest.mark.parametrize(("sender", "packet", "cipher", "profile", "wire"), WIRE_CASES)
def test_connection_wire_table_both_ways(
    sender: Role, packet: Packet, cipher: str, profile: str, wire: str
) -> None:
    out = ProtocolConnection(sender, cipher=cipher, profile=profile)
    assert out.send(packet) == bytes.fromhex(wire)
    assert encode_packet(packet, role=sender, cipher=cipher, profile=profile) == bytes.fromhex(wire)
    into = ProtocolConnection(other(sender), cipher=cipher, profile=profile)
    into.receive_data(bytes.fromhex(wire))
    assert events(into) == [packet]


@pytest.mark.parametrize("cipher", ["plain", "rosecrypt"])
@pytest.mark.parametrize("profile", ["2026", "2021"])
def test_server_and_client_talk_to_each_other(cipher: str, profile: str) -> None:
    server, client, warnings = pair(cipher, profile)
    requests = [
        CliAcceptReq(),
        CliNormalChat.from_text(message="hello world"),
        CliMouseCmd(target_id=3, x=5200.5, y=5300.25, z=0),
        CliAlive(),
    ]
    server.receive_data(b"".join(client.send(p) for p in requests))
    assert events(server) == requests
    replies = [
        SrvAcceptReply(result=AcceptReplyResult(2), rand_value=123456),
        SrvNormalChat(char_id=42, message=b"hi there"),
        SrvSelectCharReply(race=1, map=20, x=1.5, y=2.5, name=b"Bob"),
    ]
    client.receive_data(b"".join(server.send(p) for p in replies))
    assert events(client) == replies
    assert warnings == []
    assert server.buffered_bytes == client.buffered_bytes == 0


@pytest.mark.parametrize("cipher", ["plain", "rosecrypt"])
def test_packets_split_one_byte_at_a_time(cipher: str) -> None:
    server, client, _ = pair(cipher)
    packets = [CliNormalChat(message=b"x" * i) for i in range(30)]
    stream = b"".join(client.send(p) for p in packets)
    got: list[Packet | RawFrame] = []
    for i in range(len(stream)):
        server.receive_data(stream[i : i + 1])
        got.extend(events(server))
    assert got == packets


@pytest.mark.parametrize("cipher", ["plain", "rosecrypt"])
def test_many_packets_in_one_chunk(cipher: str) -> None:
    server, client, _ = pair(cipher)
    packets = [CliMouseCmd(target_id=i, x=float(i), y=float(-i), z=i) for i in range(100)]
    server.receive_data(b"".join(client.send(p) for p in packets))
    assert events(server) == packets


def test_profiles_disagree_on_shifted_values() -> None:
    old = ProtocolConnection(Role.CLIENT, profile="2021")
    new_server = ProtocolConnection(Role.SERVER, profile="2026")
    wire = old.send(CliMouseCmd(target_id=1, x=0.0, y=0.0, z=0))
    assert wire[2:4] == b"\x60\x05"
    new_server.receive_data(wire)
    (event,) = events(new_server)
    assert get_profile("2026").by_value(0x0560).name == "PAKCS_DAMAGE"  # type: ignore[union-attr]
    assert type(event).__name__ == "CliDamage"


def test_profile_object_is_accepted() -> None:
    conn = ProtocolConnection(Role.CLIENT, profile=get_profile("2021"))
    assert conn.profile is get_profile("2021")
    assert encode_packet(
        CliAlive(), role=Role.CLIENT, profile=get_profile("2021")
    ) == bytes.fromhex("060000050000")


# --- raw frames and warnings ---------------------------------------------------------------------


def test_type_without_definition_is_a_raw_frame_without_warning() -> None:
    server, client, warnings = pair()
    client.receive_data(server.send(RawFrame(0x0501, "PAKSS_ERROR", b"\x01\x02")))
    assert events(client) == [RawFrame(0x0501, "PAKSS_ERROR", b"\x01\x02")]
    client.receive_data(bytes.fromhex("0A 00 6D 6F 00 00") + b"ping")
    assert events(client) == [RawFrame(0x6F6D, "STRESS", b"ping")]
    assert warnings == []


@pytest.mark.parametrize("cipher", ["plain", "rosecrypt"])
def test_unknown_type_value_is_a_raw_frame_with_warning(cipher: str) -> None:
    server, client, warnings = pair(cipher)
    server.receive_data(client.send(RawFrame(0x07F0, None, b"\xaa")))
    assert events(server) == [RawFrame(0x07F0, None, b"\xaa")]
    assert warnings == [
        (
            "unknown_type",
            "UNKNOWN",
            "type value 0x07F0 is not a packet type of profile 2026 (1 payload bytes)",
        )
    ]


def test_marker_values_are_unknown_types() -> None:
    server, client, warnings = pair()
    server.receive_data(client.send(RawFrame(0x05D5, "EPACKETMAX", b"")))
    assert events(server) == [RawFrame(0x05D5, None, b"")]
    assert [w[0] for w in warnings] == ["unknown_type"]


def test_short_payload_is_decoded_leniently_with_warning() -> None:
    server, client, warnings = pair()
    server.receive_data(client.send(RawFrame(0x0505, None, b"\x01\x00")))
    assert events(server) == [CliChannelListReq(server_id=0)]
    assert warnings == [
        (
            "short_payload",
            "PAKCS_CHANNEL_LIST_REQ",
            "payload of 2 bytes ends before field 'server_id'",
        )
    ]


def test_extra_bytes_are_ignored_with_warning() -> None:
    server, client, warnings = pair("rosecrypt")
    server.receive_data(client.send(RawFrame(0x0505, None, b"\x01\x00\x00\x00\xff\xff")))
    assert events(server) == [CliChannelListReq(server_id=1)]
    assert warnings == [
        ("extra_bytes", "PAKCS_CHANNEL_LIST_REQ", "2 trailing payload bytes ignored")
    ]


def test_lenient_decoding_without_warning_callback() -> None:
    server = ProtocolConnection()
    server.receive_data(bytes.fromhex("08 00 05 05 00 00 01 00 06 00 F0 07 00 00"))
    assert events(server) == [CliChannelListReq(server_id=0), RawFrame(0x07F0, None, b"")]


def test_unterminated_string_is_a_short_payload() -> None:
    server, _, warnings = pair()
    server.receive_data(bytes.fromhex("09 00 47 05 00 00 68 69 21"))
    assert events(server) == [CliNormalChat(message=b"")]
    assert warnings[0][:2] == ("short_payload", "PAKCS_NORMAL_CHAT")


# --- errors: the peer's fault ---------------------------------------------------------------------


@pytest.mark.parametrize("cipher", ["plain", "rosecrypt"])
def test_bad_header_kills_the_connection(cipher: str) -> None:
    server = ProtocolConnection(cipher=cipher)
    # a size of 5; encrypted: PAKCS_ALIVE with wire bit 7 (a length bit) flipped, size 4
    bad = "05 00 00 05 00 00" if cipher == "plain" else "42 A8 32 92 45 74"
    server.receive_data(bytes.fromhex(bad))
    with pytest.raises(RemoteProtocolError) as info:
        server.next_event()
    assert info.value.kind == "bad_size"
    assert server.error is info.value
    server.receive_data(bytes.fromhex("06 00 00 05 00 00"))  # ignored now
    with pytest.raises(RemoteProtocolError) as again:
        server.next_event()
    assert again.value.kind == "dead_connection"
    assert again.value.__cause__ is info.value


def test_bad_checksum_kills_the_connection_after_earlier_packets() -> None:
    server, client, _ = pair("rosecrypt")
    corrupt = bytearray(client.send(CliChannelListReq(server_id=1)))
    corrupt[-1] ^= 0x10
    server.receive_data(client.send(CliAlive()) + bytes(corrupt) + client.send(CliAlive()))
    assert server.next_event() == CliAlive()
    with pytest.raises(RemoteProtocolError) as info:
        server.next_event()
    assert info.value.kind == "bad_checksum"


def test_plain_bytes_to_an_encrypting_server_are_rejected() -> None:
    server = ProtocolConnection(cipher="rosecrypt")
    plain = ProtocolConnection(Role.CLIENT).send(CliChannelListReq(server_id=1))
    server.receive_data(plain * 300)  # more than any packet size the headers can announce
    with pytest.raises(RemoteProtocolError) as info:
        events(server)
    assert info.value.kind in {"bad_size", "bad_checksum"}


def test_flood_without_draining_is_a_buffer_overflow() -> None:
    server, client, _ = pair()
    wire = client.send(CliNormalChat(message=b"x" * 1000))
    server = ProtocolConnection(max_buffer=4 * len(wire))
    for _ in range(10):
        server.receive_data(wire)  # never raises
        assert server.buffered_bytes <= 4 * len(wire)
    assert len(events_until_error(server)) == 4
    assert server.error is not None
    assert server.error.kind == "buffer_overflow"


def events_until_error(conn: ProtocolConnection) -> list[Packet | RawFrame]:
    out: list[Packet | RawFrame] = []
    try:
        while (event := conn.next_event()) is not NEED_DATA:
            out.append(event)
    except RemoteProtocolError:
        return out
    raise AssertionError("no error")


def test_end_of_stream_between_packets() -> None:
    server, client, _ = pair()
    server.receive_data(client.send(CliAlive()))
    server.receive_data(b"")
    assert server.peer_closed
    assert events(server) == [CliAlive()]
    assert server.next_event() is NEED_DATA


def test_end_of_stream_inside_a_packet_is_truncation() -> None:
    server, client, _ = pair("rosecrypt")
    server.receive_data(client.send(CliNormalChat(message=b"cut"))[:-1])
    server.receive_data(b"")
    with pytest.raises(RemoteProtocolError) as info:
        server.next_event()
    assert info.value.kind == "truncated"


@pytest.mark.parametrize("wire", ["06 00 00 05 00 00", "07 00 00 05 00 00 ff"],
                         ids=["exact-fast-path", "generic-path"])
def test_decoder_failure_is_reported_as_the_peers_error(
    monkeypatch: pytest.MonkeyPatch, wire: str
) -> None:
    # Boundary: the packet class's decoders (owned by the packet definitions: the generated
    # exact decoder, used for a well-formed payload, and decode_payload, used for the rest) are
    # replaced by ones that raise, to check no foreign exception ever escapes next_event.
    def broken(payload: bytes) -> object:
        raise IndexError("decoder bug")

    monkeypatch.setattr(CliAlive, "_DECODE_EXACT", staticmethod(broken))
    monkeypatch.setattr(CliAlive, "decode_payload", staticmethod(broken))
    server = ProtocolConnection()
    server.receive_data(bytes.fromhex(wire))
    with pytest.raises(RemoteProtocolError) as info:
        server.next_event()
    assert info.value.kind == "undecodable"
    assert isinstance(info.value.__cause__, IndexError)


# --- errors: our fault ----------------------------------------------------------------------------


@pytest.mark.parametrize("cipher", ["plain", "rosecrypt"])
def test_sending_an_oversized_packet_is_local_and_harmless(cipher: str) -> None:
    server, client, _ = pair(cipher)
    with pytest.raises(LocalProtocolError) as info:
        client.send(CliNormalChat(message=b"x" * 2041))
    assert info.value.kind == "too_large"
    with pytest.raises(LocalProtocolError):
        client.send(RawFrame(0x0547, None, bytes(MAX_PACKET_SIZE)))
    wire = client.send(CliNormalChat(message=b"x" * 2040))
    assert len(wire) == MAX_PACKET_SIZE
    server.receive_data(wire)
    assert events(server) == [CliNormalChat(message=b"x" * 2040)]


def test_sending_a_packet_unknown_to_the_profile_is_local() -> None:
    conn = ProtocolConnection(Role.CLIENT, profile="2021")
    with pytest.raises(LocalProtocolError) as info:
        conn.send(CliLoginTokenReq(token=b"t"))
    assert info.value.kind == "bad_type"
    assert "2021" in str(info.value)


def test_encrypted_connection_cannot_send_stress_type() -> None:
    with pytest.raises(LocalProtocolError) as info:
        ProtocolConnection(cipher="rosecrypt").send(RawFrame(0x6F6D, "STRESS", b""))
    assert info.value.kind == "bad_type"
    assert ProtocolConnection().send(RawFrame(0x6F6D, "STRESS", b"")) == bytes.fromhex(
        "06 00 6D 6F 00 00"
    )


def test_field_out_of_range_is_local() -> None:
    with pytest.raises(LocalProtocolError) as info:
        ProtocolConnection(Role.CLIENT).send(CliChannelListReq(server_id=-1))
    assert info.value.kind == "bad_field"


def test_send_still_works_after_a_receive_error() -> None:
    server = ProtocolConnection()
    server.receive_data(bytes(6))
    with pytest.raises(RemoteProtocolError):
        server.next_event()
    assert server.send(SrvNormalChat(char_id=1, message=b"bye"))[2:4] == b"\x48\x05"


def test_data_after_end_of_stream_is_a_caller_bug() -> None:
    server = ProtocolConnection()
    server.receive_data(b"")
    with pytest.raises(LocalProtocolError):
        server.receive_data(b"\x06")


def test_bad_settings_are_rejected_at_construction() -> None:
    with pytest.raises(ValueError, match="cipher"):
        ProtocolConnection(cipher="xor")
    with pytest.raises(ValueError, match="profile"):
        ProtocolConnection(profile="1999")
    with pytest.raises(ValueError, match="max_buffer"):
        ProtocolConnection(max_buffer=100)
    with pytest.raises(TypeError):
        ProtocolConnection("server")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        encode_packet(CliAlive(), cipher="xor")


# --- broadcast encoding and introspection ---------------------------------------------------


@pytest.mark.parametrize("cipher", ["plain", "rosecrypt"])
def test_encode_packet_matches_send_so_broadcasts_encode_once(cipher: str) -> None:
    packet = SrvNormalChat(char_id=9, message=b"to everyone")
    wire = encode_packet(packet, role=Role.SERVER, cipher=cipher, profile="2026")
    server = ProtocolConnection(Role.SERVER, cipher=cipher)
    assert server.send(packet) == wire
    for _ in range(3):  # several recipients decode the same bytes
        client = ProtocolConnection(Role.CLIENT, cipher=cipher)
        client.receive_data(wire)
        assert events(client) == [packet]


def test_encode_packet_defaults_are_server_plain_2026() -> None:
    assert encode_packet(SrvNormalChat(char_id=1, message=b"")) == bytes.fromhex(
        "09 00 48 05 00 00 01 00 00"
    )


def test_connection_introspection() -> None:
    conn = ProtocolConnection(Role.CLIENT, cipher="rosecrypt", profile="2021")
    assert conn.role is Role.CLIENT
    assert conn.cipher == "rosecrypt"
    assert conn.profile.name == "2021"
    assert conn.error is None
    assert not conn.peer_closed
    conn.receive_data(b"\x01\x02")
    assert conn.buffered_bytes == 2
    assert conn.next_event() is NEED_DATA
    assert repr(conn) == (
        "<ProtocolConnection CLIENT cipher=rosecrypt profile=2021 open buffered=2>"
    )
    assert repr(NEED_DATA) == "NEED_DATA"


# --- events(): the server loop's iterator ---------------------------------------------------------

CLI_ALIVE_VALUE = 0x0500  # PAKCS_ALIVE in profile 2026
CLI_NORMAL_CHAT_VALUE = 0x0547  # PAKCS_NORMAL_CHAT


def _drain_next_event(conn: ProtocolConnection) -> tuple[list[object], str | None]:
    out: list[object] = []
    try:
        while (event := conn.next_event()) is not NEED_DATA:
            out.append(event)
    except RemoteProtocolError as exc:
        return out, exc.kind
    return out, None


def _drain_events(conn: ProtocolConnection) -> tuple[list[object], str | None]:
    out: list[object] = []
    try:
        for event in conn.events():
            out.append(event)
    except RemoteProtocolError as exc:
        return out, exc.kind
    return out, None


def _both(cipher: str, chunks: list[bytes]) -> None:
    warnings: dict[str, list[tuple[str, str, str]]] = {"a": [], "b": []}
    a = ProtocolConnection(cipher=cipher, on_warning=lambda *w: warnings["a"].append(w))
    b = ProtocolConnection(cipher=cipher, on_warning=lambda *w: warnings["b"].append(w))
    for chunk in chunks:
        a.receive_data(chunk)
        b.receive_data(chunk)
        (got_a, error_a), (got_b, error_b) = _drain_next_event(a), _drain_events(b)
        assert ([repr(e) for e in got_a], error_a) == ([repr(e) for e in got_b], error_b)  # NaN
        assert warnings["a"] == warnings["b"]
        assert a.buffered_bytes == b.buffered_bytes


@pytest.mark.parametrize("cipher", ["plain", "rosecrypt"])
def test_events_yield_what_next_event_returns_for_every_kind_of_input(cipher: str) -> None:
    client = ProtocolConnection(Role.CLIENT, cipher=cipher)
    good = client.send(CliNormalChat(message=b"hello")) + client.send(CliAlive())
    raw = client.send(RawFrame(0x0799, None, b"\x01\x02"))  # a value outside the profile
    extra = client.send(RawFrame(CLI_ALIVE_VALUE, None, b"\x01"))  # a warning: extra bytes
    short = client.send(RawFrame(CLI_NORMAL_CHAT_VALUE, None, b"no terminator"))
    _both(cipher, [good * 3, raw + extra + short + good, good[:5], good[5:] + good[:9]])
    _both(cipher, [good + bytes.fromhex("0300 0000 0000") + good])  # bad size after packets
    _both(cipher, [good, b""])  # end of stream
    _both(cipher, [good + good[:7], b""])  # truncated by the end of stream


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=6))
def test_events_match_next_event_on_arbitrary_chunks(chunks: list[bytes]) -> None:
    client = ProtocolConnection(Role.CLIENT)
    prefix = client.send(CliNormalChat(message=b"x")) * 2
    _both("plain", [prefix + chunk for chunk in chunks])


def test_events_stop_early_and_see_data_fed_between_items() -> None:
    client = ProtocolConnection(Role.CLIENT)
    one = client.send(CliNormalChat(message=b"1"))
    server = ProtocolConnection()
    server.receive_data(one + one[:4])
    events = server.events()
    assert next(events) == CliNormalChat(message=b"1")
    server.receive_data(one[4:] + one)  # completes the split packet, adds another
    assert list(events) == [CliNormalChat(message=b"1")] * 2
    server.receive_data(one * 3)
    for _ in server.events():
        break  # the caller stops: the other two stay buffered
    assert server.buffered_bytes == 2 * len(one)
