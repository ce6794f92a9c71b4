from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LoginResult(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LOGIN_RESULT_OK: _ClassVar[LoginResult]
    LOGIN_RESULT_FAILED: _ClassVar[LoginResult]
    LOGIN_RESULT_UNKNOWN_ACCOUNT: _ClassVar[LoginResult]
    LOGIN_RESULT_INVALID_PASSWORD: _ClassVar[LoginResult]
    LOGIN_RESULT_ALREADY_LOGGEDIN: _ClassVar[LoginResult]
    LOGIN_RESULT_NO_RIGHT_TO_CONNECT: _ClassVar[LoginResult]

class ServerSelectResult(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SERVER_SELECT_RESULT_OK: _ClassVar[ServerSelectResult]
    SERVER_SELECT_RESULT_FAILED: _ClassVar[ServerSelectResult]
    SERVER_SELECT_RESULT_INVALID_CHANNEL: _ClassVar[ServerSelectResult]

class JoinResult(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOIN_RESULT_OK: _ClassVar[JoinResult]
    JOIN_RESULT_FAILED: _ClassVar[JoinResult]
    JOIN_RESULT_TIME_OUT: _ClassVar[JoinResult]
    JOIN_RESULT_INVALID_PASSWORD: _ClassVar[JoinResult]

class SessionPhase(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SESSION_PHASE_UNSPECIFIED: _ClassVar[SessionPhase]
    SESSION_PHASE_LOGIN: _ClassVar[SessionPhase]
    SESSION_PHASE_CHARACTER_SELECT: _ClassVar[SessionPhase]
    SESSION_PHASE_WORLD: _ClassVar[SessionPhase]
LOGIN_RESULT_OK: LoginResult
LOGIN_RESULT_FAILED: LoginResult
LOGIN_RESULT_UNKNOWN_ACCOUNT: LoginResult
LOGIN_RESULT_INVALID_PASSWORD: LoginResult
LOGIN_RESULT_ALREADY_LOGGEDIN: LoginResult
LOGIN_RESULT_NO_RIGHT_TO_CONNECT: LoginResult
SERVER_SELECT_RESULT_OK: ServerSelectResult
SERVER_SELECT_RESULT_FAILED: ServerSelectResult
SERVER_SELECT_RESULT_INVALID_CHANNEL: ServerSelectResult
JOIN_RESULT_OK: JoinResult
JOIN_RESULT_FAILED: JoinResult
JOIN_RESULT_TIME_OUT: JoinResult
JOIN_RESULT_INVALID_PASSWORD: JoinResult
SESSION_PHASE_UNSPECIFIED: SessionPhase
SESSION_PHASE_LOGIN: SessionPhase
SESSION_PHASE_CHARACTER_SELECT: SessionPhase
SESSION_PHASE_WORLD: SessionPhase

class Account(_message.Message):
    __slots__ = ("user_id", "username", "access_level", "banned", "online", "created_at", "last_login_at")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    ACCESS_LEVEL_FIELD_NUMBER: _ClassVar[int]
    BANNED_FIELD_NUMBER: _ClassVar[int]
    ONLINE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_LOGIN_AT_FIELD_NUMBER: _ClassVar[int]
    user_id: int
    username: str
    access_level: int
    banned: bool
    online: bool
    created_at: int
    last_login_at: int
    def __init__(self, user_id: _Optional[int] = ..., username: _Optional[str] = ..., access_level: _Optional[int] = ..., banned: _Optional[bool] = ..., online: _Optional[bool] = ..., created_at: _Optional[int] = ..., last_login_at: _Optional[int] = ...) -> None: ...

class LoginRequest(_message.Message):
    __slots__ = ("username", "password_hash", "source_address", "attempt_id")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_HASH_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_ID_FIELD_NUMBER: _ClassVar[int]
    username: str
    password_hash: str
    source_address: str
    attempt_id: str
    def __init__(self, username: _Optional[str] = ..., password_hash: _Optional[str] = ..., source_address: _Optional[str] = ..., attempt_id: _Optional[str] = ...) -> None: ...

class AbandonLoginRequest(_message.Message):
    __slots__ = ("attempt_id",)
    ATTEMPT_ID_FIELD_NUMBER: _ClassVar[int]
    attempt_id: str
    def __init__(self, attempt_id: _Optional[str] = ...) -> None: ...

class AbandonLoginReply(_message.Message):
    __slots__ = ("ended",)
    ENDED_FIELD_NUMBER: _ClassVar[int]
    ended: bool
    def __init__(self, ended: _Optional[bool] = ...) -> None: ...

class LoginReply(_message.Message):
    __slots__ = ("result", "user_id", "username", "access_level", "session_id", "retry_after_seconds")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    ACCESS_LEVEL_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_SECONDS_FIELD_NUMBER: _ClassVar[int]
    result: LoginResult
    user_id: int
    username: str
    access_level: int
    session_id: int
    retry_after_seconds: float
    def __init__(self, result: _Optional[_Union[LoginResult, str]] = ..., user_id: _Optional[int] = ..., username: _Optional[str] = ..., access_level: _Optional[int] = ..., session_id: _Optional[int] = ..., retry_after_seconds: _Optional[float] = ...) -> None: ...

class ChannelInfo(_message.Message):
    __slots__ = ("id", "name", "low_age", "high_age", "capacity")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LOW_AGE_FIELD_NUMBER: _ClassVar[int]
    HIGH_AGE_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    low_age: int
    high_age: int
    capacity: int
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ..., low_age: _Optional[int] = ..., high_age: _Optional[int] = ..., capacity: _Optional[int] = ...) -> None: ...

class WorldInfo(_message.Message):
    __slots__ = ("id", "name", "test", "channels")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TEST_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    test: bool
    channels: _containers.RepeatedCompositeFieldContainer[ChannelInfo]
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ..., test: _Optional[bool] = ..., channels: _Optional[_Iterable[_Union[ChannelInfo, _Mapping]]] = ...) -> None: ...

class ListWorldsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListWorldsReply(_message.Message):
    __slots__ = ("worlds",)
    WORLDS_FIELD_NUMBER: _ClassVar[int]
    worlds: _containers.RepeatedCompositeFieldContainer[WorldInfo]
    def __init__(self, worlds: _Optional[_Iterable[_Union[WorldInfo, _Mapping]]] = ...) -> None: ...

class ListChannelsRequest(_message.Message):
    __slots__ = ("world_id",)
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    world_id: int
    def __init__(self, world_id: _Optional[int] = ...) -> None: ...

class ListChannelsReply(_message.Message):
    __slots__ = ("world_id", "channels")
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    world_id: int
    channels: _containers.RepeatedCompositeFieldContainer[ChannelInfo]
    def __init__(self, world_id: _Optional[int] = ..., channels: _Optional[_Iterable[_Union[ChannelInfo, _Mapping]]] = ...) -> None: ...

class SelectServerRequest(_message.Message):
    __slots__ = ("session_id", "world_id", "channel_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: int
    world_id: int
    channel_id: int
    def __init__(self, session_id: _Optional[int] = ..., world_id: _Optional[int] = ..., channel_id: _Optional[int] = ...) -> None: ...

class SelectServerReply(_message.Message):
    __slots__ = ("result", "session_id")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    result: ServerSelectResult
    session_id: int
    def __init__(self, result: _Optional[_Union[ServerSelectResult, str]] = ..., session_id: _Optional[int] = ...) -> None: ...

class SessionInfo(_message.Message):
    __slots__ = ("session_id", "user_id", "username", "access_level", "phase", "world_id", "channel_id", "character_id", "character_name", "expires_at")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    ACCESS_LEVEL_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    CHARACTER_NAME_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    session_id: int
    user_id: int
    username: str
    access_level: int
    phase: SessionPhase
    world_id: int
    channel_id: int
    character_id: int
    character_name: str
    expires_at: float
    def __init__(self, session_id: _Optional[int] = ..., user_id: _Optional[int] = ..., username: _Optional[str] = ..., access_level: _Optional[int] = ..., phase: _Optional[_Union[SessionPhase, str]] = ..., world_id: _Optional[int] = ..., channel_id: _Optional[int] = ..., character_id: _Optional[int] = ..., character_name: _Optional[str] = ..., expires_at: _Optional[float] = ...) -> None: ...

class ValidateSessionRequest(_message.Message):
    __slots__ = ("session_id", "password_hash", "gateway_id", "world_connection")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_HASH_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_ID_FIELD_NUMBER: _ClassVar[int]
    WORLD_CONNECTION_FIELD_NUMBER: _ClassVar[int]
    session_id: int
    password_hash: str
    gateway_id: str
    world_connection: str
    def __init__(self, session_id: _Optional[int] = ..., password_hash: _Optional[str] = ..., gateway_id: _Optional[str] = ..., world_connection: _Optional[str] = ...) -> None: ...

class ReleaseWorldRequest(_message.Message):
    __slots__ = ("session_id", "world_connection", "gateway_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    WORLD_CONNECTION_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: int
    world_connection: str
    gateway_id: str
    def __init__(self, session_id: _Optional[int] = ..., world_connection: _Optional[str] = ..., gateway_id: _Optional[str] = ...) -> None: ...

class ReleaseWorldReply(_message.Message):
    __slots__ = ("released",)
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    released: bool
    def __init__(self, released: _Optional[bool] = ...) -> None: ...

class ValidateSessionReply(_message.Message):
    __slots__ = ("result", "session")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    result: JoinResult
    session: SessionInfo
    def __init__(self, result: _Optional[_Union[JoinResult, str]] = ..., session: _Optional[_Union[SessionInfo, _Mapping]] = ...) -> None: ...

class SetSessionPhaseRequest(_message.Message):
    __slots__ = ("session_id", "phase", "character_id", "character_name")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    CHARACTER_ID_FIELD_NUMBER: _ClassVar[int]
    CHARACTER_NAME_FIELD_NUMBER: _ClassVar[int]
    session_id: int
    phase: SessionPhase
    character_id: int
    character_name: str
    def __init__(self, session_id: _Optional[int] = ..., phase: _Optional[_Union[SessionPhase, str]] = ..., character_id: _Optional[int] = ..., character_name: _Optional[str] = ...) -> None: ...

class TouchSessionRequest(_message.Message):
    __slots__ = ("session_id", "gateway_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: int
    gateway_id: str
    def __init__(self, session_id: _Optional[int] = ..., gateway_id: _Optional[str] = ...) -> None: ...

class TouchSessionReply(_message.Message):
    __slots__ = ("expires_at",)
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    expires_at: float
    def __init__(self, expires_at: _Optional[float] = ...) -> None: ...

class ReleaseSessionRequest(_message.Message):
    __slots__ = ("session_id", "gateway_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: int
    gateway_id: str
    def __init__(self, session_id: _Optional[int] = ..., gateway_id: _Optional[str] = ...) -> None: ...

class ReleaseSessionsRequest(_message.Message):
    __slots__ = ("session_ids", "gateway_id")
    SESSION_IDS_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_ID_FIELD_NUMBER: _ClassVar[int]
    session_ids: _containers.RepeatedScalarFieldContainer[int]
    gateway_id: str
    def __init__(self, session_ids: _Optional[_Iterable[int]] = ..., gateway_id: _Optional[str] = ...) -> None: ...

class ReleaseSessionsReply(_message.Message):
    __slots__ = ("ended",)
    ENDED_FIELD_NUMBER: _ClassVar[int]
    ended: _containers.RepeatedScalarFieldContainer[bool]
    def __init__(self, ended: _Optional[_Iterable[bool]] = ...) -> None: ...

class ReleaseSessionReply(_message.Message):
    __slots__ = ("ended", "holders")
    ENDED_FIELD_NUMBER: _ClassVar[int]
    HOLDERS_FIELD_NUMBER: _ClassVar[int]
    ended: bool
    holders: int
    def __init__(self, ended: _Optional[bool] = ..., holders: _Optional[int] = ...) -> None: ...

class EndSessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: int
    def __init__(self, session_id: _Optional[int] = ...) -> None: ...

class EndSessionReply(_message.Message):
    __slots__ = ("ended",)
    ENDED_FIELD_NUMBER: _ClassVar[int]
    ended: bool
    def __init__(self, ended: _Optional[bool] = ...) -> None: ...

class CreateAccountRequest(_message.Message):
    __slots__ = ("username", "password_hash", "access_level")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_HASH_FIELD_NUMBER: _ClassVar[int]
    ACCESS_LEVEL_FIELD_NUMBER: _ClassVar[int]
    username: str
    password_hash: str
    access_level: int
    def __init__(self, username: _Optional[str] = ..., password_hash: _Optional[str] = ..., access_level: _Optional[int] = ...) -> None: ...

class ListAccountsRequest(_message.Message):
    __slots__ = ("offset", "limit")
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    offset: int
    limit: int
    def __init__(self, offset: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class ListAccountsReply(_message.Message):
    __slots__ = ("accounts", "total")
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    accounts: _containers.RepeatedCompositeFieldContainer[Account]
    total: int
    def __init__(self, accounts: _Optional[_Iterable[_Union[Account, _Mapping]]] = ..., total: _Optional[int] = ...) -> None: ...

class SetAccessLevelRequest(_message.Message):
    __slots__ = ("username", "access_level")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    ACCESS_LEVEL_FIELD_NUMBER: _ClassVar[int]
    username: str
    access_level: int
    def __init__(self, username: _Optional[str] = ..., access_level: _Optional[int] = ...) -> None: ...

class SetBannedRequest(_message.Message):
    __slots__ = ("username", "banned")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    BANNED_FIELD_NUMBER: _ClassVar[int]
    username: str
    banned: bool
    def __init__(self, username: _Optional[str] = ..., banned: _Optional[bool] = ...) -> None: ...

class WatchAccountsRequest(_message.Message):
    __slots__ = ("gateway_id", "started_at")
    GATEWAY_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    gateway_id: str
    started_at: float
    def __init__(self, gateway_id: _Optional[str] = ..., started_at: _Optional[float] = ...) -> None: ...

class AccountEvent(_message.Message):
    __slots__ = ("watching", "banned")
    WATCHING_FIELD_NUMBER: _ClassVar[int]
    BANNED_FIELD_NUMBER: _ClassVar[int]
    watching: AccountWatching
    banned: AccountBanned
    def __init__(self, watching: _Optional[_Union[AccountWatching, _Mapping]] = ..., banned: _Optional[_Union[AccountBanned, _Mapping]] = ...) -> None: ...

class AccountWatching(_message.Message):
    __slots__ = ("gateway_id",)
    GATEWAY_ID_FIELD_NUMBER: _ClassVar[int]
    gateway_id: str
    def __init__(self, gateway_id: _Optional[str] = ...) -> None: ...

class AccountBanned(_message.Message):
    __slots__ = ("user_id", "username")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    user_id: int
    username: str
    def __init__(self, user_id: _Optional[int] = ..., username: _Optional[str] = ...) -> None: ...
