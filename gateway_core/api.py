"""The plugin API of rose-gateway: everything a plugin imports, and only that.

A plugin (the built-in ones included) imports from this module alone; what stands behind it
may move freely between releases. Its parts:

* hooks: :data:`hookimpl` and the registrars each ``gateway_register_*`` hook receives;
* packets: :class:`PacketContext` (what a handler gets besides the packet), :class:`Session`
  and :class:`SessionState`, the game's session records (:class:`RecordKey`, read with
  ``session.records.get``, written by their one owner through :class:`RecordWriter`, watched
  by any plugin with ``register.watch(key, callback)``, a :data:`RecordWatcher` called as
  ``callback(session, old, new)`` after every write; the shared ones are
  :data:`SELECTED_CHARACTER`, :data:`WORLD_PLACEMENT` and :data:`CHARACTER_PROGRESS`), a
  plugin's private per-session and per-gateway storage (:class:`Key`, :class:`PluginData`),
  :class:`RawFrame`, and every packet class and enum (re-exported from the protocol layer,
  also reachable as :mod:`packets`);
* runtimes: :class:`PluginRuntime` (and :class:`InWorldRuntime`) for state kept per running
  gateway, handed to handlers as ``ctx.runtime``; :class:`GatewayView` is what a runtime sees
  of its gateway;
* chat commands: :class:`ChatCommand` (what a ``gateway_register_chat_commands`` handler
  gets), :class:`ChatCommandError` (refuse it), :func:`int_argument` and
  :func:`server_message` (a whisper from ``server msg``);
* the chat guard: every line a player's chat relays goes through
  ``ctx.chat_line(raw, ChatKind.X)`` first (control characters removed by
  :func:`clean_chat`, the per-player rate limits of :class:`ChatLimits` with their mutes and
  kicks; :class:`ChatGuard`, :class:`ChatLimiter`);
* reference services: :class:`ReferenceService`, :class:`ServiceConfig`,
  :class:`DatabaseService`, the refusals of :class:`ServiceError`, the gateway<->service
  stream helpers and the setting validators.

Tests of a plugin use :mod:`gateway_core.testing` (a running gateway on loopback, reference
services on a real grpc.aio server, a scripted client); it is not imported here because it
runs a whole gateway, which sits above this module.
"""

from __future__ import annotations

from gateway_core.addresses import AddressSettings, public_address
from gateway_core.backend_clients import CallContext, client_at, current_call_context
from gateway_core.chat_commands import (
    AvailableCommand,
    ChatCommand,
    ChatCommandError,
    int_argument,
    server_message,
)
from gateway_core.chat_commands import on_help as on_help_command
from gateway_core.chat_guard import (
    CONTROL_BYTES,
    ChatGuard,
    ChatKind,
    ChatLimiter,
    ChatLimits,
    Verdict,
    clean_chat,
)
from gateway_core.content import (
    ContentError,
    ContentPack,
    GateDef,
    ItemDef,
    MapDef,
    MonsterDef,
    NpcDef,
    SkillDef,
    SpawnDef,
    default_pack_path,
    load_content,
    load_default_pack,
    load_pack,
)
from gateway_core.context import (
    FatalHandlerError,
    GatewayView,
    Handler,
    PacketContext,
    PluginRuntime,
)
from gateway_core.hookspecs import hookimpl
from gateway_core.memory import fix_mmap_threshold, trim_heap
from gateway_core.plugin_runtime import InWorldRuntime
from gateway_core.protocol import packets
from gateway_core.protocol.connection import RawFrame
from gateway_core.protocol.numbering import (
    Category,
    Direction,
    NumberingProfile,
    PacketTypeInfo,
    get_profile,
)
from gateway_core.protocol.packets import (
    ALL_PACKETS,
    PACKETS_BY_NAME,
    TEXT_ENCODING,
    Decoded,
    Packet,
    Record,
    UnionValue,
)
from gateway_core.protocol.packets import (
    auth as _auth,
)
from gateway_core.protocol.packets import (
    character as _character,
)
from gateway_core.protocol.packets import (
    chat as _chat,
)
from gateway_core.protocol.packets import (
    combat as _combat,
)
from gateway_core.protocol.packets import (
    common as _common,
)
from gateway_core.protocol.packets import (
    items as _items,
)
from gateway_core.protocol.packets import (
    movement as _movement,
)
from gateway_core.protocol.packets import (
    other as _other,
)
from gateway_core.protocol.packets import (
    party as _party,
)
from gateway_core.protocol.packets import (
    shop as _shop,
)
from gateway_core.protocol.packets import (
    trade as _trade,
)
from gateway_core.protocol.packets.auth import *  # noqa: F403
from gateway_core.protocol.packets.character import *  # noqa: F403
from gateway_core.protocol.packets.chat import *  # noqa: F403
from gateway_core.protocol.packets.combat import *  # noqa: F403
from gateway_core.protocol.packets.common import *  # noqa: F403
from gateway_core.protocol.packets.items import *  # noqa: F403
from gateway_core.protocol.packets.movement import *  # noqa: F403
from gateway_core.protocol.packets.other import *  # noqa: F403
from gateway_core.protocol.packets.party import *  # noqa: F403
from gateway_core.protocol.packets.shop import *  # noqa: F403
from gateway_core.protocol.packets.trade import *  # noqa: F403
from gateway_core.records import (
    CHARACTER_PROGRESS,
    SELECTED_CHARACTER,
    WORLD_PLACEMENT,
    CharacterProgress,
    Position,
    RecordKey,
    RecordOwnershipError,
    Records,
    RecordWatcher,
    RecordWriter,
    SelectedCharacter,
    WorldPlacement,
)
from gateway_core.registry import (
    DISPATCH_STATES,
    ChatCommandRegistrar,
    CommandContext,
    CommandRegistrar,
    GrpcClientRegistrar,
    PacketRegistrar,
    PluginError,
    RuntimeRegistrar,
    ServiceRegistrar,
    SettingsRegistrar,
)
from gateway_core.service_errors import (
    MAX_GATEWAY_ID_BYTES,
    ServiceError,
    abort,
    abort_internal,
    check_character_id,
    check_gateway_id,
    check_text,
    name_error,
)
from gateway_core.service_errors import Context as ServicerContext
from gateway_core.service_host import ReferenceService, ServiceConfig
from gateway_core.session import (
    AUTHENTICATED_STATES,
    ConnectionRegistry,
    Key,
    PluginData,
    Session,
    SessionState,
)
from gateway_core.storage import (
    DatabaseService,
    Migrations,
    WriteQueue,
    database_url,
    migrate,
    run_migrations,
    sqlite_url,
)
from gateway_core.streams import GatewayStream, ReconnectingStream, StreamEnd, rpc_failure
from gateway_core.validators import (
    Validator,
    int_range,
    name_list,
    positive_finite_number,
    positive_int,
    positive_number,
)

__all__ = [
    "ALL_PACKETS",
    "AUTHENTICATED_STATES",
    "CHARACTER_PROGRESS",
    "DISPATCH_STATES",
    "MAX_GATEWAY_ID_BYTES",
    "PACKETS_BY_NAME",
    "SELECTED_CHARACTER",
    "TEXT_ENCODING",
    "WORLD_PLACEMENT",
    "AddressSettings",
    "CallContext",
    "Category",
    "CharacterProgress",
    "CommandContext",
    "CommandRegistrar",
    "ConnectionRegistry",
    "DatabaseService",
    "Decoded",
    "Direction",
    "FatalHandlerError",
    "GatewayStream",
    "GatewayView",
    "GrpcClientRegistrar",
    "Handler",
    "InWorldRuntime",
    "Key",
    "Migrations",
    "NumberingProfile",
    "Packet",
    "PacketContext",
    "PacketRegistrar",
    "PacketTypeInfo",
    "PluginData",
    "PluginError",
    "PluginRuntime",
    "Position",
    "RawFrame",
    "ReconnectingStream",
    "Record",
    "RecordKey",
    "RecordOwnershipError",
    "RecordWatcher",
    "RecordWriter",
    "Records",
    "ReferenceService",
    "RuntimeRegistrar",
    "SelectedCharacter",
    "ServiceConfig",
    "ServiceError",
    "ServiceRegistrar",
    "ServicerContext",
    "Session",
    "SessionState",
    "SettingsRegistrar",
    "StreamEnd",
    "UnionValue",
    "Validator",
    "WorldPlacement",
    "WriteQueue",
    "abort",
    "abort_internal",
    "check_character_id",
    "check_gateway_id",
    "check_text",
    "client_at",
    "current_call_context",
    "database_url",
    "get_profile",
    "hookimpl",
    "int_range",
    "migrate",
    "name_error",
    "name_list",
    "packets",
    "positive_finite_number",
    "positive_int",
    "positive_number",
    "public_address",
    "rpc_failure",
    "run_migrations",
    "sqlite_url",
]
__all__ += _common.__all__
__all__ += _auth.__all__
__all__ += _character.__all__
__all__ += _chat.__all__
__all__ += _movement.__all__
__all__ += _combat.__all__
__all__ += _items.__all__
__all__ += _party.__all__
__all__ += _trade.__all__
__all__ += _shop.__all__
__all__ += _other.__all__
# Chat commands (gateway_register_chat_commands, gateway_core.chat_commands).
__all__ += [
    "AvailableCommand",
    "ChatCommand",
    "ChatCommandError",
    "ChatCommandRegistrar",
    "int_argument",
    "on_help_command",
    "server_message",
]
# Memory (gateway_core.memory): services whose work allocates large blocks give them back.
__all__ += ["fix_mmap_threshold", "trim_heap"]
# The chat guard (gateway_core.chat_guard): ctx.chat_line(raw, ChatKind.X) before relaying chat.
__all__ += [
    "CONTROL_BYTES",
    "ChatGuard",
    "ChatKind",
    "ChatLimiter",
    "ChatLimits",
    "Verdict",
    "clean_chat",
]
# The content pack (gateway_core.content): what the reference services read their game data from.
__all__ += [
    "ContentError",
    "ContentPack",
    "GateDef",
    "ItemDef",
    "MapDef",
    "MonsterDef",
    "NpcDef",
    "SkillDef",
    "SpawnDef",
    "default_pack_path",
    "load_content",
    "load_default_pack",
    "load_pack",
]
