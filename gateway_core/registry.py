"""What plugins register, and the scoped registrars they register it with.

Strategy: the core calls each plugin's ``gateway_register_*`` hook with a registrar bound to
that plugin (llm's ``register_models(register)``), so every packet handler, backend client,
reference service, setting, runtime and command carries its owner, and a duplicate is a
start-up error naming both owners. Everything a registration can get wrong is checked here, at
start-up, with a message naming the plugin and the thing: a handler that is not callable, a
packet type the server never receives, a state set in which nothing is ever dispatched.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TextIO, TypeAlias

from gateway_core.config import SettingRegistration
from gateway_core.context import GatewayView, Handler
from gateway_core.protocol.numbering import Direction, NumberingProfile, get_profile
from gateway_core.records import RecordKey, RecordWatcher
from gateway_core.session import SessionState

if TYPE_CHECKING:
    import grpc.aio

__all__ = [
    "BUILTIN_COMMANDS",
    "ChatCommandHandler",
    "ChatCommandRegistrar",
    "ChatCommandRegistration",
    "ClientRegistration",
    "CommandContext",
    "CommandRegistrar",
    "CommandSpec",
    "GrpcClientRegistrar",
    "PacketRegistrar",
    "PacketRegistration",
    "PluginError",
    "Registry",
    "RuntimeRegistrar",
    "RuntimeRegistration",
    "ServiceRegistrar",
    "ServiceRegistration",
    "SettingRegistration",
    "SettingsRegistrar",
]

#: States in which a connection dispatches packets (nothing is dispatched while CLOSING).
DISPATCH_STATES = frozenset(SessionState) - {SessionState.CLOSING}
#: Packet directions a gateway receives from its clients.
_RECEIVED = frozenset({Direction.CLIENT_TO_SERVER, Direction.BOTH})
#: Names the core's own commands use.
BUILTIN_COMMANDS = ("serve", "plugins", "service", "console", "bot", "content", "drain",
                    "capture", "replay")
#: Access levels a chat command may require (``session.access_level`` is a u16).
MAX_ACCESS_LEVEL = 0xFFFF
#: Longest chat command name (without the ``/``).
MAX_CHAT_COMMAND_NAME = 32

#: A chat command handler: ``def`` or ``async def handler(ctx, command)``, where ``ctx`` is the
#: registering plugin's :class:`PacketContext` and ``command`` a
#: :class:`gateway_core.chat_commands.ChatCommand`.
ChatCommandHandler: TypeAlias = Callable[[Any, Any], Awaitable[None] | None]


class PluginError(Exception):
    """A plugin could not be loaded or registered something invalid: start-up fails."""


@dataclass(frozen=True, slots=True)
class PacketRegistration:
    """``plugin`` handles packets named ``name`` with ``handler`` while the session is in one
    of ``states``."""

    plugin: str
    name: str
    handler: Handler
    states: frozenset[SessionState]


@dataclass(frozen=True, slots=True)
class ClientRegistration:
    """``plugin`` needs a gRPC client ``stub_class`` for backend ``service``."""

    plugin: str
    service: str
    stub_class: Any
    deadline: float | None


@dataclass(frozen=True, slots=True)
class ServiceRegistration:
    """``plugin`` provides the reference implementation of backend ``service``."""

    plugin: str
    service: str
    factory: Callable[..., Any]


@dataclass(frozen=True, slots=True)
class RuntimeRegistration:
    """``plugin`` keeps a runtime per gateway, made by ``factory(gateway)``."""

    plugin: str
    factory: Callable[[GatewayView], Any]


class CommandContext(Protocol):
    """What a command gets besides its arguments (implemented by the CLI): the validated
    settings, the plugin manager with every registration collected, the output stream and
    ``service_channel(name)``, an async context manager yielding a gRPC channel to backend
    ``name`` (remote when ``<NAME>_SERVICE_ADDR`` is set, else the reference service run
    in-process on loopback for the duration of the block)."""

    @property
    def settings(self) -> Any: ...

    @property
    def pm(self) -> Any: ...

    @property
    def out(self) -> TextIO: ...

    def service_channel(
        self, name: str
    ) -> AbstractAsyncContextManager[grpc.aio.Channel]: ...


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A subcommand: ``configure(parser)`` adds arguments, ``run(args, ctx)`` returns the exit
    code (``run`` may be ``async def``; it is then run on anyio's asyncio backend)."""

    plugin: str
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, CommandContext], Any]


@dataclass(frozen=True, slots=True)
class ChatCommandRegistration:
    """``plugin`` answers the chat command ``/name`` with ``handler``; ``level`` is the default
    access level (GM_COMMAND_LEVELS may override it), ``usage`` the argument synopsis
    (``"NAME"``) and ``help`` one line for ``/help``."""

    plugin: str
    name: str
    handler: ChatCommandHandler
    level: int
    usage: str
    help: str


@dataclass
class Registry:
    """Everything the plugins registered, by kind (filled by the registrars)."""

    packet_handlers: dict[str, PacketRegistration] = field(default_factory=dict)
    grpc_clients: list[ClientRegistration] = field(default_factory=list)
    services: dict[str, ServiceRegistration] = field(default_factory=dict)
    plugin_settings: list[SettingRegistration] = field(default_factory=list)
    runtimes: dict[str, RuntimeRegistration] = field(default_factory=dict)
    commands: dict[str, CommandSpec] = field(default_factory=dict)
    #: Chat commands (``/name`` typed in normal chat), by lower-case name.
    chat_commands: dict[str, ChatCommandRegistration] = field(default_factory=dict)
    #: The plugin that writes each claimed session record.
    record_owners: dict[RecordKey[Any], str] = field(default_factory=dict)
    #: Who is told of every write of each session record: ``(plugin, callback)`` in
    #: registration order (``register.watch``).
    record_watchers: dict[RecordKey[Any], list[tuple[str, RecordWatcher]]] = field(
        default_factory=dict
    )
    #: The numbering packet registrations are checked against (``None``: the default one).
    profile: NumberingProfile | None = None


class _Registrar:
    """Base of the scoped registrars: the registry and the owning plugin."""

    __slots__ = ("_registry", "plugin")

    def __init__(self, registry: Registry, plugin: str) -> None:
        self._registry = registry
        self.plugin = plugin


class PacketRegistrar(_Registrar):
    """``register(packet_name, handler, *, states)`` for ``gateway_register_packets``.

    The registry's ``profile`` is the numbering the gateway speaks: a name it does not know,
    or a type the server never receives, is refused.
    """

    __slots__ = ("_profile",)

    def __init__(self, registry: Registry, plugin: str) -> None:
        super().__init__(registry, plugin)
        self._profile = registry.profile if registry.profile is not None else get_profile()

    @property
    def profile(self) -> NumberingProfile:
        """The numbering the gateway speaks (``name in register.profile``: whether a packet
        type exists in it, e.g. the token packets exist in 2026 only)."""
        return self._profile

    def __call__(
        self, packet_name: str, handler: Handler, *, states: Iterable[SessionState]
    ) -> None:
        """Claim ``packet_name`` (protocol name, e.g. ``"PAKCS_LOGIN_REQ"``) for ``handler``
        (``def`` or ``async def``), accepted while the session is in one of ``states``."""
        plugin = self.plugin
        if not isinstance(packet_name, str) or not packet_name:
            raise PluginError(f"plugin {plugin!r} registered a packet with a bad name")
        if not callable(handler):
            raise PluginError(f"plugin {plugin!r}: handler for {packet_name} is not callable")
        try:
            info = self._profile.by_name(packet_name)
        except (KeyError, LookupError):
            raise PluginError(
                f"plugin {plugin!r} registered {packet_name}, which is not a packet type of "
                f"profile {self._profile.name}"
            ) from None
        if info.direction not in _RECEIVED:
            raise PluginError(
                f"plugin {plugin!r} registered {packet_name}, a {info.direction.value} packet "
                "type: a gateway only receives client->server packets"
            )
        state_set = frozenset(states)
        if not state_set or not all(isinstance(s, SessionState) for s in state_set):
            raise PluginError(
                f"plugin {plugin!r}: {packet_name} needs a non-empty set of SessionState"
            )
        if not state_set & DISPATCH_STATES:
            raise PluginError(
                f"plugin {plugin!r}: {packet_name} is registered only for "
                f"{', '.join(sorted(s.name for s in state_set))}, in which nothing is dispatched"
            )
        existing = self._registry.packet_handlers.get(packet_name)
        if existing is not None:
            raise PluginError(
                f"packet type {packet_name} is claimed by two plugins: "
                f"{existing.plugin!r} and {plugin!r}"
            )
        self._registry.packet_handlers[packet_name] = PacketRegistration(
            plugin, packet_name, handler, state_set & DISPATCH_STATES
        )


class GrpcClientRegistrar(_Registrar):
    """``register(service, stub_class, *, deadline=None)`` for ``gateway_register_grpc_clients``."""

    __slots__ = ()

    def __call__(self, service: str, stub_class: Any, *, deadline: float | None = None) -> None:
        """Ask for a ``stub_class`` client of backend ``service`` (``"auth"``)."""
        if not isinstance(service, str) or not service.isidentifier():
            raise PluginError(f"plugin {self.plugin!r} asked for a client of a bad service name")
        if deadline is not None and not deadline > 0:
            raise PluginError(f"plugin {self.plugin!r}: deadline for {service} must be > 0")
        self._registry.grpc_clients.append(
            ClientRegistration(self.plugin, service.lower(), stub_class, deadline)
        )


class ServiceRegistrar(_Registrar):
    """``register(service, factory)`` for ``gateway_register_services``."""

    __slots__ = ()

    def __call__(self, service: str, factory: Callable[..., Any]) -> None:
        """Provide the reference implementation of ``service``: ``factory(config)``."""
        if not isinstance(service, str) or not service.isidentifier():
            raise PluginError(f"plugin {self.plugin!r} provided a service with a bad name")
        key = service.lower()
        existing = self._registry.services.get(key)
        if existing is not None:
            raise PluginError(
                f"service {key!r} is provided by two plugins: "
                f"{existing.plugin!r} and {self.plugin!r}"
            )
        self._registry.services[key] = ServiceRegistration(self.plugin, key, factory)


class SettingsRegistrar(_Registrar):
    """``register(name, default, *, validate=None, convert=None, doc="")`` for
    ``gateway_register_settings``."""

    __slots__ = ()

    def __call__(
        self,
        name: str,
        default: Any,
        *,
        validate: Callable[[Any], str | None] | None = None,
        convert: Callable[[object], Any] | None = None,
        doc: str = "",
    ) -> None:
        """Declare setting ``name`` (upper-case, read like every other setting)."""
        if not isinstance(name, str) or not name.isidentifier() or name != name.upper():
            raise PluginError(f"plugin {self.plugin!r}: setting name {name!r} must be upper-case")
        for existing in self._registry.plugin_settings:
            if existing.name == name:
                raise PluginError(
                    f"setting {name} is declared by two plugins: "
                    f"{existing.plugin!r} and {self.plugin!r}"
                )
        self._registry.plugin_settings.append(
            SettingRegistration(self.plugin, name, default, validate, doc, convert)
        )


class RuntimeRegistrar(_Registrar):
    """``register(factory)``, ``register.claim(record_key)`` and
    ``register.watch(record_key, callback)`` for ``gateway_register_runtime``."""

    __slots__ = ()

    def __call__(self, factory: Callable[[GatewayView], Any]) -> None:
        """Keep a runtime per gateway: ``factory(gateway)`` (may return ``None``: no runtime
        on that gateway, for instance without the plugin's backend)."""
        if not callable(factory):
            raise PluginError(f"plugin {self.plugin!r}: runtime factory is not callable")
        if self.plugin in self._registry.runtimes:
            raise PluginError(f"plugin {self.plugin!r} registered two runtimes")
        self._registry.runtimes[self.plugin] = RuntimeRegistration(self.plugin, factory)

    def claim(self, key: RecordKey[Any]) -> None:
        """Make this plugin the one writer of the session record ``key``
        (:mod:`gateway_core.records`); a key another plugin claimed fails start-up."""
        if not isinstance(key, RecordKey):
            raise PluginError(f"plugin {self.plugin!r}: claim({key!r}) is not a RecordKey")
        owner = self._registry.record_owners.get(key)
        if owner is not None and owner != self.plugin:
            raise PluginError(
                f"plugin {self.plugin!r} claimed record {key.name!r}, already claimed by "
                f"plugin {owner!r}"
            )
        self._registry.record_owners[key] = self.plugin

    def watch(self, key: RecordKey[Any], callback: RecordWatcher) -> None:
        """Call ``callback(session, old, new)`` after every write of the session record
        ``key`` on any session of the gateway (``old`` / ``new``: the values before and
        after, ``None`` when absent; a clear passes ``new=None``). Any plugin may watch any
        key, claimed or not. The callback is a plain function run inside the write: it must
        not block (start a task for slow work); one that raises is logged with this
        plugin's name and counted as a handler error, and neither the write nor the other
        watchers are affected."""
        if not isinstance(key, RecordKey):
            raise PluginError(f"plugin {self.plugin!r}: watch({key!r}) is not a RecordKey")
        if not callable(callback):
            raise PluginError(
                f"plugin {self.plugin!r}: watcher of record {key.name!r} is not callable"
            )
        self._registry.record_watchers.setdefault(key, []).append((self.plugin, callback))


class CommandRegistrar(_Registrar):
    """``register(name, *, help, configure, run)`` for ``gateway_register_commands``.

    A name used by a built-in command or by another plugin is a start-up error naming both
    owners.
    """

    __slots__ = ()

    def __call__(
        self,
        name: str,
        *,
        help: str,
        configure: Callable[[argparse.ArgumentParser], None],
        run: Callable[[argparse.Namespace, CommandContext], Any],
    ) -> None:
        """Add ``gateway <name>``."""
        if (not isinstance(name, str) or not name or not name.replace("-", "").isalnum()
                or name != name.lower()):
            raise PluginError(f"plugin {self.plugin!r}: command name {name!r} must be lower-case")
        if name in BUILTIN_COMMANDS:
            raise PluginError(f"plugin {self.plugin!r}: command {name!r} is a built-in command")
        existing = self._registry.commands.get(name)
        if existing is not None:
            raise PluginError(f"command {name!r} is registered by two plugins: "
                              f"{existing.plugin!r} and {self.plugin!r}")
        self._registry.commands[name] = CommandSpec(self.plugin, name, help, configure, run)


class ChatCommandRegistrar(_Registrar):
    """``register(name, handler, *, level, usage="", help="")`` for
    ``gateway_register_chat_commands``.

    ``name`` is lower-case letters, digits, ``_`` or ``-`` (at most 32), typed as ``/name`` in
    normal chat (case-insensitive). A name another plugin registered is a start-up error naming
    both owners.
    """

    __slots__ = ()

    def __call__(
        self,
        name: str,
        handler: ChatCommandHandler,
        *,
        level: int,
        usage: str = "",
        help: str = "",
    ) -> None:
        """Answer ``/name`` with ``handler(ctx, command)`` for accounts whose access level is
        at least ``level`` (the default; GM_COMMAND_LEVELS overrides it)."""
        plugin = self.plugin
        if (not isinstance(name, str) or not 0 < len(name) <= MAX_CHAT_COMMAND_NAME
                or name != name.lower() or not name.replace("-", "").replace("_", "").isalnum()
                or not name.isascii()):
            raise PluginError(
                f"plugin {plugin!r}: chat command name {name!r} must be 1-"
                f"{MAX_CHAT_COMMAND_NAME} lower-case letters, digits, '_' or '-'"
            )
        if not callable(handler):
            raise PluginError(f"plugin {plugin!r}: handler of chat command /{name} is not "
                              "callable")
        if (isinstance(level, bool) or not isinstance(level, int)
                or not 0 <= level <= MAX_ACCESS_LEVEL):
            raise PluginError(f"plugin {plugin!r}: chat command /{name} has level {level!r}, "
                              f"not an integer 0-{MAX_ACCESS_LEVEL}")
        existing = self._registry.chat_commands.get(name)
        if existing is not None:
            raise PluginError(f"chat command /{name} is registered by two plugins: "
                              f"{existing.plugin!r} and {plugin!r}")
        self._registry.chat_commands[name] = ChatCommandRegistration(
            plugin, name, handler, level, str(usage), str(help)
        )
