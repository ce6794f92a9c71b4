"""Settings of the reference character service and their validation."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from gateway_core.api import Validator, int_range, name_list

#: Hard limit on names: longer is a malformed argument, not a rule violation.
MAX_NAME_CHARS = 64


@dataclass(frozen=True, slots=True)
class CharacterOptions:
    """Everything the character service is configured with (see :data:`SETTINGS`)."""

    max_per_account: int = 5
    name_min_length: int = 3
    name_max_length: int = 16
    name_pattern: str = r"[A-Za-z][A-Za-z0-9_]*"
    blocked_names: tuple[str, ...] = ("admin", "gm", "gamemaster", "server")
    delete_delay: float = 86400.0
    races: tuple[int, ...] = (0, 1, 2, 3)
    start_map: int = 1
    start_x: float = 520000.0
    start_y: float = 520000.0
    #: The content pack new characters are made from (a directory holding pack.toml, or one
    #: TOML file); empty: the built-in pack.
    content: str = ""

    @classmethod
    def from_settings(cls, settings: Any) -> CharacterOptions:
        """Build from validated settings (attribute access by upper-case name)."""
        return cls(
            max_per_account=int(settings.CHARACTER_MAX_PER_ACCOUNT),
            name_min_length=int(settings.CHARACTER_NAME_MIN_LENGTH),
            name_max_length=int(settings.CHARACTER_NAME_MAX_LENGTH),
            name_pattern=str(settings.CHARACTER_NAME_PATTERN),
            blocked_names=tuple(name_list(settings.CHARACTER_BLOCKED_NAMES)),
            delete_delay=float(settings.CHARACTER_DELETE_DELAY),
            races=tuple(int(r) for r in name_list(settings.CHARACTER_RACES)),
            start_map=int(settings.CHARACTER_START_MAP),
            start_x=float(settings.CHARACTER_START_X),
            start_y=float(settings.CHARACTER_START_Y),
            content=str(settings.CHARACTER_CONTENT),
        )


def _non_negative(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "must be a number"
    if not math.isfinite(value) or value < 0 or value > 0xFFFFFFFF:
        return "must be a number of seconds from 0 to 4294967295"
    return None


def _coordinate(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return "must be a finite number"
    return None


def _pattern(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return "must be a non-empty regular expression"
    try:
        re.compile(value)
    except re.error as exc:
        return f"is not a valid regular expression: {exc}"
    return None


def _races(value: Any) -> str | None:
    names = name_list(value)
    if not names or not all(n.isdigit() and int(n) <= 255 for n in names):
        return "must list race codes 0-255 (comma-separated)"
    return None


def _path(value: Any) -> str | None:
    return None if isinstance(value, str) else "must be a path (or empty: the built-in pack)"


#: (name, default, validator, doc) of every character setting, registered by the plugin.
SETTINGS: tuple[tuple[str, object, Validator | None, str], ...] = (
    (
        "CHARACTER_DATABASE_URL",
        None,
        None,
        "SQLAlchemy async URL of the character database (unset: DATABASE_URL, else "
        "DATA_DIR/character.sqlite3).",
    ),
    ("CHARACTER_MAX_PER_ACCOUNT", 5, int_range(1, 255), "Characters an account may have."),
    ("CHARACTER_NAME_MIN_LENGTH", 3, int_range(1, MAX_NAME_CHARS), "Shortest character name."),
    ("CHARACTER_NAME_MAX_LENGTH", 16, int_range(1, MAX_NAME_CHARS), "Longest character name."),
    (
        "CHARACTER_NAME_PATTERN",
        r"[A-Za-z][A-Za-z0-9_]*",
        _pattern,
        "Regular expression a whole character name must match.",
    ),
    (
        "CHARACTER_BLOCKED_NAMES",
        ("admin", "gm", "gamemaster", "server"),
        None,
        "Names nobody may take (comma-separated, case-insensitive).",
    ),
    (
        "CHARACTER_DELETE_DELAY",
        86400.0,
        _non_negative,
        "Seconds between a delete request and the deletion (0 = at once); undelete before.",
    ),
    ("CHARACTER_RACES", ("0", "1", "2", "3"), _races, "Race codes a new character may have."),
    ("CHARACTER_START_MAP", 1, int_range(0, 0xFFFF),
     "Map of new characters (1: the default content pack's town)."),
    ("CHARACTER_START_X", 520000.0, _coordinate, "Start position of new characters (x)."),
    ("CHARACTER_START_Y", 520000.0, _coordinate, "Start position of new characters (y)."),
    (
        "CHARACTER_CONTENT",
        "",
        _path,
        "Character service: the content pack (a directory holding pack.toml, or one TOML file) "
        "whose starter kit of job 0 gives new characters their skills; empty: the built-in "
        "pack. Use the pack of WORLD_CONTENT. A pack that does not load fails start-up with "
        "the loader's message.",
    ),
)
