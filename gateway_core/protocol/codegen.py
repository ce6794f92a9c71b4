"""Compiled layouts: the per-class encoders and decoders built from a declaration.

Strategy: a declaration (a tuple of :class:`FieldSpec`, name and codec per field, in wire
order) is compiled once into a :class:`Layout`: consecutive fixed-size fields (integers,
floats, enums, fixed strings, unions, fixed arrays and records made only of those) are merged
into a single precompiled little-endian :class:`struct.Struct` (a :class:`Run`), so decoding
them is one ``unpack_from`` call and encoding is one ``pack`` call. Variable-size fields
(null-terminated strings, counted arrays, arrays that run to the end of the payload, records
containing those) are separate steps (:class:`Var`) between the runs. When a run does not fit
in what is left of the payload, the generic decoder falls back to reading that run field by
field so that it can report exactly which field was missing (the lenient rule of
docs/protocol.md §4): the fast path costs nothing for the well-formed case.

On top of the generic layout, :func:`gen_decoder` and :func:`gen_encoders` generate
straight-line Python source per packet class (the layout unrolled, with the codecs' hot
operations inlined) and :func:`speed_up_init` replaces the frozen dataclass ``__init__`` by
one that stores through the slot descriptors. The generated decoder only handles a payload
that is exactly one well-formed instance and returns ``None`` otherwise, so every unusual
case goes through the generic layout and results are always the generic ones.

This module knows codecs and dataclasses, not the declaration API built on it
(:mod:`gateway_core.protocol.declarations`), which calls it from its class decorators.
"""

from __future__ import annotations

import dataclasses
import operator
import struct
from collections.abc import Callable
from typing import Any, TypeVar, cast

from gateway_core.protocol.codecs import (
    MAX_PAYLOAD,
    Codec,
    CStrCodec,
    EnumCodec,
    FixedStrCodec,
    ShortRead,
)

__all__ = [
    "FieldSpec",
    "Layout",
    "RecordCodec",
    "Run",
    "Var",
    "gen_decoder",
    "gen_encoders",
    "speed_up_init",
]

#: A record class (:class:`~gateway_core.protocol.declarations.Record` subclass).
R = TypeVar("R")


# --------------------------------------------------------------------------------------------
# Layouts: the compiled form of a declaration


@dataclasses.dataclass(frozen=True, slots=True)
class FieldSpec:
    """One declared field: its attribute name and its codec."""

    name: str
    codec: Codec[Any]


class Run:
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


class Var:
    """One variable-size field."""

    __slots__ = ("codec", "name")

    def __init__(self, spec: FieldSpec) -> None:
        self.name = spec.name
        self.codec = spec.codec


class Layout:
    """The compiled codec of a record or packet: a list of runs and variable fields."""

    __slots__ = ("fast", "specs", "steps")

    def __init__(self, specs: tuple[FieldSpec, ...]) -> None:
        self.specs = specs
        steps: list[Run | Var] = []
        pending: list[FieldSpec] = []
        for spec in specs:
            if spec.codec.fmt is not None:
                pending.append(spec)
                continue
            if pending:
                steps.append(Run(pending))
                pending = []
            steps.append(Var(spec))
        if pending:
            steps.append(Run(pending))
        self.steps = tuple(steps)
        only = steps[0] if len(steps) == 1 else None
        #: The single all-identity run of simple packets (the hot path: no per-field work).
        self.fast = only if isinstance(only, Run) and only.identity else None

    def decode(self, buf: bytes, off: int) -> tuple[list[Any], int, str | None]:
        """Decode fields from ``off``; return the values read, the end offset and the name
        of the first field that could not be read (None when all were read)."""
        out: list[Any] = []
        n = len(buf)
        for step in self.steps:
            if isinstance(step, Run):
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
                    except ShortRead:
                        return out, off, name
                    out.append(value)
                raise AssertionError("unreachable: the run did not fit but every field did")
            try:
                value, off = step.codec.read(buf, off)
            except ShortRead:
                return out, off, step.name
            out.append(value)
        return out, off, None

    def encode(self, obj: object, out: list[bytes]) -> None:
        """Append the wire bytes of every field of ``obj`` to ``out``."""
        for step in self.steps:
            if isinstance(step, Run):
                if step.identity:
                    out.append(step.struct.pack(*step.getter(obj)))
                else:
                    flat: list[Any] = []
                    step.flatten(obj, flat)
                    out.append(step.struct.pack(*flat))
            else:
                step.codec.write(getattr(obj, step.name), out)


class RecordCodec(Codec[R]):
    """A nested sequence (:class:`~gateway_core.protocol.declarations.Record` subclass): its
    fields back to back, one :class:`Run` when they are all fixed-size."""

    __slots__ = ("_layout", "cls")

    def __init__(self, cls: type[R], layout: Layout) -> None:
        fixed = len(layout.steps) == 1 and isinstance(layout.steps[0], Run)
        if fixed:
            run = cast(Run, layout.steps[0])
            super().__init__(run.fmt, run.nvals)
        else:
            super().__init__(None)
        self.cls = cls
        self._layout = layout

    def default(self) -> R:
        return self.cls()

    def from_flat(self, vals: tuple[Any, ...], i: int) -> R:
        run = cast(Run, self._layout.steps[0])
        if run.identity:
            return self.cls(*vals[i : i + run.nvals])
        return self.cls(*run.build(vals, i))

    def to_flat(self, value: R, out: list[Any]) -> None:
        cast(Run, self._layout.steps[0]).flatten(value, out)

    def read(self, buf: bytes, off: int) -> tuple[R, int]:
        if self.fmt is not None:
            return super().read(buf, off)
        values, off, missing = self._layout.decode(buf, off)
        if missing is not None:
            raise ShortRead
        return self.cls(*values), off

    def write(self, value: R, out: list[bytes]) -> None:
        self._layout.encode(value, out)

    def describe(self) -> str:
        return self.cls.__name__


# --------------------------------------------------------------------------------------------
# Compiled fast paths: straight-line decode/encode functions generated from a packet's layout


def gen_decoder(cls: type[Any], layout: Layout) -> Callable[[bytes], Any]:
    """Generate ``decode_exact(buf) -> packet | None`` for ``cls``.

    The function is the generic decoder unrolled for this one layout: one ``unpack_from`` per
    run, ``find`` for null-terminated strings, the codec's own ``read`` for other variable
    fields, and the object built with ``object.__new__`` plus the slot descriptors (the frozen
    dataclass ``__init__`` costs twice as much). It returns ``None`` whenever the payload is
    not exactly one well-formed instance (a field missing, or trailing bytes): the generic
    path then decodes it and reports what is wrong, so results are always the generic ones.
    """
    ns: dict[str, Any] = {"_new": object.__new__, "_cls": cls, "_Short": ShortRead}
    lines = ["def decode_exact(buf):", "    n = len(buf)", "    off = 0"]
    names: list[str] = []
    for k, step in enumerate(layout.steps):
        if isinstance(step, Run):
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
        names.extend(step.names if isinstance(step, Run) else (step.name,))
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


def gen_encoders(
    cls: type[Any], layout: Layout
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
        if isinstance(step, Run):
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
    if isinstance(first, Run):
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


def speed_up_init(cls: type[Any]) -> None:
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
