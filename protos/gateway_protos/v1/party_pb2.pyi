from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class InviteResult(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INVITE_RESULT_UNSPECIFIED: _ClassVar[InviteResult]
    INVITE_RESULT_SENT: _ClassVar[InviteResult]
    INVITE_RESULT_NOT_FOUND: _ClassVar[InviteResult]
    INVITE_RESULT_BUSY: _ClassVar[InviteResult]
    INVITE_RESULT_FULL: _ClassVar[InviteResult]
    INVITE_RESULT_SELF: _ClassVar[InviteResult]
    INVITE_RESULT_NOT_LEADER: _ClassVar[InviteResult]

class PartyResult(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PARTY_RESULT_UNSPECIFIED: _ClassVar[PartyResult]
    PARTY_RESULT_OK: _ClassVar[PartyResult]
    PARTY_RESULT_NO_PARTY: _ClassVar[PartyResult]
    PARTY_RESULT_NOT_LEADER: _ClassVar[PartyResult]
    PARTY_RESULT_NOT_MEMBER: _ClassVar[PartyResult]
    PARTY_RESULT_FULL: _ClassVar[PartyResult]
    PARTY_RESULT_GONE: _ClassVar[PartyResult]
INVITE_RESULT_UNSPECIFIED: InviteResult
INVITE_RESULT_SENT: InviteResult
INVITE_RESULT_NOT_FOUND: InviteResult
INVITE_RESULT_BUSY: InviteResult
INVITE_RESULT_FULL: InviteResult
INVITE_RESULT_SELF: InviteResult
INVITE_RESULT_NOT_LEADER: InviteResult
PARTY_RESULT_UNSPECIFIED: PartyResult
PARTY_RESULT_OK: PartyResult
PARTY_RESULT_NO_PARTY: PartyResult
PARTY_RESULT_NOT_LEADER: PartyResult
PARTY_RESULT_NOT_MEMBER: PartyResult
PARTY_RESULT_FULL: PartyResult
PARTY_RESULT_GONE: PartyResult

class PartyEventsRequest(_message.Message):
    __slots__ = ("gateway_id",)
    GATEWAY_ID_FIELD_NUMBER: _ClassVar[int]
    gateway_id: str
    def __init__(self, gateway_id: _Optional[str] = ...) -> None: ...

class PartyMember(_message.Message):
    __slots__ = ("character_id", "name", "online", "channel_id", "map_id", "object_id", "level", "hp", "max_hp", "mp", "max_mp", "con")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ONLINE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    MAP_ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    HP_FIELD_NUMBER: _ClassVar[int]
    MAX_HP_FIELD_NUMBER: _ClassVar[int]
    MP_FIELD_NUMBER: _ClassVar[int]
    MAX_MP_FIELD_NUMBER: _ClassVar[int]
    CON_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    name: str
    online: bool
    channel_id: int
    map_id: int
    object_id: int
    level: int
    hp: int
    max_hp: int
    mp: int
    max_mp: int
    con: int
    def __init__(self, character_id: _Optional[int] = ..., name: _Optional[str] = ..., online: _Optional[bool] = ..., channel_id: _Optional[int] = ..., map_id: _Optional[int] = ..., object_id: _Optional[int] = ..., level: _Optional[int] = ..., hp: _Optional[int] = ..., max_hp: _Optional[int] = ..., mp: _Optional[int] = ..., max_mp: _Optional[int] = ..., con: _Optional[int] = ...) -> None: ...

class PartyState(_message.Message):
    __slots__ = ("party_id", "leader_id", "rule", "members")
    PARTY_ID_FIELD_NUMBER: _ClassVar[int]
    LEADER_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    party_id: int
    leader_id: int
    rule: int
    members: _containers.RepeatedCompositeFieldContainer[PartyMember]
    def __init__(self, party_id: _Optional[int] = ..., leader_id: _Optional[int] = ..., rule: _Optional[int] = ..., members: _Optional[_Iterable[_Union[PartyMember, _Mapping]]] = ...) -> None: ...

class PartyEvent(_message.Message):
    __slots__ = ("recipient_character_ids", "subscribed", "invited", "answered", "member", "member_update", "rule", "chat", "party")
    RECIPIENT_CHARACTER_IDS_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBED_FIELD_NUMBER: _ClassVar[int]
    INVITED_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    MEMBER_UPDATE_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    CHAT_FIELD_NUMBER: _ClassVar[int]
    PARTY_FIELD_NUMBER: _ClassVar[int]
    recipient_character_ids: _containers.RepeatedScalarFieldContainer[int]
    subscribed: PartySubscribed
    invited: PartyInvited
    answered: PartyAnswered
    member: PartyMemberChange
    member_update: PartyMember
    rule: int
    chat: PartyChatLine
    party: PartyState
    def __init__(self, recipient_character_ids: _Optional[_Iterable[int]] = ..., subscribed: _Optional[_Union[PartySubscribed, _Mapping]] = ..., invited: _Optional[_Union[PartyInvited, _Mapping]] = ..., answered: _Optional[_Union[PartyAnswered, _Mapping]] = ..., member: _Optional[_Union[PartyMemberChange, _Mapping]] = ..., member_update: _Optional[_Union[PartyMember, _Mapping]] = ..., rule: _Optional[int] = ..., chat: _Optional[_Union[PartyChatLine, _Mapping]] = ..., party: _Optional[_Union[PartyState, _Mapping]] = ...) -> None: ...

class PartySubscribed(_message.Message):
    __slots__ = ("gateway_id",)
    GATEWAY_ID_FIELD_NUMBER: _ClassVar[int]
    gateway_id: str
    def __init__(self, gateway_id: _Optional[str] = ...) -> None: ...

class PartyInvited(_message.Message):
    __slots__ = ("type", "inviter")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    INVITER_FIELD_NUMBER: _ClassVar[int]
    type: int
    inviter: PartyMember
    def __init__(self, type: _Optional[int] = ..., inviter: _Optional[_Union[PartyMember, _Mapping]] = ...) -> None: ...

class PartyAnswered(_message.Message):
    __slots__ = ("type", "subject")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    type: int
    subject: PartyMember
    def __init__(self, type: _Optional[int] = ..., subject: _Optional[_Union[PartyMember, _Mapping]] = ...) -> None: ...

class PartyMemberChange(_message.Message):
    __slots__ = ("add", "rule", "member")
    ADD_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    add: bool
    rule: int
    member: PartyMember
    def __init__(self, add: _Optional[bool] = ..., rule: _Optional[int] = ..., member: _Optional[_Union[PartyMember, _Mapping]] = ...) -> None: ...

class PartyChatLine(_message.Message):
    __slots__ = ("sender", "message")
    SENDER_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    sender: PartyMember
    message: str
    def __init__(self, sender: _Optional[_Union[PartyMember, _Mapping]] = ..., message: _Optional[str] = ...) -> None: ...

class PartyAttachRequest(_message.Message):
    __slots__ = ("gateway_id", "member")
    GATEWAY_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    gateway_id: str
    member: PartyMember
    def __init__(self, gateway_id: _Optional[str] = ..., member: _Optional[_Union[PartyMember, _Mapping]] = ...) -> None: ...

class PartyDetachRequest(_message.Message):
    __slots__ = ("gateway_id", "character_id")
    GATEWAY_ID_FIELD_NUMBER: _ClassVar[int]
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    gateway_id: str
    character_id: int
    def __init__(self, gateway_id: _Optional[str] = ..., character_id: _Optional[int] = ...) -> None: ...

class PartyDetachReply(_message.Message):
    __slots__ = ("detached",)
    DETACHED_FIELD_NUMBER: _ClassVar[int]
    detached: bool
    def __init__(self, detached: _Optional[bool] = ...) -> None: ...

class PartyInviteRequest(_message.Message):
    __slots__ = ("character_id", "target_character_id")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    target_character_id: int
    def __init__(self, character_id: _Optional[int] = ..., target_character_id: _Optional[int] = ...) -> None: ...

class PartyInviteReply(_message.Message):
    __slots__ = ("result", "target")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    result: InviteResult
    target: PartyMember
    def __init__(self, result: _Optional[_Union[InviteResult, str]] = ..., target: _Optional[_Union[PartyMember, _Mapping]] = ...) -> None: ...

class PartyReplyRequest(_message.Message):
    __slots__ = ("character_id", "type")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    type: int
    def __init__(self, character_id: _Optional[int] = ..., type: _Optional[int] = ...) -> None: ...

class PartyReply(_message.Message):
    __slots__ = ("result", "recipients")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    RECIPIENTS_FIELD_NUMBER: _ClassVar[int]
    result: PartyResult
    recipients: int
    def __init__(self, result: _Optional[_Union[PartyResult, str]] = ..., recipients: _Optional[int] = ...) -> None: ...

class PartyLeaveRequest(_message.Message):
    __slots__ = ("character_id",)
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    def __init__(self, character_id: _Optional[int] = ...) -> None: ...

class PartyKickRequest(_message.Message):
    __slots__ = ("character_id", "target_character_id")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    target_character_id: int
    def __init__(self, character_id: _Optional[int] = ..., target_character_id: _Optional[int] = ...) -> None: ...

class PartyChangeLeaderRequest(_message.Message):
    __slots__ = ("character_id", "target_character_id")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    target_character_id: int
    def __init__(self, character_id: _Optional[int] = ..., target_character_id: _Optional[int] = ...) -> None: ...

class PartySetRuleRequest(_message.Message):
    __slots__ = ("character_id", "rule")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    rule: int
    def __init__(self, character_id: _Optional[int] = ..., rule: _Optional[int] = ...) -> None: ...

class PartyChatRequest(_message.Message):
    __slots__ = ("character_id", "message")
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    message: str
    def __init__(self, character_id: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class PartyUpdateMemberRequest(_message.Message):
    __slots__ = ("gateway_id", "member")
    GATEWAY_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    gateway_id: str
    member: PartyMember
    def __init__(self, gateway_id: _Optional[str] = ..., member: _Optional[_Union[PartyMember, _Mapping]] = ...) -> None: ...

class PartyGetPartyRequest(_message.Message):
    __slots__ = ("character_id",)
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    character_id: int
    def __init__(self, character_id: _Optional[int] = ...) -> None: ...

class PartyStatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PartyStats(_message.Message):
    __slots__ = ("subscribers", "attached", "parties", "events", "expired_members", "dropped_subscribers")
    SUBSCRIBERS_FIELD_NUMBER: _ClassVar[int]
    ATTACHED_FIELD_NUMBER: _ClassVar[int]
    PARTIES_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_MEMBERS_FIELD_NUMBER: _ClassVar[int]
    DROPPED_SUBSCRIBERS_FIELD_NUMBER: _ClassVar[int]
    subscribers: int
    attached: int
    parties: int
    events: int
    expired_members: int
    dropped_subscribers: int
    def __init__(self, subscribers: _Optional[int] = ..., attached: _Optional[int] = ..., parties: _Optional[int] = ..., events: _Optional[int] = ..., expired_members: _Optional[int] = ..., dropped_subscribers: _Optional[int] = ...) -> None: ...
