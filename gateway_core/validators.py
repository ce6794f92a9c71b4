"""Validators for plugin settings, and the comma-separated name lists they often check.

A validator is what ``gateway_register_settings`` takes as ``validate=``: a callable that gets
the setting's value (already coerced to the type of its default, see
:func:`gateway_core.config.load_settings`) and returns ``None`` when the value is acceptable,
else the reason it is not, which start-up reports in a :class:`~gateway_core.config.ConfigError`
naming the setting and the value. ``bool`` is never accepted where a number is asked for
(``True`` is an ``int`` to Python, not to a person writing a settings file).

The built-in plugins use these; a third-party plugin may too::

    from gateway_core.validators import int_range, positive_int

    @hookimpl
    def gateway_register_settings(register):
        register("MYPLUGIN_QUEUE", 64, validate=positive_int, doc="...")
        register("MYPLUGIN_LEVEL", 1, validate=int_range(0, 255), doc="...")
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

__all__ = [
    "Validator",
    "int_range",
    "name_list",
    "positive_finite_number",
    "positive_int",
    "positive_number",
]

#: A setting validator: None when the value is fine, else the reason it is refused.
Validator: TypeAlias = Callable[[Any], str | None]


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float)


def positive_int(value: Any) -> str | None:
    """An integer of at least 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return "must be an integer of at least 1"
    return None


def positive_number(value: Any) -> str | None:
    """A number (int or float) above 0."""
    if not _is_number(value) or not value > 0:
        return "must be a number above 0"
    return None


def positive_finite_number(value: Any) -> str | None:
    """A finite number (int or float) above 0; the reason tells a non-number apart."""
    if not _is_number(value):
        return "must be a number"
    if not math.isfinite(value) or value <= 0:
        return "must be a positive number"
    return None


def int_range(low: int, high: int) -> Validator:
    """A validator accepting the integers from ``low`` to ``high`` (both included)."""

    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return f"must be an integer from {low} to {high}"
        return None

    return check


def name_list(value: object) -> list[str]:
    """The names of a list setting: a comma-separated string or a sequence of values, each
    stripped, empty ones left out; anything else gives no names."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, Sequence):
        return [str(part).strip() for part in value if str(part).strip()]
    return []
