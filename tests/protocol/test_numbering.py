from __future__ import annotations

from collections import Counter

import pytest

from gateway_core.protocol.numbering import (
    DEFAULT_PROFILE,
    Category,
    Direction,
    NumberingProfile,
    PacketTypeInfo,
    get_profile,
)

# (name, 2026 value, 2021 value or None) for representative members of docs/protocol.md §6.
REPRESENTATIVE = [
    ("ISCSTART", 0x0300, 0x0300),
    ("ISC_ALIVE", 0x0301, 0x0301),
    ("ISC_SHUTDOWN", 0x0306, 0x0306),
    ("PAKCS_ALIVE", 0x0500, 0x0500),
    ("PAKCS_ACCEPT_REQ", 0x0504, 0x0504),
    ("PAKCS_CHANNEL_LIST_REQ", 0x0505, 0x0505),
    ("PAKCS_LOGIN_REQ", 0x0509, 0x0509),
    ("PAKCS_LOGIN_TOKEN_REQ", 0x050A, None),
    ("PAKLC_LOGIN_REPLY", 0x050B, 0x050A),  # first member shifted by one
    ("PAKCS_JOIN_SERVER_REQ", 0x050F, 0x050E),  # last member shifted by one
    ("PAKCS_JOIN_SERVER_TOKEN_REQ", 0x0510, None),
    ("PAKSC_JOIN_SERVER_REPLY", 0x0511, 0x050F),  # first member shifted by two
    ("PAKWC_SELECT_CHAR_REPLY", 0x051D, 0x051B),
    ("PAKCS_NORMAL_CHAT", 0x0547, 0x0545),
    ("PAKWC_NORMAL_CHAT", 0x0548, 0x0546),
    ("PAKCS_MOUSE_CMD", 0x0562, 0x0560),
    ("PAKSS_ACCEPT_REPLY", 0x05D4, 0x05D2),
    ("EPACKETMAX", 0x05D5, 0x05D3),
    ("STRESS", 0x6F6D, 0x6F6D),
]


@pytest.mark.parametrize(("name", "value_2026", "value_2021"), REPRESENTATIVE)
def test_profiles_give_documented_values(
    name: str, value_2026: int, value_2021: int | None
) -> None:
    assert get_profile("2026").by_name(name).value == value_2026
    if value_2021 is None:
        assert name not in get_profile("2021")
        with pytest.raises(KeyError, match=name):
            get_profile("2021").by_name(name)
    else:
        assert get_profile("2021").by_name(name).value == value_2021


def test_default_profile_is_2026() -> None:
    assert DEFAULT_PROFILE == "2026"
    assert get_profile() is get_profile("2026")
    assert get_profile().name == "2026"


def test_profiles_are_built_once() -> None:
    assert get_profile("2021") is get_profile("2021")


def test_unknown_profile_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="2030"):
        get_profile("2030")


def test_profile_counts_match_the_table() -> None:
    p2026, p2021 = get_profile("2026"), get_profile("2021")
    assert len(p2026) == 224  # every row of docs/packets.md plus the 4 markers
    assert len(p2021) == 222  # the two token-login members did not exist
    assert sum(info.has_definition for info in p2026) == 204
    assert sum(info.has_definition for info in p2021) == 202
    markers = {info.name for info in p2026 if info.is_marker}
    assert markers == {"ISCSTART", "ISCEND", "PAKSTART", "EPACKETMAX"}
    # markers own no value: PAKSTART shares 0x500 with PAKCS_ALIVE
    assert len(p2026.values) == 220
    assert len(p2021.values) == 218


def test_direction_and_category_counts() -> None:
    p = get_profile("2026")
    directions = Counter(info.direction for info in p)
    assert directions == {
        Direction.CLIENT_TO_SERVER: 84,
        Direction.SERVER_TO_CLIENT: 129,
        Direction.SERVER_TO_SERVER: 6,
        Direction.MARKER: 4,
        Direction.BOTH: 1,
    }
    chat = {info.name for info in p if info.category is Category.CHAT}
    assert {"PAKCS_NORMAL_CHAT", "PAKWC_WHISPER_CHAT", "PAKSW_ANNOUNCE_CHAT"} <= chat
    assert len(chat) == 24


def test_by_value_returns_packet_not_marker() -> None:
    info = get_profile().by_value(0x0500)
    assert info == PacketTypeInfo(
        name="PAKCS_ALIVE",
        value=0x0500,
        direction=Direction.CLIENT_TO_SERVER,
        category=Category.OTHER,
        has_definition=True,
    )
    assert get_profile().by_value(0x05D5) is None  # EPACKETMAX is a marker
    assert get_profile("2021").by_value(0x05D3) is None


def test_by_value_returns_none_for_unknown_values() -> None:
    for value in (0, 0x2FF, 0x308, 0x4FF, 0x7FF, 0xFFFF):
        assert get_profile().by_value(value) is None


def test_by_value_follows_the_profile() -> None:
    assert get_profile("2026").by_value(0x050A).name == "PAKCS_LOGIN_TOKEN_REQ"  # type: ignore[union-attr]
    assert get_profile("2021").by_value(0x050A).name == "PAKLC_LOGIN_REPLY"  # type: ignore[union-attr]
    assert get_profile("2021").by_value(0x0560).name == "PAKCS_MOUSE_CMD"  # type: ignore[union-attr]


def test_name_and_value_lookups_agree_in_both_profiles() -> None:
    for profile_name in ("2026", "2021"):
        profile = get_profile(profile_name)
        for info in profile:
            assert profile.by_name(info.name) is info
            if not info.is_marker:
                assert profile.by_value(info.value) is info
                assert profile.value_of(info.name) == info.value


def test_shift_is_uniform_between_profiles() -> None:
    p2026, p2021 = get_profile("2026"), get_profile("2021")
    shifts = Counter(p2026.by_name(info.name).value - info.value for info in p2021)
    # unchanged: 8 ISC rows, PAKSTART, PAKCS_ALIVE..PAKCS_LOGIN_REQ (10), STRESS
    # one lower: PAKLC_LOGIN_REPLY..PAKCS_JOIN_SERVER_REQ; two lower: everything after
    assert shifts == {0: 20, 1: 5, 2: 197}
    assert p2026.by_name("PAKCS_LOGIN_REQ").value == p2021.by_name("PAKCS_LOGIN_REQ").value


def test_types_without_definition() -> None:
    p = get_profile()
    undefined = {info.name for info in p if not info.has_definition and not info.is_marker}
    assert {"PAKSS_ERROR", "PAKSS_ANNOUNCE_TEXT", "PAKGC_LOGIN_REPLY", "STRESS"} <= undefined
    assert len(undefined) == 16  # 15 types without a payload definition, plus STRESS


def test_lookup_tables_are_read_only() -> None:
    p = get_profile()
    with pytest.raises(TypeError):
        p.names["X"] = p.by_name("STRESS")  # type: ignore[index]
    with pytest.raises(TypeError):
        p.values[1] = p.by_name("STRESS")  # type: ignore[index]


def test_profile_rejects_duplicate_values() -> None:
    a = PacketTypeInfo("A", 1, Direction.BOTH, Category.OTHER, False)
    b = PacketTypeInfo("B", 1, Direction.BOTH, Category.OTHER, False)
    with pytest.raises(ValueError, match="A and B"):
        NumberingProfile("test", (a, b))


def test_direction_and_category_compare_as_documented_strings() -> None:
    info = get_profile().by_name("PAKCS_LOGIN_REQ")
    assert info.direction == "client->server"
    assert info.category == "auth/login"
