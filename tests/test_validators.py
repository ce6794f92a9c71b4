"""The setting validators plugins pass to ``gateway_register_settings``."""

from __future__ import annotations

import math
from typing import Any

import pytest

from gateway_core.config import ConfigError, load_settings
from gateway_core.plugins import SettingRegistration
from gateway_core.validators import (
    int_range,
    name_list,
    positive_finite_number,
    positive_int,
    positive_number,
)


@pytest.mark.parametrize("value", [1, 2, 10**9])
def test_positive_int_accepts_integers_from_one(value: int) -> None:
    assert positive_int(value) is None


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "3", None])
def test_positive_int_refuses_the_rest(value: Any) -> None:
    assert positive_int(value) == "must be an integer of at least 1"


@pytest.mark.parametrize("value", [1, 0.001, 5.0, math.inf])
def test_positive_number_accepts_numbers_above_zero(value: float) -> None:
    assert positive_number(value) is None


@pytest.mark.parametrize("value", [0, 0.0, -2.5, math.nan, True, "1", None])
def test_positive_number_refuses_the_rest(value: Any) -> None:
    assert positive_number(value) == "must be a number above 0"


def test_positive_finite_number_accepts_finite_numbers_above_zero() -> None:
    assert positive_finite_number(0.5) is None
    assert positive_finite_number(600) is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (True, "must be a number"),
        ("1", "must be a number"),
        (None, "must be a number"),
        (0, "must be a positive number"),
        (-1.0, "must be a positive number"),
        (math.inf, "must be a positive number"),
        (math.nan, "must be a positive number"),
    ],
)
def test_positive_finite_number_refuses_the_rest(value: Any, reason: str) -> None:
    assert positive_finite_number(value) == reason


def test_int_range_includes_both_bounds_and_names_them() -> None:
    check = int_range(1, 8)
    assert [check(v) for v in (1, 4, 8)] == [None, None, None]
    for value in (0, 9, 2.0, False):
        assert check(value) == "must be an integer from 1 to 8"


@pytest.mark.parametrize(
    ("value", "names"),
    [
        ("a, b,,c ", ["a", "b", "c"]),
        ("", []),
        (("x", " y ", ""), ["x", "y"]),
        ([1, 2], ["1", "2"]),
        (None, []),
        (7, []),
    ],
)
def test_name_list_splits_strings_and_sequences(value: object, names: list[str]) -> None:
    assert name_list(value) == names


def test_a_refusal_becomes_a_config_error_naming_setting_and_value() -> None:
    registration = SettingRegistration("demo", "DEMO_QUEUE", 8, positive_int, "doc")
    with pytest.raises(ConfigError, match=r"DEMO_QUEUE='0': must be an integer of at least 1"):
        load_settings(environ={"DEMO_QUEUE": "0"}, plugin_settings=[registration])
