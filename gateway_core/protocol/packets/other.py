"""Everything else: ISC, spawn/visibility, quests, clans, NPC events, global variables.

Declarations follow docs/protocol.md Appendix A (generated from the XML definitions, then
reviewed); field names are the XML names in snake_case.
"""

from __future__ import annotations

from enum import IntEnum

from gateway_core.protocol.codecs import cstr, f32, i8, i16, i32, u8, u16, u32
from gateway_core.protocol.declarations import (
    Packet,
    Record,
    array,
    counted,
    field,
    packet,
    record,
    until_end,
)
from gateway_core.protocol.packets.common import (
    MAX_BULLET_TYPES,
    MAX_CONDITIONS_EPISODE,
    MAX_CONDITIONS_JOB,
    MAX_CONDITIONS_PLANET,
    MAX_CONDITIONS_UNION,
    MAX_QUEST_ITEMS,
    MAX_QUEST_VARS,
    MAX_QUESTS,
    MAX_RIDING_ITEMS,
    MAX_SELL_TYPE,
    MAX_SWITCHES,
    MAX_VISIBLE_ITEMS,
    MAX_WISHLIST,
    EquippedItem,
    HotbarItem,
    Item,
    ItemHeader,
)

__all__ = [
    "CliAlive",
    "CliClanCommand",
    "CliClanIconReq",
    "CliClanIconSet",
    "CliClanIconTimestamp",
    "CliHotbarSetIconReq",
    "CliMessenger",
    "CliQuestDataReq",
    "CliScreenShotTimeReq",
    "CliSetAnimation",
    "CliSetServerVarReq",
    "ClientStatus",
    "IscAlive",
    "IscClientStatus",
    "IscServerRegister",
    "IscShutdown",
    "IscTransfer",
    "IscTransferChar",
    "Quest",
    "QuestDataRequestType",
    "QuestDataResult",
    "QuestRewardValueType",
    "ServerType",
    "SrvBillingMessage",
    "SrvCharStateChange",
    "SrvClanCommand",
    "SrvClanIconReply",
    "SrvClanIconTimestamp",
    "SrvEventAdd",
    "SrvEventStatus",
    "SrvFairy",
    "SrvGlobalFlags",
    "SrvGlobalVars",
    "SrvGmCommandCode",
    "SrvHotbarSetIconReply",
    "SrvMessenger",
    "SrvMobChar",
    "SrvNpcChar",
    "SrvNpcEvent",
    "SrvNpcShow",
    "SrvPlayerChar",
    "SrvQuestData",
    "SrvQuestDataReply",
    "SrvQuestRewardAddValue",
    "SrvQuestRewardSetValue",
    "SrvRemoveObject",
    "SrvScreenShotTimeReply",
    "SrvServerData",
    "SrvSetAnimation",
    "SrvSetServerVarReply",
    "SrvUpdateName",
    "SrvUpdateNpc",
]


class ServerType(IntEnum):
    """Kind of server on an ISC link (C++ `Isc::ServerType`, isccommon.h)."""

    LOGIN = 0
    CHAR = 1
    NODE = 2
    MAP_MASTER = 3
    MAP_WORKER = 4


class QuestDataRequestType(IntEnum):
    """``QuestDataRequestType``: u8 on the wire (cli_quest_data_req.xml)."""

    ADD = 0
    REMOVE = 1
    TRIGGER = 2


class QuestDataResult(IntEnum):
    """``QuestDataResult``: u8 on the wire (srv_quest_data_reply.xml)."""

    ADD_SUCCESS = 0
    ADD_FAIL = 1
    REMOVE_SUCCESS = 2
    REMOVE_FAIL = 3
    TRIGGER_SUCCESS = 4
    TRIGGER_FAIL = 5


class QuestRewardValueType(IntEnum):
    """``QuestRewardValueType``: u16 on the wire (srv_quest_reward_add_value.xml)."""

    SEX = 2
    CLASS = 4
    UNION = 5
    FACE = 8
    HAIR = 9
    STR = 10
    DEX = 11
    INT = 12
    CON = 13
    CHA = 14
    SEN = 15
    HP = 16
    MP = 17
    EXP = 30
    LEVEL = 31
    STATPOINT = 32
    PK_FLAG = 33
    TEAM = 34
    MONEY = 40
    STAMINA = 76
    SKILLPOINT = 37
    UNIONPOINT1 = 81
    UNIONPOINT2 = 82
    UNIONPOINT3 = 83
    UNIONPOINT4 = 84
    UNIONPOINT5 = 85
    UNIONPOINT6 = 86
    UNIONPOINT7 = 87
    UNIONPOINT8 = 88
    UNIONPOINT9 = 89
    UNIONPOINT10 = 90


class ClientStatus(IntEnum):
    """``Status``: u8 on the wire (isc_client_status.xml)."""

    CONNECTED = 0
    DISCONNECTED = 1
    SWITCHING = 2
    AFK = 3
    INVISIBLE = 4


@record
class Quest(Record):
    """``Quest`` (srv_quest_data.xml)."""

    id: int = field(u16)
    #: timer: Unlimited if 0
    timer: int = field(u32)
    vars: tuple[int, ...] = field(array(u16, MAX_QUEST_VARS))
    switches: int = field(u32)
    items: tuple[Item, ...] = field(array(Item, MAX_QUEST_ITEMS))


@packet("ISC_ALIVE")
class IscAlive(Packet):
    """``ISC_ALIVE``: server -> server (isc_alive.xml)."""


@packet("ISC_SERVER_REGISTER")
class IscServerRegister(Packet):
    """``ISC_SERVER_REGISTER``: server -> server (isc_server_register.xml)."""

    server_type: ServerType | int = field(u8.enum(ServerType))
    name: bytes = field(cstr)
    addr: bytes = field(cstr)
    port: int = field(i32)
    right: int = field(i32)
    id: int = field(i32)
    #: All the maps this client is responsible for
    maps: tuple[int, ...] = field(counted(u8, u16))


@packet("ISC_TRANSFER")
class IscTransfer(Packet):
    """``ISC_TRANSFER``: server -> server (isc_transfer.xml)."""

    server_packet: int = field(u8)
    originator_id: int = field(u32)
    maps: tuple[int, ...] = field(counted(u8, u16))
    blob: tuple[int, ...] = field(counted(u16, u8))


@packet("ISC_TRANSFER_CHAR")
class IscTransferChar(Packet):
    """``ISC_TRANSFER_CHAR``: server -> server (isc_transfer_char.xml)."""

    server_packet: int = field(u8)
    names: tuple[bytes, ...] = field(counted(u8, cstr))
    blob: tuple[int, ...] = field(counted(u16, u8))


@packet("ISC_CLIENT_STATUS")
class IscClientStatus(Packet):
    """``ISC_CLIENT_STATUS``: server -> server (isc_client_status.xml)."""

    entity_map_id: int = field(u16)
    status: ClientStatus | int = field(u8.enum(ClientStatus))


@packet("ISC_SHUTDOWN")
class IscShutdown(Packet):
    """``ISC_SHUTDOWN``: server -> server (isc_shutdown.xml)."""

    server_type: ServerType | int = field(u8.enum(ServerType))
    id: int = field(i32)


@packet("PAKCS_ALIVE")
class CliAlive(Packet):
    """``PAKCS_ALIVE``: client -> server (cli_alive.xml)."""


@packet("PAKWC_GLOBAL_VARS")
class SrvGlobalVars(Packet):
    """``PAKWC_GLOBAL_VARS``: server -> client (srv_global_vars.xml)."""

    world_product: int = field(i16, default=100)
    update_time: int = field(i32)
    world_rate: int = field(i16, default=100)
    town_rate: int = field(u8, default=100)
    # The XML default "{50}" is a C++ aggregate initialiser: only the first element is 50.
    item_rate: tuple[int, ...] = field(
        array(u8, MAX_SELL_TYPE), default=(50,) + (0,) * (MAX_SELL_TYPE - 1)
    )
    flags: int = field(u32)


@packet("PAKWC_GLOBAL_FLAGS")
class SrvGlobalFlags(Packet):
    """``PAKWC_GLOBAL_FLAGS``: server -> client (srv_global_flags.xml)."""

    flags: int = field(i32)


@packet("PAKWC_SERVER_DATA")
class SrvServerData(Packet):
    """``PAKWC_SERVER_DATA``: server -> client (srv_server_data.xml).

    The XML keeps its field list in a comment ("pending IDL union enhancements"),
    so the generated packet has an empty payload (docs/protocol.md §5.10).
    """


@packet("PAKWC_QUEST_DATA")
class SrvQuestData(Packet):
    """``PAKWC_QUEST_DATA``: server -> client (srv_quest_data.xml)."""

    episodes: tuple[int, ...] = field(array(u16, MAX_CONDITIONS_EPISODE))
    jobs: tuple[int, ...] = field(array(u16, MAX_CONDITIONS_JOB))
    planets: tuple[int, ...] = field(array(u16, MAX_CONDITIONS_PLANET))
    unions: tuple[int, ...] = field(array(u16, MAX_CONDITIONS_UNION))
    quests: tuple[Quest, ...] = field(array(Quest, MAX_QUESTS))
    switches: tuple[int, ...] = field(array(u32, MAX_SWITCHES))
    wishlist: tuple[Item, ...] = field(array(Item, MAX_WISHLIST))


@packet("PAKWC_QUEST_REWARD_ADD_VALUE")
class SrvQuestRewardAddValue(Packet):
    """``PAKWC_QUEST_REWARD_ADD_VALUE``: server -> client (srv_quest_reward_add_value.xml)."""

    type: QuestRewardValueType | int = field(u16.enum(QuestRewardValueType))
    value: int = field(i32)


@packet("PAKWC_QUEST_REWARD_SET_VALUE")
class SrvQuestRewardSetValue(Packet):
    """``PAKWC_QUEST_REWARD_SET_VALUE``: server -> client (srv_quest_reward_set_value.xml)."""

    type: QuestRewardValueType | int = field(u16.enum(QuestRewardValueType))
    value: int = field(i32)


@packet("PAKCS_QUEST_DATA_REQ")
class CliQuestDataReq(Packet):
    """``PAKCS_QUEST_DATA_REQ``: client -> server (cli_quest_data_req.xml)."""

    type: QuestDataRequestType | int = field(u8.enum(QuestDataRequestType))
    slot: int = field(u8)
    id: int = field(i32)


@packet("PAKWC_QUEST_DATA_REPLY")
class SrvQuestDataReply(Packet):
    """``PAKWC_QUEST_DATA_REPLY``: server -> client (srv_quest_data_reply.xml)."""

    result: QuestDataResult | int = field(u8.enum(QuestDataResult))
    slot: int = field(u8)
    id: int = field(i32)


@packet("PAKWC_NPC_EVENT")
class SrvNpcEvent(Packet):
    """``PAKWC_NPC_EVENT``: server -> client (srv_npc_event.xml)."""

    id: int = field(i16)


@packet("PAKWC_GM_COMMAND_CODE")
class SrvGmCommandCode(Packet):
    """``PAKWC_GM_COMMAND_CODE``: server -> client (srv_gm_command_code.xml)."""

    target: int = field(u16)
    command: bytes = field(cstr)


@packet("PAKCS_SET_SERVER_VAR_REQ")
class CliSetServerVarReq(Packet):
    """``PAKCS_SET_SERVER_VAR_REQ``: client -> server (cli_set_server_var_req.xml)."""

    type: int = field(u8)
    value: int = field(u32)


@packet("PAKWC_SET_SERVER_VAR_REPLY")
class SrvSetServerVarReply(Packet):
    """``PAKWC_SET_SERVER_VAR_REPLY``: server -> client (srv_set_server_var_reply.xml)."""

    type: int = field(u8)
    value: int = field(u32)


@packet("PAKWC_UPDATE_NPC")
class SrvUpdateNpc(Packet):
    """``PAKWC_UPDATE_NPC``: server -> client (srv_update_npc.xml)."""

    id: int = field(u16)
    npc_id: int = field(i16)


@packet("PAKCS_SET_ANIMATION")
class CliSetAnimation(Packet):
    """``PAKCS_SET_ANIMATION``: client -> server (cli_set_animation.xml)."""

    id: int = field(u16)
    value: int = field(u16)


@packet("PACWC_SET_ANIMATION")
class SrvSetAnimation(Packet):
    """``PACWC_SET_ANIMATION``: server -> client (srv_set_animation.xml)."""

    id: int = field(u16)
    value: int = field(u16)
    object_id: int = field(u16)


@packet("PAKWC_EVENT_STATUS")
class SrvEventStatus(Packet):
    """``PAKWC_EVENT_STATUS``: server -> client (srv_event_status.xml)."""

    object_id: int = field(u16)
    status: int = field(i16)


@packet("PAKWC_NPC_CHAR")
class SrvNpcChar(Packet):
    """``PAKWC_NPC_CHAR``: server -> client (srv_npc_char.xml)."""

    id: int = field(u16)
    x: float = field(f32)
    y: float = field(f32)
    dest_x: float = field(f32)
    dest_y: float = field(f32)
    command: int = field(u16)
    target_id: int = field(u16)
    move_mode: int = field(u8)
    hp: int = field(i32)
    team_id: int = field(i32)
    status_flag: int = field(u32)
    npc_id: int = field(u16)
    quest_id: int = field(u16)
    angle: float = field(f32)
    event_status: int = field(u16)


@packet("PAKWC_MOB_CHAR")
class SrvMobChar(Packet):
    """``PAKWC_MOB_CHAR``: server -> client (srv_mob_char.xml)."""

    id: int = field(u16)
    x: float = field(f32)
    y: float = field(f32)
    dest_x: float = field(f32)
    dest_y: float = field(f32)
    command: int = field(u16)
    target_id: int = field(u16)
    move_mode: int = field(u8)
    hp: int = field(i32)
    team_id: int = field(i32)
    status_flag: int = field(u32)
    npc_id: int = field(u16)
    quest_id: int = field(u16)


@packet("PAKWC_PLAYER_CHAR")
class SrvPlayerChar(Packet):
    """``PAKWC_PLAYER_CHAR``: server -> client (srv_player_char.xml)."""

    id: int = field(u16)
    x: float = field(f32)
    y: float = field(f32)
    dest_x: float = field(f32)
    dest_y: float = field(f32)
    command: int = field(u16)
    target_id: int = field(u16)
    move_mode: int = field(u8)
    hp: int = field(i32)
    team_id: int = field(i32)
    status_flag: int = field(u32)
    race: int = field(u8)
    run_speed: int = field(i16)
    atk_speed: int = field(i16)
    weight_rate: int = field(u8)
    face: int = field(u32)
    hair: int = field(u32)
    inventory: tuple[EquippedItem, ...] = field(array(EquippedItem, MAX_VISIBLE_ITEMS))
    bullets: tuple[ItemHeader, ...] = field(array(ItemHeader, MAX_BULLET_TYPES))
    job: int = field(i16)
    level: int = field(u8)
    riding_items: tuple[EquippedItem, ...] = field(array(EquippedItem, MAX_RIDING_ITEMS))
    z: int = field(i16)
    sub_flag: int = field(u32)
    name: bytes = field(cstr)
    other_name: bytes = field(cstr)


@packet("PAKWC_REMOVE_OBJECT")
class SrvRemoveObject(Packet):
    """``PAKWC_REMOVE_OBJECT``: server -> client (srv_remove_object.xml)."""

    id: int = field(u16)


@packet("PAKCS_HOTBAR_SET_ICON_REQ")
class CliHotbarSetIconReq(Packet):
    """``PAKCS_HOTBAR_SET_ICON_REQ``: client -> server (cli_hotbar_set_icon_req.xml).

    The XML keeps its field list in a comment ("pending IDL union enhancements"), so the
    generated packet has an empty payload (docs/protocol.md §5.10). The gateway declares the
    commented field list instead (docs/protocol.md §10.16): ``index``, the hotbar slot 0..31,
    and ``icon``, the :class:`HotbarItem` to put there.
    """

    index: int = field(u8)
    icon: HotbarItem = field(HotbarItem)


@packet("PAKWC_HOTBAR_SET_ICON_REPLY")
class SrvHotbarSetIconReply(Packet):
    """``PAKWC_HOTBAR_SET_ICON_REPLY``: server -> client (srv_hotbar_set_icon_reply.xml).

    The XML keeps its field list in a comment ("pending IDL union enhancements"), so the
    generated packet has an empty payload (docs/protocol.md §5.10). The gateway declares the
    commented field list instead (docs/protocol.md §10.16): ``index``, the hotbar slot 0..31,
    and ``icon``, the :class:`HotbarItem` now there.
    """

    index: int = field(u8)
    icon: HotbarItem = field(HotbarItem)


@packet("PAKWC_EVENT_ADD")
class SrvEventAdd(Packet):
    """``PAKWC_EVENT_ADD``: server -> client (srv_event_add.xml)."""

    id: int = field(u16)
    x: int = field(i8)
    y: int = field(i8)
    event_id: int = field(u16)
    status: int = field(i16)


@packet("PAKWC_NPC_SHOW")
class SrvNpcShow(Packet):
    """``PAKWC_NPC_SHOW``: server -> client (srv_npc_show.xml)."""

    id: int = field(u16)
    show: int = field(u8)


@packet("PAKWC_FAIRY")
class SrvFairy(Packet):
    """``PAKWC_FAIRY``: server -> client (srv_fairy.xml)."""

    enabled: int = field(i8)
    target: int = field(u16)


@packet("PAKWC_BILLING_MESSAGE")
class SrvBillingMessage(Packet):
    """``PAKWC_BILLING_MESSAGE``: server -> client (srv_billing_message.xml)."""

    function_type: int = field(u16, default=0x1001)
    pay_flag: int = field(u32, default=2)


@packet("PAKCS_CLAN_COMMAND")
class CliClanCommand(Packet):
    """``PAKCS_CLAN_COMMAND``: client -> server (cli_clan_command.xml).

    The XML keeps its field list in a comment ("pending IDL union enhancements"),
    so the generated packet has an empty payload (docs/protocol.md §5.10).
    """


@packet("PAKCC_CLAN_COMMAND")
class SrvClanCommand(Packet):
    """``PAKCC_CLAN_COMMAND``: server -> client (srv_clan_command.xml).

    The XML keeps its field list in a comment ("pending IDL union enhancements"),
    so the generated packet has an empty payload (docs/protocol.md §5.10).
    """


@packet("PAKCS_MESSENGER")
class CliMessenger(Packet):
    """``PAKCS_MESSENGER``: client -> server (cli_messenger.xml).

    The XML keeps its field list in a comment ("pending IDL union enhancements"),
    so the generated packet has an empty payload (docs/protocol.md §5.10).
    """


@packet("PAKCC_MESSENGER")
class SrvMessenger(Packet):
    """``PAKCC_MESSENGER``: server -> client (srv_messenger.xml).

    The XML keeps its field list in a comment ("pending IDL union enhancements"),
    so the generated packet has an empty payload (docs/protocol.md §5.10).
    """


@packet("PAKCS_CLAN_ICON_SET")
class CliClanIconSet(Packet):
    """``PAKCS_CLAN_ICON_SET``: client -> server (cli_clan_icon_set.xml)."""

    crc: int = field(u16)
    data: tuple[int, ...] = field(until_end(u8))


@packet("PAKCS_CLAN_ICON_REQ")
class CliClanIconReq(Packet):
    """``PAKCS_CLAN_ICON_REQ``: client -> server (cli_clan_icon_req.xml)."""

    id: int = field(u32)


@packet("PAKCC_CLAN_ICON_REPLY")
class SrvClanIconReply(Packet):
    """``PAKCC_CLAN_ICON_REPLY``: server -> client (srv_clan_icon_reply.xml)."""

    id: int = field(u16)
    data: tuple[int, ...] = field(until_end(u8))


@packet("PAKCS_CLAN_ICON_TIMESTAMP")
class CliClanIconTimestamp(Packet):
    """``PAKCS_CLAN_ICON_TIMESTAMP``: client -> server (cli_clan_icon_timestamp.xml)."""


@packet("PAKCC_CLAN_ICON_TIMESTAMP")
class SrvClanIconTimestamp(Packet):
    """``PAKCC_CLAN_ICON_TIMESTAMP``: server -> client (srv_clan_icon_timestamp.xml)."""

    year: int = field(u16)
    month: int = field(u8)
    day: int = field(u8)
    hour: int = field(u8)
    min: int = field(u8)
    sec: int = field(u8)


@packet("PAWKC_CHAR_STATE_CHANGE")
class SrvCharStateChange(Packet):
    """``PAWKC_CHAR_STATE_CHANGE``: server -> client (srv_char_state_change.xml)."""

    target: int = field(u16)
    flag: int = field(u32)


@packet("PAKCS_SCREEN_SHOT_TIME_REQ")
class CliScreenShotTimeReq(Packet):
    """``PAKCS_SCREEN_SHOT_TIME_REQ``: client -> server (cli_screen_shot_time_req.xml)."""

    count: int = field(u16, default=1)


@packet("PAKSC_SCREEN_SHOT_TIME_REPLY")
class SrvScreenShotTimeReply(Packet):
    """``PAKSC_SCREEN_SHOT_TIME_REPLY``: server -> client (srv_screen_shot_time_reply.xml)."""

    year: int = field(u16)
    month: int = field(u8)
    day: int = field(u8)
    hour: int = field(u8)
    min: int = field(u8)


@packet("PAKWC_UPDATE_NAME")
class SrvUpdateName(Packet):
    """``PAKWC_UPDATE_NAME``: server -> client (srv_update_name.xml)."""

    target: int = field(u16)
    name: bytes = field(cstr)
