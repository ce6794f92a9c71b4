from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ChatKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHAT_KIND_UNSPECIFIED: _ClassVar[ChatKind]
    CHAT_KIND_WHISPER: _ClassVar[ChatKind]
    CHAT_KIND_SHOUT: _ClassVar[ChatKind]
    CHAT_KIND_PARTY: _ClassVar[ChatKind]
    CHAT_KIND_CLAN: _ClassVar[ChatKind]
    CHAT_KIND_ALLIED: _ClassVar[ChatKind]
    CHAT_KIND_ANNOUNCE: _ClassVar[ChatKind]

class WhisperResult(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WHISPER_RESULT_UNSPECIFIED: _ClassVar[WhisperResult]
    WHISPER_RESULT_DELIVERED: _ClassVar[WhisperResult]
    WHISPER_RESULT_TARGET_NOT_FOUND: _ClassVar[WhisperResult]
CHAT_KIND_UNSPECIFIED: ChatKind
CHAT_KIND_WHISPER: ChatKind
CHAT_KIND_SHOUT: ChatKind
CHAT_KIND_PARTY: ChatKind
CHAT_KIND_CLAN: ChatKind
CHAT_KIND_ALLIED: ChatKind
CHAT_KIND_ANNOUNCE: ChatKind
WHISPER_RESULT_UNSPECIFIED: WhisperResult
WHISPER_RESULT_DELIVERED: WhisperResult
WHISPER_RESULT_TARGET_NOT_FOUND: WhisperResult

class SubscribeRequest(_message.Message):
    __slots__ = ("gateway_id",)
    GATEWAY_ID_FIELD_NUMBER: _ClassVar[int]
    gateway_id: str
    def __init__(self, gateway_id: _Optional[str] = ...) -> None: ...

class ChatEvent(_message.Message):
    __slots__ = ("subscribed", "delivery", "kick")
    SUBSCRIBED_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_FIELD_NUMBER: _ClassVar[int]
    KICK_FIELD_NUMBER: _ClassVar[int]
    subscribed: Subscribed
    delivery: Delivery
    kick: Kick
    def __init__(self, subscribed: _Optional[_Union[Subscribed, _Mapping]] = ..., delivery: _Optional[_Union[Delivery, _Mapping]] = ..., kick: _Optional[_Union[Kick, _Mapping]] = ...) -> None: ...

class Kick(_message.Message):
    __slots__ = ("character_id", "reason")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    reason: str
    def __init__(self, character_id: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class Subscribed(_message.Message):
    __slots__ = ("gateway_id", "queue_limit")
    GATEWAY_ID_FIELD_NUMBER: _ClassVar[int]
    QUEUE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    gateway_id: str
    queue_limit: int
    def __init__(self, gateway_id: _Optional[str] = ..., queue_limit: _Optional[int] = ...) -> None: ...

class Delivery(_message.Message):
    __slots__ = ("kind", "recipient_character_ids", "sender_name", "sender_character_id", "sender_object_id", "sender_team_id", "message")
    KIND_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_CHARACTER_IDS_FIELD_NUMBER: _ClassVar[int]
    SENDER_NAME_FIELD_NUMBER: _ClassVar[int]
    SENDER_CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    SENDER_OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SENDER_TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    kind: ChatKind
    recipient_character_ids: _containers.RepeatedScalarFieldContainer[int]
    sender_name: str
    sender_character_id: int
    sender_object_id: int
    sender_team_id: int
    message: str
    def __init__(self, kind: _Optional[_Union[ChatKind, str]] = ..., recipient_character_ids: _Optional[_Iterable[int]] = ..., sender_name: _Optional[str] = ..., sender_character_id: _Optional[int] = ..., sender_object_id: _Optional[int] = ..., sender_team_id: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class HostedCharacter(_message.Message):
    __slots__ = ("character_id", "name", "map_id", "object_id", "party_id", "clan_id", "team_id")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    MAP_ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    PARTY_ID_FIELD_NUMBER: _ClassVar[int]
    CLAN_ID_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    name: str
    map_id: int
    object_id: int
    party_id: int
    clan_id: int
    team_id: int
    def __init__(self, character_id: _Optional[int] = ..., name: _Optional[str] = ..., map_id: _Optional[int] = ..., object_id: _Optional[int] = ..., party_id: _Optional[int] = ..., clan_id: _Optional[int] = ..., team_id: _Optional[int] = ...) -> None: ...

class HostRequest(_message.Message):
    __slots__ = ("gateway_id", "character")
    GATEWAY_ID_FIELD_NUMBER: _ClassVar[int]
    CHARACTER_FIELD_NUMBER: _ClassVar[int]
    gateway_id: str
    character: HostedCharacter
    def __init__(self, gateway_id: _Optional[str] = ..., character: _Optional[_Union[HostedCharacter, _Mapping]] = ...) -> None: ...

class HostReply(_message.Message):
    __slots__ = ("moved",)
    MOVED_FIELD_NUMBER: _ClassVar[int]
    moved: bool
    def __init__(self, moved: _Optional[bool] = ...) -> None: ...

class UnhostRequest(_message.Message):
    __slots__ = ("gateway_id", "character_id")
    GATEWAY_ID_FIELD_NUMBER: _ClassVar[int]
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    gateway_id: str
    character_id: int
    def __init__(self, gateway_id: _Optional[str] = ..., character_id: _Optional[int] = ...) -> None: ...

class UnhostReply(_message.Message):
    __slots__ = ("removed",)
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    removed: bool
    def __init__(self, removed: _Optional[bool] = ...) -> None: ...

class WhisperRequest(_message.Message):
    __slots__ = ("sender_character_id", "target_name", "message")
    SENDER_CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_NAME_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    sender_character_id: int
    target_name: str
    message: str
    def __init__(self, sender_character_id: _Optional[int] = ..., target_name: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class WhisperReply(_message.Message):
    __slots__ = ("result", "target_name")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    TARGET_NAME_FIELD_NUMBER: _ClassVar[int]
    result: WhisperResult
    target_name: str
    def __init__(self, result: _Optional[_Union[WhisperResult, str]] = ..., target_name: _Optional[str] = ...) -> None: ...

class ShoutRequest(_message.Message):
    __slots__ = ("sender_character_id", "message")
    SENDER_CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    sender_character_id: int
    message: str
    def __init__(self, sender_character_id: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class GroupChatRequest(_message.Message):
    __slots__ = ("sender_character_id", "kind", "message")
    SENDER_CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    sender_character_id: int
    kind: ChatKind
    message: str
    def __init__(self, sender_character_id: _Optional[int] = ..., kind: _Optional[_Union[ChatKind, str]] = ..., message: _Optional[str] = ...) -> None: ...

class AnnounceRequest(_message.Message):
    __slots__ = ("sender_name", "message")
    SENDER_NAME_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    sender_name: str
    message: str
    def __init__(self, sender_name: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class KickRequest(_message.Message):
    __slots__ = ("target_name", "reason")
    TARGET_NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    target_name: str
    reason: str
    def __init__(self, target_name: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class KickReply(_message.Message):
    __slots__ = ("kicked", "target_name")
    KICKED_FIELD_NUMBER: _ClassVar[int]
    TARGET_NAME_FIELD_NUMBER: _ClassVar[int]
    kicked: bool
    target_name: str
    def __init__(self, kicked: _Optional[bool] = ..., target_name: _Optional[str] = ...) -> None: ...

class SendReply(_message.Message):
    __slots__ = ("recipients",)
    RECIPIENTS_FIELD_NUMBER: _ClassVar[int]
    recipients: int
    def __init__(self, recipients: _Optional[int] = ...) -> None: ...

class ChatStatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ChatStats(_message.Message):
    __slots__ = ("subscribers", "hosted_characters", "deliveries", "dropped_subscribers", "replaced_subscribers", "kicks")
    SUBSCRIBERS_FIELD_NUMBER: _ClassVar[int]
    HOSTED_CHARACTERS_FIELD_NUMBER: _ClassVar[int]
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    DROPPED_SUBSCRIBERS_FIELD_NUMBER: _ClassVar[int]
    REPLACED_SUBSCRIBERS_FIELD_NUMBER: _ClassVar[int]
    KICKS_FIELD_NUMBER: _ClassVar[int]
    subscribers: int
    hosted_characters: int
    deliveries: int
    dropped_subscribers: int
    replaced_subscribers: int
    kicks: int
    def __init__(self, subscribers: _Optional[int] = ..., hosted_characters: _Optional[int] = ..., deliveries: _Optional[int] = ..., dropped_subscribers: _Optional[int] = ..., replaced_subscribers: _Optional[int] = ..., kicks: _Optional[int] = ...) -> None: ...
