from gateway_protos.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateCharResult(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CREATE_CHAR_RESULT_OK: _ClassVar[CreateCharResult]
    CREATE_CHAR_RESULT_FAILED: _ClassVar[CreateCharResult]
    CREATE_CHAR_RESULT_NAME_TAKEN: _ClassVar[CreateCharResult]
    CREATE_CHAR_RESULT_INVALID_VALUE: _ClassVar[CreateCharResult]
    CREATE_CHAR_RESULT_TOO_MANY_CHARS: _ClassVar[CreateCharResult]
    CREATE_CHAR_RESULT_BLOCKED: _ClassVar[CreateCharResult]

class CreateCharReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CREATE_CHAR_REASON_UNSPECIFIED: _ClassVar[CreateCharReason]
    CREATE_CHAR_REASON_NAME_TOO_SHORT: _ClassVar[CreateCharReason]
    CREATE_CHAR_REASON_NAME_TOO_LONG: _ClassVar[CreateCharReason]
    CREATE_CHAR_REASON_NAME_BAD_CHARACTERS: _ClassVar[CreateCharReason]
    CREATE_CHAR_REASON_NAME_TAKEN: _ClassVar[CreateCharReason]
    CREATE_CHAR_REASON_NAME_BLOCKED: _ClassVar[CreateCharReason]
    CREATE_CHAR_REASON_TOO_MANY_CHARS: _ClassVar[CreateCharReason]
    CREATE_CHAR_REASON_BAD_RACE: _ClassVar[CreateCharReason]

class ItemResult(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ITEM_RESULT_OK: _ClassVar[ItemResult]
    ITEM_RESULT_NO_ROOM: _ClassVar[ItemResult]
    ITEM_RESULT_NOT_HELD: _ClassVar[ItemResult]
    ITEM_RESULT_NO_ZULY: _ClassVar[ItemResult]
    ITEM_RESULT_BAD_SLOT: _ClassVar[ItemResult]
    ITEM_RESULT_UNKNOWN_ITEM: _ClassVar[ItemResult]
    ITEM_RESULT_TOO_MUCH_ZULY: _ClassVar[ItemResult]
CREATE_CHAR_RESULT_OK: CreateCharResult
CREATE_CHAR_RESULT_FAILED: CreateCharResult
CREATE_CHAR_RESULT_NAME_TAKEN: CreateCharResult
CREATE_CHAR_RESULT_INVALID_VALUE: CreateCharResult
CREATE_CHAR_RESULT_TOO_MANY_CHARS: CreateCharResult
CREATE_CHAR_RESULT_BLOCKED: CreateCharResult
CREATE_CHAR_REASON_UNSPECIFIED: CreateCharReason
CREATE_CHAR_REASON_NAME_TOO_SHORT: CreateCharReason
CREATE_CHAR_REASON_NAME_TOO_LONG: CreateCharReason
CREATE_CHAR_REASON_NAME_BAD_CHARACTERS: CreateCharReason
CREATE_CHAR_REASON_NAME_TAKEN: CreateCharReason
CREATE_CHAR_REASON_NAME_BLOCKED: CreateCharReason
CREATE_CHAR_REASON_TOO_MANY_CHARS: CreateCharReason
CREATE_CHAR_REASON_BAD_RACE: CreateCharReason
ITEM_RESULT_OK: ItemResult
ITEM_RESULT_NO_ROOM: ItemResult
ITEM_RESULT_NOT_HELD: ItemResult
ITEM_RESULT_NO_ZULY: ItemResult
ITEM_RESULT_BAD_SLOT: ItemResult
ITEM_RESULT_UNKNOWN_ITEM: ItemResult
ITEM_RESULT_TOO_MUCH_ZULY: ItemResult

class CharacterRef(_message.Message):
    __slots__ = ("index", "name")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    index: int
    name: str
    def __init__(self, index: _Optional[int] = ..., name: _Optional[str] = ...) -> None: ...

class BaseStats(_message.Message):
    __slots__ = ("str", "dex", "int_", "con", "charm", "sense")
    STR_FIELD_NUMBER: _ClassVar[int]
    DEX_FIELD_NUMBER: _ClassVar[int]
    INT__FIELD_NUMBER: _ClassVar[int]
    CON_FIELD_NUMBER: _ClassVar[int]
    CHARM_FIELD_NUMBER: _ClassVar[int]
    SENSE_FIELD_NUMBER: _ClassVar[int]
    str: int
    dex: int
    int_: int
    con: int
    charm: int
    sense: int
    def __init__(self, str: _Optional[int] = ..., dex: _Optional[int] = ..., int_: _Optional[int] = ..., con: _Optional[int] = ..., charm: _Optional[int] = ..., sense: _Optional[int] = ...) -> None: ...

class CharacterSummary(_message.Message):
    __slots__ = ("id", "name", "race", "level", "job", "remaining_delete_seconds", "face", "hair", "equipped_items")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    RACE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    REMAINING_DELETE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    FACE_FIELD_NUMBER: _ClassVar[int]
    HAIR_FIELD_NUMBER: _ClassVar[int]
    EQUIPPED_ITEMS_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    race: int
    level: int
    job: int
    remaining_delete_seconds: int
    face: int
    hair: int
    equipped_items: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ..., race: _Optional[int] = ..., level: _Optional[int] = ..., job: _Optional[int] = ..., remaining_delete_seconds: _Optional[int] = ..., face: _Optional[int] = ..., hair: _Optional[int] = ..., equipped_items: _Optional[_Iterable[int]] = ...) -> None: ...

class CharacterState(_message.Message):
    __slots__ = ("id", "account_id", "name", "race", "stone", "face", "hair", "level", "job", "stats", "hp", "mp", "xp", "stat_points", "skill_points", "penalty_xp", "stamina", "money", "map_id", "x", "spawn", "equipped_items", "inventory", "hotbar", "skills", "remaining_delete_seconds", "y")
    ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    RACE_FIELD_NUMBER: _ClassVar[int]
    STONE_FIELD_NUMBER: _ClassVar[int]
    FACE_FIELD_NUMBER: _ClassVar[int]
    HAIR_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    HP_FIELD_NUMBER: _ClassVar[int]
    MP_FIELD_NUMBER: _ClassVar[int]
    XP_FIELD_NUMBER: _ClassVar[int]
    STAT_POINTS_FIELD_NUMBER: _ClassVar[int]
    SKILL_POINTS_FIELD_NUMBER: _ClassVar[int]
    PENALTY_XP_FIELD_NUMBER: _ClassVar[int]
    STAMINA_FIELD_NUMBER: _ClassVar[int]
    MONEY_FIELD_NUMBER: _ClassVar[int]
    MAP_ID_FIELD_NUMBER: _ClassVar[int]
    X_FIELD_NUMBER: _ClassVar[int]
    SPAWN_FIELD_NUMBER: _ClassVar[int]
    EQUIPPED_ITEMS_FIELD_NUMBER: _ClassVar[int]
    INVENTORY_FIELD_NUMBER: _ClassVar[int]
    HOTBAR_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    REMAINING_DELETE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    id: int
    account_id: int
    name: str
    race: int
    stone: int
    face: int
    hair: int
    level: int
    job: int
    stats: BaseStats
    hp: int
    mp: int
    xp: int
    stat_points: int
    skill_points: int
    penalty_xp: int
    stamina: int
    money: int
    map_id: int
    x: float
    spawn: int
    equipped_items: _containers.RepeatedScalarFieldContainer[int]
    inventory: _containers.RepeatedCompositeFieldContainer[_common_pb2.Item]
    hotbar: _containers.RepeatedScalarFieldContainer[int]
    skills: _containers.RepeatedScalarFieldContainer[int]
    remaining_delete_seconds: int
    y: float
    def __init__(self, id: _Optional[int] = ..., account_id: _Optional[int] = ..., name: _Optional[str] = ..., race: _Optional[int] = ..., stone: _Optional[int] = ..., face: _Optional[int] = ..., hair: _Optional[int] = ..., level: _Optional[int] = ..., job: _Optional[int] = ..., stats: _Optional[_Union[BaseStats, _Mapping]] = ..., hp: _Optional[int] = ..., mp: _Optional[int] = ..., xp: _Optional[int] = ..., stat_points: _Optional[int] = ..., skill_points: _Optional[int] = ..., penalty_xp: _Optional[int] = ..., stamina: _Optional[int] = ..., money: _Optional[int] = ..., map_id: _Optional[int] = ..., x: _Optional[float] = ..., spawn: _Optional[int] = ..., equipped_items: _Optional[_Iterable[int]] = ..., inventory: _Optional[_Iterable[_Union[_common_pb2.Item, _Mapping]]] = ..., hotbar: _Optional[_Iterable[int]] = ..., skills: _Optional[_Iterable[int]] = ..., remaining_delete_seconds: _Optional[int] = ..., y: _Optional[float] = ...) -> None: ...

class ListCharactersRequest(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: int
    def __init__(self, account_id: _Optional[int] = ...) -> None: ...

class ListCharactersReply(_message.Message):
    __slots__ = ("characters",)
    CHARACTERS_FIELD_NUMBER: _ClassVar[int]
    characters: _containers.RepeatedCompositeFieldContainer[CharacterSummary]
    def __init__(self, characters: _Optional[_Iterable[_Union[CharacterSummary, _Mapping]]] = ...) -> None: ...

class CreateCharacterRequest(_message.Message):
    __slots__ = ("account_id", "name", "race", "stone", "hair", "face", "weapon", "zone")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    RACE_FIELD_NUMBER: _ClassVar[int]
    STONE_FIELD_NUMBER: _ClassVar[int]
    HAIR_FIELD_NUMBER: _ClassVar[int]
    FACE_FIELD_NUMBER: _ClassVar[int]
    WEAPON_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    account_id: int
    name: str
    race: int
    stone: int
    hair: int
    face: int
    weapon: int
    zone: int
    def __init__(self, account_id: _Optional[int] = ..., name: _Optional[str] = ..., race: _Optional[int] = ..., stone: _Optional[int] = ..., hair: _Optional[int] = ..., face: _Optional[int] = ..., weapon: _Optional[int] = ..., zone: _Optional[int] = ...) -> None: ...

class CreateCharacterReply(_message.Message):
    __slots__ = ("result", "reason", "message", "character")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CHARACTER_FIELD_NUMBER: _ClassVar[int]
    result: CreateCharResult
    reason: CreateCharReason
    message: str
    character: CharacterSummary
    def __init__(self, result: _Optional[_Union[CreateCharResult, str]] = ..., reason: _Optional[_Union[CreateCharReason, str]] = ..., message: _Optional[str] = ..., character: _Optional[_Union[CharacterSummary, _Mapping]] = ...) -> None: ...

class DeleteCharacterRequest(_message.Message):
    __slots__ = ("account_id", "character")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    CHARACTER_FIELD_NUMBER: _ClassVar[int]
    account_id: int
    character: CharacterRef
    def __init__(self, account_id: _Optional[int] = ..., character: _Optional[_Union[CharacterRef, _Mapping]] = ...) -> None: ...

class DeleteCharacterReply(_message.Message):
    __slots__ = ("remaining_seconds", "name", "deleted")
    REMAINING_SECONDS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    remaining_seconds: int
    name: str
    deleted: bool
    def __init__(self, remaining_seconds: _Optional[int] = ..., name: _Optional[str] = ..., deleted: _Optional[bool] = ...) -> None: ...

class SelectCharacterRequest(_message.Message):
    __slots__ = ("account_id", "character")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    CHARACTER_FIELD_NUMBER: _ClassVar[int]
    account_id: int
    character: CharacterRef
    def __init__(self, account_id: _Optional[int] = ..., character: _Optional[_Union[CharacterRef, _Mapping]] = ...) -> None: ...

class GetCharacterRequest(_message.Message):
    __slots__ = ("character_id",)
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    def __init__(self, character_id: _Optional[int] = ...) -> None: ...

class SaveCharacterRequest(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: CharacterState
    def __init__(self, state: _Optional[_Union[CharacterState, _Mapping]] = ...) -> None: ...

class SaveCharacterReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SaveCharactersRequest(_message.Message):
    __slots__ = ("states",)
    STATES_FIELD_NUMBER: _ClassVar[int]
    states: _containers.RepeatedCompositeFieldContainer[CharacterState]
    def __init__(self, states: _Optional[_Iterable[_Union[CharacterState, _Mapping]]] = ...) -> None: ...

class SaveOutcome(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class SaveCharactersReply(_message.Message):
    __slots__ = ("outcomes",)
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    outcomes: _containers.RepeatedCompositeFieldContainer[SaveOutcome]
    def __init__(self, outcomes: _Optional[_Iterable[_Union[SaveOutcome, _Mapping]]] = ...) -> None: ...

class ItemOp(_message.Message):
    __slots__ = ("add", "remove", "move", "store", "retrieve")
    ADD_FIELD_NUMBER: _ClassVar[int]
    REMOVE_FIELD_NUMBER: _ClassVar[int]
    MOVE_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    RETRIEVE_FIELD_NUMBER: _ClassVar[int]
    add: AddItem
    remove: RemoveItem
    move: MoveItem
    store: StoreItem
    retrieve: RetrieveItem
    def __init__(self, add: _Optional[_Union[AddItem, _Mapping]] = ..., remove: _Optional[_Union[RemoveItem, _Mapping]] = ..., move: _Optional[_Union[MoveItem, _Mapping]] = ..., store: _Optional[_Union[StoreItem, _Mapping]] = ..., retrieve: _Optional[_Union[RetrieveItem, _Mapping]] = ...) -> None: ...

class AddItem(_message.Message):
    __slots__ = ("item", "count")
    ITEM_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    item: _common_pb2.ItemRef
    count: int
    def __init__(self, item: _Optional[_Union[_common_pb2.ItemRef, _Mapping]] = ..., count: _Optional[int] = ...) -> None: ...

class RemoveItem(_message.Message):
    __slots__ = ("slot", "item", "count")
    SLOT_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    slot: int
    item: _common_pb2.ItemRef
    count: int
    def __init__(self, slot: _Optional[int] = ..., item: _Optional[_Union[_common_pb2.ItemRef, _Mapping]] = ..., count: _Optional[int] = ...) -> None: ...

class MoveItem(_message.Message):
    __slots__ = ("from_slot", "to_slot")
    FROM_SLOT_FIELD_NUMBER: _ClassVar[int]
    TO_SLOT_FIELD_NUMBER: _ClassVar[int]
    from_slot: int
    to_slot: int
    def __init__(self, from_slot: _Optional[int] = ..., to_slot: _Optional[int] = ...) -> None: ...

class StoreItem(_message.Message):
    __slots__ = ("slot", "item", "count")
    SLOT_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    slot: int
    item: _common_pb2.ItemRef
    count: int
    def __init__(self, slot: _Optional[int] = ..., item: _Optional[_Union[_common_pb2.ItemRef, _Mapping]] = ..., count: _Optional[int] = ...) -> None: ...

class RetrieveItem(_message.Message):
    __slots__ = ("storage_slot", "item", "count")
    STORAGE_SLOT_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    storage_slot: int
    item: _common_pb2.ItemRef
    count: int
    def __init__(self, storage_slot: _Optional[int] = ..., item: _Optional[_Union[_common_pb2.ItemRef, _Mapping]] = ..., count: _Optional[int] = ...) -> None: ...

class ChangeItemsRequest(_message.Message):
    __slots__ = ("character_id", "request_id", "ops", "zuly_delta", "storage_zuly_delta")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    OPS_FIELD_NUMBER: _ClassVar[int]
    ZULY_DELTA_FIELD_NUMBER: _ClassVar[int]
    STORAGE_ZULY_DELTA_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    request_id: str
    ops: _containers.RepeatedCompositeFieldContainer[ItemOp]
    zuly_delta: int
    storage_zuly_delta: int
    def __init__(self, character_id: _Optional[int] = ..., request_id: _Optional[str] = ..., ops: _Optional[_Iterable[_Union[ItemOp, _Mapping]]] = ..., zuly_delta: _Optional[int] = ..., storage_zuly_delta: _Optional[int] = ...) -> None: ...

class SlotItem(_message.Message):
    __slots__ = ("slot", "item")
    SLOT_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    slot: int
    item: _common_pb2.Item
    def __init__(self, slot: _Optional[int] = ..., item: _Optional[_Union[_common_pb2.Item, _Mapping]] = ...) -> None: ...

class ChangeItemsReply(_message.Message):
    __slots__ = ("result", "message", "changed", "zuly", "storage_changed", "storage_zuly", "weight", "replayed")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    ZULY_FIELD_NUMBER: _ClassVar[int]
    STORAGE_CHANGED_FIELD_NUMBER: _ClassVar[int]
    STORAGE_ZULY_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    result: ItemResult
    message: str
    changed: _containers.RepeatedCompositeFieldContainer[SlotItem]
    zuly: int
    storage_changed: _containers.RepeatedCompositeFieldContainer[SlotItem]
    storage_zuly: int
    weight: int
    replayed: bool
    def __init__(self, result: _Optional[_Union[ItemResult, str]] = ..., message: _Optional[str] = ..., changed: _Optional[_Iterable[_Union[SlotItem, _Mapping]]] = ..., zuly: _Optional[int] = ..., storage_changed: _Optional[_Iterable[_Union[SlotItem, _Mapping]]] = ..., storage_zuly: _Optional[int] = ..., weight: _Optional[int] = ..., replayed: _Optional[bool] = ...) -> None: ...

class GetStorageRequest(_message.Message):
    __slots__ = ("character_id",)
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    def __init__(self, character_id: _Optional[int] = ...) -> None: ...

class Storage(_message.Message):
    __slots__ = ("items", "zuly")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    ZULY_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[_common_pb2.Item]
    zuly: int
    def __init__(self, items: _Optional[_Iterable[_Union[_common_pb2.Item, _Mapping]]] = ..., zuly: _Optional[int] = ...) -> None: ...

class SetHotbarRequest(_message.Message):
    __slots__ = ("character_id", "slot", "icon")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    SLOT_FIELD_NUMBER: _ClassVar[int]
    ICON_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    slot: int
    icon: int
    def __init__(self, character_id: _Optional[int] = ..., slot: _Optional[int] = ..., icon: _Optional[int] = ...) -> None: ...

class SetHotbarReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ExchangeSide(_message.Message):
    __slots__ = ("character_id", "gives", "zuly")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    GIVES_FIELD_NUMBER: _ClassVar[int]
    ZULY_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    gives: _containers.RepeatedCompositeFieldContainer[RemoveItem]
    zuly: int
    def __init__(self, character_id: _Optional[int] = ..., gives: _Optional[_Iterable[_Union[RemoveItem, _Mapping]]] = ..., zuly: _Optional[int] = ...) -> None: ...

class ExchangeRequest(_message.Message):
    __slots__ = ("request_id", "a", "b")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    A_FIELD_NUMBER: _ClassVar[int]
    B_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    a: ExchangeSide
    b: ExchangeSide
    def __init__(self, request_id: _Optional[str] = ..., a: _Optional[_Union[ExchangeSide, _Mapping]] = ..., b: _Optional[_Union[ExchangeSide, _Mapping]] = ...) -> None: ...

class ExchangeOutcome(_message.Message):
    __slots__ = ("character_id", "changed", "zuly", "weight")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    ZULY_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    changed: _containers.RepeatedCompositeFieldContainer[SlotItem]
    zuly: int
    weight: int
    def __init__(self, character_id: _Optional[int] = ..., changed: _Optional[_Iterable[_Union[SlotItem, _Mapping]]] = ..., zuly: _Optional[int] = ..., weight: _Optional[int] = ...) -> None: ...

class ExchangeReply(_message.Message):
    __slots__ = ("result", "message", "failed_character_id", "a", "b", "replayed")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FAILED_CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    A_FIELD_NUMBER: _ClassVar[int]
    B_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    result: ItemResult
    message: str
    failed_character_id: int
    a: ExchangeOutcome
    b: ExchangeOutcome
    replayed: bool
    def __init__(self, result: _Optional[_Union[ItemResult, str]] = ..., message: _Optional[str] = ..., failed_character_id: _Optional[int] = ..., a: _Optional[_Union[ExchangeOutcome, _Mapping]] = ..., b: _Optional[_Union[ExchangeOutcome, _Mapping]] = ..., replayed: _Optional[bool] = ...) -> None: ...
