"""The declaration API end to end (codecs, layouts and generated fast paths behind it), on
small declarations made for these tests."""

from __future__ import annotations

from enum import IntEnum

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway_core.protocol.codecs import (
    MAX_PAYLOAD,
    cstr,
    f32,
    f64,
    fixed_str,
    i16,
    i64,
    u8,
    u16,
    u32,
    u64,
)
from gateway_core.protocol.declarations import (
    TEXT_ENCODING,
    Decoded,
    Packet,
    Record,
    UnionValue,
    array,
    bit_field,
    counted,
    field,
    fields_of,
    packet,
    record,
    union,
    until_end,
)
from gateway_core.protocol.errors import LocalProtocolError


class Colour(IntEnum):
    RED = 1
    GREEN = 2


@union(u16)
class Pair(UnionValue):
    data: int = 0
    low = bit_field(0, 5)
    high = bit_field(5, 11)


@record
class Named(Record):
    id: int = field(u16)
    name: bytes = field(cstr)


@record
class Fixed(Record):
    a: int = field(u8)
    b: int = field(i16)


@packet("TEST_SCALARS")
class Scalars(Packet):
    a: int = field(u8)
    b: int = field(i16)
    c: int = field(u32)
    d: int = field(i64)
    e: float = field(f32)
    f: float = field(f64)
    g: int = field(u64)


@packet("TEST_MIXED")
class Mixed(Packet):
    colour: Colour | int = field(u8.enum(Colour))
    pair: Pair = field(Pair)
    key: bytes = field(fixed_str(4))
    name: bytes = field(cstr)
    fixed: tuple[Fixed, ...] = field(array(Fixed, 2))
    counts: tuple[int, ...] = field(array(u16, 3))
    named: tuple[Named, ...] = field(counted(u8, Named))
    tail: tuple[Named, ...] = field(until_end(Named))


@packet("TEST_DEFAULTS")
class WithDefaults(Packet):
    level: int = field(u8, default=100)
    rates: tuple[int, ...] = field(array(u8, 3), default=(50, 0, 0))


@packet("TEST_CHAT")
class Chat(Packet):
    message: bytes = field(cstr)


@packet("TEST_BIGCOUNT")
class BigCount(Packet):
    values: tuple[int, ...] = field(counted(u8, u8))
    wide: tuple[int, ...] = field(counted(u16, u8))


def _mixed() -> Mixed:
    return Mixed(
        colour=Colour.GREEN,
        pair=Pair.of(low=3, high=9),
        key=b"ab",
        name=b"hello",
        fixed=(Fixed(1, -1), Fixed(2, -2)),
        counts=(7, 8, 9),
        named=(Named(1, b"x"),),
        tail=(Named(2, b"y"), Named(3, b"")),
    )


def test_scalars_are_little_endian_and_sized() -> None:
    pkt = Scalars(a=0xFF, b=-2, c=0x01020304, d=-1, e=1.5, f=-0.25, g=1 << 63)
    payload = pkt.encode_payload()
    assert payload == bytes.fromhex(
        "ff feff 04030201 ffffffffffffffff 0000c03f 000000000000d0bf 0000000000000080"
    )
    assert Scalars.decode_payload(payload) == Decoded(pkt, None, 0)


@pytest.mark.parametrize(
    ("field_name", "value"),
    [("a", 256), ("a", -1), ("b", 40000), ("c", -5), ("g", 1 << 64), ("e", 1e300)],
)
def test_out_of_range_value_is_a_local_error_naming_the_field(
    field_name: str, value: object
) -> None:
    with pytest.raises(LocalProtocolError, match=f"TEST_SCALARS.*'{field_name}'") as info:
        Scalars(**{field_name: value}).encode_payload()  # type: ignore[arg-type]
    assert info.value.kind == "bad_field"


def test_wrong_value_type_is_a_local_error() -> None:
    with pytest.raises(LocalProtocolError, match="'name'"):
        Mixed(name="text").encode_payload()  # type: ignore[arg-type]


def test_mixed_declaration_round_trips() -> None:
    pkt = _mixed()
    payload = pkt.encode_payload()
    assert Mixed.decode_payload(payload) == Decoded(pkt, None, 0)
    assert Mixed.decode_payload(memoryview(payload)).packet == pkt
    assert Mixed.decode_payload(bytearray(payload)).packet == pkt


def test_layout_merges_fixed_fields_into_runs() -> None:
    steps = Mixed._LAYOUT.steps
    # colour+pair+key  | name | fixed+counts | named | tail
    assert len(steps) == 5
    assert Scalars._LAYOUT.fast is not None
    assert Mixed._LAYOUT.fast is None


def test_short_payload_reports_first_missing_field_and_defaults_the_rest() -> None:
    payload = _mixed().encode_payload()
    decoded = Mixed.decode_payload(payload[:4])  # colour, pair, then 1 of 4 key bytes
    assert decoded.missing == "key"
    assert decoded.extra == 0
    assert decoded.packet.colour == Colour.GREEN
    assert decoded.packet.pair == Pair.of(low=3, high=9)
    assert decoded.packet.key == b""
    assert decoded.packet.fixed == (Fixed(), Fixed())


def test_empty_payload_reports_the_first_field_missing() -> None:
    assert Scalars.decode_payload(b"") == Decoded(Scalars(), "a", 0)


def test_extra_bytes_are_ignored_and_counted() -> None:
    decoded = Scalars.decode_payload(Scalars(a=1).encode_payload() + b"\x01\x02\x03")
    assert decoded.packet == Scalars(a=1)
    assert (decoded.missing, decoded.extra) == (None, 3)


def test_cstr_without_terminator_is_a_failed_read() -> None:
    assert Chat.decode_payload(b"abc") == Decoded(Chat(), "message", 0)
    assert Chat.decode_payload(b"abc\x00") == Decoded(Chat(message=b"abc"), None, 0)
    assert Chat.decode_payload(b"a\x00bc") == Decoded(Chat(message=b"a"), None, 2)


def test_cstr_with_embedded_nul_cannot_be_encoded() -> None:
    with pytest.raises(LocalProtocolError, match="0x00"):
        Chat(message=b"a\x00b").encode_payload()


def test_fixed_string_is_padded_and_padding_is_stripped_on_decode() -> None:
    payload = Mixed(key=b"ab").encode_payload()
    assert payload[3:7] == b"ab\x00\x00"
    assert Mixed.decode_payload(payload).packet.key == b"ab"


def test_fixed_string_keeps_embedded_zeros_and_rejects_longer_values() -> None:
    payload = Mixed(key=b"a\x00b").encode_payload()
    assert Mixed.decode_payload(payload).packet.key == b"a\x00b"
    with pytest.raises(LocalProtocolError, match=r"'key'.*4 bytes"):
        Mixed(key=b"12345").encode_payload()


def test_enum_decodes_known_values_to_members_and_keeps_unknown_ints() -> None:
    known = Mixed.decode_payload(Mixed(colour=Colour.RED).encode_payload()).packet.colour
    assert known is Colour.RED
    unknown = Mixed.decode_payload(Mixed(colour=200).encode_payload()).packet.colour
    assert unknown == 200
    assert type(unknown) is int


def test_enum_default_is_zero_even_when_zero_is_not_a_member() -> None:
    assert Mixed().colour == 0


def test_union_of_composes_bits_from_the_lowest_bit() -> None:
    pair = Pair.of(low=3, high=9)
    assert pair.data == (9 << 5) | 3
    assert (pair.low, pair.high) == (3, 9)
    assert pair.with_parts(high=1) == Pair((1 << 5) | 3)
    assert list(Pair.parts()) == ["low", "high"]


def test_union_rejects_unknown_members_and_values_too_wide() -> None:
    with pytest.raises(LocalProtocolError, match="no member 'mid'"):
        Pair.of(mid=1)
    with pytest.raises(LocalProtocolError, match="5 bits"):
        Pair.of(low=32)
    with pytest.raises(LocalProtocolError, match="5 bits"):
        Pair.of(low=-1)


def test_fixed_array_pads_shorter_tuples_and_rejects_longer() -> None:
    payload = Mixed(counts=(1,)).encode_payload()
    assert Mixed.decode_payload(payload).packet.counts == (1, 0, 0)
    with pytest.raises(LocalProtocolError, match=r"'counts'.*3 elements got 4"):
        Mixed(counts=(1, 2, 3, 4)).encode_payload()


def test_counted_array_refuses_more_elements_than_its_count_type_holds() -> None:
    assert len(BigCount(values=(1,) * 255).encode_payload()) == 1 + 255 + 2
    with pytest.raises(LocalProtocolError, match="256 elements do not fit a u8 count"):
        BigCount(values=(1,) * 256).encode_payload()


def test_counted_array_with_missing_elements_is_a_missing_field() -> None:
    decoded = BigCount.decode_payload(bytes.fromhex("03 0102"))
    assert decoded == Decoded(BigCount(), "values", 0)


def test_run_to_end_array_drops_partial_element_as_extra() -> None:
    base = Mixed(tail=(Named(1, b"a"),)).encode_payload()
    decoded = Mixed.decode_payload(base + bytes.fromhex("0200 6263"))
    assert decoded.packet.tail == (Named(1, b"a"),)
    assert (decoded.missing, decoded.extra) == (None, 4)


def test_declared_defaults_fill_unset_fields_and_short_reads() -> None:
    assert WithDefaults() == WithDefaults(level=100, rates=(50, 0, 0))
    assert WithDefaults.decode_payload(b"") == Decoded(WithDefaults(), "level", 0)


def test_payload_over_2041_bytes_is_refused_with_name_and_size() -> None:
    assert MAX_PAYLOAD == 2041
    assert len(Chat(message=b"x" * 2040).encode_payload()) == 2041
    with pytest.raises(LocalProtocolError, match=r"TEST_CHAT.*2042 bytes") as info:
        Chat(message=b"x" * 2041).encode_payload()
    assert info.value.kind == "too_large"


def test_text_helpers_use_an_explicit_encoding() -> None:
    assert TEXT_ENCODING == "latin-1"
    chat = Chat.from_text(message="caf\u00e9")
    assert chat.message == b"caf\xe9"
    assert chat.text("message") == "caf\u00e9"
    korean = Chat.from_text(message="\uc548\ub155", encoding="cp949")
    assert korean.message == "\uc548\ub155".encode("cp949")
    assert korean.text("message", encoding="cp949") == "\uc548\ub155"
    # Non-text values pass through unchanged.
    assert Named.from_text(id=5, name="n") == Named(5, b"n")


def test_text_helpers_reject_unencodable_text_and_non_string_fields() -> None:
    with pytest.raises(LocalProtocolError, match="message"):
        Chat.from_text(message="\u20ac")  # not in latin-1
    with pytest.raises(TypeError):
        Named(1, b"").text("id")


def test_packets_are_frozen_slotted_and_hashable() -> None:
    pkt = _mixed()
    with pytest.raises(AttributeError):
        pkt.name = b"other"  # type: ignore[misc]
    assert not hasattr(pkt, "__dict__")
    assert hash(pkt) == hash(_mixed())
    assert Mixed.NAME == "TEST_MIXED"
    assert [s.name for s in fields_of(Mixed)][:3] == ["colour", "pair", "key"]


def test_declaring_a_packet_name_twice_is_an_error() -> None:
    with pytest.raises(TypeError, match="declared twice"):

        @packet("TEST_CHAT")
        class Again(Packet):
            message: bytes = field(cstr)


def test_undeclared_field_is_an_error() -> None:
    with pytest.raises(TypeError, match="field"):

        @record
        class Bad(Record):
            x: int = 0


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200))
def test_decoding_arbitrary_bytes_never_raises(data: bytes) -> None:
    for cls in (Scalars, Mixed, Chat, BigCount, WithDefaults):
        decoded = cls.decode_payload(data)
        assert isinstance(decoded.packet, cls)
        if decoded.missing is None and cls is not Scalars:  # floats may carry NaN payloads
            assert decoded.packet.encode_payload() == data[: len(data) - decoded.extra]


@settings(max_examples=100, deadline=None)
@given(
    a=st.integers(0, 255),
    b=st.integers(-32768, 32767),
    name=st.binary(max_size=20).filter(lambda b: b"\x00" not in b),
    low=st.integers(0, 31),
    high=st.integers(0, 2047),
)
def test_round_trip_property(a: int, b: int, name: bytes, low: int, high: int) -> None:
    pkt = Mixed(pair=Pair.of(low=low, high=high), name=name, fixed=(Fixed(a, b), Fixed(a, b)))
    assert Mixed.decode_payload(pkt.encode_payload()) == Decoded(pkt, None, 0)


def test_fast_paths_agree_with_the_generic_layout_on_a_mixed_declaration() -> None:
    pkt = _mixed()
    parts: list[bytes] = []
    Mixed._LAYOUT.encode(pkt, parts)
    payload = Mixed._ENCODE(pkt)
    assert payload == b"".join(parts)
    decoded = Mixed._DECODE_EXACT(payload)
    assert decoded == pkt and repr(decoded) == repr(pkt)
    assert type(decoded.colour) is Colour and type(decoded.pair) is Pair
    # Anything but exactly one packet is left to the generic decoder, which reports it.
    assert Mixed._DECODE_EXACT(payload + b"\x00") is None
    assert Mixed._DECODE_EXACT(payload[:5]) is None


def test_fast_encoder_accepts_bytes_like_strings_and_names_the_bad_field() -> None:
    assert Chat(message=bytearray(b"hi")).encode_payload() == b"hi\x00"  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError, match="'message'"):
        Chat(message=b"a\x00b").encode_payload()
    with pytest.raises(LocalProtocolError, match="'message'"):
        Chat(message="text").encode_payload()  # type: ignore[arg-type]


@packet("TEST_POST_INIT")
class Normalised(Packet):
    level: int = field(u8)

    def __post_init__(self) -> None:
        object.__setattr__(self, "level", min(self.level, 99))


def test_fast_decoder_runs_a_declared_post_init() -> None:
    assert Normalised.decode_payload(b"\xff").packet.level == 99


def test_generated_init_keeps_the_dataclass_signature_and_frozenness() -> None:
    import dataclasses
    import inspect

    params = inspect.signature(Mixed).parameters
    assert [(p.name, p.default) for p in params.values()] == [
        (f.name, f.default) for f in dataclasses.fields(Mixed)]
    assert Mixed(Colour.RED, name=b"n") == dataclasses.replace(Mixed(), colour=Colour.RED,
                                                               name=b"n")
    with pytest.raises(TypeError):
        Mixed(nope=1)  # type: ignore[call-arg]
    with pytest.raises(dataclasses.FrozenInstanceError):
        Mixed().name = b"x"  # type: ignore[misc]
    assert Normalised(level=200).level == 99  # its own __init__ + __post_init__ are kept
