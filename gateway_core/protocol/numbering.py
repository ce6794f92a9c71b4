"""Packet type table: names, values per numbering profile, direction and category.

Two numbering profiles exist (docs/protocol.md §6, §9.1): "2026" (the current packet set, the
default) and "2021" (the set the osIROSE-new servers were built against: two token-login
members missing, so later values are one or two lower). Lookups by name and by value are
dict lookups; profiles are built once per process on first use.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Final

from gateway_core.protocol._type_table import TYPE_ROWS

__all__ = [
    "DEFAULT_PROFILE",
    "PROFILE_NAMES",
    "Category",
    "Direction",
    "NumberingProfile",
    "PacketTypeInfo",
    "get_profile",
]

DEFAULT_PROFILE: Final = "2026"
PROFILE_NAMES: Final = ("2026", "2021")


class Direction(enum.StrEnum):
    """Who sends a packet type. Values equal the strings used in docs/protocol.md §6."""

    CLIENT_TO_SERVER = "client->server"
    SERVER_TO_CLIENT = "server->client"
    SERVER_TO_SERVER = "server->server"
    BOTH = "both"
    #: A range marker of the C++ enum (ISCSTART, ISCEND, PAKSTART, EPACKETMAX), not a packet.
    MARKER = "marker"


class Category(enum.StrEnum):
    """Coarse grouping of packet types, used to assign them to plugins."""

    AUTH = "auth/login"
    CHARACTER = "character"
    CHAT = "chat"
    MOVEMENT = "movement"
    COMBAT = "combat"
    ITEMS = "items"
    PARTY = "party"
    TRADE = "trade"
    SHOP = "shop"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class PacketTypeInfo:
    """One member of the packet type enum in one numbering profile.

    ``has_definition`` says whether the protocol defines a payload layout for the type (and so
    whether :mod:`gateway_core.protocol.packets` has a class for it); types without one are
    delivered as raw frames.
    """

    name: str
    value: int
    direction: Direction
    category: Category
    has_definition: bool

    @property
    def is_marker(self) -> bool:
        """True for enum range markers, which are never sent on the wire."""
        return self.direction is Direction.MARKER


class NumberingProfile:
    """The packet type table of one numbering profile, with O(1) lookups both ways."""

    __slots__ = ("_by_name", "_by_value", "name")

    name: str
    _by_name: Mapping[str, PacketTypeInfo]
    _by_value: Mapping[int, PacketTypeInfo]

    def __init__(self, name: str, infos: Iterator[PacketTypeInfo] | tuple[PacketTypeInfo, ...]):
        self.name = name
        by_name: dict[str, PacketTypeInfo] = {}
        by_value: dict[int, PacketTypeInfo] = {}
        for info in infos:
            if info.name in by_name:
                raise ValueError(f"duplicate packet type name {info.name!r}")
            by_name[info.name] = info
            if info.is_marker:
                # PAKSTART shares 0x500 with PAKCS_ALIVE; markers never own a value.
                continue
            if info.value in by_value:
                raise ValueError(
                    f"profile {name}: value 0x{info.value:04X} used by "
                    f"{by_value[info.value].name} and {info.name}"
                )
            by_value[info.value] = info
        self._by_name = MappingProxyType(by_name)
        self._by_value = MappingProxyType(by_value)

    def by_name(self, name: str) -> PacketTypeInfo:
        """Return the type called ``name`` (markers included); KeyError if this profile lacks it."""
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"packet type {name!r} does not exist in profile {self.name}") from None

    def by_value(self, value: int) -> PacketTypeInfo | None:
        """Return the packet type sent with ``value``, or None if no packet uses it.

        Range markers are never returned (0x500 is PAKCS_ALIVE, not PAKSTART).
        """
        return self._by_value.get(value)

    def value_of(self, name: str) -> int:
        """Shortcut for ``by_name(name).value``."""
        return self.by_name(name).value

    @property
    def names(self) -> Mapping[str, PacketTypeInfo]:
        """Read-only mapping name -> info (every member, markers included)."""
        return self._by_name

    @property
    def values(self) -> Mapping[int, PacketTypeInfo]:
        """Read-only mapping value -> info (packet types only, no markers)."""
        return self._by_value

    def __iter__(self) -> Iterator[PacketTypeInfo]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __repr__(self) -> str:
        return f"NumberingProfile({self.name!r}, {len(self._by_name)} types)"


def _infos(profile: str) -> Iterator[PacketTypeInfo]:
    for name, value_2026, value_2021, direction, category, has_definition in TYPE_ROWS:
        value = value_2026 if profile == "2026" else value_2021
        if value is None:  # member added after 2021
            continue
        yield PacketTypeInfo(name, value, Direction(direction), Category(category), has_definition)


@cache
def _build(name: str) -> NumberingProfile:
    return NumberingProfile(name, _infos(name))


def get_profile(name: str = DEFAULT_PROFILE) -> NumberingProfile:
    """Return the numbering profile ``"2026"`` (default) or ``"2021"``; ValueError otherwise."""
    if name not in PROFILE_NAMES:
        raise ValueError(
            f"unknown packet numbering profile {name!r}; expected one of {PROFILE_NAMES}"
        )
    return _build(name)
