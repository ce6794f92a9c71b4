"""Inventory, equipment, bank, crafting and item-use packets.

Declarations follow docs/protocol.md Appendix A (generated from the XML definitions, then
reviewed); field names are the XML names in snake_case.
"""

from __future__ import annotations

from enum import IntEnum

from gateway_core.protocol.codecs import cstr, f32, i8, i16, i64, u8, u16, u32
from gateway_core.protocol.declarations import (
    Packet,
    Record,
    UnionValue,
    array,
    bit_field,
    counted,
    field,
    packet,
    record,
    union,
    until_end,
)
from gateway_core.protocol.packets.common import (
    MAX_ITEMS,
    EquippedItem,
    EquippedPositionRide,
    Item,
)

__all__ = [
    "AppraisalReply",
    "BankListItem",
    "BankListReply",
    "BankListRequest",
    "BankMoveMode",
    "CliAppraisalReq",
    "CliBankListReq",
    "CliBankMoveItem",
    "CliBankMoveMoney",
    "CliCraftEnhanceReq",
    "CliCraftReq",
    "CliCraftStatus",
    "CliDropItem",
    "CliEquipItem",
    "CliEquipItemRide",
    "CliEquipProjectile",
    "CliPickupItemReq",
    "CliRepairNpc",
    "CliRepairUseItem",
    "CliSetWeightReq",
    "CliUseItem",
    "CraftEnhancementData",
    "CraftEnhancementResult",
    "CraftEnhancementType",
    "CraftResult",
    "CraftStatus",
    "IndexAndItem",
    "PickupItemResult",
    "ProjectileData",
    "ProjectileTypeAndIndex",
    "SrvAppraisalReply",
    "SrvBankListReply",
    "SrvBankMoveItem",
    "SrvBankMoveMoney",
    "SrvChangeSkin",
    "SrvCraftEnhanceReply",
    "SrvCraftReply",
    "SrvCraftStatus",
    "SrvDropItem",
    "SrvEquipItem",
    "SrvEquipItemRide",
    "SrvEquipProjectile",
    "SrvInventoryData",
    "SrvPickupItemReply",
    "SrvSetItem",
    "SrvSetItemLife",
    "SrvSetMoney",
    "SrvSetMoneyAndItem",
    "SrvSetWeight",
    "SrvUseItem",
]


class BankListReply(IntEnum):
    """``BankListReply``: u8 on the wire (srv_bank_list_reply.xml)."""

    INIT_DATA = 0
    SHOW_DATA = 1
    NEED_PASSWORD = 2
    CHANGED_PASSWORD = 3
    CLEARED_PASSWORD = 4
    PLATINUM = 5


class BankListRequest(IntEnum):
    """``BankListRequest``: u8 on the wire (cli_bank_list_req.xml)."""

    OPEN = 0
    CHANGE_PASSWORD = 17


class BankMoveMode(IntEnum):
    """``BankMoveMode``: u8 on the wire (cli_bank_move_item.xml).

    These are the 2026 values; the 2021 packet set used 0 and 1 (docs/protocol.md §9.1).
    """

    INVENTORY_TO_BANK = 16
    BANK_TO_INVENTORY = 17


class CraftEnhancementResult(IntEnum):
    """``CraftEnhancementResult``: u8 on the wire (srv_craft_enhance_reply.xml)."""

    GEM_SUCCESS = 1
    GEM_NO_SOCKET = 2
    GEM_SOCKET_FULL = 3
    DISASSEMBLE_GEM_SUCCESS = 4
    DISASSEMBLE_GEM_DEGRADED = 5
    DISASSEMBLE_GEM_LOST = 6
    DISASSEMBLE_SUCCESS = 7
    UPGRADE_SUCCESS = 16
    UPGRADE_FAIL = 17
    UPGRADE_INVALID_MATERIALS = 18


class CraftEnhancementType(IntEnum):
    """``CraftEnhancementType``: u8 on the wire (cli_craft_enhance_req.xml)."""

    GEM = 0
    DISASSEMBLE_SKILL = 1
    DISASSEMBLE_NPC = 2
    UPGRADE_SKILL = 3
    UPGRADE_NPC = 4


class CraftResult(IntEnum):
    """``CraftResult``: u8 on the wire (srv_craft_reply.xml)."""

    SUCCESSS = 0
    FAIL = 1
    INVALID_CONDITION = 2
    MISSING_ITEM = 3
    INVALID_ITEM = 4
    INVALID_SKILL_LEVEL = 5


class CraftStatus(IntEnum):
    """``CraftStatus``: u8 on the wire (cli_craft_status.xml)."""

    CRAFT_START = 0
    CRAFT_SUCCESS = 1
    CRAFT_FAIL = 2
    UPGRADE_START = 3
    UPGRADE_SUCCESS = 4
    UPGRADE_FAIL = 5


class PickupItemResult(IntEnum):
    """``PickupItemResult``: u8 on the wire (srv_pickup_item_reply.xml)."""

    OK = 0
    NO_ITEM = 1
    NOT_OWNER = 2
    INVENTORY_FULL = 3


@union(u16)
class AppraisalReply(UnionValue):
    """``AppraisalReply``: one u16 on the wire (srv_appraisal_reply.xml)."""

    data: int = 0
    index = bit_field(0, 12)
    result = bit_field(12, 4)


@record
class BankListItem(Record):
    """``BankListItem`` (srv_bank_list_reply.xml)."""

    index: int = field(u8)
    item: Item = field(Item)


@union(u16)
class CraftEnhancementData(UnionValue):
    """``CraftEnhancementData``: one u16 on the wire (cli_craft_enhance_req.xml)."""

    data: int = 0
    gem_target = bit_field(0, 8)
    gem_source = bit_field(8, 8)
    disassemble_source = bit_field(0, 8)
    disassemble_target = bit_field(8, 8)
    upgrade_source = bit_field(0, 8)
    upgrade_target = bit_field(8, 8)


@record
class IndexAndItem(Record):
    """``IndexAndItem`` (srv_set_money_and_item.xml)."""

    index: int = field(u8)
    item: Item = field(Item)


@union(u16)
class ProjectileData(UnionValue):
    """``ProjectileData``: one u16 on the wire (srv_equip_projectile.xml)."""

    data: int = 0
    type = bit_field(0, 5)
    id = bit_field(5, 10)


@union(u16)
class ProjectileTypeAndIndex(UnionValue):
    """``ProjectileTypeAndIndex``: one u16 on the wire (cli_equip_projectile.xml)."""

    data: int = 0
    type = bit_field(0, 2)
    index = bit_field(2, 14)


@packet("PAKWC_INVENTORY_DATA")
class SrvInventoryData(Packet):
    """``PAKWC_INVENTORY_DATA``: server -> client (srv_inventory_data.xml)."""

    zuly: int = field(i64)
    items: tuple[Item, ...] = field(array(Item, MAX_ITEMS))


@packet("PAKWC_SET_MONEY_AND_ITEM")
class SrvSetMoneyAndItem(Packet):
    """``PAKWC_SET_MONEY_AND_ITEM``: server -> client (srv_set_money_and_item.xml)."""

    zuly: int = field(i64)
    items: tuple[IndexAndItem, ...] = field(counted(u8, IndexAndItem))


@packet("PAKWC_SET_ITEM")
class SrvSetItem(Packet):
    """``PAKWC_SET_ITEM``: server -> client (srv_set_item.xml)."""

    items: tuple[IndexAndItem, ...] = field(counted(u8, IndexAndItem))


@packet("PAKWC_SET_MONEY")
class SrvSetMoney(Packet):
    """``PAKWC_SET_MONEY``: server -> client (srv_set_money.xml)."""

    zuly: int = field(i64)


@packet("PAKCS_SET_WEIGHT_REQ")
class CliSetWeightReq(Packet):
    """``PAKCS_SET_WEIGHT_REQ``: client -> server (cli_set_weight_req.xml)."""

    weight: int = field(u8)


@packet("PAKWC_SET_WEIGHT")
class SrvSetWeight(Packet):
    """``PAKWC_SET_WEIGHT``: server -> client (srv_set_weight.xml)."""

    char_id: int = field(u16)
    weight: int = field(u8)


@packet("PAKCS_USE_ITEM")
class CliUseItem(Packet):
    """``PAKCS_USE_ITEM``: client -> server (cli_use_item.xml)."""

    index: int = field(u16)
    item_id: int = field(u16)


@packet("PAKWC_USE_ITEM")
class SrvUseItem(Packet):
    """``PAKWC_USE_ITEM``: server -> client (srv_use_item.xml)."""

    char_id: int = field(u16)
    item_id: int = field(u16)
    index: int = field(u8)


@packet("PAKCS_DROP_ITEM")
class CliDropItem(Packet):
    """``PAKCS_DROP_ITEM``: client -> server (cli_drop_item.xml)."""

    index: int = field(u8)
    quantity: int = field(u32)


@packet("PAKCS_EQUIP_ITEM")
class CliEquipItem(Packet):
    """``PAKCS_EQUIP_ITEM``: client -> server (cli_equip_item.xml)."""

    slot_to: int = field(i16)
    slot_from: int = field(i16)


@packet("PAKWC_EQUIP_ITEM")
class SrvEquipItem(Packet):
    """``PAKWC_EQUIP_ITEM``: server -> client (srv_equip_item.xml)."""

    id: int = field(u16)
    slot: int = field(i16)
    item: EquippedItem = field(EquippedItem)


@packet("PAKWC_DROP_ITEM")
class SrvDropItem(Packet):
    """``PAKWC_DROP_ITEM``: server -> client (srv_drop_item.xml)."""

    x: float = field(f32)
    y: float = field(f32)
    item: Item = field(Item)
    id: int = field(u16)
    owner_id: int = field(u16)
    time_to_live: int = field(u16, default=5)


@packet("PAKCS_PICKUP_ITEM_REQ")
class CliPickupItemReq(Packet):
    """``PAKCS_PICKUP_ITEM_REQ``: client -> server (cli_pickup_item_req.xml)."""

    item_id: int = field(u16)


@packet("PAKWC_PICKUP_ITEM_REPLY")
class SrvPickupItemReply(Packet):
    """``PAKWC_PICKUP_ITEM_REPLY``: server -> client (srv_pickup_item_reply.xml)."""

    id: int = field(u16)
    result: PickupItemResult | int = field(u8.enum(PickupItemResult))
    slot: int = field(u16)
    item: Item = field(Item)


@packet("PAKCS_EQUIP_PROJECTILE")
class CliEquipProjectile(Packet):
    """``PAKCS_EQUIP_PROJECTILE``: client -> server (cli_equip_projectile.xml).

    The XML comment claims the type sits in the high nibble (0x1000 = bullet), but the
    declared bit-fields put it in bits 0-1; this follows the declaration (docs/protocol.md §9.2).
    """

    projectile: ProjectileTypeAndIndex = field(ProjectileTypeAndIndex)


@packet("PAKWC_EQUIP_PROJECTILE")
class SrvEquipProjectile(Packet):
    """``PAKWC_EQUIP_PROJECTILE``: server -> client (srv_equip_projectile.xml)."""

    char_id: int = field(u16)
    projectile: ProjectileData = field(ProjectileData)


@packet("PAKWC_CHANGE_SKIN")
class SrvChangeSkin(Packet):
    """``PAKWC_CHANGE_SKIN``: server -> client (srv_change_skin.xml)."""

    char_id: int = field(u16)
    slot: EquippedPositionRide | int = field(u16.enum(EquippedPositionRide))
    item_id: int = field(u32)


@packet("PAKCS_BANK_LIST_REQ")
class CliBankListReq(Packet):
    """``PAKCS_BANK_LIST_REQ``: client -> server (cli_bank_list_req.xml)."""

    request: BankListRequest | int = field(u8.enum(BankListRequest))
    password: bytes = field(cstr)


@packet("PAKWC_BANK_LIST_REPLY")
class SrvBankListReply(Packet):
    """``PAKWC_BANK_LIST_REPLY``: server -> client (srv_bank_list_reply.xml)."""

    reply: BankListReply | int = field(u8.enum(BankListReply))
    items: tuple[BankListItem, ...] = field(counted(u8, BankListItem))


@packet("PAKCS_BANK_MOVE_ITEM")
class CliBankMoveItem(Packet):
    """``PAKCS_BANK_MOVE_ITEM``: client -> server (cli_bank_move_item.xml)."""

    mode: BankMoveMode | int = field(u8.enum(BankMoveMode))
    index: int = field(u8)
    item: Item = field(Item)
    use_special_tab: int = field(u8)


@packet("PAKWC_BANK_MOVE_ITEM")
class SrvBankMoveItem(Packet):
    """``PAKWC_BANK_MOVE_ITEM``: server -> client (srv_bank_move_item.xml)."""

    inventory_index: int = field(i16)
    bank_index: int = field(i16)
    inventory_item: Item = field(Item)
    bank_item: Item = field(Item)
    money: int = field(i64)


@packet("PAKCS_CRAFT_REQ")
class CliCraftReq(Packet):
    """``PAKCS_CRAFT_REQ``: client -> server (cli_craft_req.xml)."""

    slot: int = field(u8)
    type: int = field(i8)
    id: int = field(i8)
    material_slots: tuple[int, ...] = field(array(i16, 4))


@packet("PAKWC_CRAFT_REPLY")
class SrvCraftReply(Packet):
    """``PAKWC_CRAFT_REPLY``: server -> client (srv_craft_reply.xml)."""

    result: CraftResult | int = field(u8.enum(CraftResult))
    step_or_index: int = field(i16)
    progress: tuple[int, ...] = field(array(i16, 4))
    item: Item = field(Item)


@packet("PAKCS_APPRAISAL_REQ")
class CliAppraisalReq(Packet):
    """``PAKCS_APPRAISAL_REQ``: client -> server (cli_appraisal_req.xml)."""

    index: int = field(u16)


@packet("PAKWC_APPRAISAL_REPLY")
class SrvAppraisalReply(Packet):
    """``PAKWC_APPRAISAL_REPLY``: server -> client (srv_appraisal_reply.xml)."""

    result: AppraisalReply = field(AppraisalReply)


@packet("PAKCS_CRAFT_ENHANCE_REQ")
class CliCraftEnhanceReq(Packet):
    """``PAKCS_CRAFT_ENHANCE_REQ``: client -> server (cli_craft_enhance_req.xml)."""

    enhancement: CraftEnhancementType | int = field(u8.enum(CraftEnhancementType))
    data: CraftEnhancementData = field(CraftEnhancementData)


@packet("PAKWC_CRAFT_ENHANCE_REPLY")
class SrvCraftEnhanceReply(Packet):
    """``PAKWC_CRAFT_ENHANCE_REPLY``: server -> client (srv_craft_enhance_reply.xml).

    The XML spells the count attribute ``occurSize``, which the generator ignores, so
    ``items`` has **no** count and runs to the end of the payload (docs/protocol.md §5.7).
    """

    result: CraftEnhancementResult | int = field(u8.enum(CraftEnhancementResult))
    items: tuple[IndexAndItem, ...] = field(until_end(IndexAndItem))


@packet("PAKCS_EQUIP_ITEM_RIDE")
class CliEquipItemRide(Packet):
    """``PAKCS_EQUIP_ITEM_RIDE``: client -> server (cli_equip_item_ride.xml)."""

    slot: EquippedPositionRide | int = field(u16.enum(EquippedPositionRide))
    index: int = field(u16)


@packet("PAKWC_EQUIP_ITEM_RIDE")
class SrvEquipItemRide(Packet):
    """``PAKWC_EQUIP_ITEM_RIDE``: server -> client (srv_equip_item_ride.xml)."""

    char_id: int = field(u16)
    slot: EquippedPositionRide | int = field(u16.enum(EquippedPositionRide))
    item: EquippedItem = field(EquippedItem)
    move_speed: int = field(u16)


@packet("PAKCS_REPAIR_USE_ITEM")
class CliRepairUseItem(Packet):
    """``PAKCS_REPAIR_USE_ITEM``: client -> server (cli_repair_use_item.xml)."""

    index: int = field(u16)
    target_index: int = field(u16)


@packet("PAKCS_REPAIR_NPC")
class CliRepairNpc(Packet):
    """``PAKCS_REPAIR_NPC``: client -> server (cli_repair_npc.xml)."""

    npc_id: int = field(u16)
    target_index: int = field(u16)


@packet("PAKWC_SET_ITEM_LIFE")
class SrvSetItemLife(Packet):
    """``PAKWC_SET_ITEM_LIFE``: server -> client (srv_set_item_life.xml)."""

    index: int = field(u16)
    life: int = field(u16)


@packet("PAKCS_CRAFT_STATUS")
class CliCraftStatus(Packet):
    """``PAKCS_CRAFT_STATUS``: client -> server (cli_craft_status.xml)."""

    stats: CraftStatus | int = field(u8.enum(CraftStatus))
    type: int = field(i8)
    id: int = field(i16)


@packet("PAKWC_CRAFT_STATUS")
class SrvCraftStatus(Packet):
    """``PAKWC_CRAFT_STATUS``: server -> client (srv_craft_status.xml)."""

    target: int = field(u16)
    stats: CraftStatus | int = field(u8.enum(CraftStatus))
    type: int = field(i8)
    id: int = field(i16)


@packet("PAKCS_BANK_MOVE_MONEY")
class CliBankMoveMoney(Packet):
    """``PAKCS_BANK_MOVE_MONEY``: client -> server (cli_bank_move_money.xml)."""

    mode: BankMoveMode | int = field(u8.enum(BankMoveMode))
    amount: int = field(i64)


@packet("PAKWC_BANK_MOVE_MONEY")
class SrvBankMoveMoney(Packet):
    """``PAKWC_BANK_MOVE_MONEY``: server -> client (srv_bank_move_money.xml)."""

    inventory: int = field(i64)
    bank: int = field(i64)
