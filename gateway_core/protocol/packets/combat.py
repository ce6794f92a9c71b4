"""Attack, damage, HP, skill and revive packets.

Declarations follow docs/protocol.md Appendix A (generated from the XML definitions, then
reviewed); field names are the XML names in snake_case.
"""

from __future__ import annotations

from enum import IntEnum

from gateway_core.protocol.codecs import f32, i8, i16, i32, u8, u16, u32
from gateway_core.protocol.declarations import Packet, field, packet
from gateway_core.protocol.packets.common import (
    Item,
    MobAnimation,
)

__all__ = [
    "CliAttack",
    "CliDamage",
    "CliHpReq",
    "CliReviveReq",
    "CliReviveSetPos",
    "CliSkillCastPosition",
    "CliSkillCastSelf",
    "CliSkillCastTarget",
    "CliSkillLevelReq",
    "ReviveRequest",
    "SkillCancelResult",
    "SkillLearnResult",
    "SkillLevelResult",
    "SrvAttack",
    "SrvClearStatus",
    "SrvDamage",
    "SrvHpReply",
    "SrvReviveReply",
    "SrvSetHpAndMp",
    "SrvSkillCancel",
    "SrvSkillCastPosition",
    "SrvSkillCastSelf",
    "SrvSkillCastTarget",
    "SrvSkillDamage",
    "SrvSkillEffect",
    "SrvSkillFinish",
    "SrvSkillLearn",
    "SrvSkillLevelReply",
    "SrvSkillStart",
]


class ReviveRequest(IntEnum):
    """``ReviveRequest``: u8 on the wire (cli_revive_req.xml)."""

    REVIVE_POSITION = 1
    SAVE_POSITION = 2
    START_POSITION = 3
    CURRENT_POSITION = 4


class SkillCancelResult(IntEnum):
    """``SkillCancelResult``: u8 on the wire (srv_skill_cancel.xml)."""

    INVALID_SKILL = 0
    INVALID_TARGET = 1
    TARGET_NOT_FOUND = 2


class SkillLearnResult(IntEnum):
    """``SkillLearnResult``: u8 on the wire (srv_skill_learn.xml)."""

    FAILED = 0
    SUCCEEDED = 1
    NEED_JOB = 2
    NEED_SKILL = 3
    NEED_STAT = 4
    NO_SLOTS = 5
    INVALID_SKILL = 6
    NO_POINTS = 7
    DELETE = 8


class SkillLevelResult(IntEnum):
    """``SkillLevelResult``: u8 on the wire (srv_skill_level_reply.xml)."""

    SUCCEEDED = 0
    FAILED = 1
    NO_POINTS = 2
    NEED_STAT = 3
    NEED_JOB = 4
    NEED_SKILL = 5
    NO_MONEY = 6


@packet("PAKCS_REVIVE_REQ")
class CliReviveReq(Packet):
    """``PAKCS_REVIVE_REQ``: client -> server (cli_revive_req.xml)."""

    revive_type: ReviveRequest | int = field(u8.enum(ReviveRequest))


@packet("PAKWC_REVIVE_REPLY")
class SrvReviveReply(Packet):
    """``PAKWC_REVIVE_REPLY``: server -> client (srv_revive_reply.xml)."""

    map_id: int = field(u16)


@packet("PAKCS_REVIVE_SET_POS")
class CliReviveSetPos(Packet):
    """``PAKCS_REVIVE_SET_POS``: client -> server (cli_revive_set_pos.xml)."""


@packet("PAKCS_ATTACK")
class CliAttack(Packet):
    """``PAKCS_ATTACK``: client -> server (cli_attack.xml)."""

    target_id: int = field(u16)


@packet("PAKWC_ATTACK")
class SrvAttack(Packet):
    """``PAKWC_ATTACK``: server -> client (srv_attack.xml)."""

    attacker_id: int = field(u16)
    defender_id: int = field(u16)
    distance: int = field(u16)
    x: float = field(f32)
    y: float = field(f32)
    z: int = field(u16)


@packet("PAKCS_DAMAGE")
class CliDamage(Packet):
    """``PAKCS_DAMAGE``: client -> server (cli_damage.xml)."""

    target_id: int = field(u16)
    #: XML name ``_randomId`` (leading underscore dropped).
    random_id: int = field(u16)


@packet("PAKWC_DAMAGE")
class SrvDamage(Packet):
    """``PAKWC_DAMAGE``: server -> client (srv_damage.xml)."""

    attacker_id: int = field(u16)
    defender_id: int = field(u16)
    damage: int = field(u32)
    action: int = field(u32)
    x: float = field(f32)
    y: float = field(f32)
    item: Item = field(Item)
    id: int = field(u16)
    owner_id: int = field(u16)


@packet("PAKCS_HP_REQ")
class CliHpReq(Packet):
    """``PAKCS_HP_REQ``: client -> server (cli_hp_req.xml)."""

    target_id: int = field(u16)


@packet("PAKWC_HP_REPLY")
class SrvHpReply(Packet):
    """``PAKWC_HP_REPLY``: server -> client (srv_hp_reply.xml)."""

    id: int = field(u16)
    hp: int = field(i32)


@packet("PAKWC_SET_HP_AND_MP")
class SrvSetHpAndMp(Packet):
    """``PAKWC_SET_HP_AND_MP``: server -> client (srv_set_hp_and_mp.xml)."""

    id: int = field(u16)
    hp: int = field(i32)
    mp: int = field(i32)


@packet("PAKWC_SKILL_LEARN")
class SrvSkillLearn(Packet):
    """``PAKWC_SKILL_LEARN``: server -> client (srv_skill_learn.xml)."""

    result: SkillLearnResult | int = field(u8.enum(SkillLearnResult))
    slot: int = field(u8)
    id: int = field(i16)
    points: int = field(i16)


@packet("PAKCS_SKILL_LEVEL_REQ")
class CliSkillLevelReq(Packet):
    """``PAKCS_SKILL_LEVEL_REQ``: client -> server (cli_skill_level_req.xml)."""

    slot: int = field(u8)
    next_index: int = field(i16)


@packet("PAKWC_SKILL_LEVEL_REPLY")
class SrvSkillLevelReply(Packet):
    """``PAKWC_SKILL_LEVEL_REPLY``: server -> client (srv_skill_level_reply.xml)."""

    result: SkillLevelResult | int = field(u8.enum(SkillLevelResult))
    slot: int = field(u8)
    id: int = field(i16)
    points: int = field(i16)


@packet("PAKCS_SKILL_CAST_SELF")
class CliSkillCastSelf(Packet):
    """``PAKCS_SKILL_CAST_SELF``: client -> server (cli_skill_cast_self.xml)."""

    slot: int = field(u8)


@packet("PAKWC_SKILL_CAST_SELF")
class SrvSkillCastSelf(Packet):
    """``PAKWC_SKILL_CAST_SELF``: server -> client (srv_skill_cast_self.xml)."""

    target: int = field(u16)
    id: int = field(i8)
    animation: MobAnimation | int = field(u8.enum(MobAnimation))


@packet("PAKCS_SKILL_CAST_TARGET")
class CliSkillCastTarget(Packet):
    """``PAKCS_SKILL_CAST_TARGET``: client -> server (cli_skill_cast_target.xml)."""

    target: int = field(u16)
    slot: int = field(u8)


@packet("PAKWC_SKILL_CAST_TARGET")
class SrvSkillCastTarget(Packet):
    """``PAKWC_SKILL_CAST_TARGET``: server -> client (srv_skill_cast_target.xml)."""

    source: int = field(u16)
    target: int = field(u16)
    id: int = field(i8)
    distance: int = field(u16)
    x: float = field(f32)
    y: float = field(f32)
    animation: MobAnimation | int = field(u8.enum(MobAnimation))


@packet("PAKCS_SKILL_CAST_POSITION")
class CliSkillCastPosition(Packet):
    """``PAKCS_SKILL_CAST_POSITION``: client -> server (cli_skill_cast_position.xml)."""

    slot: int = field(u8)
    x: float = field(f32)
    y: float = field(f32)


@packet("PAKWC_SKILL_CAST_POSITION")
class SrvSkillCastPosition(Packet):
    """``PAKWC_SKILL_CAST_POSITION``: server -> client (srv_skill_cast_position.xml)."""

    source: int = field(u16)
    id: int = field(i16)
    x: float = field(f32)
    y: float = field(f32)
    animation: MobAnimation | int = field(u8.enum(MobAnimation))


@packet("PAKWC_SKILL_EFFECT")
class SrvSkillEffect(Packet):
    """``PAKWC_SKILL_EFFECT``: server -> client (srv_skill_effect.xml)."""

    target: int = field(u16)
    source: int = field(u16)
    id: int = field(u16)
    amount: float = field(f32)
    state: int = field(u8)


@packet("PAKWC_SKILL_DAMAGE")
class SrvSkillDamage(Packet):
    """``PAKWC_SKILL_DAMAGE``: server -> client (srv_skill_damage.xml)."""

    target: int = field(u16)
    source: int = field(u16)
    id: int = field(u16)
    amount: float = field(f32)
    state: int = field(u8)
    damage: int = field(u32)
    action: int = field(u32)
    item: Item = field(Item)


@packet("PAKWC_CLEAR_STATUS")
class SrvClearStatus(Packet):
    """``PAKWC_CLEAR_STATUS``: server -> client (srv_clear_status.xml)."""

    target: int = field(u16)
    status: int = field(u32)
    hp: int = field(i16)
    mp: int = field(i16)


@packet("PAKWC_SKILL_FINISH")
class SrvSkillFinish(Packet):
    """``PAKWC_SKILL_FINISH``: server -> client (srv_skill_finish.xml)."""

    target: int = field(u16)
    id: int = field(u16)


@packet("PAKWC_SKILL_START")
class SrvSkillStart(Packet):
    """``PAKWC_SKILL_START``: server -> client (srv_skill_start.xml)."""

    target: int = field(u16)


@packet("PAKWC_SKILL_CANCEL")
class SrvSkillCancel(Packet):
    """``PAKWC_SKILL_CANCEL``: server -> client (srv_skill_cancel.xml)."""

    target: int = field(u16)
    result: SkillCancelResult | int = field(u8.enum(SkillCancelResult))
