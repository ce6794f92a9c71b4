"""Hand-computed payloads, checked both ways (h11's SIMPLE_CASES style).

Each case covers one construct of docs/protocol.md §5; the expected bytes are written out by hand
as hex (spaces separate fields). Payload only: the 6-byte header belongs to framing.
"""

from __future__ import annotations

import hashlib

import pytest

from gateway_core.protocol.declarations import Packet, as_codec
from gateway_core.protocol.errors import LocalProtocolError
from gateway_core.protocol.packets import (
    AcceptReplyResult,
    BankMoveMode,
    BuySellItem,
    ChannelInfo,
    CharInfo,
    CliAlive,
    CliBankMoveItem,
    CliChatroom,
    CliCraftReq,
    CliEquipProjectile,
    CliHotbarSetIconReq,
    CliJoinServerReq,
    CliLoginReq,
    CliMouseCmd,
    CliStoreTradeReq,
    CraftEnhancementResult,
    EquippedItem,
    HotbarItem,
    IndexAndItem,
    IscTransferChar,
    Item,
    ItemData,
    ItemHeader,
    LoginResult,
    PartyExpData,
    PartyMember,
    PartyMemberAction,
    PartyRule,
    ProjectileTypeAndIndex,
    ServerInfo,
    SrvAcceptReply,
    SrvChannelListReply,
    SrvCharListReply,
    SrvCraftEnhanceReply,
    SrvHotbarSetIconReply,
    SrvLoginReply,
    SrvPartyItem,
    SrvPartyLevelexp,
    SrvPartyMember,
    SrvSelectCharReply,
)

ADMIN_SHA256_HEX = "8c6976e5b5410415bde908bd4dee15dfb167a9c873fc4bb8a81f6f2ab448a918"

CASES: list[tuple[str, Packet, str]] = [
    (
        # §5.11 worked example: char[64] password (ASCII of the SHA-256 hex) + cstr username.
        "login_req_admin_worked_example",
        CliLoginReq(password=ADMIN_SHA256_HEX.encode(), username=b"admin"),
        "38 63 36 39 37 36 65 35 62 35 34 31 30 34 31 35"
        " 62 64 65 39 30 38 62 64 34 64 65 65 31 35 64 66"
        " 62 31 36 37 61 39 63 38 37 33 66 63 34 62 62 38"
        " 61 38 31 66 36 66 32 61 62 34 34 38 61 39 31 38"
        " 61 64 6d 69 6e 00",
    ),
    (
        # C1 union: ItemHeader{type=3, id=5, isCreated=1} = 0x80A3; ItemData as stack count.
        "party_item_header_union",
        SrvPartyItem(
            target=0x1234,
            item=Item(header=ItemHeader.of(type=3, id=5, is_created=1), data=ItemData(count=7)),
        ),
        "3412 a380 07000000",
    ),
    (
        # C1/C2 equipment overlay: gem 0x101, durability 80, life 1000, socket, appraised,
        # refine 9 = 0x9FE8A101; header type 1, id 0x3FF = 0x7FE1; enum BankMoveMode 16.
        "bank_move_item_equipment_overlay",
        CliBankMoveItem(
            mode=BankMoveMode.INVENTORY_TO_BANK,
            index=3,
            item=Item(
                header=ItemHeader.of(type=1, id=0x3FF),
                data=ItemData.of(
                    gem_opt=0x101,
                    durability=80,
                    life=1000,
                    has_socket=1,
                    is_appraised=1,
                    refine=9,
                ),
            ),
            use_special_tab=1,
        ),
        "10 03 e17f 01a1e89f 01",
    ),
    (
        # Counted array (u8 count) of a nested variable-size sequence.
        "channel_list_counted_array",
        SrvChannelListReply(
            id=1,
            channels=(
                ChannelInfo(id=1, low_age=0, high_age=99, capacity=1000, name=b"ch1"),
                ChannelInfo(id=2, low_age=15, high_age=0, capacity=0x0102, name=b""),
            ),
        ),
        "01000000 02 01 00 63 e803 63683100 02 0f 00 0201 00",
    ),
    (
        # Counted array whose elements contain a fixed array of C3 EquippedItem unions:
        # {id=0x3FF, gem_opt=1, socket=1, grade=15} = 0x00F807FF.
        "char_list_counted_with_equipped_items",
        SrvCharListReply(
            characters=(
                CharInfo(
                    name=b"Bob",
                    race=1,
                    level=0x0102,
                    job=203,
                    remain_secs_until_delete=0,
                    platinium=1,
                    face=2,
                    hair=3,
                    items=(EquippedItem.of(id=0x3FF, gem_opt=1, socket=1, grade=15),)
                    + (EquippedItem(),) * 7,
                ),
            )
        ),
        "01 426f6200 01 0201 cb00 00000000 01 02000000 03000000 ff07f800"
        " 00000000 00000000 00000000 00000000 00000000 00000000 00000000",
    ),
    (
        # Run-to-end array without count; `char` test byte; enum LoginResult.
        "login_reply_run_to_end_servers",
        SrvLoginReply(
            result=LoginResult.OK,
            right=0x64,
            type=0,
            servers_info=(
                ServerInfo(test=0x40, name=b"S1", id=1),
                ServerInfo(test=0, name=b"Two", id=0x0A0B0C0D),
            ),
        ),
        "00 6400 0000 40 533100 01000000 00 54776f00 0d0c0b0a",
    ),
    (
        # Fixed string shorter than its length: padded with 0x00 to exactly 64 bytes.
        "join_server_fixed_string_padded",
        CliJoinServerReq(session_id=0x01020304, password=b"abc"),
        "04030201 616263" + " 00" * 61,
    ),
    (
        # u8 enum.
        "accept_reply_enum",
        SrvAcceptReply(result=AcceptReplyResult.ACCEPTED, rand_value=0x11223344),
        "02 44332211",
    ),
    (
        # Signed i8 enum (REMOVE = -1), u8 enum with an explicit id (0x80), nested sequence.
        "party_member_nested_sequence_signed_enum",
        SrvPartyMember(
            rule=PartyRule.ITEM_IN_ORDER,
            action=PartyMemberAction.REMOVE,
            member=PartyMember(
                tag=0x11,
                id=0x22,
                max_hp=1000,
                hp=500,
                status=0,
                con=7,
                hp_recovery=1,
                mp_recovery=2,
                stamina=-2,
                name=b"Al",
            ),
        ),
        "80 ff 11000000 2200 e8030000 f4010000 00000000 0700 0100 0200 feff 416c00",
    ),
    (
        # Fixed array of scalars (4 x i16), signed i8.
        "craft_req_fixed_array",
        CliCraftReq(slot=1, type=-1, id=2, material_slots=(1, 2, 3, 4)),
        "01 ff 02 0100 0200 0300 0400",
    ),
    (
        # Union with byte-aligned overlays: the "buy" view of BuySellItem.
        "store_trade_union_buy_overlay",
        CliStoreTradeReq(
            npc_id=0x10,
            is_buy=1,
            is_sell=0,
            time=0x12345678,
            item=BuySellItem.of(buy_tab_id=1, buy_col_id=2, buy_amount=0x0304),
        ),
        "1000 01 00 78563412 01 02 0403",
    ),
    (
        # ... and its "sell" view ({u8 idx, u16 amount}, packed, no padding).
        "store_trade_union_sell_overlay",
        CliStoreTradeReq(
            npc_id=0x10,
            is_buy=0,
            is_sell=1,
            time=1,
            item=BuySellItem.of(sell_inventory_idx=9, sell_amount=0x0102),
        ),
        "1000 00 01 01000000 09 0201 00",
    ),
    (
        # 31-bit + 1-bit union members: {exp=5, level_up=1} = 0x80000005.
        "party_levelexp_wide_bitfield",
        SrvPartyLevelexp(level=10, exp_data=PartyExpData.of(exp=5, level_up=1)),
        "0a 05000080",
    ),
    (
        # u16 union {type: 2 bits, index: 14 bits}: type 2, index 5 = 0x0016.
        "equip_projectile_union",
        CliEquipProjectile(projectile=ProjectileTypeAndIndex.of(type=2, index=5)),
        "1600",
    ),
    (
        # `occurSize` misspelling: the list has NO count and runs to the end of the packet.
        "craft_enhance_reply_misspelled_occurs_size",
        SrvCraftEnhanceReply(
            result=CraftEnhancementResult.GEM_SUCCESS,
            items=(
                IndexAndItem(
                    index=2,
                    item=Item(header=ItemHeader(0x80A3), data=ItemData(count=1)),
                ),
            ),
        ),
        "01 02 a380 01000000",
    ),
    (
        # Counted arrays with u8 (of cstr) and u16 (of u8) counts.
        "isc_transfer_char_counts",
        IscTransferChar(server_packet=1, names=(b"a", b"bc"), blob=(0xDE, 0xAD)),
        "01 02 6100 626300 0200 de ad",
    ),
    (
        # Little-endian binary32 floats.
        "mouse_cmd_floats",
        CliMouseCmd(target_id=0x0102, x=1.0, y=-2.0, z=3),
        "0201 0000803f 000000c0 0300",
    ),
    ("alive_empty_payload", CliAlive(), ""),
    # The XML keeps its fields in a comment: as generated, the payload is empty.
    ("chatroom_commented_out_fields", CliChatroom(), ""),
    # ... except the hotbar packets, declared with the commented list (docs/protocol.md §10.16):
    # u8 index, u16 HotbarItem {type=3 skill, slot_id=5} = 3 | 5 << 5 = 0x00a3.
    (
        "hotbar_set_icon_req_commented_fields",
        CliHotbarSetIconReq(index=7, icon=HotbarItem.of(type=3, slot_id=5)),
        "07 a300",
    ),
    (
        "hotbar_set_icon_reply_commented_fields",
        SrvHotbarSetIconReply(index=31, icon=HotbarItem.of(type=1, slot_id=12)),
        "1f 8101",
    ),
]


@pytest.mark.parametrize(
    ("packet", "hex_payload"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_golden_payload_encodes_to_hand_computed_bytes(packet: Packet, hex_payload: str) -> None:
    assert packet.encode_payload().hex() == bytes.fromhex(hex_payload).hex()


@pytest.mark.parametrize(
    ("packet", "hex_payload"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_golden_payload_decodes_to_the_packet(packet: Packet, hex_payload: str) -> None:
    decoded = type(packet).decode_payload(bytes.fromhex(hex_payload))
    assert decoded.packet == packet
    assert (decoded.missing, decoded.extra) == (None, 0)


def test_login_worked_example_is_76_bytes_with_header() -> None:
    payload = CliLoginReq(password=ADMIN_SHA256_HEX.encode(), username=b"admin").encode_payload()
    assert hashlib.sha256(b"admin").hexdigest() == ADMIN_SHA256_HEX
    assert 6 + len(payload) == 76 == 0x4C


def test_item_header_union_reads_its_parts_back() -> None:
    header = ItemHeader(0x80A3)
    assert (header.type, header.id, header.is_created) == (3, 5, 1)
    assert int(header) == header.header == 0x80A3


def test_item_constructors_build_the_c2_encoding_from_parts() -> None:
    assert Item.stack(3, 5, 7, is_created=1) == Item(ItemHeader(0x80A3), ItemData(count=7))
    equipment = Item.equipment(1, 0x3FF, gem_opt=0x101, durability=80, life=1000, refine=9)
    assert equipment.data == ItemData(0x93E8A101)
    assert (equipment.data.life, equipment.data.has_socket) == (1000, 0)


def test_hotbar_item_bitfield_sits_at_offset_702_of_select_char_reply() -> None:
    # HotbarItem: type bits 0-4, slotId bits 5-15: {type=2, slot_id=0x123} = 0x2462.
    item = HotbarItem.of(type=2, slot_id=0x123)
    out: list[bytes] = []
    as_codec(HotbarItem).write(item, out)
    assert b"".join(out) == bytes.fromhex("6224")
    # A shorter fixed array is padded with default elements (here 31 of them).
    payload = SrvSelectCharReply(hotbar=(item,), name=b"x").encode_payload()
    expected = bytes.fromhex("00" * 702 + "6224" + "00" * 62 + "00000000" + "7800")
    assert payload == expected
    decoded = SrvSelectCharReply.decode_payload(payload).packet
    assert decoded.hotbar == (item,) + (HotbarItem(),) * 31
    assert (decoded.hotbar[0].type, decoded.hotbar[0].slot_id) == (2, 0x123)


def test_run_to_end_partial_trailing_element_is_reported_as_extra() -> None:
    payload = bytes.fromhex("00 6400 0000 40 533100 01000000 00 41")
    decoded = SrvLoginReply.decode_payload(payload)
    assert decoded.packet.servers_info == (ServerInfo(test=0x40, name=b"S1", id=1),)
    assert (decoded.missing, decoded.extra) == (None, 2)


def test_misspelled_occurs_size_list_drops_partial_item_as_extra() -> None:
    decoded = SrvCraftEnhanceReply.decode_payload(bytes.fromhex("10 02 a380 01000000 05 a3"))
    assert decoded.packet.result == CraftEnhancementResult.UPGRADE_SUCCESS
    assert len(decoded.packet.items) == 1
    assert decoded.extra == 2


def test_unknown_enum_value_is_kept_as_int() -> None:
    decoded = SrvAcceptReply.decode_payload(bytes.fromhex("07 00000000"))
    assert decoded.packet.result == 7
    assert not isinstance(decoded.packet.result, AcceptReplyResult)


def test_store_trade_req_uses_the_client_layout_not_the_misnamed_duplicate() -> None:
    # srv_trade_store_reply.xml also declares PAKCS_STORE_TRADE_REQ but has the 1-byte layout
    # of PAKWC_STORE_TRADE_REPLY; the build list (and this package) use cli_store_trade_req.xml.
    assert len(CliStoreTradeReq().encode_payload()) == 12


def test_fixed_string_longer_than_its_length_is_rejected() -> None:
    with pytest.raises(LocalProtocolError, match="password") as info:
        CliJoinServerReq(password=b"x" * 65).encode_payload()
    assert info.value.kind == "bad_field"
