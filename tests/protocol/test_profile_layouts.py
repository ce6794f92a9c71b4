"""The payload differences of numbering profile 2021 (docs/protocol.md §9.1), with byte vectors
for both profiles. The vectors are written by hand from the layouts: 2026 from the current
packet set, 2021 from the osIROSE-new era set.

Shared pieces: ``Item.stack(type=10, id=5, count=2)`` is the header u16 ``0x00AA``
(type 10 in bits 0-4, id 5 in bits 5-14) then the data u32 ``2``: ``aa 00 02 00 00 00``.
"""

from __future__ import annotations

import pytest

from gateway_core.protocol import ProtocolConnection, Role
from gateway_core.protocol.codecs import u8
from gateway_core.protocol.connection import NEED_DATA, encode_packet
from gateway_core.protocol.declarations import (
    ProfileLayout,
    decode_payload_in,
    encode_payload_in,
    field,
    profile_layout,
    profile_layouts,
)
from gateway_core.protocol.errors import LocalProtocolError
from gateway_core.protocol.numbering import get_profile
from gateway_core.protocol.packets import (
    BankMoveItem2021,
    BankMoveMode,
    BankMoveMode2021,
    CliBankMoveItem,
    CliCraftEnhanceReq,
    CliLoginReq,
    CraftEnhancementData,
    CraftEnhancementResult,
    CraftEnhancementType,
    CraftEnhanceReply2021,
    CraftEnhanceReq2021,
    EquippedPosition,
    IndexAndItem,
    Item,
    Packet,
    SrvCraftEnhanceReply,
    SrvSelectCharReply,
    bank_move_mode_from_2021,
    bank_move_mode_to_2021,
)

ITEM = Item.stack(type=10, id=5, count=2)
ITEM_BYTES = bytes.fromhex("aa00 02000000")


def frame(type_value: int, payload: bytes) -> bytes:
    """A plain frame: u16 size, u16 type, u16 crc 0, the payload."""
    return (6 + len(payload)).to_bytes(2, "little") + type_value.to_bytes(2, "little") + (
        b"\0\0" + payload
    )


def value(name: str, profile: str) -> int:
    return get_profile(profile).value_of(name)


# --- the vectors --------------------------------------------------------------------------


ENHANCE_REQ = CliCraftEnhanceReq(
    enhancement=CraftEnhancementType.DISASSEMBLE_SKILL,
    data=CraftEnhancementData.of(disassemble_source=2, disassemble_target=7),
)
ENHANCE_REPLY = SrvCraftEnhanceReply(
    result=CraftEnhancementResult.GEM_SUCCESS,
    items=(IndexAndItem(index=4, item=ITEM), IndexAndItem(index=9, item=Item())),
)
BANK_MOVE = CliBankMoveItem(
    mode=BankMoveMode.BANK_TO_INVENTORY, index=3, item=ITEM, use_special_tab=1
)

#: (packet, 2026 payload, 2021 payload)
VECTORS: list[tuple[Packet, bytes, bytes]] = [
    # u8 enhancement 1, u16 data: source 2 in the low byte, target 7 in the high one. 2021: empty.
    (ENHANCE_REQ, bytes.fromhex("01 0207"), b""),
    # u8 result 1, then per entry: 2026 u8 index + Item, 2021 the Item alone; no count.
    (
        ENHANCE_REPLY,
        bytes.fromhex("01") + b"\x04" + ITEM_BYTES + b"\x09" + bytes(6),
        bytes.fromhex("01") + ITEM_BYTES + bytes(6),
    ),
    # u8 mode (2026: 17, 2021: 1), u8 index 3, Item, u8 use_special_tab 1.
    (BANK_MOVE, b"\x11\x03" + ITEM_BYTES + b"\x01", b"\x01\x03" + ITEM_BYTES + b"\x01"),
]
IDS = [packet.NAME for packet, _, _ in VECTORS]


def test_the_2021_profile_has_exactly_the_documented_layouts() -> None:
    assert set(profile_layouts("2021")) == {
        "PAKCS_CRAFT_ENHANCE_REQ", "PAKWC_CRAFT_ENHANCE_REPLY", "PAKCS_BANK_MOVE_ITEM",
    }
    assert dict(profile_layouts("2026")) == {}
    assert profile_layouts("2021")["PAKCS_BANK_MOVE_ITEM"] is BankMoveItem2021
    assert CraftEnhanceReq2021.OF is CliCraftEnhanceReq
    assert CraftEnhanceReply2021.PROFILE == "2021"


@pytest.mark.parametrize(("packet", "new", "old"), VECTORS, ids=IDS)
def test_payloads_in_both_profiles(packet: Packet, new: bytes, old: bytes) -> None:
    assert packet.encode_payload() == new
    assert encode_payload_in(packet, "2026") == new
    assert encode_payload_in(packet, "2021") == old
    assert decode_payload_in(type(packet), new, "2026").packet == packet
    decoded = decode_payload_in(type(packet), old, "2021")
    assert type(decoded.packet) is type(packet)
    assert decoded.missing is None and decoded.extra == 0


@pytest.mark.parametrize(("packet", "new", "old"), VECTORS, ids=IDS)
@pytest.mark.parametrize("cipher", ["plain", "rosecrypt"])
def test_connections_pick_the_layout_of_their_profile(
    packet: Packet, new: bytes, old: bytes, cipher: str
) -> None:
    client_side = packet.NAME.startswith("PAKCS")
    sender_role, receiver_role = (Role.CLIENT, Role.SERVER) if client_side else (
        Role.SERVER, Role.CLIENT
    )
    for profile, payload in (("2026", new), ("2021", old)):
        sender = ProtocolConnection(sender_role, cipher=cipher, profile=profile)
        wire = sender.send(packet)
        if cipher == "plain":
            assert wire == frame(value(packet.NAME, profile), payload)
        # The broadcast path encodes the same way.
        assert encode_packet(packet, role=sender_role, cipher=cipher, profile=profile) == wire
        warnings: list[tuple[str, str, str]] = []
        receiver = ProtocolConnection(
            receiver_role, cipher=cipher, profile=profile,
            on_warning=lambda *w, into=warnings: into.append(w),
        )
        receiver.receive_data(wire + wire)
        events = list(receiver.events())  # the fast path, then next_event
        assert len(events) == 2 and all(type(e) is type(packet) for e in events)
        assert not warnings


def test_2021_frames_decode_to_the_declared_classes() -> None:
    server = ProtocolConnection(Role.SERVER, profile="2021")
    server.receive_data(
        frame(0x0591, b"")  # PAKCS_CRAFT_ENHANCE_REQ in 2021
        + frame(0x057C, b"\x00\x03" + ITEM_BYTES + b"\x00")  # PAKCS_BANK_MOVE_ITEM, to bank
    )
    enhance = server.next_event()
    assert enhance == CliCraftEnhanceReq()  # the declared defaults: there is nothing to read
    move = server.next_event()
    assert move == CliBankMoveItem(mode=BankMoveMode.INVENTORY_TO_BANK, index=3, item=ITEM)
    assert isinstance(move, CliBankMoveItem) and move.mode is BankMoveMode.INVENTORY_TO_BANK
    assert server.next_event() is NEED_DATA

    client = ProtocolConnection(Role.CLIENT, profile="2021")
    client.receive_data(frame(0x0592, b"\x10" + ITEM_BYTES))  # PAKWC_CRAFT_ENHANCE_REPLY
    reply = client.next_event()
    assert reply == SrvCraftEnhanceReply(
        result=CraftEnhancementResult.UPGRADE_SUCCESS, items=(IndexAndItem(index=0, item=ITEM),)
    )


def test_2021_decoding_stays_lenient() -> None:
    warnings: list[tuple[str, str, str]] = []
    server = ProtocolConnection(Role.SERVER, profile="2021",
                                on_warning=lambda *w: warnings.append(w))
    # A 2026-style enhance request on a 2021 connection: the 3 bytes are not part of the layout.
    server.receive_data(frame(0x0591, b"\x01\x02\x07"))
    assert server.next_event() == CliCraftEnhanceReq()
    # A bank move cut short after the index: item and tab keep their defaults.
    server.receive_data(frame(0x057C, b"\x01\x05"))
    assert server.next_event() == CliBankMoveItem(mode=BankMoveMode.BANK_TO_INVENTORY, index=5)
    assert [(kind, name) for kind, name, _ in warnings] == [
        ("extra_bytes", "PAKCS_CRAFT_ENHANCE_REQ"),
        ("short_payload", "PAKCS_BANK_MOVE_ITEM"),
    ]
    # A reply with a partial item: the whole items are kept, the rest is extra.
    client = ProtocolConnection(Role.CLIENT, profile="2021",
                                on_warning=lambda *w: warnings.append(w))
    client.receive_data(frame(0x0592, b"\x01" + ITEM_BYTES + b"\xaa\x00"))
    reply = client.next_event()
    assert isinstance(reply, SrvCraftEnhanceReply) and len(reply.items) == 1
    assert warnings[-1][:2] == ("extra_bytes", "PAKWC_CRAFT_ENHANCE_REPLY")


def test_bank_move_mode_mapping_is_a_lossless_swap() -> None:
    assert bank_move_mode_from_2021(0) is BankMoveMode.INVENTORY_TO_BANK
    assert bank_move_mode_from_2021(1) is BankMoveMode.BANK_TO_INVENTORY
    assert bank_move_mode_to_2021(BankMoveMode.INVENTORY_TO_BANK) is (
        BankMoveMode2021.INVENTORY_TO_BANK
    )
    assert bank_move_mode_from_2021(16) == 0 and bank_move_mode_from_2021(17) == 1
    for wire in range(256):
        assert int(bank_move_mode_to_2021(bank_move_mode_from_2021(wire))) == wire
    # Every byte a 2021 client may send survives a decode and re-encode unchanged.
    for wire in (0, 1, 2, 16, 17, 200):
        payload = bytes([wire, 3]) + ITEM_BYTES + b"\x00"
        decoded = decode_payload_in(CliBankMoveItem, payload, "2021").packet
        assert encode_payload_in(decoded, "2021") == payload


def test_a_layout_instance_is_sent_as_it_is() -> None:
    layout = CraftEnhanceReply2021(result=CraftEnhancementResult.GEM_SUCCESS, items=(ITEM,))
    conn = ProtocolConnection(Role.SERVER, profile="2021")
    assert conn.send(layout) == frame(0x0592, b"\x01" + ITEM_BYTES)
    assert encode_payload_in(layout, "2021") == b"\x01" + ITEM_BYTES
    assert layout.to_packet() == SrvCraftEnhanceReply(
        result=CraftEnhancementResult.GEM_SUCCESS, items=(IndexAndItem(index=0, item=ITEM),)
    )


def test_types_without_a_2021_layout_are_the_same_bytes_in_both_profiles() -> None:
    login = CliLoginReq(password=b"a" * 64, username=b"bob")
    char = SrvSelectCharReply(race=1, map=2, x=3.0, y=4.0)  # HotbarItem, StatusEffect inside
    for packet in (login, char):
        assert encode_payload_in(packet, "2021") == packet.encode_payload()
        new = ProtocolConnection(Role.SERVER, profile="2026").send(packet)
        old = ProtocolConnection(Role.SERVER, profile="2021").send(packet)
        assert new[:2] == old[:2] and new[4:] == old[4:]  # only the type value differs


def test_token_packets_and_equipped_positions() -> None:
    assert "PAKCS_LOGIN_TOKEN_REQ" not in get_profile("2021")
    assert "PAKCS_JOIN_SERVER_TOKEN_REQ" not in get_profile("2021")
    assert get_profile("2021").by_value(0x050A).name == "PAKLC_LOGIN_REPLY"
    assert get_profile("2026").value_of("PAKCS_JOIN_SERVER_TOKEN_REQ") == 0x0510
    # The 2026 enum members 2021 lacks; no field is of this type, so no byte changes.
    assert {"NECKLACE", "RING", "EARRING"} <= set(EquippedPosition.__members__)


def test_layout_declarations_are_checked() -> None:
    with pytest.raises(TypeError, match="two layouts"):

        @profile_layout(CliCraftEnhanceReq, "2021")
        class Again(ProfileLayout):
            pass

    with pytest.raises(TypeError, match="no layouts for profile"):

        @profile_layout(CliLoginReq, "2026")
        class Default(ProfileLayout):
            x: int = field(u8)

    with pytest.raises(TypeError, match="no layouts for profile"):

        @profile_layout(CliLoginReq, "1999")
        class Unknown(ProfileLayout):
            pass


def test_a_packet_the_2021_layout_cannot_carry_is_a_local_error() -> None:
    bad = SrvCraftEnhanceReply(items=("not an entry",))  # type: ignore[arg-type]
    conn = ProtocolConnection(Role.SERVER, profile="2021")
    with pytest.raises(LocalProtocolError) as info:
        conn.send(bad)
    assert info.value.kind == "bad_field"
    with pytest.raises(LocalProtocolError):
        encode_packet(bad, profile="2021")
    # The connection is unaffected.
    assert conn.send(ENHANCE_REPLY) == frame(0x0592, VECTORS[1][2])
