from gateway_protos.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EquipChange(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EQUIP_CHANGE_BODY: _ClassVar[EquipChange]
    EQUIP_CHANGE_RIDE: _ClassVar[EquipChange]
    EQUIP_CHANGE_PROJECTILE: _ClassVar[EquipChange]

class StallList(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STALL_LIST_SELL: _ClassVar[StallList]
    STALL_LIST_WISH: _ClassVar[StallList]
EQUIP_CHANGE_BODY: EquipChange
EQUIP_CHANGE_RIDE: EquipChange
EQUIP_CHANGE_PROJECTILE: EquipChange
STALL_LIST_SELL: StallList
STALL_LIST_WISH: StallList

class Position(_message.Message):
    __slots__ = ("x", "y", "z")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    Z_FIELD_NUMBER: _ClassVar[int]
    x: float
    y: float
    z: int
    def __init__(self, x: _Optional[float] = ..., y: _Optional[float] = ..., z: _Optional[int] = ...) -> None: ...

class PlayerLook(_message.Message):
    __slots__ = ("hp", "team_id", "status_flag", "race", "run_speed", "atk_speed", "weight_rate", "face", "hair", "equipment", "bullets", "job", "level", "riding_items", "sub_flag", "other_name", "move_mode")
    HP_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FLAG_FIELD_NUMBER: _ClassVar[int]
    RACE_FIELD_NUMBER: _ClassVar[int]
    RUN_SPEED_FIELD_NUMBER: _ClassVar[int]
    ATK_SPEED_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_RATE_FIELD_NUMBER: _ClassVar[int]
    FACE_FIELD_NUMBER: _ClassVar[int]
    HAIR_FIELD_NUMBER: _ClassVar[int]
    EQUIPMENT_FIELD_NUMBER: _ClassVar[int]
    BULLETS_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    RIDING_ITEMS_FIELD_NUMBER: _ClassVar[int]
    SUB_FLAG_FIELD_NUMBER: _ClassVar[int]
    OTHER_NAME_FIELD_NUMBER: _ClassVar[int]
    MOVE_MODE_FIELD_NUMBER: _ClassVar[int]
    hp: int
    team_id: int
    status_flag: int
    race: int
    run_speed: int
    atk_speed: int
    weight_rate: int
    face: int
    hair: int
    equipment: _containers.RepeatedScalarFieldContainer[int]
    bullets: _containers.RepeatedScalarFieldContainer[int]
    job: int
    level: int
    riding_items: _containers.RepeatedScalarFieldContainer[int]
    sub_flag: int
    other_name: str
    move_mode: int
    def __init__(self, hp: _Optional[int] = ..., team_id: _Optional[int] = ..., status_flag: _Optional[int] = ..., race: _Optional[int] = ..., run_speed: _Optional[int] = ..., atk_speed: _Optional[int] = ..., weight_rate: _Optional[int] = ..., face: _Optional[int] = ..., hair: _Optional[int] = ..., equipment: _Optional[_Iterable[int]] = ..., bullets: _Optional[_Iterable[int]] = ..., job: _Optional[int] = ..., level: _Optional[int] = ..., riding_items: _Optional[_Iterable[int]] = ..., sub_flag: _Optional[int] = ..., other_name: _Optional[str] = ..., move_mode: _Optional[int] = ...) -> None: ...

class PlayerSpawn(_message.Message):
    __slots__ = ("object_id", "character_id", "name", "position", "destination", "moving", "target_object_id", "look")
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    MOVING_FIELD_NUMBER: _ClassVar[int]
    TARGET_OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    LOOK_FIELD_NUMBER: _ClassVar[int]
    object_id: int
    character_id: int
    name: str
    position: Position
    destination: Position
    moving: bool
    target_object_id: int
    look: PlayerLook
    def __init__(self, object_id: _Optional[int] = ..., character_id: _Optional[int] = ..., name: _Optional[str] = ..., position: _Optional[_Union[Position, _Mapping]] = ..., destination: _Optional[_Union[Position, _Mapping]] = ..., moving: _Optional[bool] = ..., target_object_id: _Optional[int] = ..., look: _Optional[_Union[PlayerLook, _Mapping]] = ...) -> None: ...

class WorldRequestBatch(_message.Message):
    __slots__ = ("requests",)
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[WorldRequest]
    def __init__(self, requests: _Optional[_Iterable[_Union[WorldRequest, _Mapping]]] = ...) -> None: ...

class WorldRequest(_message.Message):
    __slots__ = ("request_id", "hello", "enter", "ready", "move", "stop", "teleport", "leave", "chat", "action", "gate", "remove_monster", "revive", "adjust")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    HELLO_FIELD_NUMBER: _ClassVar[int]
    ENTER_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    MOVE_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    TELEPORT_FIELD_NUMBER: _ClassVar[int]
    LEAVE_FIELD_NUMBER: _ClassVar[int]
    CHAT_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    GATE_FIELD_NUMBER: _ClassVar[int]
    REMOVE_MONSTER_FIELD_NUMBER: _ClassVar[int]
    REVIVE_FIELD_NUMBER: _ClassVar[int]
    ADJUST_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    hello: Hello
    enter: EnterMap
    ready: Ready
    move: MoveTo
    stop: StopMoving
    teleport: Teleport
    leave: LeaveMap
    chat: NormalChat
    action: GameAction
    gate: UseGate
    remove_monster: RemoveMonster
    revive: Revive
    adjust: Adjust
    def __init__(self, request_id: _Optional[int] = ..., hello: _Optional[_Union[Hello, _Mapping]] = ..., enter: _Optional[_Union[EnterMap, _Mapping]] = ..., ready: _Optional[_Union[Ready, _Mapping]] = ..., move: _Optional[_Union[MoveTo, _Mapping]] = ..., stop: _Optional[_Union[StopMoving, _Mapping]] = ..., teleport: _Optional[_Union[Teleport, _Mapping]] = ..., leave: _Optional[_Union[LeaveMap, _Mapping]] = ..., chat: _Optional[_Union[NormalChat, _Mapping]] = ..., action: _Optional[_Union[GameAction, _Mapping]] = ..., gate: _Optional[_Union[UseGate, _Mapping]] = ..., remove_monster: _Optional[_Union[RemoveMonster, _Mapping]] = ..., revive: _Optional[_Union[Revive, _Mapping]] = ..., adjust: _Optional[_Union[Adjust, _Mapping]] = ...) -> None: ...

class Hello(_message.Message):
    __slots__ = ("gateway_id",)
    GATEWAY_ID_FIELD_NUMBER: _ClassVar[int]
    gateway_id: str
    def __init__(self, gateway_id: _Optional[str] = ...) -> None: ...

class EnterMap(_message.Message):
    __slots__ = ("character_id", "name", "map_id", "position", "look", "requested_object_id", "channel_id", "combatant")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    MAP_ID_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    LOOK_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    COMBATANT_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    name: str
    map_id: int
    position: Position
    look: PlayerLook
    requested_object_id: int
    channel_id: int
    combatant: Combatant
    def __init__(self, character_id: _Optional[int] = ..., name: _Optional[str] = ..., map_id: _Optional[int] = ..., position: _Optional[_Union[Position, _Mapping]] = ..., look: _Optional[_Union[PlayerLook, _Mapping]] = ..., requested_object_id: _Optional[int] = ..., channel_id: _Optional[int] = ..., combatant: _Optional[_Union[Combatant, _Mapping]] = ...) -> None: ...

class Combatant(_message.Message):
    __slots__ = ("level", "job", "xp", "hp", "mp", "stats", "stat_points", "skill_points", "penalty_xp", "skills", "stamina")
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    XP_FIELD_NUMBER: _ClassVar[int]
    HP_FIELD_NUMBER: _ClassVar[int]
    MP_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    STAT_POINTS_FIELD_NUMBER: _ClassVar[int]
    SKILL_POINTS_FIELD_NUMBER: _ClassVar[int]
    PENALTY_XP_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    STAMINA_FIELD_NUMBER: _ClassVar[int]
    level: int
    job: int
    xp: int
    hp: int
    mp: int
    stats: _containers.RepeatedScalarFieldContainer[int]
    stat_points: int
    skill_points: int
    penalty_xp: int
    skills: _containers.RepeatedScalarFieldContainer[int]
    stamina: int
    def __init__(self, level: _Optional[int] = ..., job: _Optional[int] = ..., xp: _Optional[int] = ..., hp: _Optional[int] = ..., mp: _Optional[int] = ..., stats: _Optional[_Iterable[int]] = ..., stat_points: _Optional[int] = ..., skill_points: _Optional[int] = ..., penalty_xp: _Optional[int] = ..., skills: _Optional[_Iterable[int]] = ..., stamina: _Optional[int] = ...) -> None: ...

class Ready(_message.Message):
    __slots__ = ("character_id",)
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    def __init__(self, character_id: _Optional[int] = ...) -> None: ...

class MoveTo(_message.Message):
    __slots__ = ("character_id", "target_object_id", "destination")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    target_object_id: int
    destination: Position
    def __init__(self, character_id: _Optional[int] = ..., target_object_id: _Optional[int] = ..., destination: _Optional[_Union[Position, _Mapping]] = ...) -> None: ...

class StopMoving(_message.Message):
    __slots__ = ("character_id", "position")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    position: Position
    def __init__(self, character_id: _Optional[int] = ..., position: _Optional[_Union[Position, _Mapping]] = ...) -> None: ...

class Teleport(_message.Message):
    __slots__ = ("character_id", "map_id", "position", "reload")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    MAP_ID_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    RELOAD_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    map_id: int
    position: Position
    reload: bool
    def __init__(self, character_id: _Optional[int] = ..., map_id: _Optional[int] = ..., position: _Optional[_Union[Position, _Mapping]] = ..., reload: _Optional[bool] = ...) -> None: ...

class UseGate(_message.Message):
    __slots__ = ("character_id", "gate_id")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    GATE_ID_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    gate_id: int
    def __init__(self, character_id: _Optional[int] = ..., gate_id: _Optional[int] = ...) -> None: ...

class RemoveMonster(_message.Message):
    __slots__ = ("character_id", "channel_id", "map_id", "object_id")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    MAP_ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    channel_id: int
    map_id: int
    object_id: int
    def __init__(self, character_id: _Optional[int] = ..., channel_id: _Optional[int] = ..., map_id: _Optional[int] = ..., object_id: _Optional[int] = ...) -> None: ...

class Revive(_message.Message):
    __slots__ = ("character_id", "revive_type")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    REVIVE_TYPE_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    revive_type: int
    def __init__(self, character_id: _Optional[int] = ..., revive_type: _Optional[int] = ...) -> None: ...

class Adjust(_message.Message):
    __slots__ = ("character_id", "level", "heal")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    HEAL_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    level: int
    heal: bool
    def __init__(self, character_id: _Optional[int] = ..., level: _Optional[int] = ..., heal: _Optional[bool] = ...) -> None: ...

class LeaveMap(_message.Message):
    __slots__ = ("character_id",)
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    def __init__(self, character_id: _Optional[int] = ...) -> None: ...

class NormalChat(_message.Message):
    __slots__ = ("character_id", "message")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    message: str
    def __init__(self, character_id: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class GameAction(_message.Message):
    __slots__ = ("character_id", "packet_name", "payload")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    PACKET_NAME_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    packet_name: str
    payload: bytes
    def __init__(self, character_id: _Optional[int] = ..., packet_name: _Optional[str] = ..., payload: _Optional[bytes] = ...) -> None: ...

class WorldEventBatch(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[WorldEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[WorldEvent, _Mapping]]] = ...) -> None: ...

class WorldEvent(_message.Message):
    __slots__ = ("recipient_character_ids", "welcome", "ack", "rejected", "spawn", "removed", "moved", "stopped", "said", "action", "npc_spawn", "monster_spawn", "placed", "progress", "ground_item", "teleported")
    RECIPIENT_CHARACTER_IDS_FIELD_NUMBER: _ClassVar[int]
    WELCOME_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    SPAWN_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    MOVED_FIELD_NUMBER: _ClassVar[int]
    STOPPED_FIELD_NUMBER: _ClassVar[int]
    SAID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    NPC_SPAWN_FIELD_NUMBER: _ClassVar[int]
    MONSTER_SPAWN_FIELD_NUMBER: _ClassVar[int]
    PLACED_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    GROUND_ITEM_FIELD_NUMBER: _ClassVar[int]
    TELEPORTED_FIELD_NUMBER: _ClassVar[int]
    recipient_character_ids: _containers.RepeatedScalarFieldContainer[int]
    welcome: Welcome
    ack: Ack
    rejected: Rejected
    spawn: PlayerSpawn
    removed: ObjectRemoved
    moved: Moved
    stopped: Stopped
    said: ChatSaid
    action: GameActionDelivery
    npc_spawn: NpcSpawn
    monster_spawn: MonsterSpawn
    placed: Placed
    progress: Progress
    ground_item: GroundItem
    teleported: Ack
    def __init__(self, recipient_character_ids: _Optional[_Iterable[int]] = ..., welcome: _Optional[_Union[Welcome, _Mapping]] = ..., ack: _Optional[_Union[Ack, _Mapping]] = ..., rejected: _Optional[_Union[Rejected, _Mapping]] = ..., spawn: _Optional[_Union[PlayerSpawn, _Mapping]] = ..., removed: _Optional[_Union[ObjectRemoved, _Mapping]] = ..., moved: _Optional[_Union[Moved, _Mapping]] = ..., stopped: _Optional[_Union[Stopped, _Mapping]] = ..., said: _Optional[_Union[ChatSaid, _Mapping]] = ..., action: _Optional[_Union[GameActionDelivery, _Mapping]] = ..., npc_spawn: _Optional[_Union[NpcSpawn, _Mapping]] = ..., monster_spawn: _Optional[_Union[MonsterSpawn, _Mapping]] = ..., placed: _Optional[_Union[Placed, _Mapping]] = ..., progress: _Optional[_Union[Progress, _Mapping]] = ..., ground_item: _Optional[_Union[GroundItem, _Mapping]] = ..., teleported: _Optional[_Union[Ack, _Mapping]] = ...) -> None: ...

class NpcSpawn(_message.Message):
    __slots__ = ("object_id", "npc_type", "position", "direction", "hp")
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    NPC_TYPE_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    HP_FIELD_NUMBER: _ClassVar[int]
    object_id: int
    npc_type: int
    position: Position
    direction: float
    hp: int
    def __init__(self, object_id: _Optional[int] = ..., npc_type: _Optional[int] = ..., position: _Optional[_Union[Position, _Mapping]] = ..., direction: _Optional[float] = ..., hp: _Optional[int] = ...) -> None: ...

class MonsterSpawn(_message.Message):
    __slots__ = ("object_id", "monster_type", "position", "destination", "moving", "hp", "target_object_id")
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    MONSTER_TYPE_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    MOVING_FIELD_NUMBER: _ClassVar[int]
    HP_FIELD_NUMBER: _ClassVar[int]
    TARGET_OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    object_id: int
    monster_type: int
    position: Position
    destination: Position
    moving: bool
    hp: int
    target_object_id: int
    def __init__(self, object_id: _Optional[int] = ..., monster_type: _Optional[int] = ..., position: _Optional[_Union[Position, _Mapping]] = ..., destination: _Optional[_Union[Position, _Mapping]] = ..., moving: _Optional[bool] = ..., hp: _Optional[int] = ..., target_object_id: _Optional[int] = ...) -> None: ...

class Progress(_message.Message):
    __slots__ = ("object_id", "combatant", "max_hp", "max_mp", "level_up")
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    COMBATANT_FIELD_NUMBER: _ClassVar[int]
    MAX_HP_FIELD_NUMBER: _ClassVar[int]
    MAX_MP_FIELD_NUMBER: _ClassVar[int]
    LEVEL_UP_FIELD_NUMBER: _ClassVar[int]
    object_id: int
    combatant: Combatant
    max_hp: int
    max_mp: int
    level_up: bool
    def __init__(self, object_id: _Optional[int] = ..., combatant: _Optional[_Union[Combatant, _Mapping]] = ..., max_hp: _Optional[int] = ..., max_mp: _Optional[int] = ..., level_up: _Optional[bool] = ...) -> None: ...

class GroundItem(_message.Message):
    __slots__ = ("object_id", "position", "item_type", "item_number", "count", "owner_object_id", "seconds_left")
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    ITEM_TYPE_FIELD_NUMBER: _ClassVar[int]
    ITEM_NUMBER_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    OWNER_OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SECONDS_LEFT_FIELD_NUMBER: _ClassVar[int]
    object_id: int
    position: Position
    item_type: int
    item_number: int
    count: int
    owner_object_id: int
    seconds_left: int
    def __init__(self, object_id: _Optional[int] = ..., position: _Optional[_Union[Position, _Mapping]] = ..., item_type: _Optional[int] = ..., item_number: _Optional[int] = ..., count: _Optional[int] = ..., owner_object_id: _Optional[int] = ..., seconds_left: _Optional[int] = ...) -> None: ...

class Placed(_message.Message):
    __slots__ = ("object_id", "position", "corrected")
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    CORRECTED_FIELD_NUMBER: _ClassVar[int]
    object_id: int
    position: Position
    corrected: bool
    def __init__(self, object_id: _Optional[int] = ..., position: _Optional[_Union[Position, _Mapping]] = ..., corrected: _Optional[bool] = ...) -> None: ...

class Welcome(_message.Message):
    __slots__ = ("gateway_id", "view_radius", "queue_limit")
    GATEWAY_ID_FIELD_NUMBER: _ClassVar[int]
    VIEW_RADIUS_FIELD_NUMBER: _ClassVar[int]
    QUEUE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    gateway_id: str
    view_radius: float
    queue_limit: int
    def __init__(self, gateway_id: _Optional[str] = ..., view_radius: _Optional[float] = ..., queue_limit: _Optional[int] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ("request_id", "character_id", "map_id", "object_id", "position", "elsewhere")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    MAP_ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    ELSEWHERE_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    character_id: int
    map_id: int
    object_id: int
    position: Position
    elsewhere: bool
    def __init__(self, request_id: _Optional[int] = ..., character_id: _Optional[int] = ..., map_id: _Optional[int] = ..., object_id: _Optional[int] = ..., position: _Optional[_Union[Position, _Mapping]] = ..., elsewhere: _Optional[bool] = ...) -> None: ...

class Rejected(_message.Message):
    __slots__ = ("request_id", "character_id", "code", "message", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    character_id: int
    code: int
    message: str
    reason: str
    def __init__(self, request_id: _Optional[int] = ..., character_id: _Optional[int] = ..., code: _Optional[int] = ..., message: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ObjectRemoved(_message.Message):
    __slots__ = ("object_id",)
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    object_id: int
    def __init__(self, object_id: _Optional[int] = ...) -> None: ...

class Moved(_message.Message):
    __slots__ = ("object_id", "target_object_id", "distance", "destination", "speed")
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    SPEED_FIELD_NUMBER: _ClassVar[int]
    object_id: int
    target_object_id: int
    distance: int
    destination: Position
    speed: float
    def __init__(self, object_id: _Optional[int] = ..., target_object_id: _Optional[int] = ..., distance: _Optional[int] = ..., destination: _Optional[_Union[Position, _Mapping]] = ..., speed: _Optional[float] = ...) -> None: ...

class Stopped(_message.Message):
    __slots__ = ("object_id", "position")
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    object_id: int
    position: Position
    def __init__(self, object_id: _Optional[int] = ..., position: _Optional[_Union[Position, _Mapping]] = ...) -> None: ...

class ChatSaid(_message.Message):
    __slots__ = ("object_id", "message")
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    object_id: int
    message: str
    def __init__(self, object_id: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class GameActionDelivery(_message.Message):
    __slots__ = ("packet_name", "payload")
    PACKET_NAME_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    packet_name: str
    payload: bytes
    def __init__(self, packet_name: _Optional[str] = ..., payload: _Optional[bytes] = ...) -> None: ...

class GetPresenceRequest(_message.Message):
    __slots__ = ("character_id",)
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    def __init__(self, character_id: _Optional[int] = ...) -> None: ...

class Presence(_message.Message):
    __slots__ = ("character_id", "gateway_id", "map_id", "object_id", "position", "ready", "moving", "channel_id", "name")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_ID_FIELD_NUMBER: _ClassVar[int]
    MAP_ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    MOVING_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    gateway_id: str
    map_id: int
    object_id: int
    position: Position
    ready: bool
    moving: bool
    channel_id: int
    name: str
    def __init__(self, character_id: _Optional[int] = ..., gateway_id: _Optional[str] = ..., map_id: _Optional[int] = ..., object_id: _Optional[int] = ..., position: _Optional[_Union[Position, _Mapping]] = ..., ready: _Optional[bool] = ..., moving: _Optional[bool] = ..., channel_id: _Optional[int] = ..., name: _Optional[str] = ...) -> None: ...

class FindCharacterRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ChannelCount(_message.Message):
    __slots__ = ("channel_id", "characters")
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    CHARACTERS_FIELD_NUMBER: _ClassVar[int]
    channel_id: int
    characters: int
    def __init__(self, channel_id: _Optional[int] = ..., characters: _Optional[int] = ...) -> None: ...

class WorldStatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WorldStats(_message.Message):
    __slots__ = ("gateways", "characters", "events", "replaced_gateways", "rejected_requests", "dropped_events", "resynced_views", "paced_streams", "batches", "channels", "monsters", "npcs", "corrected_positions", "removed_monsters", "respawned_monsters", "hits", "kills", "deaths", "ground_items", "combat_ticks", "combat_tick_seconds")
    GATEWAYS_FIELD_NUMBER: _ClassVar[int]
    CHARACTERS_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    REPLACED_GATEWAYS_FIELD_NUMBER: _ClassVar[int]
    REJECTED_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    DROPPED_EVENTS_FIELD_NUMBER: _ClassVar[int]
    RESYNCED_VIEWS_FIELD_NUMBER: _ClassVar[int]
    PACED_STREAMS_FIELD_NUMBER: _ClassVar[int]
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    MONSTERS_FIELD_NUMBER: _ClassVar[int]
    NPCS_FIELD_NUMBER: _ClassVar[int]
    CORRECTED_POSITIONS_FIELD_NUMBER: _ClassVar[int]
    REMOVED_MONSTERS_FIELD_NUMBER: _ClassVar[int]
    RESPAWNED_MONSTERS_FIELD_NUMBER: _ClassVar[int]
    HITS_FIELD_NUMBER: _ClassVar[int]
    KILLS_FIELD_NUMBER: _ClassVar[int]
    DEATHS_FIELD_NUMBER: _ClassVar[int]
    GROUND_ITEMS_FIELD_NUMBER: _ClassVar[int]
    COMBAT_TICKS_FIELD_NUMBER: _ClassVar[int]
    COMBAT_TICK_SECONDS_FIELD_NUMBER: _ClassVar[int]
    gateways: int
    characters: int
    events: int
    replaced_gateways: int
    rejected_requests: int
    dropped_events: int
    resynced_views: int
    paced_streams: int
    batches: int
    channels: _containers.RepeatedCompositeFieldContainer[ChannelCount]
    monsters: int
    npcs: int
    corrected_positions: int
    removed_monsters: int
    respawned_monsters: int
    hits: int
    kills: int
    deaths: int
    ground_items: int
    combat_ticks: int
    combat_tick_seconds: float
    def __init__(self, gateways: _Optional[int] = ..., characters: _Optional[int] = ..., events: _Optional[int] = ..., replaced_gateways: _Optional[int] = ..., rejected_requests: _Optional[int] = ..., dropped_events: _Optional[int] = ..., resynced_views: _Optional[int] = ..., paced_streams: _Optional[int] = ..., batches: _Optional[int] = ..., channels: _Optional[_Iterable[_Union[ChannelCount, _Mapping]]] = ..., monsters: _Optional[int] = ..., npcs: _Optional[int] = ..., corrected_positions: _Optional[int] = ..., removed_monsters: _Optional[int] = ..., respawned_monsters: _Optional[int] = ..., hits: _Optional[int] = ..., kills: _Optional[int] = ..., deaths: _Optional[int] = ..., ground_items: _Optional[int] = ..., combat_ticks: _Optional[int] = ..., combat_tick_seconds: _Optional[float] = ...) -> None: ...

class TakeGroundItemRequest(_message.Message):
    __slots__ = ("character_id", "object_id")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    object_id: int
    def __init__(self, character_id: _Optional[int] = ..., object_id: _Optional[int] = ...) -> None: ...

class TakeGroundItemReply(_message.Message):
    __slots__ = ("reason", "item_type", "item_number", "count", "token")
    REASON_FIELD_NUMBER: _ClassVar[int]
    ITEM_TYPE_FIELD_NUMBER: _ClassVar[int]
    ITEM_NUMBER_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    reason: str
    item_type: int
    item_number: int
    count: int
    token: int
    def __init__(self, reason: _Optional[str] = ..., item_type: _Optional[int] = ..., item_number: _Optional[int] = ..., count: _Optional[int] = ..., token: _Optional[int] = ...) -> None: ...

class PutBackGroundItemRequest(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: int
    def __init__(self, token: _Optional[int] = ...) -> None: ...

class GroundItemReply(_message.Message):
    __slots__ = ("reason", "object_id")
    REASON_FIELD_NUMBER: _ClassVar[int]
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    reason: str
    object_id: int
    def __init__(self, reason: _Optional[str] = ..., object_id: _Optional[int] = ...) -> None: ...

class DropGroundItemRequest(_message.Message):
    __slots__ = ("character_id", "item_type", "item_number", "count")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_TYPE_FIELD_NUMBER: _ClassVar[int]
    ITEM_NUMBER_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    item_type: int
    item_number: int
    count: int
    def __init__(self, character_id: _Optional[int] = ..., item_type: _Optional[int] = ..., item_number: _Optional[int] = ..., count: _Optional[int] = ...) -> None: ...

class NearNpcRequest(_message.Message):
    __slots__ = ("character_id", "npc_object_id")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    NPC_OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    npc_object_id: int
    def __init__(self, character_id: _Optional[int] = ..., npc_object_id: _Optional[int] = ...) -> None: ...

class NearNpcReply(_message.Message):
    __slots__ = ("reason", "distance", "shop", "npc")
    REASON_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    SHOP_FIELD_NUMBER: _ClassVar[int]
    NPC_FIELD_NUMBER: _ClassVar[int]
    reason: str
    distance: float
    shop: str
    npc: str
    def __init__(self, reason: _Optional[str] = ..., distance: _Optional[float] = ..., shop: _Optional[str] = ..., npc: _Optional[str] = ...) -> None: ...

class SetEquipmentRequest(_message.Message):
    __slots__ = ("character_id", "equipment", "slot", "item", "equipped", "change")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    EQUIPMENT_FIELD_NUMBER: _ClassVar[int]
    SLOT_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    EQUIPPED_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    equipment: _containers.RepeatedScalarFieldContainer[int]
    slot: int
    item: int
    equipped: _containers.RepeatedCompositeFieldContainer[_common_pb2.ItemRef]
    change: EquipChange
    def __init__(self, character_id: _Optional[int] = ..., equipment: _Optional[_Iterable[int]] = ..., slot: _Optional[int] = ..., item: _Optional[int] = ..., equipped: _Optional[_Iterable[_Union[_common_pb2.ItemRef, _Mapping]]] = ..., change: _Optional[_Union[EquipChange, str]] = ...) -> None: ...

class UseConsumableRequest(_message.Message):
    __slots__ = ("character_id", "item_type", "item_number", "slot", "check_only")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_TYPE_FIELD_NUMBER: _ClassVar[int]
    ITEM_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SLOT_FIELD_NUMBER: _ClassVar[int]
    CHECK_ONLY_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    item_type: int
    item_number: int
    slot: int
    check_only: bool
    def __init__(self, character_id: _Optional[int] = ..., item_type: _Optional[int] = ..., item_number: _Optional[int] = ..., slot: _Optional[int] = ..., check_only: _Optional[bool] = ...) -> None: ...

class ItemActionReply(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class FindObjectRequest(_message.Message):
    __slots__ = ("character_id", "object_id")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    object_id: int
    def __init__(self, character_id: _Optional[int] = ..., object_id: _Optional[int] = ...) -> None: ...

class SetPartyRequest(_message.Message):
    __slots__ = ("character_id", "party_id", "rule")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    PARTY_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    party_id: int
    rule: int
    def __init__(self, character_id: _Optional[int] = ..., party_id: _Optional[int] = ..., rule: _Optional[int] = ...) -> None: ...

class SetPartyReply(_message.Message):
    __slots__ = ("members",)
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    members: int
    def __init__(self, members: _Optional[int] = ...) -> None: ...

class StallEntry(_message.Message):
    __slots__ = ("index", "slot", "item", "count", "price")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    SLOT_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    index: int
    slot: int
    item: _common_pb2.Item
    count: int
    price: int
    def __init__(self, index: _Optional[int] = ..., slot: _Optional[int] = ..., item: _Optional[_Union[_common_pb2.Item, _Mapping]] = ..., count: _Optional[int] = ..., price: _Optional[int] = ...) -> None: ...

class OpenStallRequest(_message.Message):
    __slots__ = ("character_id", "title", "sell", "wish")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    SELL_FIELD_NUMBER: _ClassVar[int]
    WISH_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    title: str
    sell: _containers.RepeatedCompositeFieldContainer[StallEntry]
    wish: _containers.RepeatedCompositeFieldContainer[StallEntry]
    def __init__(self, character_id: _Optional[int] = ..., title: _Optional[str] = ..., sell: _Optional[_Iterable[_Union[StallEntry, _Mapping]]] = ..., wish: _Optional[_Iterable[_Union[StallEntry, _Mapping]]] = ...) -> None: ...

class CloseStallRequest(_message.Message):
    __slots__ = ("character_id",)
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    def __init__(self, character_id: _Optional[int] = ...) -> None: ...

class StallReply(_message.Message):
    __slots__ = ("reason", "object_id")
    REASON_FIELD_NUMBER: _ClassVar[int]
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    reason: str
    object_id: int
    def __init__(self, reason: _Optional[str] = ..., object_id: _Optional[int] = ...) -> None: ...

class ListStallRequest(_message.Message):
    __slots__ = ("character_id", "object_id")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    object_id: int
    def __init__(self, character_id: _Optional[int] = ..., object_id: _Optional[int] = ...) -> None: ...

class ListStallReply(_message.Message):
    __slots__ = ("reason", "title", "sell", "wish", "owner_character_id", "distance")
    REASON_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    SELL_FIELD_NUMBER: _ClassVar[int]
    WISH_FIELD_NUMBER: _ClassVar[int]
    OWNER_CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    reason: str
    title: str
    sell: _containers.RepeatedCompositeFieldContainer[StallEntry]
    wish: _containers.RepeatedCompositeFieldContainer[StallEntry]
    owner_character_id: int
    distance: float
    def __init__(self, reason: _Optional[str] = ..., title: _Optional[str] = ..., sell: _Optional[_Iterable[_Union[StallEntry, _Mapping]]] = ..., wish: _Optional[_Iterable[_Union[StallEntry, _Mapping]]] = ..., owner_character_id: _Optional[int] = ..., distance: _Optional[float] = ...) -> None: ...

class StallPick(_message.Message):
    __slots__ = ("index", "count", "header")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    index: int
    count: int
    header: int
    def __init__(self, index: _Optional[int] = ..., count: _Optional[int] = ..., header: _Optional[int] = ...) -> None: ...

class ReserveStallRequest(_message.Message):
    __slots__ = ("character_id", "object_id", "list", "picks")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    LIST_FIELD_NUMBER: _ClassVar[int]
    PICKS_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    object_id: int
    list: StallList
    picks: _containers.RepeatedCompositeFieldContainer[StallPick]
    def __init__(self, character_id: _Optional[int] = ..., object_id: _Optional[int] = ..., list: _Optional[_Union[StallList, str]] = ..., picks: _Optional[_Iterable[_Union[StallPick, _Mapping]]] = ...) -> None: ...

class ReserveStallReply(_message.Message):
    __slots__ = ("reason", "token", "owner_character_id", "held", "short", "object_id")
    REASON_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    OWNER_CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    SHORT_FIELD_NUMBER: _ClassVar[int]
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    reason: str
    token: int
    owner_character_id: int
    held: _containers.RepeatedCompositeFieldContainer[StallEntry]
    short: int
    object_id: int
    def __init__(self, reason: _Optional[str] = ..., token: _Optional[int] = ..., owner_character_id: _Optional[int] = ..., held: _Optional[_Iterable[_Union[StallEntry, _Mapping]]] = ..., short: _Optional[int] = ..., object_id: _Optional[int] = ...) -> None: ...

class StallSlot(_message.Message):
    __slots__ = ("slot", "item")
    SLOT_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    slot: int
    item: _common_pb2.Item
    def __init__(self, slot: _Optional[int] = ..., item: _Optional[_Union[_common_pb2.Item, _Mapping]] = ...) -> None: ...

class FinishStallRequest(_message.Message):
    __slots__ = ("token", "applied", "owner_failed", "owner_changed", "owner_zuly")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    OWNER_FAILED_FIELD_NUMBER: _ClassVar[int]
    OWNER_CHANGED_FIELD_NUMBER: _ClassVar[int]
    OWNER_ZULY_FIELD_NUMBER: _ClassVar[int]
    token: int
    applied: bool
    owner_failed: bool
    owner_changed: _containers.RepeatedCompositeFieldContainer[StallSlot]
    owner_zuly: int
    def __init__(self, token: _Optional[int] = ..., applied: _Optional[bool] = ..., owner_failed: _Optional[bool] = ..., owner_changed: _Optional[_Iterable[_Union[StallSlot, _Mapping]]] = ..., owner_zuly: _Optional[int] = ...) -> None: ...

class FinishStallReply(_message.Message):
    __slots__ = ("reason", "updated", "result", "closed", "object_id")
    REASON_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    CLOSED_FIELD_NUMBER: _ClassVar[int]
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    reason: str
    updated: _containers.RepeatedCompositeFieldContainer[StallSlot]
    result: int
    closed: bool
    object_id: int
    def __init__(self, reason: _Optional[str] = ..., updated: _Optional[_Iterable[_Union[StallSlot, _Mapping]]] = ..., result: _Optional[int] = ..., closed: _Optional[bool] = ..., object_id: _Optional[int] = ...) -> None: ...

class TradeRequest(_message.Message):
    __slots__ = ("character_id", "state", "target_object_id", "index")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TARGET_OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    state: int
    target_object_id: int
    index: int
    def __init__(self, character_id: _Optional[int] = ..., state: _Optional[int] = ..., target_object_id: _Optional[int] = ..., index: _Optional[int] = ...) -> None: ...

class TradeItemRequest(_message.Message):
    __slots__ = ("character_id", "slot", "inventory_slot", "item", "count")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    SLOT_FIELD_NUMBER: _ClassVar[int]
    INVENTORY_SLOT_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    slot: int
    inventory_slot: int
    item: _common_pb2.Item
    count: int
    def __init__(self, character_id: _Optional[int] = ..., slot: _Optional[int] = ..., inventory_slot: _Optional[int] = ..., item: _Optional[_Union[_common_pb2.Item, _Mapping]] = ..., count: _Optional[int] = ...) -> None: ...

class TradeReply(_message.Message):
    __slots__ = ("reason", "execution")
    REASON_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_FIELD_NUMBER: _ClassVar[int]
    reason: str
    execution: TradeExecution
    def __init__(self, reason: _Optional[str] = ..., execution: _Optional[_Union[TradeExecution, _Mapping]] = ...) -> None: ...

class TradeExecution(_message.Message):
    __slots__ = ("trade_id", "a", "b")
    TRADE_ID_FIELD_NUMBER: _ClassVar[int]
    A_FIELD_NUMBER: _ClassVar[int]
    B_FIELD_NUMBER: _ClassVar[int]
    trade_id: str
    a: TradeSide
    b: TradeSide
    def __init__(self, trade_id: _Optional[str] = ..., a: _Optional[_Union[TradeSide, _Mapping]] = ..., b: _Optional[_Union[TradeSide, _Mapping]] = ...) -> None: ...

class TradeSide(_message.Message):
    __slots__ = ("character_id", "gives", "zuly")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    GIVES_FIELD_NUMBER: _ClassVar[int]
    ZULY_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    gives: _containers.RepeatedCompositeFieldContainer[TradeGive]
    zuly: int
    def __init__(self, character_id: _Optional[int] = ..., gives: _Optional[_Iterable[_Union[TradeGive, _Mapping]]] = ..., zuly: _Optional[int] = ...) -> None: ...

class TradeGive(_message.Message):
    __slots__ = ("inventory_slot", "item", "count")
    INVENTORY_SLOT_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    inventory_slot: int
    item: _common_pb2.ItemRef
    count: int
    def __init__(self, inventory_slot: _Optional[int] = ..., item: _Optional[_Union[_common_pb2.ItemRef, _Mapping]] = ..., count: _Optional[int] = ...) -> None: ...

class TradeFinishRequest(_message.Message):
    __slots__ = ("trade_id", "result", "failed_character_id", "sides")
    TRADE_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    FAILED_CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    SIDES_FIELD_NUMBER: _ClassVar[int]
    trade_id: str
    result: str
    failed_character_id: int
    sides: _containers.RepeatedCompositeFieldContainer[TradeSideResult]
    def __init__(self, trade_id: _Optional[str] = ..., result: _Optional[str] = ..., failed_character_id: _Optional[int] = ..., sides: _Optional[_Iterable[_Union[TradeSideResult, _Mapping]]] = ...) -> None: ...

class TradeSideResult(_message.Message):
    __slots__ = ("character_id", "changed", "zuly")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    ZULY_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    changed: _containers.RepeatedCompositeFieldContainer[TradeSlot]
    zuly: int
    def __init__(self, character_id: _Optional[int] = ..., changed: _Optional[_Iterable[_Union[TradeSlot, _Mapping]]] = ..., zuly: _Optional[int] = ...) -> None: ...

class TradeSlot(_message.Message):
    __slots__ = ("slot", "item")
    SLOT_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    slot: int
    item: _common_pb2.Item
    def __init__(self, slot: _Optional[int] = ..., item: _Optional[_Union[_common_pb2.Item, _Mapping]] = ...) -> None: ...

class TradeFinishReply(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...
