"""Every packet type round-trips through its declaration, with a non-default value in every field.

The sample-value factory walks each declaration (``fields_of``) and builds distinct non-zero
values within range for integers, non-empty strings, full arrays, enum members other than the
default and union values with bits set in every byte.
"""

from __future__ import annotations

import importlib
import itertools
import pkgutil
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway_core.protocol import packets
from gateway_core.protocol.codecs import (
    ArrayCodec,
    Codec,
    CountedArrayCodec,
    CStrCodec,
    EnumCodec,
    FixedStrCodec,
    FloatCodec,
    IntCodec,
    TailArrayCodec,
    UnionCodec,
)
from gateway_core.protocol.codegen import RecordCodec
from gateway_core.protocol.declarations import Packet, UnionValue, fields_of, registered_packets
from gateway_core.protocol.numbering import get_profile
from gateway_core.protocol.packets import ALL_PACKETS, PACKETS_BY_NAME

# The packet types of docs/protocol.md §6 / docs/packets.md that have a payload XML file.
DEFINED_NAMES = (
    "ISC_ALIVE",
    "ISC_SERVER_REGISTER",
    "ISC_TRANSFER",
    "ISC_TRANSFER_CHAR",
    "ISC_CLIENT_STATUS",
    "ISC_SHUTDOWN",
    "PAKCS_ALIVE",
    "PAKSW_ANNOUNCE_CHAT",
    "PAKCS_ACCEPT_REQ",
    "PAKCS_CHANNEL_LIST_REQ",
    "PAKLC_CHANNEL_LIST_REPLY",
    "PAKCS_LOGOUT_REQ",
    "PAKWC_LOGOUT_REPLY",
    "PAKCS_LOGIN_REQ",
    "PAKCS_LOGIN_TOKEN_REQ",
    "PAKLC_LOGIN_REPLY",
    "PAKCS_SRV_SELECT_REQ",
    "PAKLC_SRV_SELECT_REPLY",
    "PAKCS_JOIN_SERVER_REQ",
    "PAKCS_JOIN_SERVER_TOKEN_REQ",
    "PAKSC_JOIN_SERVER_REPLY",
    "PAKWC_GLOBAL_VARS",
    "PAKWC_GLOBAL_FLAGS",
    "PAKCC_SWITCH_SERVER",
    "PAKCS_CHAR_LIST_REQ",
    "PAKCC_CHAR_LIST_REPLY",
    "PAKCS_CREATE_CHAR_REQ",
    "PAKCC_CREATE_CHAR_REPLY",
    "PAKCS_DELETE_CHAR_REQ",
    "PAKCC_DELETE_CHAR_REPLY",
    "PAKCS_SELECT_CHAR_REQ",
    "PAKWC_SELECT_CHAR_REPLY",
    "PAKWC_INVENTORY_DATA",
    "PAKWC_SET_MONEY_AND_ITEM",
    "PAKWC_SET_ITEM",
    "PAKWC_SERVER_DATA",
    "PAKWC_QUEST_DATA",
    "PAKCS_CHANGE_CHAR_REQ",
    "PAKCC_CHAN_CHAR_REPLY",
    "PAKWC_SET_MONEY",
    "PAKWC_QUEST_REWARD_ADD_VALUE",
    "PAKWC_QUEST_REWARD_SET_VALUE",
    "PAKCS_QUEST_DATA_REQ",
    "PAKWC_QUEST_DATA_REPLY",
    "PAKWC_NPC_EVENT",
    "PAKWC_GM_COMMAND_CODE",
    "PAKCS_CHANGE_MAP_REQ",
    "PAKWC_CHANGE_MAP_REPLY",
    "PAKCS_REVIVE_REQ",
    "PAKWC_REVIVE_REPLY",
    "PAKCS_REVIVE_SET_POS",
    "PAKCS_SET_SERVER_VAR_REQ",
    "PAKWC_SET_SERVER_VAR_REPLY",
    "PAKCS_SET_WEIGHT_REQ",
    "PAKWC_SET_WEIGHT",
    "PAKWC_SET_POSITION",
    "PAKCS_STOP_MOVING",
    "PAKWC_STOP_MOVING",
    "PAKWC_UPDATE_NPC",
    "PAKCS_SET_ANIMATION",
    "PACWC_SET_ANIMATION",
    "PAKCS_TOGGLE_MOVE",
    "PAKWC_TOGGLE_MOVE",
    "PAKCS_NORMAL_CHAT",
    "PAKWC_NORMAL_CHAT",
    "PAKCS_WHISPER_CHAT",
    "PAKWC_WHISPER_CHAT",
    "PAKCS_SHOUT_CHAT",
    "PAKWC_SHOUT_CHAT",
    "PAKCS_PARTY_CHAT",
    "PAKWC_PARTY_CHAT",
    "PAKCS_CLAN_CHAT",
    "PAKWC_CLAN_CHAT",
    "PAKCS_ALLIED_CHAT",
    "PAKWC_ALLIED_CHAT",
    "PAKCS_ALLIED_SHOUT_CHAT",
    "PAKWC_ALLIED_SHOUT_CHAT",
    "PAKWC_EVENT_STATUS",
    "PAKWC_NPC_CHAR",
    "PAKWC_MOB_CHAR",
    "PAKWC_PLAYER_CHAR",
    "PAKWC_REMOVE_OBJECT",
    "PAKCS_SET_POSITION",
    "PAKCS_STOP",
    "PAKWC_STOP",
    "PAKWC_MOVE",
    "PAKCS_ATTACK",
    "PAKWC_ATTACK",
    "PAKCS_DAMAGE",
    "PAKWC_DAMAGE",
    "PAKCS_MOUSE_CMD",
    "PAKWC_MOUSE_CMD",
    "PAKWC_SET_EXP",
    "PAKWC_LEVELUP",
    "PAKCS_HP_REQ",
    "PAKWC_HP_REPLY",
    "PAKWC_SET_HP_AND_MP",
    "PAKCS_STORE_TRADE_REQ",
    "PAKWC_STORE_TRADE_REPLY",
    "PAKCS_USE_ITEM",
    "PAKWC_USE_ITEM",
    "PAKCS_DROP_ITEM",
    "PAKCS_EQUIP_ITEM",
    "PAKWC_EQUIP_ITEM",
    "PAKWC_DROP_ITEM",
    "PAKCS_PICKUP_ITEM_REQ",
    "PAKWC_PICKUP_ITEM_REPLY",
    "PAKCS_TELEPORT_REQ",
    "PAKWC_TELEPORT_REPLY",
    "PAKCS_STAT_ADD_REQ",
    "PAKWC_STAT_ADD_REPLY",
    "PAKCS_HOTBAR_SET_ICON_REQ",
    "PAKWC_HOTBAR_SET_ICON_REPLY",
    "PAKCS_EQUIP_PROJECTILE",
    "PAKWC_EQUIP_PROJECTILE",
    "PAKWC_CHANGE_SKIN",
    "PAKCS_BANK_LIST_REQ",
    "PAKWC_BANK_LIST_REPLY",
    "PAKCS_BANK_MOVE_ITEM",
    "PAKWC_BANK_MOVE_ITEM",
    "PAKCS_CRAFT_REQ",
    "PAKWC_CRAFT_REPLY",
    "PAKWC_SKILL_LEARN",
    "PAKCS_SKILL_LEVEL_REQ",
    "PAKWC_SKILL_LEVEL_REPLY",
    "PAKCS_SKILL_CAST_SELF",
    "PAKWC_SKILL_CAST_SELF",
    "PAKCS_SKILL_CAST_TARGET",
    "PAKWC_SKILL_CAST_TARGET",
    "PAKCS_SKILL_CAST_POSITION",
    "PAKWC_SKILL_CAST_POSITION",
    "PAKWC_SKILL_EFFECT",
    "PAKWC_SKILL_DAMAGE",
    "PAKWC_CLEAR_STATUS",
    "PAKWC_SPEED_CHANGED",
    "PAKWC_SKILL_FINISH",
    "PAKCS_APPRAISAL_REQ",
    "PAKWC_APPRAISAL_REPLY",
    "PAKWC_SKILL_START",
    "PAKCS_CRAFT_ENHANCE_REQ",
    "PAKWC_CRAFT_ENHANCE_REPLY",
    "PAKWC_SKILL_CANCEL",
    "PAKCS_WISHLIST_ADD",
    "PAKCS_TRADE",
    "PAKWC_TRADE",
    "PAKCS_TRADE_ITEM",
    "PAKWC_TRADE_ITEM",
    "PAKCS_SHOP_OPEN",
    "PAKWC_SHOP_OPEN",
    "PAKCS_SHOP_CLOSE",
    "PAKWC_SHOP_CLOSE",
    "PAKCS_SHOP_LIST_REQ",
    "PAKWC_SHOP_LIST_REPLY",
    "PAKCS_SHOP_BUY_REQ",
    "PAKCS_SHOP_SELL_REQ",
    "PAKCS_SHOP_BUYSELL_REPLY",
    "PAKCS_EQUIP_ITEM_RIDE",
    "PAKWC_EQUIP_ITEM_RIDE",
    "PAKCS_REPAIR_USE_ITEM",
    "PAKCS_REPAIR_NPC",
    "PAKWC_SET_ITEM_LIFE",
    "PAKCS_PARTY_REQ",
    "PAKWC_PARTY_REQ",
    "PAKCS_PARTY_REPLY",
    "PAKWC_PARTY_REPLY",
    "PAKWC_PARTY_MEMBER",
    "PAKWC_PARTY_ITEM",
    "PAKWC_PARTY_LEVELEXP",
    "PAKWC_PARTY_MEMBER_UPDATE",
    "PAKWC_EVENT_ADD",
    "PAKCS_PARTY_RULE",
    "PAKWC_PARTY_RULE",
    "PAKCS_CRAFT_STATUS",
    "PAKWC_CRAFT_STATUS",
    "PAKCS_BANK_MOVE_MONEY",
    "PAKWC_BANK_MOVE_MONEY",
    "PAKWC_NPC_SHOW",
    "PAKWC_FAIRY",
    "PAKCS_RIDE_REQUEST",
    "PAKWC_RIDE_REQUEST",
    "PAKWC_BILLING_MESSAGE",
    "PAKCS_CLAN_COMMAND",
    "PAKCC_CLAN_COMMAND",
    "PAKCS_MESSENGER",
    "PAKCC_MESSENGER",
    "PAKCS_MESSENGER_CHAT",
    "PAKCC_MESSENGER_CHAT",
    "PAKCS_CHATROOM",
    "PAKCC_CHATROOM",
    "PAKCS_CHATROOM_MESSAGE",
    "PAKCC_CHATROOM_MESSAGE",
    "PAKCS_MEMO",
    "PAKCC_MEMO",
    "PAKCS_CLAN_ICON_SET",
    "PAKCS_CLAN_ICON_REQ",
    "PAKCC_CLAN_ICON_REPLY",
    "PAKCS_CLAN_ICON_TIMESTAMP",
    "PAKCC_CLAN_ICON_TIMESTAMP",
    "PAKWC_RIDE_STATE_CHANGE",
    "PAWKC_CHAR_STATE_CHANGE",
    "PAKCS_SCREEN_SHOT_TIME_REQ",
    "PAKSC_SCREEN_SHOT_TIME_REPLY",
    "PAKWC_UPDATE_NAME",
    "PAKSS_ACCEPT_REPLY",
)

# Elements generated for counted and run-to-end arrays.
LIST_LEN = 3


class SampleFactory:
    """Builds non-default values for a declaration; each integer drawn is distinct."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def _next(self) -> int:
        return next(self._counter)

    def value(self, codec: Codec[Any]) -> Any:
        if isinstance(codec, EnumCodec):
            members = [m for m in codec.enum_cls if m != codec.default()]
            return members[self._next() % len(members)]
        if isinstance(codec, IntCodec):
            span = min(codec.max, 0x7FFF_FFFF)
            v = 1 + (self._next() * 7919) % span
            return -v if codec.signed and self._next() % 2 else v
        if isinstance(codec, FloatCodec):
            return self._next() + 0.5  # exactly representable in binary32
        if isinstance(codec, FixedStrCodec):
            base = f"f{self._next()}-".encode()
            return (base * codec.length)[: codec.length]
        if isinstance(codec, CStrCodec):
            return f"s{self._next()}".encode()
        if isinstance(codec, UnionCodec):
            width = codec.base.bits
            pattern = int.from_bytes(bytes((0xA5 ^ self._next()) & 0xFF or 1 for _ in range(8)))
            return codec.cls(pattern & ((1 << width) - 1))
        if isinstance(codec, RecordCodec):
            return self.build(codec.cls)
        if isinstance(codec, ArrayCodec):
            return tuple(self.value(codec.elem) for _ in range(codec.length))
        if isinstance(codec, CountedArrayCodec | TailArrayCodec):
            return tuple(self.value(codec.elem) for _ in range(LIST_LEN))
        raise AssertionError(f"no sample for {codec!r}")

    def build(self, cls: Any) -> Any:
        return cls(**{spec.name: self.value(spec.codec) for spec in fields_of(cls)})


def _walk_defaults(cls: Any, obj: Any) -> Iterator[str]:
    """Names of fields (recursively) that still hold their codec default."""
    for spec in fields_of(cls):
        value = getattr(obj, spec.name)
        if value == spec.codec.default():
            yield f"{cls.__name__}.{spec.name}"
        if isinstance(spec.codec, RecordCodec):
            yield from _walk_defaults(spec.codec.cls, value)


def sample_packet(cls: type[Packet]) -> Packet:
    """A packet of type ``cls`` with a non-default value in every field."""
    return SampleFactory().build(cls)  # type: ignore[no-any-return]


PACKET_IDS = [cls.NAME for cls in ALL_PACKETS]


def test_every_defined_packet_type_has_a_class() -> None:
    assert len(DEFINED_NAMES) == 204
    assert len(set(DEFINED_NAMES)) == 204
    assert set(PACKETS_BY_NAME) == set(DEFINED_NAMES)
    assert [cls.NAME for cls in ALL_PACKETS] == list(DEFINED_NAMES)


def test_the_package_exports_every_category_name_once() -> None:
    assert len(packets.__all__) == len(set(packets.__all__))
    assert {cls.__name__ for cls in ALL_PACKETS} <= set(packets.__all__)
    assert all(getattr(packets, cls.__name__) is cls for cls in ALL_PACKETS)
    for info in pkgutil.iter_modules(packets.__path__):
        module = importlib.import_module(f"{packets.__name__}.{info.name}")
        assert set(module.__all__) <= set(packets.__all__), info.name
    assert packets.SrvSelectCharReply is PACKETS_BY_NAME["PAKWC_SELECT_CHAR_REPLY"]
    # ALL_PACKETS holds the very classes the engine registered under their names.
    assert {registered_packets()[cls.NAME] for cls in ALL_PACKETS} == set(ALL_PACKETS)


def test_defined_packets_match_the_type_table_has_definition_flags() -> None:
    profile = get_profile("2026")
    for name in DEFINED_NAMES:
        assert profile.by_name(name).has_definition, name
    with_definition = {info.name for info in profile.names.values() if info.has_definition}
    assert with_definition == set(DEFINED_NAMES)


def test_packet_class_names_follow_the_prefix_rule() -> None:
    for cls in ALL_PACKETS:
        prefix = cls.NAME.split("_", 1)[0]
        expected = {"PAKCS": "Cli", "ISC": "Isc"}.get(prefix, "Srv")
        assert cls.__name__.startswith(expected), cls
    assert PACKETS_BY_NAME["PAKCS_LOGIN_REQ"].__name__ == "CliLoginReq"
    assert PACKETS_BY_NAME["PAKLC_LOGIN_REPLY"].__name__ == "SrvLoginReply"
    assert PACKETS_BY_NAME["PAKSS_ACCEPT_REPLY"].__name__ == "SrvAcceptReply"
    assert PACKETS_BY_NAME["PAKWC_SELECT_CHAR_REPLY"].__name__ == "SrvSelectCharReply"
    assert PACKETS_BY_NAME["PAKCS_SHOP_BUYSELL_REPLY"].__name__ == "CliShopBuysellReply"


@pytest.mark.parametrize("cls", ALL_PACKETS, ids=PACKET_IDS)
def test_packet_round_trips_with_non_default_values(cls: type[Packet]) -> None:
    pkt = sample_packet(cls)
    assert list(_walk_defaults(cls, pkt)) == []
    payload = pkt.encode_payload()
    decoded = cls.decode_payload(payload)
    assert decoded.packet == pkt
    assert (decoded.missing, decoded.extra) == (None, 0)
    assert decoded.packet.encode_payload() == payload


@pytest.mark.parametrize("cls", ALL_PACKETS, ids=PACKET_IDS)
def test_packet_default_instance_round_trips(cls: type[Packet]) -> None:
    payload = cls().encode_payload()
    decoded = cls.decode_payload(payload)
    assert decoded.packet == cls()
    assert (decoded.missing, decoded.extra) == (None, 0)


@pytest.mark.parametrize("cls", ALL_PACKETS, ids=PACKET_IDS)
def test_truncated_payload_reports_a_missing_field_or_decodes_fully(cls: type[Packet]) -> None:
    payload = sample_packet(cls).encode_payload()
    for cut in range(len(payload)):
        decoded = cls.decode_payload(payload[:cut])
        names = [spec.name for spec in fields_of(cls)]
        if decoded.missing is not None:
            assert decoded.missing in names
            assert decoded.extra == 0
            # The missing field and every later one keep their defaults.
            for name in names[names.index(decoded.missing) :]:
                assert getattr(decoded.packet, name) == getattr(cls(), name)
        else:
            # Only possible when the last field is a run-to-end array.
            assert isinstance(fields_of(cls)[-1].codec, TailArrayCodec)


@pytest.mark.parametrize("cls", ALL_PACKETS, ids=PACKET_IDS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=1200))
def test_decoding_arbitrary_bytes_never_raises(cls: type[Packet], data: bytes) -> None:
    decoded = cls.decode_payload(data)
    assert isinstance(decoded.packet, cls)
    assert 0 <= decoded.extra <= len(data)
    if decoded.missing is None:
        # Whatever was read re-encodes to exactly the bytes it was read from.
        consumed = data[: len(data) - decoded.extra]
        if not _has_float(cls):  # NaN payload bits are not preserved through a Python float
            assert decoded.packet.encode_payload() == consumed


def _has_float(cls: Any) -> bool:
    def walk(codec: Codec[Any]) -> bool:
        if isinstance(codec, FloatCodec):
            return True
        if isinstance(codec, RecordCodec):
            return _has_float(codec.cls)
        if isinstance(codec, ArrayCodec | CountedArrayCodec | TailArrayCodec):
            return walk(codec.elem)
        return False

    return any(walk(spec.codec) for spec in fields_of(cls))


def _union_classes() -> list[type[UnionValue]]:
    found: dict[str, type[UnionValue]] = {}

    def walk(codec: Codec[Any]) -> None:
        if isinstance(codec, UnionCodec):
            found[codec.cls.__name__] = codec.cls
        elif isinstance(codec, RecordCodec):
            for spec in fields_of(codec.cls):
                walk(spec.codec)
        elif isinstance(codec, ArrayCodec | CountedArrayCodec | TailArrayCodec):
            walk(codec.elem)

    for cls in ALL_PACKETS:
        for spec in fields_of(cls):
            walk(spec.codec)
    return [found[k] for k in sorted(found)]


UNION_CLASSES = _union_classes()


def test_all_union_types_are_found() -> None:
    names = {u.__name__ for u in UNION_CLASSES}
    assert {"ItemHeader", "ItemData", "EquippedItem", "HotbarItem", "BuySellItem"} <= names
    assert len(UNION_CLASSES) == 10


@pytest.mark.parametrize("ucls", UNION_CLASSES, ids=[u.__name__ for u in UNION_CLASSES])
def test_union_parts_build_and_read_back(ucls: type[UnionValue]) -> None:
    for name, part in ucls.parts().items():
        for value in (1, part.mask, part.mask >> 1):
            u = ucls.of(**{name: value})
            assert getattr(u, name) == value
            assert int(u) == value << part.lo
            assert getattr(u.with_parts(**{name: 0}), name) == 0


# -- the generated fast paths (codegen.gen_decoder / gen_encoders) against the generic layout --


def _generic_decode(cls: type[Packet], buf: bytes) -> tuple[Packet, str | None, int]:
    values, off, missing = cls._LAYOUT.decode(buf, 0)
    return cls(*values), missing, 0 if missing is not None else len(buf) - off


def _generic_encode(pkt: Packet) -> bytes:
    parts: list[bytes] = []
    pkt._LAYOUT.encode(pkt, parts)
    return b"".join(parts)


def _assert_fast_decode_matches(cls: type[Packet], buf: bytes) -> None:
    generic, missing, extra = _generic_decode(cls, buf)
    fast = cls._DECODE_EXACT(buf)
    # Compared by repr: == cannot tell an IntEnum member from its int, and NaN != NaN.
    if missing is None and extra == 0:
        assert repr(fast) == repr(generic)
        assert fast is not None and _generic_encode(fast) == _generic_encode(generic)
    else:
        assert fast is None
    decoded = cls.decode_payload(buf)
    assert (repr(decoded.packet), decoded.missing, decoded.extra) == (
        repr(generic), missing, extra)


@pytest.mark.parametrize("cls", ALL_PACKETS, ids=PACKET_IDS)
def test_fast_decoder_equals_the_generic_decoder_on_sample_payloads(cls: type[Packet]) -> None:
    payload = sample_packet(cls).encode_payload()
    for buf in (payload, cls().encode_payload(), payload + b"\x01\x02",
                payload[: len(payload) // 2], payload[:-1], b""):
        _assert_fast_decode_matches(cls, buf)


@pytest.mark.parametrize("cls", ALL_PACKETS, ids=PACKET_IDS)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=300))
def test_fast_decoder_equals_the_generic_decoder_on_arbitrary_bytes(
    cls: type[Packet], data: bytes
) -> None:
    _assert_fast_decode_matches(cls, data)


@pytest.mark.parametrize("cls", ALL_PACKETS, ids=PACKET_IDS)
def test_fast_encoder_equals_the_generic_encoder(cls: type[Packet]) -> None:
    for pkt in (sample_packet(cls), cls()):
        assert cls._ENCODE(pkt) == _generic_encode(pkt)
        assert pkt.encode_payload() == _generic_encode(pkt)


@pytest.mark.parametrize("cls", ALL_PACKETS, ids=PACKET_IDS)
def test_fast_plain_frame_equals_header_plus_generic_payload(cls: type[Packet]) -> None:
    from gateway_core.protocol.framing import pack_frame

    for pkt in (sample_packet(cls), cls()):
        assert cls._ENCODE_FRAME(pkt, 0x0783) == pack_frame(0x0783, _generic_encode(pkt))


def test_fast_plain_frame_leaves_oversized_packets_to_the_general_path() -> None:
    from gateway_core.protocol.packets import CliNormalChat

    assert CliNormalChat._ENCODE_FRAME(CliNormalChat(message=b"x" * 2040), 1) is not None
    assert CliNormalChat._ENCODE_FRAME(CliNormalChat(message=b"x" * 2041), 1) is None
