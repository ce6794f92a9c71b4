"""The wire codecs on their own, without a declaration around them."""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import pytest

from gateway_core.protocol.codecs import (
    MAX_PAYLOAD,
    ArrayCodec,
    Codec,
    CountedArrayCodec,
    ShortRead,
    TailArrayCodec,
    cstr,
    f32,
    fixed_str,
    i16,
    u8,
    u16,
    u32,
)
from gateway_core.protocol.errors import LocalProtocolError


class Mode(IntEnum):
    WALK = 1
    RUN = 2


class Wide(IntEnum):
    HUGE = 300


def _encode(codec: Codec[Any], value: Any) -> bytes:
    out: list[bytes] = []
    codec.write(value, out)
    return b"".join(out)


def test_fixed_codecs_expose_their_struct_format_for_layouts() -> None:
    assert (u8.fmt, u8.size, u8.nvals) == ("B", 1, 1)
    assert (i16.fmt, i16.min, i16.max) == ("h", -32768, 32767)
    assert (u32.bits, u32.max) == (32, 0xFFFFFFFF)
    assert (fixed_str(4).fmt, fixed_str(4).size) == ("4s", 4)
    assert (ArrayCodec(u16, 3).fmt, ArrayCodec(u16, 3).nvals) == ("3H", 3)
    assert (cstr.fmt, cstr.size) == (None, None)
    assert MAX_PAYLOAD == 2047 - 6


def test_integers_and_floats_are_little_endian() -> None:
    assert _encode(u32, 0x01020304) == bytes.fromhex("04030201")
    assert _encode(i16, -2) == bytes.fromhex("feff")
    assert _encode(f32, 1.5) == bytes.fromhex("0000c03f")
    assert u32.read(bytes.fromhex("ff04030201"), 1) == (0x01020304, 5)


def test_a_read_past_the_end_raises_short_read() -> None:
    with pytest.raises(ShortRead):
        u32.read(b"\x01\x02\x03", 0)
    with pytest.raises(ShortRead):
        cstr.read(b"abc", 0)
    with pytest.raises(ShortRead):
        CountedArrayCodec(u8, u16).read(bytes.fromhex("02 0100"), 0)


def test_cstr_reads_to_the_terminator_and_refuses_embedded_nul() -> None:
    assert cstr.read(b"ab\x00cd", 0) == (b"ab", 3)
    assert _encode(cstr, b"ab") == b"ab\x00"
    with pytest.raises(LocalProtocolError, match="0x00") as info:
        _encode(cstr, b"a\x00b")
    assert info.value.kind == "bad_field"


def test_fixed_string_pads_strips_and_rejects_longer_values() -> None:
    codec = fixed_str(4)
    assert _encode(codec, b"ab") == b"ab\x00\x00"
    assert codec.read(b"ab\x00\x00", 0) == (b"ab", 4)
    with pytest.raises(LocalProtocolError, match="4 bytes cannot hold 5"):
        _encode(codec, b"12345")


def test_enum_maps_known_values_to_members_and_keeps_unknown_ints() -> None:
    codec = u8.enum(Mode)
    assert codec.read(b"\x02", 0) == (Mode.RUN, 1)
    value, _ = codec.read(b"\x07", 0)
    assert (value, type(value)) == (7, int)
    assert codec.default() == 0
    with pytest.raises(TypeError, match="does not fit u8"):
        u8.enum(Wide)


def test_fixed_array_pads_shorter_tuples_and_rejects_longer() -> None:
    codec = ArrayCodec(u8, 3)
    assert _encode(codec, (1,)) == b"\x01\x00\x00"
    assert codec.read(b"\x01\x02\x03\x04", 0) == ((1, 2, 3), 3)
    with pytest.raises(LocalProtocolError, match="3 elements got 4"):
        _encode(codec, (1, 2, 3, 4))


def test_counted_array_writes_its_count_and_refuses_an_overflowing_one() -> None:
    codec = CountedArrayCodec(u8, u16)
    assert _encode(codec, (1, 2)) == bytes.fromhex("02 0100 0200")
    assert codec.read(bytes.fromhex("02 0100 0200"), 0) == ((1, 2), 5)
    with pytest.raises(LocalProtocolError, match="256 elements do not fit a u8 count"):
        _encode(CountedArrayCodec(u8, u8), (0,) * 256)


def test_tail_array_reads_to_the_end_and_leaves_a_partial_element() -> None:
    fixed = TailArrayCodec(u16)
    assert fixed.read(bytes.fromhex("0100 0200 03"), 0) == ((1, 2), 4)
    strings = TailArrayCodec(cstr)
    assert strings.read(b"a\x00b\x00cd", 0) == ((b"a", b"b"), 4)
    assert _encode(strings, (b"a", b"b")) == b"a\x00b\x00"
