"""Wire codecs: how one value of each protocol type is read from and written to a payload.

Strategy: a codec of a fixed-size type also exposes its :mod:`struct` format (``fmt``) and the
number of struct values it spans (``nvals``), with ``from_flat``/``to_flat`` to convert
between those values and the Python value. That lets :mod:`gateway_core.protocol.codegen`
merge consecutive fixed fields of a declaration into one ``Struct``; ``read``/``write`` are
the field-by-field path, used for variable-size types and to pin down a short read. A read
past the end of the payload raises :class:`ShortRead`, which the layouts turn into the
``missing`` field of a lenient decode: it never escapes the codec engine. The codec of a
nested record wraps a compiled layout and so lives in :mod:`~gateway_core.protocol.codegen`
(:class:`~gateway_core.protocol.codegen.RecordCodec`).

Wire rules (docs/protocol.md §5) and the choices made where the spec leaves room:

* integers and floats are little-endian; ``char`` is exposed as an unsigned byte (``u8``);
* ``cstr`` is the bytes followed by one ``0x00``; a value containing ``0x00`` cannot be encoded
  (:class:`LocalProtocolError`); a decoder that finds no terminator reports the field missing;
* a fixed string (``fixed_str(n)``) is always exactly ``n`` bytes on the wire: shorter values
  are padded with ``0x00``, longer values are **rejected** (never silently truncated); the
  decoder strips the trailing ``0x00`` padding, so ``decode(encode(p)) == p``;
* enums are encoded as their base integer; decoding maps known values to the ``IntEnum``
  member and keeps unknown values as plain ``int``;
* unions and bit-fields (§5.6) are one unsigned integer on the wire (:class:`UnionCodec`;
  the value classes are :class:`~gateway_core.protocol.declarations.UnionValue`);
* fixed arrays (``array(elem, n)``) always carry exactly ``n`` elements: encoding pads a
  shorter tuple with default elements and **rejects** a longer one; decoding yields ``n``;
* counted arrays (``counted(u8, elem)``) write the count first; more elements than the count
  type can hold is a :class:`LocalProtocolError`, never a silent wrap;
* arrays that run to the end of the payload (``until_end(elem)``) carry no count; a trailing
  partial element is dropped by the decoder and reported as ``extra`` bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from enum import IntEnum
from typing import Any, ClassVar, Final, Generic, TypeVar, cast

from gateway_core.protocol.errors import LocalProtocolError

__all__ = [
    "MAX_PAYLOAD",
    "ArrayCodec",
    "CStrCodec",
    "Codec",
    "CountedArrayCodec",
    "EnumCodec",
    "FixedStrCodec",
    "FloatCodec",
    "IntCodec",
    "ShortRead",
    "TailArrayCodec",
    "UnionCodec",
    "cstr",
    "f32",
    "f64",
    "fixed_str",
    "i8",
    "i16",
    "i32",
    "i64",
    "u8",
    "u16",
    "u32",
    "u64",
]

#: Largest payload a packet may carry: the header's 11-bit size limits a packet to 2047 bytes,
#: 6 of which are the header (docs/protocol.md §2, §4).
MAX_PAYLOAD: Final = 2047 - 6

T = TypeVar("T")
E = TypeVar("E", bound=IntEnum)
#: A union value class (:class:`~gateway_core.protocol.declarations.UnionValue` subclass).
U = TypeVar("U")


class ShortRead(Exception):
    """A read ran past the end of the payload.

    Internal to the codec engine: the layouts catch it to name the missing field, it never
    escapes :meth:`~gateway_core.protocol.declarations.Packet.decode_payload`.
    """


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

        Raises :class:`ShortRead` when the payload ends first.
        """
        st = self._struct
        assert st is not None
        if off + st.size > len(buf):
            raise ShortRead
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
            raise ShortRead
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
                raise ShortRead
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
            except ShortRead:
                break
            items.append(item)
        return tuple(items), off

    def write(self, value: tuple[T, ...], out: list[bytes]) -> None:
        self._write_all(value, out)

    def describe(self) -> str:
        return f"{self.elem.describe()} until end"


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
