"""Argument checks of the world service: what fits a packet (gateway and character ids:
:mod:`gateway_core.service_errors`).

Texts are counted in UTF-8 bytes. The client's legacy encodings never need more bytes than
UTF-8 for the same text, so a text within these limits always fits the packet it ends up in
(2047 bytes in all, 6 of them header, every string NUL-terminated).
"""

from __future__ import annotations

import math

import grpc
from gateway_protos.v1 import world_pb2

from gateway_core.api import ServiceError, check_text

#: Longest character name or second name line, in UTF-8 bytes.
MAX_NAME_BYTES = 32
#: Longest normal-chat message, in UTF-8 bytes (PAKWC_NORMAL_CHAT: u16 + text + NUL).
MAX_MESSAGE_BYTES = 1900
#: Longest packet name of a game action.
MAX_PACKET_NAME_BYTES = 64
#: Largest payload of a game action: 2047 bytes per packet minus the 6-byte header.
MAX_PAYLOAD_BYTES = 2041
#: Coordinates beyond this are not a place on any map (maps are 64 x 64 km at most).
MAX_COORDINATE = 1.0e7

MAX_U8 = 0xFF
MAX_U16 = 0xFFFF
MIN_I16, MAX_I16 = -0x8000, 0x7FFF


def _invalid(message: str) -> ServiceError:
    return ServiceError(grpc.StatusCode.INVALID_ARGUMENT, message)


def check_range(value: int, field: str, low: int, high: int) -> int:
    """An integer that must fit a wire field of range ``low..high``."""
    if not low <= value <= high:
        raise _invalid(f"{field} {value} is outside {low}..{high}")
    return value


def check_position(position: world_pb2.Position, field: str) -> world_pb2.Position:
    """A finite point on a map with a 16-bit height."""
    for axis, value in (("x", position.x), ("y", position.y)):
        if not math.isfinite(value) or abs(value) > MAX_COORDINATE:
            raise _invalid(f"{field}.{axis} {value} is not a map coordinate")
    check_range(position.z, f"{field}.z", 0, MAX_U16)
    return position


def check_look(look: world_pb2.PlayerLook) -> world_pb2.PlayerLook:
    """Every look field fits its PAKWC_PLAYER_CHAR wire field."""
    check_range(look.race, "look.race", 0, MAX_U8)
    check_range(look.run_speed, "look.run_speed", MIN_I16, MAX_I16)
    check_range(look.atk_speed, "look.atk_speed", MIN_I16, MAX_I16)
    check_range(look.weight_rate, "look.weight_rate", 0, MAX_U8)
    check_range(look.job, "look.job", MIN_I16, MAX_I16)
    check_range(look.level, "look.level", 0, MAX_U8)
    check_range(look.move_mode, "look.move_mode", 0, MAX_U8)
    for name, values, limit in (
        ("look.equipment", look.equipment, 8),
        ("look.bullets", look.bullets, 3),
        ("look.riding_items", look.riding_items, 5),
    ):
        if len(values) > limit:
            raise _invalid(f"{name} has {len(values)} entries, at most {limit}")
    for bullet in look.bullets:
        check_range(bullet, "look.bullets[]", 0, MAX_U16)
    check_text(look.other_name, "look.other_name", MAX_NAME_BYTES, allow_empty=True)
    return look


#: Skill slots of a character, and the most base stats a combatant carries.
MAX_SKILL_SLOTS = 120
MAX_STATS = 6


def check_combatant(combatant: world_pb2.Combatant) -> world_pb2.Combatant:
    """What a gateway says the character service stored is usable: a level the client can
    show, at most 6 stats and 120 skill slots, skill ids that fit the wire."""
    check_range(combatant.level, "combatant.level", 0, MAX_U8)
    check_range(combatant.job, "combatant.job", 0, MAX_I16)
    if len(combatant.stats) > MAX_STATS:
        raise _invalid(f"combatant.stats has {len(combatant.stats)} entries, at most {MAX_STATS}")
    for value in combatant.stats:
        check_range(value, "combatant.stats[]", 0, MAX_I16)
    if len(combatant.skills) > MAX_SKILL_SLOTS:
        raise _invalid(
            f"combatant.skills has {len(combatant.skills)} entries, at most {MAX_SKILL_SLOTS}"
        )
    for skill in combatant.skills:
        check_range(skill, "combatant.skills[]", 0, MAX_U16)
    return combatant
