"""Declarative field codecs: one declaration per packet gives both its encoder and its decoder.

Strategy: a packet (or nested record) is a frozen, slotted dataclass whose fields are declared
with ``field(<codec>)``. The class decorators (:func:`packet`, :func:`record`, :func:`union`)
compile the declaration once into a *layout*: consecutive fixed-size fields (integers, floats,
enums, fixed strings, unions, fixed arrays and records made only of those) are merged into a
single precompiled little-endian :class:`struct.Struct`, so decoding them is one
``unpack_from`` call and encoding is one ``pack`` call. Variable-size fields (null-terminated
strings, counted arrays, arrays that run to the end of the payload, records containing those)
are separate steps between the runs. When a run does not fit in what is left of the payload,
the decoder falls back to reading that run field by field so that it can report exactly which
field was missing (the lenient rule of PROTOCOL.md §4): the fast path costs nothing for the
well-formed case.

Wire rules (PROTOCOL.md §5) and the choices made where the spec leaves room:

* integers and floats are little-endian; ``char`` is exposed as an unsigned byte (``u8``);
* ``cstr`` is the bytes followed by one ``0x00``; a value containing ``0x00`` cannot be encoded
  (:class:`LocalProtocolError`); a decoder that finds no terminator reports the field missing;
* a fixed string (``fixed_str(n)``) is always exactly ``n`` bytes on the wire: shorter values
  are padded with ``0x00``, longer values are **rejected** (never silently truncated); the
  decoder strips the trailing ``0x00`` padding, so ``decode(encode(p)) == p``;
* enums are encoded as their base integer; decoding maps known values to the ``IntEnum``
  member and keeps unknown values as plain ``int``;
* unions and bit-fields (§5.6) are one unsigned integer on the wire; :class:`UnionValue`
  subclasses hold that whole integer and expose the overlays as read-only :class:`BitField`
  properties, ``of(**parts)`` builds one from its parts;
* fixed arrays (``array(elem, n)``) always carry exactly ``n`` elements: encoding pads a
  shorter tuple with default elements and **rejects** a longer one; decoding yields ``n``;
* counted arrays (``counted(u8, elem)``) write the count first; more elements than the count
  type can hold is a :class:`LocalProtocolError`, never a silent wrap;
* arrays that run to the end of the payload (``until_end(elem)``) carry no count; a trailing
  partial element is dropped by the decoder and reported as ``extra`` bytes.

Strings are ``bytes``. The sources define no character encoding (PROTOCOL.md §9.3); the str
helpers (:meth:`Packet.text`, :meth:`Packet.from_text`) default to :data:`TEXT_ENCODING`
(``latin-1``: every byte string decodes and re-encodes unchanged, so relaying text never
corrupts it); pass ``encoding="cp949"`` (Korean clients) or another code page explicitly.
"""

from __future__ import annotations

import dataclasses
import operator
import struct
from collections.abc import Callable, Iterable, Mapping
from enum import IntEnum
from types import MappingProxyType
from typing import (
    Any,
    ClassVar,
    Final,
    Generic,
    Self,
    TypeVar,
    cast,
    dataclass_transform,
    overload,
)

from gateway_core.protocol.errors import LocalProtocolError

__all__ = [
    "MAX_PAYLOAD",
    "TEXT_ENCODING",
    "ArrayCodec",
    "BitField",
    "CStrCodec",
    "Codec",
    "CountedArrayCodec",
    "Decoded",
    "EnumCodec",
    "FieldSpec",
    "FixedStrCodec",
    "FloatCodec",
    "IntCodec",
    "Packet",
    "Record",
    "RecordCodec",
    "TailArrayCodec",
    "UnionCodec",
    "UnionValue",
    "array",
    "as_codec",
    "bit_field",
    "counted",
    "cstr",
    "f32",
    "f64",
    "field",
    "fields_of",
    "fixed_str",
    "i8",
    "i16",
    "i32",
    "i64",
    "packet",
    "record",
    "registered_packets",
    "u8",
    "u16",
    "u32",
    "u64",
    "union",
    "until_end",
]

#: Largest payload a packet may carry: the header's 11-bit size limits a packet to 2047 bytes,
#: 6 of which are the header (PROTOCOL.md §2, §4).
MAX_PAYLOAD: Final = 2047 - 6

#: Default character encoding of the str helpers. Lossless for any byte string.
TEXT_ENCODING: Final = "latin-1"

T = TypeVar("T")
E = TypeVar("E", bound=IntEnum)
P = TypeVar("P", bound="Packet")
R = TypeVar("R", bound="Record")
U = TypeVar("U", bound="UnionValue")

_CODEC_KEY: Final = "gateway_codec"


class _Short(Exception):
    """Internal: a read ran past the end of the payload (never escapes this module)."""


# --------------------------------------------------------------------------------------------
# Codecs


class Codec(Generic[T]):
    """Wire codec of one value type.

    ``size`` is the fixed wire size in bytes or ``None`` when it depends on the value. A fixed
    codec also has ``fmt``, its :mod:`struct` format (without byte-order prefix) and ``nvals``,
    the number of struct values it spans; layouts merge such codecs into one ``Struct``.
    """

    __slots__ = ("_struct", "fmt", "nvals", "size")

    #: True when the single struct value *is* the Python value (plain ints and floats).
    identity: ClassVar[bool] = False

    def __init__(self, fmt: str | None, nvals: int = 1) -> None:
        self.fmt = fmt
        self.nvals = nvals
        self._struct = struct.Struct("<" + fmt) if fmt is not None else None
        self.size = self._struct.size if self._struct is not None else None

    def default(self) -> T:
        """The value a field of this codec has when not given (and after a short read)."""
        raise NotImplementedError

    def from_flat(self, vals: tuple[Any, ...], i: int) -> T:
        """Build the value from ``vals[i : i + nvals]`` (fixed codecs only)."""
        raise NotImplementedError

    def to_flat(self, value: T, out: list[Any]) -> None:
        """Append the struct values of ``value`` to ``out`` (fixed codecs only)."""
        raise NotImplementedError

    def read(self, buf: bytes, off: int) -> tuple[T, int]:
        """Decode one value at ``off``; return it and the offset after it.

        Raises the internal ``_Short`` when the payload ends first.
        """
        st = self._struct
        assert st is not None
        if off + st.size > len(buf):
            raise _Short
        return self.from_flat(st.unpack_from(buf, off), 0), off + st.size

    def write(self, value: T, out: list[bytes]) -> None:
        """Append the wire bytes of ``value`` to ``out``."""
        st = self._struct
        assert st is not None
        flat: list[Any] = []
        self.to_flat(value, flat)
        out.append(st.pack(*flat))

    def describe(self) -> str:
        """Short human description used in reprs and error messages."""
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<codec {self.describe()}>"


class IntCodec(Codec[int]):
    """Little-endian integer (``u8`` .. ``u64``, ``i8`` .. ``i64``)."""

    __slots__ = ("bits", "max", "min", "name", "signed")
    identity = True

    def __init__(self, name: str, fmt: str, signed: bool) -> None:
        super().__init__(fmt)
        assert self.size is not None
        self.name = name
        self.signed = signed
        self.bits = self.size * 8
        self.min = -(1 << (self.bits - 1)) if signed else 0
        self.max = (1 << (self.bits - 1)) - 1 if signed else (1 << self.bits) - 1

    def default(self) -> int:
        return 0

    def from_flat(self, vals: tuple[Any, ...], i: int) -> int:
        return cast(int, vals[i])

    def to_flat(self, value: int, out: list[Any]) -> None:
        out.append(value)

    def enum(self, enum_cls: type[E]) -> EnumCodec[E]:
        """An enumeration encoded as this integer type."""
        return EnumCodec(self, enum_cls)

    def describe(self) -> str:
        return self.name


class FloatCodec(Codec[float]):
    """IEEE-754 little-endian float: ``f32`` (binary32) or ``f64`` (binary64)."""

    __slots__ = ("name",)
    identity = True

    def __init__(self, name: str, fmt: str) -> None:
        super().__init__(fmt)
        self.name = name

    def default(self) -> float:
        return 0.0

    def from_flat(self, vals: tuple[Any, ...], i: int) -> float:
        return cast(float, vals[i])

    def to_flat(self, value: float, out: list[Any]) -> None:
        out.append(value)

    def describe(self) -> str:
        return self.name


class EnumCodec(Codec[E | int]):
    """An ``IntEnum`` carried as its base integer; unknown values decode to plain ``int``."""

    __slots__ = ("_lookup", "base", "enum_cls")

    def __init__(self, base: IntCodec, enum_cls: type[E]) -> None:
        assert base.fmt is not None
        super().__init__(base.fmt)
        self.base = base
        self.enum_cls = enum_cls
        self._lookup: dict[int, E] = {int(m): m for m in enum_cls}
        for member in enum_cls:
            if not base.min <= member <= base.max:
                raise TypeError(f"{enum_cls.__name__}.{member.name} does not fit {base.name}")

    def default(self) -> E | int:
        # The C++ default is a zero-initialised enum, which may not be a named member.
        return self._lookup.get(0, 0)

    def from_flat(self, vals: tuple[Any, ...], i: int) -> E | int:
        v: int = vals[i]
        return self._lookup.get(v, v)

    def to_flat(self, value: E | int, out: list[Any]) -> None:
        out.append(value)

    def describe(self) -> str:
        return f"{self.base.name} enum {self.enum_cls.__name__}"


class FixedStrCodec(Codec[bytes]):
    """Exactly ``length`` raw bytes: padded with 0x00 on encode, padding stripped on decode."""

    __slots__ = ("length",)

    def __init__(self, length: int) -> None:
        super().__init__(f"{length}s")
        self.length = length

    def default(self) -> bytes:
        return b""

    def from_flat(self, vals: tuple[Any, ...], i: int) -> bytes:
        return cast(bytes, vals[i]).rstrip(b"\x00")

    def to_flat(self, value: bytes, out: list[Any]) -> None:
        if len(value) > self.length:
            raise LocalProtocolError(
                f"fixed string of {self.length} bytes cannot hold {len(value)} bytes",
                kind="bad_field",
            )
        out.append(value)

    def describe(self) -> str:
        return f"char[{self.length}]"


class CStrCodec(Codec[bytes]):
    """Null-terminated byte string."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(None)

    def default(self) -> bytes:
        return b""

    def read(self, buf: bytes, off: int) -> tuple[bytes, int]:
        end = buf.find(b"\x00", off)
        if end < 0:
            raise _Short
        return buf[off:end], end + 1

    def write(self, value: bytes, out: list[bytes]) -> None:
        if b"\x00" in value:
            raise LocalProtocolError(
                "a null-terminated string may not contain 0x00", kind="bad_field"
            )
        out.append(bytes(value))
        out.append(b"\x00")

    def describe(self) -> str:
        return "cstr"


class _ElementsMixin(Generic[T]):
    """Shared element handling of the three array codecs."""

    __slots__ = ()
    elem: Codec[T]

    def _read_n(self, buf: bytes, off: int, n: int) -> tuple[tuple[T, ...], int]:
        elem = self.elem
        size = elem.size
        if size is not None:
            end = off + n * size
            if end > len(buf):
                raise _Short
            if elem.identity:
                vals = struct.unpack_from(f"<{n}{elem.fmt}", buf, off)
                return vals, end
            st = elem._struct
            assert st is not None
            unpack = st.unpack_from
            from_flat = elem.from_flat
            return tuple([from_flat(unpack(buf, off + k * size), 0) for k in range(n)]), end
        items: list[T] = []
        read = elem.read
        for _ in range(n):
            item, off = read(buf, off)
            items.append(item)
        return tuple(items), off

    def _write_all(self, value: Iterable[T], out: list[bytes]) -> None:
        elem = self.elem
        if elem.identity:
            seq = tuple(value)
            out.append(struct.pack(f"<{len(seq)}{elem.fmt}", *seq))
            return
        write = elem.write
        for item in value:
            write(item, out)


class ArrayCodec(_ElementsMixin[T], Codec[tuple[T, ...]]):
    """Exactly ``length`` elements, no count (``occurs="N"``)."""

    __slots__ = ("elem", "length")

    def __init__(self, elem: Codec[T], length: int) -> None:
        fmt: str | None = None
        if elem.fmt is not None:
            fmt = f"{length}{elem.fmt}" if elem.identity else elem.fmt * length
        super().__init__(fmt, elem.nvals * length)
        self.elem = elem
        self.length = length

    def default(self) -> tuple[T, ...]:
        return tuple(self.elem.default() for _ in range(self.length))

    def _padded(self, value: tuple[T, ...]) -> tuple[T, ...]:
        n = len(value)
        if n == self.length:
            return value
        if n > self.length:
            raise LocalProtocolError(
                f"fixed array of {self.length} elements got {n}", kind="bad_field"
            )
        return tuple(value) + tuple(self.elem.default() for _ in range(self.length - n))

    def from_flat(self, vals: tuple[Any, ...], i: int) -> tuple[T, ...]:
        elem = self.elem
        if elem.identity:
            return vals[i : i + self.length]
        step = elem.nvals
        from_flat = elem.from_flat
        return tuple([from_flat(vals, i + k * step) for k in range(self.length)])

    def to_flat(self, value: tuple[T, ...], out: list[Any]) -> None:
        value = self._padded(value)
        if self.elem.identity:
            out.extend(value)
            return
        to_flat = self.elem.to_flat
        for item in value:
            to_flat(item, out)

    def read(self, buf: bytes, off: int) -> tuple[tuple[T, ...], int]:
        return self._read_n(buf, off, self.length)

    def write(self, value: tuple[T, ...], out: list[bytes]) -> None:
        self._write_all(self._padded(value), out)

    def describe(self) -> str:
        return f"{self.length} x {self.elem.describe()}"


class CountedArrayCodec(_ElementsMixin[T], Codec[tuple[T, ...]]):
    """A count of integer type ``count`` followed by that many elements."""

    __slots__ = ("count", "elem")

    def __init__(self, count: IntCodec, elem: Codec[T]) -> None:
        super().__init__(None)
        self.count = count
        self.elem = elem

    def default(self) -> tuple[T, ...]:
        return ()

    def read(self, buf: bytes, off: int) -> tuple[tuple[T, ...], int]:
        n, off = self.count.read(buf, off)
        return self._read_n(buf, off, n)

    def write(self, value: tuple[T, ...], out: list[bytes]) -> None:
        n = len(value)
        if n > self.count.max:
            raise LocalProtocolError(
                f"{n} elements do not fit a {self.count.name} count (max {self.count.max})",
                kind="bad_field",
            )
        self.count.write(n, out)
        self._write_all(value, out)

    def describe(self) -> str:
        return f"{self.count.name} count x {self.elem.describe()}"


class TailArrayCodec(_ElementsMixin[T], Codec[tuple[T, ...]]):
    """Elements until the end of the payload, no count; a partial last element is dropped."""

    __slots__ = ("elem",)

    def __init__(self, elem: Codec[T]) -> None:
        super().__init__(None)
        self.elem = elem

    def default(self) -> tuple[T, ...]:
        return ()

    def read(self, buf: bytes, off: int) -> tuple[tuple[T, ...], int]:
        size = self.elem.size
        if size is not None:
            return self._read_n(buf, off, (len(buf) - off) // size)
        items: list[T] = []
        read = self.elem.read
        while off < len(buf):
            try:
                item, off = read(buf, off)
            except _Short:
                break
            items.append(item)
        return tuple(items), off

    def write(self, value: tuple[T, ...], out: list[bytes]) -> None:
        self._write_all(value, out)

    def describe(self) -> str:
        return f"{self.elem.describe()} until end"


class RecordCodec(Codec[R]):
    """A nested sequence (:class:`Record` subclass): its fields back to back."""

    __slots__ = ("_layout", "cls")

    def __init__(self, cls: type[R], layout: _Layout) -> None:
        fixed = len(layout.steps) == 1 and isinstance(layout.steps[0], _Run)
        if fixed:
            run = cast(_Run, layout.steps[0])
            super().__init__(run.fmt, run.nvals)
        else:
            super().__init__(None)
        self.cls = cls
        self._layout = layout

    def default(self) -> R:
        return self.cls()

    def from_flat(self, vals: tuple[Any, ...], i: int) -> R:
        run = cast(_Run, self._layout.steps[0])
        if run.identity:
            return self.cls(*vals[i : i + run.nvals])
        return self.cls(*run.build(vals, i))

    def to_flat(self, value: R, out: list[Any]) -> None:
        cast(_Run, self._layout.steps[0]).flatten(value, out)

    def read(self, buf: bytes, off: int) -> tuple[R, int]:
        if self.fmt is not None:
            return super().read(buf, off)
        values, off, missing = self._layout.decode(buf, off)
        if missing is not None:
            raise _Short
        return self.cls(*values), off

    def write(self, value: R, out: list[bytes]) -> None:
        self._layout.encode(value, out)

    def describe(self) -> str:
        return self.cls.__name__


class UnionCodec(Codec[U]):
    """A union / bit-field type: one unsigned integer holding all overlays."""

    __slots__ = ("base", "cls", "value_field")

    def __init__(self, cls: type[U], base: IntCodec, value_field: str) -> None:
        assert base.fmt is not None
        super().__init__(base.fmt)
        self.cls = cls
        self.base = base
        self.value_field = value_field

    def default(self) -> U:
        return self.cls()

    def from_flat(self, vals: tuple[Any, ...], i: int) -> U:
        return cast(U, cast(Any, self.cls)(vals[i]))

    def to_flat(self, value: U, out: list[Any]) -> None:
        out.append(getattr(value, self.value_field))

    def describe(self) -> str:
        return f"{self.cls.__name__} ({self.base.name} union)"


u8: Final = IntCodec("u8", "B", False)
u16: Final = IntCodec("u16", "H", False)
u32: Final = IntCodec("u32", "I", False)
u64: Final = IntCodec("u64", "Q", False)
i8: Final = IntCodec("i8", "b", True)
i16: Final = IntCodec("i16", "h", True)
i32: Final = IntCodec("i32", "i", True)
i64: Final = IntCodec("i64", "q", True)
f32: Final = FloatCodec("f32", "f")
f64: Final = FloatCodec("f64", "d")
cstr: Final = CStrCodec()


def fixed_str(length: int) -> FixedStrCodec:
    """A fixed-length string of exactly ``length`` bytes (0x00-padded; longer is an error)."""
    return FixedStrCodec(length)


# --------------------------------------------------------------------------------------------
# Layouts: the compiled form of a declaration


@dataclasses.dataclass(frozen=True, slots=True)
class FieldSpec:
    """One declared field: its attribute name and its codec."""

    name: str
    codec: Codec[Any]


class _Run:
    """Consecutive fixed-size fields decoded with one ``Struct``."""

    __slots__ = ("codecs", "fmt", "getter", "identity", "names", "nvals", "size", "struct")

    def __init__(self, specs: list[FieldSpec]) -> None:
        self.names = tuple(s.name for s in specs)
        self.codecs = tuple(s.codec for s in specs)
        self.fmt = "".join(cast(str, c.fmt) for c in self.codecs)
        self.struct = struct.Struct("<" + self.fmt)
        self.size = self.struct.size
        self.nvals = sum(c.nvals for c in self.codecs)
        self.identity = all(c.identity for c in self.codecs)
        if len(self.names) == 1:
            name = self.names[0]
            self.getter: Callable[[Any], tuple[Any, ...]] = lambda obj: (getattr(obj, name),)
        else:
            self.getter = operator.attrgetter(*self.names)

    def build(self, vals: tuple[Any, ...], i: int) -> list[Any]:
        out: list[Any] = []
        for codec in self.codecs:
            out.append(codec.from_flat(vals, i))
            i += codec.nvals
        return out

    def flatten(self, obj: object, out: list[Any]) -> None:
        if self.identity:
            out.extend(self.getter(obj))
            return
        for name, codec in zip(self.names, self.codecs, strict=True):
            codec.to_flat(getattr(obj, name), out)


class _Var:
    """One variable-size field."""

    __slots__ = ("codec", "name")

    def __init__(self, spec: FieldSpec) -> None:
        self.name = spec.name
        self.codec = spec.codec


class _Layout:
    """The compiled codec of a record or packet: a list of runs and variable fields."""

    __slots__ = ("fast", "specs", "steps")

    def __init__(self, specs: tuple[FieldSpec, ...]) -> None:
        self.specs = specs
        steps: list[_Run | _Var] = []
        pending: list[FieldSpec] = []
        for spec in specs:
            if spec.codec.fmt is not None:
                pending.append(spec)
                continue
            if pending:
                steps.append(_Run(pending))
                pending = []
            steps.append(_Var(spec))
        if pending:
            steps.append(_Run(pending))
        self.steps = tuple(steps)
        only = steps[0] if len(steps) == 1 else None
        #: The single all-identity run of simple packets (the hot path: no per-field work).
        self.fast = only if isinstance(only, _Run) and only.identity else None

    def decode(self, buf: bytes, off: int) -> tuple[list[Any], int, str | None]:
        """Decode fields from ``off``; return the values read, the end offset and the name
        of the first field that could not be read (None when all were read)."""
        out: list[Any] = []
        n = len(buf)
        for step in self.steps:
            if isinstance(step, _Run):
                if off + step.size <= n:
                    vals = step.struct.unpack_from(buf, off)
                    off += step.size
                    if step.identity:
                        out.extend(vals)
                    else:
                        out.extend(step.build(vals, 0))
                    continue
                # Short payload: read field by field to find the first missing one.
                for name, codec in zip(step.names, step.codecs, strict=True):
                    try:
                        value, off = codec.read(buf, off)
                    except _Short:
                        return out, off, name
                    out.append(value)
                raise AssertionError("unreachable: the run did not fit but every field did")
            try:
                value, off = step.codec.read(buf, off)
            except _Short:
                return out, off, step.name
            out.append(value)
        return out, off, None

    def encode(self, obj: object, out: list[bytes]) -> None:
        """Append the wire bytes of every field of ``obj`` to ``out``."""
        for step in self.steps:
            if isinstance(step, _Run):
                if step.identity:
                    out.append(step.struct.pack(*step.getter(obj)))
                else:
                    flat: list[Any] = []
                    step.flatten(obj, flat)
                    out.append(step.struct.pack(*flat))
            else:
                step.codec.write(getattr(obj, step.name), out)


# --------------------------------------------------------------------------------------------
# Compiled fast paths: straight-line decode/encode functions generated from a packet's layout


def _gen_decoder(cls: type[Any], layout: _Layout) -> Callable[[bytes], Any]:
    """Generate ``decode_exact(buf) -> packet | None`` for ``cls``.

    The function is the generic decoder unrolled for this one layout: one ``unpack_from`` per
    run, ``find`` for null-terminated strings, the codec's own ``read`` for other variable
    fields, and the object built with ``object.__new__`` plus the slot descriptors (the frozen
    dataclass ``__init__`` costs twice as much). It returns ``None`` whenever the payload is
    not exactly one well-formed instance (a field missing, or trailing bytes): the generic
    path then decodes it and reports what is wrong, so results are always the generic ones.
    """
    ns: dict[str, Any] = {"_new": object.__new__, "_cls": cls, "_Short": _Short}
    lines = ["def decode_exact(buf):", "    n = len(buf)", "    off = 0"]
    names: list[str] = []
    for k, step in enumerate(layout.steps):
        if isinstance(step, _Run):
            ns[f"_unpack{k}"] = step.struct.unpack_from
            lines.append(f"    if off + {step.size} > n:")
            lines.append("        return None")
            if step.identity:
                targets = [f"v_{name}" for name in step.names]
                lines.append(f"    {', '.join(targets)}, = _unpack{k}(buf, off)")
            else:
                lines.append(f"    _r{k} = _unpack{k}(buf, off)")
                i = 0
                for name, codec in zip(step.names, step.codecs, strict=True):
                    if codec.identity:
                        lines.append(f"    v_{name} = _r{k}[{i}]")
                    elif isinstance(codec, EnumCodec):
                        ns[f"_lookup_{name}"] = codec._lookup
                        lines.append(f"    v_{name} = _lookup_{name}.get(_r{k}[{i}], _r{k}[{i}])")
                    elif isinstance(codec, FixedStrCodec):
                        lines.append(f"    v_{name} = _r{k}[{i}].rstrip(b'\\x00')")
                    else:
                        ns[f"_from_{name}"] = codec.from_flat
                        lines.append(f"    v_{name} = _from_{name}(_r{k}, {i})")
                    i += codec.nvals
            lines.append(f"    off += {step.size}")
        else:
            name = step.name
            if isinstance(step.codec, CStrCodec):
                lines.append("    end = buf.find(b'\\x00', off)")
                lines.append("    if end < 0:")
                lines.append("        return None")
                lines.append(f"    v_{name} = buf[off:end]")
                lines.append("    off = end + 1")
            else:
                ns[f"_read_{name}"] = step.codec.read
                lines.append("    try:")
                lines.append(f"        v_{name}, off = _read_{name}(buf, off)")
                lines.append("    except _Short:")
                lines.append("        return None")
        names.extend(step.names if isinstance(step, _Run) else (step.name,))
    lines.append("    if off != n:")
    lines.append("        return None")
    if hasattr(cls, "__post_init__"):
        # A class with its own initialisation logic must go through its constructor.
        args = ", ".join(f"v_{name}" for name in names)
        lines.append(f"    return _cls({args})")
    else:
        lines.append("    obj = _new(_cls)")
        for name in names:
            ns[f"_set_{name}"] = cls.__dict__[name].__set__
            lines.append(f"    _set_{name}(obj, v_{name})")
        lines.append("    return obj")
    exec(compile("\n".join(lines), f"<decode {cls.__name__}>", "exec"), ns)
    return cast("Callable[[bytes], Any]", ns["decode_exact"])


def _gen_encoders(
    cls: type[Any], layout: _Layout
) -> tuple[Callable[[Any], bytes], Callable[[Any, int], bytes | None]]:
    """Generate ``encode(obj) -> bytes`` for ``cls`` (the generic encoder unrolled) and
    ``encode_frame(obj, type_value) -> bytes | None``, the same payload behind a plain 6-byte
    header (size, type, crc 0), the header packed by the same ``struct`` call as the first
    run of fixed fields; ``None`` when the packet would be over 2047 bytes.

    Both raise what the generic encoder raises for a bad value (LocalProtocolError,
    struct.error, OverflowError, TypeError, AttributeError); callers turn that into the
    field error.
    """
    ns: dict[str, Any] = {"_header": struct.Struct("<HHH").pack}
    pre: list[str] = []  # evaluates the variable-size parts
    parts: list[str] = []  # payload part expressions, in wire order
    args: list[str] = []  # the struct arguments of each run (for the merged header)
    var_lengths: list[str] = []
    fixed = 0
    for k, step in enumerate(layout.steps):
        if isinstance(step, _Run):
            ns[f"_pack{k}"] = step.struct.pack
            fixed += step.size
            if step.identity:
                run_args = ", ".join(f"obj.{name}" for name in step.names)
            else:
                pre.append(f"    _f{k} = []")
                for name, codec in zip(step.names, step.codecs, strict=True):
                    if codec.identity or isinstance(codec, EnumCodec):
                        pre.append(f"    _f{k}.append(obj.{name})")
                    else:
                        ns[f"_to_{name}"] = codec.to_flat
                        pre.append(f"    _to_{name}(obj.{name}, _f{k})")
                run_args = f"*_f{k}"
            parts.append(f"_pack{k}({run_args})")
            args.append(run_args)
        else:
            name = step.name
            ns[f"_write_{name}"] = step.codec.write
            if isinstance(step.codec, CStrCodec):
                pre.append(f"    v_{name} = obj.{name}")
                pre.append(f"    if b'\\x00' in v_{name}:")
                pre.append(f"        _write_{name}(v_{name}, [])  # raises the field error")
                pre.append(f"    if type(v_{name}) is not bytes:")
                pre.append(f"        v_{name} = bytes(v_{name})")
                parts.append(f"v_{name}")
                parts.append("b'\\x00'")
                args.extend(("", ""))
                var_lengths.append(f"len(v_{name}) + 1")
            else:
                pre.append(f"    _o{k} = []")
                pre.append(f"    _write_{name}(obj.{name}, _o{k})")
                pre.append(f"    p_{k} = b''.join(_o{k})")
                parts.append(f"p_{k}")
                args.append("")
                var_lengths.append(f"len(p_{k})")

    def joined(items: list[str]) -> str:
        if not items:
            return "b''"
        if len(items) <= 3:
            return " + ".join(items)
        return f"b''.join(({', '.join(items)}))"

    lines = ["def encode(obj):", *pre, f"    return {joined(parts)}", ""]
    lines += ["def encode_frame(obj, type_value):", *pre]
    lines.append(f"    size = {' + '.join([str(6 + fixed), *var_lengths])}")
    lines.append(f"    if size > {MAX_PAYLOAD + 6}:")
    lines.append("        return None")
    first = layout.steps[0] if layout.steps else None
    if isinstance(first, _Run):
        ns["_header_run0"] = struct.Struct("<HHH" + first.fmt).pack
        head = f"_header_run0(size, type_value, 0, {args[0]})"
        lines.append(f"    return {joined([head, *parts[1:]])}")
    else:
        lines.append(f"    return {joined(['_header(size, type_value, 0)', *parts])}")
    exec(compile("\n".join(lines), f"<encode {cls.__name__}>", "exec"), ns)
    return (
        cast("Callable[[Any], bytes]", ns["encode"]),
        cast("Callable[[Any, int], bytes | None]", ns["encode_frame"]),
    )


# --------------------------------------------------------------------------------------------
# Base classes and decorators


class _Fields:
    """Behaviour shared by packets and records (both are frozen dataclasses with a layout)."""

    __slots__ = ()
    _LAYOUT: ClassVar[_Layout]
    _CODEC: ClassVar[Codec[Any]]

    def text(self, name: str, encoding: str = TEXT_ENCODING, errors: str = "replace") -> str:
        """The string field ``name`` decoded with ``encoding`` (lenient by default)."""
        value = getattr(self, name)
        if not isinstance(value, bytes):
            raise TypeError(f"{type(self).__name__}.{name} is not a string field")
        return value.decode(encoding, errors)

    @classmethod
    def from_text(cls, *, encoding: str = TEXT_ENCODING, **values: object) -> Self:
        """Construct from keyword values where string fields may be given as ``str``.

        ``str`` values are encoded with ``encoding`` (strict: an unencodable character raises
        :class:`LocalProtocolError`); every other value is passed through unchanged.
        """
        converted: dict[str, object] = {}
        for key, value in values.items():
            if isinstance(value, str):
                try:
                    value = value.encode(encoding)
                except UnicodeEncodeError as exc:
                    raise LocalProtocolError(
                        f"{cls.__name__}.{key}: {exc}", kind="bad_field"
                    ) from exc
            converted[key] = value
        return cast(Self, cast(Any, cls)(**converted))


class Record(_Fields):
    """Base class of nested sequence types (declare subclasses with :func:`record`)."""

    __slots__ = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Decoded(Generic[P]):
    """Result of :meth:`Packet.decode_payload`.

    ``missing`` names the first field that could not be read because the payload was too short
    (that field and all later ones keep their defaults); ``extra`` counts trailing bytes that
    were not part of any field (including a dropped partial element of a run-to-end array).
    When ``missing`` is set, ``extra`` is 0: the leftover bytes belong to the missing field.
    """

    packet: P
    missing: str | None = None
    extra: int = 0


class Packet(_Fields):
    """Base class of packet payloads (declare subclasses with :func:`packet`).

    ``NAME`` is the protocol name of the packet type (e.g. ``"PAKCS_LOGIN_REQ"``).
    """

    __slots__ = ()
    NAME: ClassVar[str]
    #: Generated by :func:`packet` from the layout (see :func:`_gen_decoder`/`_gen_encoder`).
    _DECODE_EXACT: ClassVar[Callable[[bytes], Any]]
    _ENCODE: ClassVar[Callable[[Any], bytes]]
    _ENCODE_FRAME: ClassVar[Callable[[Any, int], bytes | None]]

    def encode_payload(self) -> bytes:
        """The payload bytes (without the 6-byte header).

        Raises :class:`LocalProtocolError` (kind ``bad_field``) when a field value cannot be
        encoded and (kind ``too_large``) when the payload exceeds :data:`MAX_PAYLOAD` bytes.
        """
        try:
            data = type(self)._ENCODE(self)
        except (LocalProtocolError, struct.error, OverflowError, TypeError, AttributeError) as e:
            raise self._field_error(e) from e
        if len(data) > MAX_PAYLOAD:
            raise LocalProtocolError(
                f"{self.NAME}: payload of {len(data)} bytes exceeds the maximum of "
                f"{MAX_PAYLOAD} (the packet would be {len(data) + 6} > 2047 bytes)",
                kind="too_large",
            )
        return data

    def _field_error(self, error: Exception) -> LocalProtocolError:
        # Slow path, only after a failure: encode field by field to name the culprit.
        for spec in self._LAYOUT.specs:
            try:
                spec.codec.write(getattr(self, spec.name), [])
            except Exception as exc:
                return LocalProtocolError(
                    f"{self.NAME}: cannot encode field {spec.name!r} "
                    f"({spec.codec.describe()}): {exc}",
                    kind="bad_field",
                )
        return LocalProtocolError(f"{self.NAME}: cannot encode: {error}", kind="bad_field")

    @classmethod
    def decode_payload(cls, payload: bytes | bytearray | memoryview) -> Decoded[Self]:
        """Decode a payload leniently (PROTOCOL.md §4). Never raises for any input bytes."""
        buf = payload if type(payload) is bytes else bytes(payload)
        exact = cls._DECODE_EXACT(buf)
        if exact is not None:
            return Decoded(exact, None, 0)
        layout = cls._LAYOUT
        fast = layout.fast
        if fast is not None and len(buf) >= fast.size:
            return Decoded(cls(*fast.struct.unpack_from(buf)), None, len(buf) - fast.size)
        values, off, missing = layout.decode(buf, 0)
        if missing is not None:
            return Decoded(cls(*values), missing, 0)
        return Decoded(cls(*values), None, len(buf) - off)


class BitField:
    """A read-only overlay member of a :class:`UnionValue`: ``width`` bits from bit ``lo``.

    Byte-aligned overlays (e.g. a ``u8`` at byte 1) are bit fields too (``lo=8, width=8``).
    """

    __slots__ = ("lo", "mask", "name", "width")

    def __init__(self, lo: int, width: int) -> None:
        self.lo = lo
        self.width = width
        self.mask = (1 << width) - 1
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> BitField: ...
    @overload
    def __get__(self, obj: UnionValue, owner: type | None = None) -> int: ...
    def __get__(self, obj: UnionValue | None, owner: type | None = None) -> int | BitField:
        if obj is None:
            return self
        return (int(obj) >> self.lo) & self.mask

    def __repr__(self) -> str:
        return f"BitField({self.name!r}, lo={self.lo}, width={self.width})"


def bit_field(lo: int, width: int) -> BitField:
    """Declare an overlay member of a union: ``width`` bits starting at bit ``lo`` (LSB 0)."""
    return BitField(lo, width)


class UnionValue:
    """Base class of union and bit-field types (declare subclasses with :func:`union`).

    The single dataclass field is the whole wire integer (named after the XML's whole-value
    member, e.g. ``ItemHeader.header``); overlays are :class:`BitField` properties.
    ``int(value)`` is the whole integer too.
    """

    __slots__ = ()
    _VALUE_FIELD: ClassVar[str]
    _PARTS: ClassVar[Mapping[str, BitField]]
    _BASE: ClassVar[IntCodec]
    _CODEC: ClassVar[Codec[Any]]

    def __int__(self) -> int:
        return cast(int, getattr(self, self._VALUE_FIELD))

    @classmethod
    def parts(cls) -> Mapping[str, BitField]:
        """The overlay members, in declaration order."""
        return cls._PARTS

    @classmethod
    def of(cls, **parts: int) -> Self:
        """Build the whole value from overlay members (unnamed bits are 0).

        Raises :class:`LocalProtocolError` for an unknown member or a value that does not fit
        its bits.
        """
        return cast(Self, cast(Any, cls)(cls._compose(0, parts)))

    def with_parts(self, **parts: int) -> Self:
        """A copy with the given overlay members replaced."""
        return cast(Self, cast(Any, type(self))(self._compose(int(self), parts)))

    @classmethod
    def _compose(cls, value: int, parts: Mapping[str, int]) -> int:
        for key, part in parts.items():
            bf = cls._PARTS.get(key)
            if bf is None:
                raise LocalProtocolError(
                    f"{cls.__name__} has no member {key!r} (members: {', '.join(cls._PARTS)})",
                    kind="bad_field",
                )
            if not 0 <= part <= bf.mask:
                raise LocalProtocolError(
                    f"{cls.__name__}.{key} = {part} does not fit {bf.width} bits",
                    kind="bad_field",
                )
            value = (value & ~(bf.mask << bf.lo)) | (part << bf.lo)
        return value


_F = TypeVar("_F", bound=_Fields)

_REGISTRY: dict[str, type[Packet]] = {}


def _compile(cls: type[_F]) -> type[_F]:
    new = dataclasses.dataclass(frozen=True, slots=True)(cls)
    specs: list[FieldSpec] = []
    for f in dataclasses.fields(cast(Any, new)):
        codec = f.metadata.get(_CODEC_KEY)
        if codec is None:
            raise TypeError(f"{cls.__name__}.{f.name} must be declared with field(<codec>)")
        specs.append(FieldSpec(f.name, codec))
    new._LAYOUT = _Layout(tuple(specs))
    _speed_up_init(new)
    return new


def _speed_up_init(cls: type[Any]) -> None:
    """Replace the frozen dataclass ``__init__`` by one with the same signature that stores
    through the slot descriptors (``object.__setattr__`` per field costs 40% more; packets
    are built for every reply). Left alone when the class has a ``__post_init__`` or a field
    that is not a plain ``__init__`` parameter with a plain default."""
    original = cls.__init__
    flds = dataclasses.fields(cls)
    if hasattr(cls, "__post_init__") or any(
        not f.init or f.kw_only is True or f.default is dataclasses.MISSING
        or f.default_factory is not dataclasses.MISSING
        for f in flds
    ):
        return
    ns: dict[str, Any] = {}
    params = []
    body = []
    for k, f in enumerate(flds):
        ns[f"_default{k}"] = f.default
        ns[f"_set{k}"] = cls.__dict__[f.name].__set__
        params.append(f"{f.name}=_default{k}")
        body.append(f"    _set{k}(self, {f.name})")
    src = f"def __init__(self, {', '.join(params)}):\n" + "\n".join(body or ["    pass"])
    exec(compile(src, f"<init {cls.__name__}>", "exec"), ns)
    init = ns["__init__"]
    init.__qualname__ = original.__qualname__
    init.__module__ = original.__module__
    init.__annotations__ = dict(original.__annotations__)
    cls.__init__ = init


@dataclass_transform(frozen_default=True)
def packet(name: str) -> Callable[[type[P]], type[P]]:
    """Class decorator: make a frozen, slotted packet dataclass for protocol type ``name``."""

    def wrap(cls: type[P]) -> type[P]:
        if name in _REGISTRY:
            raise TypeError(f"packet {name} declared twice ({_REGISTRY[name].__name__})")
        new = _compile(cls)
        new.NAME = name
        new._DECODE_EXACT = staticmethod(_gen_decoder(new, new._LAYOUT))
        encode, encode_frame = _gen_encoders(new, new._LAYOUT)
        new._ENCODE = staticmethod(encode)
        new._ENCODE_FRAME = staticmethod(encode_frame)
        _REGISTRY[name] = new
        return new

    return wrap


@dataclass_transform(frozen_default=True)
def record(cls: type[R]) -> type[R]:
    """Class decorator: make a frozen, slotted nested-sequence dataclass."""
    new = _compile(cls)
    new._CODEC = RecordCodec(new, new._LAYOUT)
    return new


@dataclass_transform(frozen_default=True)
def union(base: IntCodec) -> Callable[[type[U]], type[U]]:
    """Class decorator: a union / bit-field type carried as the unsigned integer ``base``."""

    def wrap(cls: type[U]) -> type[U]:
        new = dataclasses.dataclass(frozen=True, slots=True)(cls)
        flds = dataclasses.fields(cast(Any, new))
        if len(flds) != 1:
            raise TypeError(f"{cls.__name__}: a union has exactly one field (the whole value)")
        parts = {k: v for k, v in vars(new).items() if isinstance(v, BitField)}
        for bf in parts.values():
            if bf.lo + bf.width > base.bits:
                raise TypeError(f"{cls.__name__}.{bf.name} exceeds {base.bits} bits")
        new._VALUE_FIELD = flds[0].name
        new._PARTS = MappingProxyType(parts)
        new._BASE = base
        new._CODEC = UnionCodec(new, base, flds[0].name)
        return new

    return wrap


# --------------------------------------------------------------------------------------------
# Field declaration helpers


@overload
def as_codec(spec: Codec[T], /) -> Codec[T]: ...
@overload
def as_codec(spec: type[R], /) -> Codec[R]: ...
@overload
def as_codec(spec: type[U], /) -> Codec[U]: ...
def as_codec(spec: Codec[Any] | type[Record] | type[UnionValue], /) -> Codec[Any]:
    """The codec of a codec, record class or union class."""
    if isinstance(spec, Codec):
        return spec
    codec = getattr(spec, "_CODEC", None)
    if not isinstance(codec, Codec):
        raise TypeError(f"{spec!r} is not a codec, @record or @union class")
    return codec


_NO_DEFAULT: Final[Any] = object()


@overload
def field(spec: Codec[T], /, *, default: T = ...) -> T: ...
@overload
def field(spec: type[R], /, *, default: R = ...) -> R: ...
@overload
def field(spec: type[U], /, *, default: U = ...) -> U: ...
def field(
    spec: Codec[Any] | type[Record] | type[UnionValue], /, *, default: Any = _NO_DEFAULT
) -> Any:
    """Declare a dataclass field with its wire codec.

    Without ``default`` the field defaults to the codec's zero value (0, ``b""``, a default
    record, ``n`` default elements of a fixed array, ``()``). Defaults only fill fields the
    caller did not set: every field is always on the wire (PROTOCOL.md §5.8).
    """
    codec = as_codec(spec)
    value = codec.default() if default is _NO_DEFAULT else default
    return dataclasses.field(default=value, metadata={_CODEC_KEY: codec})


@overload
def array(elem: Codec[T], length: int, /) -> ArrayCodec[T]: ...
@overload
def array(elem: type[R], length: int, /) -> ArrayCodec[R]: ...
@overload
def array(elem: type[U], length: int, /) -> ArrayCodec[U]: ...
def array(elem: Any, length: int, /) -> ArrayCodec[Any]:
    """Exactly ``length`` elements, no count (XML ``occurs="N"``)."""
    return ArrayCodec(as_codec(elem), length)


@overload
def counted(count: IntCodec, elem: Codec[T], /) -> CountedArrayCodec[T]: ...
@overload
def counted(count: IntCodec, elem: type[R], /) -> CountedArrayCodec[R]: ...
@overload
def counted(count: IntCodec, elem: type[U], /) -> CountedArrayCodec[U]: ...
def counted(count: IntCodec, elem: Any, /) -> CountedArrayCodec[Any]:
    """A ``count``-typed element count, then the elements (``occursSize="..."``)."""
    return CountedArrayCodec(count, as_codec(elem))


@overload
def until_end(elem: Codec[T], /) -> TailArrayCodec[T]: ...
@overload
def until_end(elem: type[R], /) -> TailArrayCodec[R]: ...
@overload
def until_end(elem: type[U], /) -> TailArrayCodec[U]: ...
def until_end(elem: Any, /) -> TailArrayCodec[Any]:
    """Elements up to the end of the payload, no count (``occurs="unbounded"`` alone)."""
    return TailArrayCodec(as_codec(elem))


def fields_of(cls: type[Packet] | type[Record]) -> tuple[FieldSpec, ...]:
    """The declared fields of a packet or record class, in wire order."""
    return cls._LAYOUT.specs


def registered_packets() -> Mapping[str, type[Packet]]:
    """Every packet class declared so far, by protocol name (read-only view)."""
    return MappingProxyType(_REGISTRY)
