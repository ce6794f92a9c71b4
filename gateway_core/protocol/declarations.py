"""Declarative packets: one declaration per packet gives both its encoder and its decoder.

A packet (or nested record) is a frozen, slotted dataclass whose fields are declared with
``field(<codec>)`` (codecs in :mod:`gateway_core.protocol.codecs`), in wire order::

    @packet("PAKCS_NORMAL_CHAT")
    class CliNormalChat(Packet):
        message: bytes = field(cstr)

Strategy: the class decorators (:func:`packet`, :func:`record`, :func:`union`) do all the
work once, at class creation: they make the dataclass, collect each field's codec from the
dataclass field metadata and hand the declaration to :mod:`gateway_core.protocol.codegen`,
which compiles it into a layout and generates the per-class fast paths. :class:`Packet`
methods then only dispatch to those (and to the generic layout for a payload that is short
or has extra bytes, and to name the field of an encoding error). :func:`packet` also
registers the class under its protocol name (:func:`registered_packets`); a name may be
declared once.

Per-profile layouts (docs/protocol.md §9.1): where a numbering profile lays a packet type out
differently from its declaration, a :class:`ProfileLayout` subclass declared with
:func:`profile_layout` describes that profile's wire format and converts to and from the
declared class. Handlers only ever see the declared class; the connection of that profile
(and :func:`encode_payload_in` / :func:`decode_payload_in`) picks the layout.

Unions and bit-fields (docs/protocol.md §5.6): :class:`UnionValue` subclasses hold the whole wire
integer and expose the overlays as read-only :class:`BitField` properties; ``of(**parts)``
builds one from its parts.

Strings are ``bytes``. The sources define no character encoding (docs/protocol.md §9.3); the str
helpers (:meth:`Packet.text`, :meth:`Packet.from_text`) default to :data:`TEXT_ENCODING`
(``latin-1``: every byte string decodes and re-encodes unchanged, so relaying text never
corrupts it); pass ``encoding="cp949"`` (Korean clients) or another code page explicitly.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable, Mapping
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

from gateway_core.protocol.codecs import (
    MAX_PAYLOAD,
    ArrayCodec,
    Codec,
    CountedArrayCodec,
    IntCodec,
    TailArrayCodec,
    UnionCodec,
)
from gateway_core.protocol.codegen import (
    FieldSpec,
    Layout,
    RecordCodec,
    gen_decoder,
    gen_encoders,
    speed_up_init,
)
from gateway_core.protocol.errors import LocalProtocolError
from gateway_core.protocol.numbering import DEFAULT_PROFILE, PROFILE_NAMES

__all__ = [
    "TEXT_ENCODING",
    "BitField",
    "Decoded",
    "Packet",
    "ProfileLayout",
    "Record",
    "UnionValue",
    "array",
    "as_codec",
    "bit_field",
    "counted",
    "decode_payload_in",
    "encode_payload_in",
    "field",
    "fields_of",
    "packet",
    "profile_layout",
    "profile_layouts",
    "record",
    "registered_packets",
    "union",
    "until_end",
]

#: Default character encoding of the str helpers. Lossless for any byte string.
TEXT_ENCODING: Final = "latin-1"

T = TypeVar("T")
P = TypeVar("P", bound="Packet")
R = TypeVar("R", bound="Record")
U = TypeVar("U", bound="UnionValue")

#: The dataclass field metadata key under which :func:`field` stores the codec.
_CODEC_KEY: Final = "gateway_codec"


# --------------------------------------------------------------------------------------------
# Base classes and decorators


class _Fields:
    """Behaviour shared by packets and records (both are frozen dataclasses with a layout)."""

    __slots__ = ()
    _LAYOUT: ClassVar[Layout]
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
    #: Generated by :func:`packet` from the layout (see :mod:`~gateway_core.protocol.codegen`).
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
        """Decode a payload leniently (docs/protocol.md §4). Never raises for any input bytes."""
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
    """Make ``cls`` a frozen, slotted dataclass and attach its compiled layout."""
    new = dataclasses.dataclass(frozen=True, slots=True)(cls)
    specs: list[FieldSpec] = []
    for f in dataclasses.fields(cast(Any, new)):
        codec = f.metadata.get(_CODEC_KEY)
        if codec is None:
            raise TypeError(f"{cls.__name__}.{f.name} must be declared with field(<codec>)")
        specs.append(FieldSpec(f.name, codec))
    new._LAYOUT = Layout(tuple(specs))
    speed_up_init(new)
    return new


def _compile_packet(cls: type[P], name: str) -> type[P]:
    new = _compile(cls)
    new.NAME = name
    new._DECODE_EXACT = staticmethod(gen_decoder(new, new._LAYOUT))
    encode, encode_frame = gen_encoders(new, new._LAYOUT)
    new._ENCODE = staticmethod(encode)
    new._ENCODE_FRAME = staticmethod(encode_frame)
    return new


@dataclass_transform(frozen_default=True)
def packet(name: str) -> Callable[[type[P]], type[P]]:
    """Class decorator: make a frozen, slotted packet dataclass for protocol type ``name``."""

    def wrap(cls: type[P]) -> type[P]:
        if name in _REGISTRY:
            raise TypeError(f"packet {name} declared twice ({_REGISTRY[name].__name__})")
        new = _compile_packet(cls, name)
        _REGISTRY[name] = new
        return new

    return wrap


class ProfileLayout(Packet):
    """The wire layout of a packet type in one numbering profile, where it differs from the
    packet's declaration (docs/protocol.md §9.1). Declare subclasses with
    :func:`profile_layout`.

    A layout is only ever a wire format: handlers see and build the declared packet class in
    every profile. :meth:`from_packet` turns a declared packet into this layout (to encode
    it), :meth:`to_packet` turns a decoded layout back into the declared class.
    """

    __slots__ = ()
    #: The declared packet class this is a layout of, and the profile it is the layout in.
    OF: ClassVar[type[Packet]]
    PROFILE: ClassVar[str]

    @classmethod
    def from_packet(cls, packet: Any) -> Self:
        """This layout of ``packet`` (an instance of :attr:`OF`)."""
        raise NotImplementedError

    def to_packet(self) -> Packet:
        """The declared packet (an instance of :attr:`OF`) this layout carries."""
        raise NotImplementedError


L = TypeVar("L", bound=ProfileLayout)

_LAYOUTS: dict[str, dict[str, type[ProfileLayout]]] = {}


@dataclass_transform(frozen_default=True)
def profile_layout(of: type[Packet], profile: str) -> Callable[[type[L]], type[L]]:
    """Class decorator: the layout of packet class ``of`` in numbering ``profile`` (fields
    declared like a packet's; the class must implement ``from_packet`` and ``to_packet``)."""

    def wrap(cls: type[L]) -> type[L]:
        if not issubclass(cls, ProfileLayout):
            raise TypeError(f"{cls.__name__} must subclass ProfileLayout")
        if profile not in PROFILE_NAMES or profile == DEFAULT_PROFILE:
            raise TypeError(f"{cls.__name__}: no layouts for profile {profile!r}")
        layouts = _LAYOUTS.setdefault(profile, {})
        if of.NAME in layouts:
            raise TypeError(f"{of.NAME} has two layouts in profile {profile}")
        new = _compile_packet(cls, of.NAME)
        new.OF = of
        new.PROFILE = profile
        layouts[of.NAME] = new
        return new

    return wrap


def profile_layouts(profile: str) -> Mapping[str, type[ProfileLayout]]:
    """The packet types whose wire layout differs in ``profile`` from their declaration, by
    protocol name (read-only; empty for the default profile, whose layouts are the
    declarations)."""
    return MappingProxyType(_LAYOUTS.get(profile, {}))


def encode_payload_in(packet: Packet, profile: str) -> bytes:
    """The payload of ``packet`` as numbering ``profile`` lays it out (the declaration's unless
    the profile has its own layout of the type)."""
    layout = _LAYOUTS.get(profile, {}).get(packet.NAME)
    if layout is not None and not isinstance(packet, ProfileLayout):
        return layout.from_packet(packet).encode_payload()
    return packet.encode_payload()


def decode_payload_in(
    cls: type[P], payload: bytes | bytearray | memoryview, profile: str
) -> Decoded[P]:
    """Decode ``payload`` of packet type ``cls`` as numbering ``profile`` lays it out, leniently
    like :meth:`Packet.decode_payload`; the result is always a ``cls`` instance."""
    layout = _LAYOUTS.get(profile, {}).get(cls.NAME)
    if layout is None or issubclass(cls, ProfileLayout):
        return cls.decode_payload(payload)
    decoded = layout.decode_payload(payload)
    return Decoded(cast(P, decoded.packet.to_packet()), decoded.missing, decoded.extra)


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
    caller did not set: every field is always on the wire (docs/protocol.md §5.8).
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
