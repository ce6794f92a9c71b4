"""Generate docs/packets.md: every packet type, its numbers, fields and handling plugin.

``python -m gateway_core.packet_docs`` rewrites the file; ``--check`` only compares and exits 1
when it is stale (the test suite runs the same comparison).

Strategy: the page is derived, never written by hand, from the three places that define the
facts: the packet declarations (:mod:`gateway_core.protocol.packets`), the numbering profiles
(:mod:`gateway_core.protocol.numbering`) and the packet registrations of the built-in plugins.
Only the built-in plugins are loaded, whatever else is installed, so the page is the same on
every machine that runs the test suite. The output depends on nothing else (no dates, no
paths), so regenerating an unchanged tree is a no-op.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Final

from gateway_core.protocol import get_profile
from gateway_core.protocol.codecs import (
    ArrayCodec,
    Codec,
    CountedArrayCodec,
    EnumCodec,
    TailArrayCodec,
    UnionCodec,
)
from gateway_core.protocol.declarations import fields_of, profile_layouts
from gateway_core.protocol.numbering import Direction, PacketTypeInfo
from gateway_core.protocol.packets import PACKETS_BY_NAME, Packet, Record, UnionValue

__all__ = ["BUILTIN_PLUGINS", "DEFAULT_OUTPUT", "PLUGINS_GUIDE", "main", "render",
           "with_unowned_list"]

#: The plugins whose handlers the page names (the core's own packets come with them).
BUILTIN_PLUGINS: Final = ("auth", "character", "chat", "world", "items")

#: Where the page lives in a checkout (this module sits in gateway_core/ at the top level).
DEFAULT_OUTPUT: Final = Path(__file__).resolve().parent.parent / "docs" / "packets.md"

REGENERATE: Final = "python -m gateway_core.packet_docs"

_NONE: Final = "—"

# The numbering table says "server->server"; the page speaks of inter-server traffic.
_DIRECTION_LABELS: Final[Mapping[Direction, str]] = {
    Direction.CLIENT_TO_SERVER: "client->server",
    Direction.SERVER_TO_CLIENT: "server->client",
    Direction.SERVER_TO_SERVER: "inter-server",
    Direction.BOTH: "both",
}

# Modules are named after the categories, except auth/login (a slash cannot name a module).
_CATEGORY_MODULE: Final[Mapping[str, str]] = {"auth/login": "auth"}

# Section order on the page: the client's journey first, the rest of the game after.
_MODULE_ORDER: Final = (
    "auth", "character", "chat", "movement", "combat", "items", "party", "trade", "shop",
    "other",
)


@dataclass(frozen=True, slots=True)
class _Row:
    """One packet type as the page shows it."""

    name: str
    value_2026: int
    value_2021: int | None
    direction: str
    category: str
    cls: type[Packet] | None
    handler: str | None


def handler_plugins() -> dict[str, str]:
    """Packet type name -> the built-in plugin that handles it (``core`` included)."""
    # Imported here so that rendering the protocol part never depends on the plugin layer.
    from gateway_core.plugins import GatewayPluginManager

    pm = GatewayPluginManager()
    pm.load_plugins(load=BUILTIN_PLUGINS)
    pm.collect_registrations()
    return {name: reg.plugin for name, reg in pm.packet_handlers.items()}


def _rows(handlers: Mapping[str, str]) -> list[_Row]:
    p2026, p2021 = get_profile("2026"), get_profile("2021")
    rows = []
    info: PacketTypeInfo
    for info in p2026:
        if info.is_marker:
            continue
        cls = PACKETS_BY_NAME.get(info.name)
        if cls is not None:
            category = cls.__module__.rsplit(".", 1)[-1]
        else:
            category = _CATEGORY_MODULE.get(info.category.value, info.category.value)
        rows.append(_Row(
            name=info.name,
            value_2026=info.value,
            value_2021=p2021.value_of(info.name) if info.name in p2021 else None,
            direction=_DIRECTION_LABELS[info.direction],
            category=category,
            cls=cls,
            handler=handlers.get(info.name),
        ))
    return rows


def _hex(value: int | None) -> str:
    return _NONE if value is None else f"0x{value:04X}"


def _anchor(name: str) -> str:
    # GitHub's heading anchors: lower case; underscores survive, so the name is its own anchor.
    return name.lower()


_Shared = type[Record] | type[UnionValue] | type[IntEnum]


def _nested(codec: Codec[object]) -> Iterator[tuple[_Shared, str]]:
    """The records, unions and enums a field's codec refers to, outermost first, each with
    its wire form."""
    if isinstance(codec, EnumCodec):
        yield codec.enum_cls, codec.base.name
        return
    if isinstance(codec, UnionCodec):
        yield codec.cls, codec.base.name
        return
    if isinstance(codec, (ArrayCodec, CountedArrayCodec, TailArrayCodec)):
        yield from _nested(codec.elem)
        return
    # A record codec names its class ``cls``; duck typing keeps this module independent of
    # where the record codec lives.
    target: object = getattr(codec, "cls", None)
    if isinstance(target, type) and issubclass(target, Record):
        yield target, _payload_size(target)
        for spec in fields_of(target):
            yield from _nested(spec.codec)


def _field_table(owner: type[Packet] | type[Record]) -> list[str]:
    specs = fields_of(owner)
    if not specs:
        return ["Empty payload."]
    lines = ["| offset | field | wire type |", "|---|---|---|"]
    offset: int | None = 0
    for spec in specs:
        where = "?" if offset is None else str(offset)
        lines.append(f"| +{where} | `{spec.name}` | {spec.codec.describe()} |")
        size = spec.codec.size
        offset = None if offset is None or size is None else offset + size
    return lines


def _payload_size(owner: type[Packet] | type[Record]) -> str:
    total = 0
    for spec in fields_of(owner):
        size = spec.codec.size
        if size is None:
            return "variable"
        total += size
    return f"{total} bytes"


def _summary(rows: Sequence[_Row]) -> list[str]:
    lines = [
        "| name | 2026 | 2021 | direction | category | declaration | handled by |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        decl = f"[`{row.cls.__name__}`](#{_anchor(row.name)})" if row.cls else "raw frame"
        lines.append(
            f"| `{row.name}` | {_hex(row.value_2026)} | {_hex(row.value_2021)} | "
            f"{row.direction} | {row.category} | {decl} | {row.handler or _NONE} |"
        )
    return lines


def _packet_sections(rows: Sequence[_Row]) -> list[str]:
    lines: list[str] = []
    for module in _MODULE_ORDER:
        declared = [r for r in rows if r.category == module and r.cls is not None]
        if not declared:
            continue
        lines += ["", f"### Category `{module}`"]
        for row in declared:
            assert row.cls is not None
            lines += [
                "",
                f"#### {row.name}",
                "",
                f"`{row.cls.__name__}` (`gateway_core.protocol.packets.{module}`): "
                f"{_hex(row.value_2026)} in 2026, {_hex(row.value_2021)} in 2021; "
                f"{row.direction}; payload {_payload_size(row.cls)}; "
                f"handled by {row.handler or _NONE}.",
                "",
                *_field_table(row.cls),
            ]
            layout = profile_layouts("2021").get(row.name)
            if layout is not None:
                lines += [
                    "",
                    f"In 2021 the layout differs (`{layout.__name__}`, "
                    f"`{layout.__module__}`; protocol.md §9.1): payload "
                    f"{_payload_size(layout)}.",
                    "",
                    *_field_table(layout),
                ]
    return lines


def _shared_types(rows: Sequence[_Row]) -> list[str]:
    seen: dict[str, tuple[_Shared, str]] = {}
    for row in rows:
        if row.cls is None:
            continue
        for spec in fields_of(row.cls):
            for target, wire in _nested(spec.codec):
                # Two modules may declare distinct types of one name; key by qualified name.
                seen.setdefault(f"{target.__module__}.{target.__qualname__}", (target, wire))
    lines: list[str] = []
    for key in sorted(seen, key=lambda k: (seen[k][0].__name__, k)):
        target, wire = seen[key]
        module = target.__module__.rsplit(".", 1)[-1]
        lines += ["", f"#### {target.__name__} (`{module}`)", ""]
        if issubclass(target, Record):
            lines += [f"Record, {wire}.", "", *_field_table(target)]
        elif issubclass(target, UnionValue):
            lines += [f"Union: one {wire} on the wire, read through these parts (bit 0 is the",
                      "lowest).", "", "| part | bits |", "|---|---|"]
            for part, bits in target.parts().items():
                span = str(bits.lo) if bits.width == 1 else f"{bits.lo}-{bits.lo + bits.width - 1}"
                lines.append(f"| `{part}` | {span} |")
        else:
            members = ", ".join(f"{m.name}={int(m)}" for m in target)
            lines.append(f"Enum, sent as {wire}: {members}.")
    return lines


def _unhandled(rows: Sequence[_Row]) -> list[str]:
    lines = []
    for row in rows:
        if row.direction == "client->server" and row.handler is None:
            kind = f"`{row.cls.__name__}`" if row.cls else "raw frame"
            lines.append(f"- `{row.name}` ({_hex(row.value_2026)}, {row.category}, {kind})")
    return lines


#: The plugin guide, whose list of unowned packet types is refreshed with docs/packets.md.
PLUGINS_GUIDE: Final = DEFAULT_OUTPUT.parent / "plugins.md"
_LIST_START = "<!-- unowned packet types: written by python -m gateway_core.packet_docs -->"
_LIST_END = "<!-- end of the unowned packet types -->"


def with_unowned_list(guide: str, handlers: Mapping[str, str] | None = None) -> str:
    """``guide`` (docs/plugins.md) with its marked list of the client packet types no
    built-in plugin handles brought up to date (unchanged without the markers)."""
    start, end = guide.find(_LIST_START), guide.find(_LIST_END)
    if start < 0 or end < start:
        return guide
    rows = _rows(handler_plugins() if handlers is None else handlers)
    listed = "\n".join(["", *_unhandled(rows), ""])
    return guide[: start + len(_LIST_START)] + listed + guide[end:]


def render(handlers: Mapping[str, str] | None = None) -> str:
    """The whole page. ``handlers`` (name -> plugin) defaults to the built-in plugins'."""
    rows = _rows(handler_plugins() if handlers is None else handlers)
    declared = sum(1 for r in rows if r.cls is not None)
    unhandled = _unhandled(rows)
    lines = [
        "# Packet types",
        "",
        f"<!-- Generated by `{REGENERATE}` from the packet declarations, the numbering",
        "     profiles and the built-in plugins. Do not edit by hand. -->",
        "",
        "Every packet type of the ROSE protocol as rose-gateway declares it: its number in",
        "both numbering profiles (2026, the default, and 2021; see",
        "[protocol.md §6](protocol.md#6-packet-types)), who sends it, the module of",
        "`gateway_core.protocol.packets` that declares it, its fields and the plugin that",
        f"handles it ({_NONE} when none does). {len(rows)} packet types, {declared} with a",
        "declared payload; the others are received and sent as raw frames. The enum's range",
        "markers (ISCSTART, ISCEND, PAKSTART, EPACKETMAX) are not packets and are left out.",
        "",
        "Wire types: integers and floats are little-endian (`u8` .. `u64`, `i8` .. `i64`,",
        "`f32`); `cstr` is a zero-terminated string, `char[N]` exactly N bytes; `N x T` is a",
        "fixed array without a count, `uN count x T` a counted one, `T until end` runs to the",
        "end of the payload. Offsets after a variable-size field are `+?`. The rules are in",
        "[protocol.md §5](protocol.md#5-payload-encoding).",
        "",
        "## Summary",
        "",
        *_summary(rows),
        "",
        "## Payloads",
        *_packet_sections(rows),
        "",
        "## Shared types",
        "",
        "The records, unions and enums the payloads above use.",
        *_shared_types(rows),
        "",
        "## Client packets no plugin handles",
        "",
        f"{len(unhandled)} client->server packet types have no handler in the built-in",
        "plugins. Before a login or join they close the connection, after it they are",
        "dropped and counted (`POLICY_BEFORE_AUTH`, `POLICY_AFTER_AUTH`; protocol.md §10.6).",
        "",
        *unhandled,
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Write the page, or with ``--check`` report whether it is up to date (exit 1 if not)."""
    parser = argparse.ArgumentParser(
        prog="python -m gateway_core.packet_docs",
        description="Generate docs/packets.md from the packet declarations.",
    )
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 when the file differs from what it would be")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="the file to write or check (default: docs/packets.md)")
    args = parser.parse_args(argv)
    output: Path = args.output
    pages = [(output, render())]
    if output == DEFAULT_OUTPUT and PLUGINS_GUIDE.exists():
        guide = PLUGINS_GUIDE.read_text(encoding="utf-8")
        pages.append((PLUGINS_GUIDE, with_unowned_list(guide)))
    stale = 0
    for page, text in pages:
        current = page.read_text(encoding="utf-8") if page.exists() else None
        if current == text:
            print(f"{page} is up to date")
        elif args.check:
            print(f"{page} is stale; regenerate it with: {REGENERATE}", file=sys.stderr)
            stale = 1
        else:
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(text, encoding="utf-8")
            print(f"wrote {page}")
    return stale


if __name__ == "__main__":
    sys.exit(main())
