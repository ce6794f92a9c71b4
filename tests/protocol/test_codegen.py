"""Layouts and generated code on plain slotted dataclasses, without the declaration API."""

from __future__ import annotations

import dataclasses
import inspect
import struct

from gateway_core.protocol.codecs import ArrayCodec, CountedArrayCodec, cstr, f32, u8, u16
from gateway_core.protocol.codegen import (
    FieldSpec,
    Layout,
    RecordCodec,
    Run,
    Var,
    gen_decoder,
    gen_encoders,
    speed_up_init,
)


@dataclasses.dataclass(frozen=True, slots=True)
class Point:
    x: int = 0
    y: int = 0


POINT = RecordCodec(Point, Layout((FieldSpec("x", u16), FieldSpec("y", u16))))


@dataclasses.dataclass(frozen=True, slots=True)
class Note:
    id: int = 0
    text: bytes = b""


NOTE = RecordCodec(Note, Layout((FieldSpec("id", u8), FieldSpec("text", cstr))))


@dataclasses.dataclass(frozen=True, slots=True)
class Shape:
    kind: int = 0
    scale: float = 0.0
    name: bytes = b""
    at: Point = Point()
    corners: tuple[Point, ...] = (Point(), Point())
    notes: tuple[Note, ...] = ()


SHAPE_SPECS = (
    FieldSpec("kind", u8),
    FieldSpec("scale", f32),
    FieldSpec("name", cstr),
    FieldSpec("at", POINT),
    FieldSpec("corners", ArrayCodec(POINT, 2)),
    FieldSpec("notes", CountedArrayCodec(u8, NOTE)),
)
SHAPE = Layout(SHAPE_SPECS)
SAMPLE = Shape(3, 0.5, b"tri", Point(1, 2), (Point(3, 4), Point(5, 6)), (Note(7, b"n"),))


def _generic(obj: object) -> bytes:
    out: list[bytes] = []
    SHAPE.encode(obj, out)
    return b"".join(out)


def test_consecutive_fixed_fields_merge_into_one_run() -> None:
    kinds = [type(step) for step in SHAPE.steps]
    # kind+scale | name | at+corners | notes
    assert kinds == [Run, Var, Run, Var]
    first = SHAPE.steps[0]
    assert isinstance(first, Run) and first.fmt == "Bf" and first.identity
    merged = SHAPE.steps[2]
    assert isinstance(merged, Run) and merged.fmt == "HH" + "HHHH" and not merged.identity
    assert SHAPE.fast is None
    assert Layout((FieldSpec("x", u16), FieldSpec("y", u16))).fast is not None


def test_record_codec_is_fixed_only_when_its_layout_is_one_run() -> None:
    assert (POINT.fmt, POINT.nvals, POINT.size) == ("HH", 2, 4)
    assert (NOTE.fmt, NOTE.size) == (None, None)
    assert POINT.read(bytes.fromhex("0100 0200"), 0) == (Point(1, 2), 4)


def test_generic_layout_round_trips_and_names_the_first_missing_field() -> None:
    payload = _generic(SAMPLE)
    values, off, missing = SHAPE.decode(payload, 0)
    assert (Shape(*values), off, missing) == (SAMPLE, len(payload), None)
    values, off, missing = SHAPE.decode(payload[:7], 0)  # kind, scale, then "tr" of the name
    assert (values, missing) == ([3, 0.5], "name")
    values, _, missing = SHAPE.decode(payload[:12], 0)  # name done, 3 of the 12 run bytes
    assert missing == "at"


def test_generated_decoder_matches_the_layout_and_refuses_inexact_payloads() -> None:
    decode_exact = gen_decoder(Shape, SHAPE)
    payload = _generic(SAMPLE)
    decoded = decode_exact(payload)
    assert decoded == SAMPLE and type(decoded) is Shape
    assert decode_exact(payload + b"\x00") is None
    assert decode_exact(payload[:-1]) is None
    assert decode_exact(b"") is None


def test_generated_encoders_match_the_layout_and_frame_the_payload() -> None:
    encode, encode_frame = gen_encoders(Shape, SHAPE)
    payload = _generic(SAMPLE)
    assert encode(SAMPLE) == payload
    assert encode_frame(SAMPLE, 0x0707) == struct.pack("<HHH", len(payload) + 6, 0x0707, 0) + (
        payload
    )
    assert encode_frame(dataclasses.replace(SAMPLE, name=b"x" * 2047), 1) is None


def test_generated_init_keeps_the_signature_and_stores_through_the_slots() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Pair:
        a: int = 1
        b: bytes = b""

    signature = inspect.signature(Pair)
    speed_up_init(Pair)
    assert Pair.__init__.__code__.co_filename == "<init Pair>"
    assert Pair.__init__.__qualname__.endswith("Pair.__init__")
    assert inspect.signature(Pair) == signature
    assert Pair(2, b"x") == Pair(a=2, b=b"x") != Pair()
    assert Pair().a == 1
