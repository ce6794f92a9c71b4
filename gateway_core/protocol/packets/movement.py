"""Movement, position, teleport, map change and riding packets.

Declarations follow docs/protocol.md Appendix A (generated from the XML definitions, then
reviewed); field names are the XML names in snake_case.
"""

from __future__ import annotations

from enum import IntEnum

from gateway_core.protocol.codecs import f32, i8, i16, u8, u16, u32
from gateway_core.protocol.declarations import Packet, array, field, packet
from gateway_core.protocol.packets.common import (
    MAX_SELL_TYPE,
)

__all__ = [
    "CliChangeMapReq",
    "CliMouseCmd",
    "CliRideRequest",
    "CliSetPosition",
    "CliStop",
    "CliStopMoving",
    "CliTeleportReq",
    "CliToggleMove",
    "MoveMode",
    "RideAction",
    "SrvChangeMapReply",
    "SrvMouseCmd",
    "SrvMove",
    "SrvRideRequest",
    "SrvRideStateChange",
    "SrvSetPosition",
    "SrvStop",
    "SrvStopMoving",
    "SrvTeleportReply",
    "SrvToggleMove",
    "ToggleMove",
]


class MoveMode(IntEnum):
    """``MoveMode``: u8 on the wire (srv_move.xml)."""

    WALK = 0
    RUN = 1
    DRIVE = 2
    RIDEON = 3


class RideAction(IntEnum):
    """``RideAction``: u8 on the wire (cli_ride_request.xml)."""

    REQUEST = 0
    ACCEPT = 1
    REFUSE = 2
    OWNER_NOT_FOUND = 3
    GUEST_NOT_FOUND = 4


class ToggleMove(IntEnum):
    """``ToggleMove``: u8 on the wire (cli_toggle_move.xml)."""

    RUN = 2
    SIT = 8
    DRIVE = 9


@packet("PAKCS_CHANGE_MAP_REQ")
class CliChangeMapReq(Packet):
    """``PAKCS_CHANGE_MAP_REQ``: client -> server (cli_change_map_req.xml)."""

    weight_rate: int = field(u8)
    z: int = field(u16)


@packet("PAKWC_CHANGE_MAP_REPLY")
class SrvChangeMapReply(Packet):
    """``PAKWC_CHANGE_MAP_REPLY``: server -> client (srv_change_map_reply.xml)."""

    object_index: int = field(u16)
    hp: int = field(u16)
    mp: int = field(u16)
    xp: int = field(u16)
    penalize_xp: int = field(u16)
    craft_rate: int = field(u16)
    update_time: int = field(u16)
    world_rate: int = field(u16)
    town_rate: int = field(u8)
    item_rate: tuple[int, ...] = field(array(u8, MAX_SELL_TYPE))
    flags: int = field(u32)
    world_time: int = field(u16)
    team_number: int = field(u16)


@packet("PAKWC_SET_POSITION")
class SrvSetPosition(Packet):
    """``PAKWC_SET_POSITION``: server -> client (srv_set_position.xml)."""

    char_id: int = field(u16)
    x: float = field(f32)
    y: float = field(f32)
    z: int = field(i16)


@packet("PAKCS_STOP_MOVING")
class CliStopMoving(Packet):
    """``PAKCS_STOP_MOVING``: client -> server (cli_stop_moving.xml)."""

    x: float = field(f32)
    y: float = field(f32)
    z: int = field(u16)


@packet("PAKWC_STOP_MOVING")
class SrvStopMoving(Packet):
    """``PAKWC_STOP_MOVING``: server -> client (srv_stop_moving.xml)."""

    char_id: int = field(u16)
    x: float = field(f32)
    y: float = field(f32)
    z: int = field(i16)


@packet("PAKCS_TOGGLE_MOVE")
class CliToggleMove(Packet):
    """``PAKCS_TOGGLE_MOVE``: client -> server (cli_toggle_move.xml)."""

    type: ToggleMove | int = field(u8.enum(ToggleMove))


@packet("PAKWC_TOGGLE_MOVE")
class SrvToggleMove(Packet):
    """``PAKWC_TOGGLE_MOVE``: server -> client (srv_toggle_move.xml)."""

    object_id: int = field(u16)
    type: ToggleMove | int = field(u8.enum(ToggleMove))
    run_speed: int = field(u16)


@packet("PAKCS_SET_POSITION")
class CliSetPosition(Packet):
    """``PAKCS_SET_POSITION``: client -> server (cli_set_position.xml)."""

    x: float = field(f32)
    y: float = field(f32)


@packet("PAKCS_STOP")
class CliStop(Packet):
    """``PAKCS_STOP``: client -> server (cli_stop.xml)."""

    x: float = field(f32)
    y: float = field(f32)


@packet("PAKWC_STOP")
class SrvStop(Packet):
    """``PAKWC_STOP``: server -> client (srv_stop.xml)."""

    char_id: int = field(u16)
    x: float = field(f32)
    y: float = field(f32)
    z: int = field(i16)


@packet("PAKWC_MOVE")
class SrvMove(Packet):
    """``PAKWC_MOVE``: server -> client (srv_move.xml)."""

    id: int = field(u16)
    target_id: int = field(u16)
    distance: int = field(u16)
    x: float = field(f32)
    y: float = field(f32)
    z: int = field(u16)
    move_mode: MoveMode | int = field(u8.enum(MoveMode), default=MoveMode.RUN)


@packet("PAKCS_MOUSE_CMD")
class CliMouseCmd(Packet):
    """``PAKCS_MOUSE_CMD``: client -> server (cli_mouse_cmd.xml)."""

    target_id: int = field(u16)
    x: float = field(f32)
    y: float = field(f32)
    z: int = field(u16)


@packet("PAKWC_MOUSE_CMD")
class SrvMouseCmd(Packet):
    """``PAKWC_MOUSE_CMD``: server -> client (srv_mouse_cmd.xml)."""

    id: int = field(u16)
    target_id: int = field(u16)
    distance: int = field(u16)
    x: float = field(f32)
    y: float = field(f32)
    z: int = field(u16)


@packet("PAKCS_TELEPORT_REQ")
class CliTeleportReq(Packet):
    """``PAKCS_TELEPORT_REQ``: client -> server (cli_teleport_req.xml)."""

    id: int = field(i16)
    x: float = field(f32)
    y: float = field(f32)


@packet("PAKWC_TELEPORT_REPLY")
class SrvTeleportReply(Packet):
    """``PAKWC_TELEPORT_REPLY``: server -> client (srv_teleport_reply.xml)."""

    id: int = field(u16)
    map: int = field(u16)
    x: float = field(f32)
    y: float = field(f32)
    move_mode: int = field(u8)
    ride_mode: int = field(u8)


@packet("PAKCS_RIDE_REQUEST")
class CliRideRequest(Packet):
    """``PAKCS_RIDE_REQUEST``: client -> server (cli_ride_request.xml)."""

    action: RideAction | int = field(u8.enum(RideAction))
    owner: int = field(u16)
    guest: int = field(u32)


@packet("PAKWC_RIDE_REQUEST")
class SrvRideRequest(Packet):
    """``PAKWC_RIDE_REQUEST``: server -> client (srv_ride_request.xml)."""

    action: RideAction | int = field(u8.enum(RideAction))
    owner: int = field(u16)
    guest: int = field(u32)


@packet("PAKWC_RIDE_STATE_CHANGE")
class SrvRideStateChange(Packet):
    """``PAKWC_RIDE_STATE_CHANGE``: server -> client (srv_ride_state_change.xml)."""

    enabled: int = field(i8)
    cooldown: int = field(u32)
    max_hp: int = field(i16)
    target: int = field(u16)
