"""The plugin hooks of rose-gateway.

Every hook a plugin may implement is declared here, and only here. Built-in plugins
(`gateway-auth`, `gateway-character`, `gateway-chat`, `gateway-world`) use exactly these hooks,
like any third-party plugin.

Strategy: pluggy is called at start-up and on lifecycle events, never per packet. The
``gateway_register_*`` hooks receive a registrar scoped to the calling plugin (like llm's
``register_models(register)``), so that every packet handler, gRPC client and reference service
is tagged with its owner; a duplicate is a start-up error that names both owners.

Lifecycle hooks may be plain functions or return an awaitable (``async def``); the core awaits
whatever they return. Each may also take a ``runtime`` argument: the calling plugin's own
runtime on that gateway (see :func:`gateway_register_runtime`), ``None`` when it has none.
Implementations declare only the arguments they use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from gateway_core.context import GatewayView
    from gateway_core.registry import (
        ChatCommandRegistrar,
        CommandRegistrar,
        GrpcClientRegistrar,
        PacketRegistrar,
        RuntimeRegistrar,
        ServiceRegistrar,
        SettingsRegistrar,
    )
    from gateway_core.session import Session, SessionState

PROJECT_NAME = "gateway"
ENTRY_POINT_GROUP = "gateway.plugins"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def gateway_register_settings(register: SettingsRegistrar) -> None:
    """Declare the plugin's own settings, with defaults and validators.

    ``register(name, default, *, validate=None, doc="")``. ``name`` is upper-case; the value
    is read from the settings file or the environment like every core setting (so
    ``CHARACTER_MAX_PER_ACCOUNT`` comes from the env var of that name). ``validate`` is a
    callable that returns an error message (or ``None``) for a candidate value. A bad value
    fails start-up naming the setting and the value.
    """


@hookspec
def gateway_register_packets(register: PacketRegistrar) -> None:
    """Claim packet types and give the handler of each.

    ``register(packet_name, handler, *, states)``: ``packet_name`` is the protocol name of a
    client->server packet (``"PAKCS_LOGIN_REQ"``), ``handler`` a ``def`` or ``async def
    handler(ctx, packet)`` where ``ctx`` is a :class:`gateway_core.api.PacketContext` (the
    session, ``reply``/``send``/``broadcast``, the connection registry, the plugin's gRPC
    clients, its ``runtime`` and the settings) and ``packet`` the decoded packet (or a raw
    frame for types without a definition). ``states`` is the set of
    :class:`gateway_core.api.SessionState` in which the packet is accepted; elsewhere the
    router's wrong-state policy applies. A plain ``def`` handler runs to completion in the
    connection's dispatcher without a coroutine. Two plugins claiming one packet type, a
    handler that is not callable, a server->client type or a state set in which nothing is
    dispatched (only CLOSING) is a start-up error naming the plugin and the packet.
    """


@hookspec
def gateway_register_grpc_clients(register: GrpcClientRegistrar) -> None:
    """Declare the gRPC clients the plugin needs.

    ``register(service, stub_class, *, deadline=None)``: ``service`` is the backend service
    name (``"auth"``); its address comes from the setting ``<SERVICE>_SERVICE_ADDR``
    (``AUTH_SERVICE_ADDR``) or, when that is unset and a plugin provides the reference
    service, from the embedded service host. Several plugins may use the same service: they
    share one channel. Handlers reach the stub as ``ctx.clients["auth"]``.
    """


@hookspec
def gateway_register_services(register: ServiceRegistrar) -> None:
    """Provide reference backend services.

    ``register(service, factory)``: ``factory(config)`` returns a
    :class:`gateway_core.service_host.ReferenceService` (``add_to_server(server)``,
    ``async start()``, ``async stop()``) built from a
    :class:`gateway_core.service_host.ServiceConfig` (data directory, database URL, settings).
    The core hosts it in-process when ``<SERVICE>_SERVICE_ADDR`` is unset (embedded default)
    and as its own process under ``gateway service <name>``.
    """


@hookspec
def gateway_register_runtime(register: RuntimeRegistrar) -> None:
    """Keep state per running gateway (a stream to the plugin's backend, caches, counters).

    ``register(factory)``: when a gateway starts (backend clients open, before the listener
    accepts) the core calls ``factory(gateway)`` with a
    :class:`gateway_core.api.GatewayView` and keeps what it returns as the plugin's runtime on
    that gateway (``None``: no runtime there). Handlers get it as ``ctx.runtime``, lifecycle
    hooks as their ``runtime`` argument. The core calls the runtime's ``start()``,
    ``session_opened(session)``, ``session_state_changed(session, old, new)``,
    ``session_closed(session)`` and ``stop()`` when it has them (plain or ``async``; see
    :class:`gateway_core.api.PluginRuntime`).
    """


@hookspec
def gateway_register_commands(register: CommandRegistrar) -> None:
    """Add subcommands to the ``gateway`` CLI (like ``gateway account``).

    ``register(name, *, help, configure, run)``: ``configure(parser)`` adds arguments to an
    ``argparse.ArgumentParser``; ``run(args, cli)`` executes the command and returns the exit
    code, where ``cli`` (:class:`gateway_core.api.CommandContext`) gives the validated settings,
    the plugin manager and ``cli.service_channel(name)``, an async context manager yielding a
    gRPC channel to that backend service (remote when ``<NAME>_SERVICE_ADDR`` is set, else the
    reference service started in-process on loopback for the duration of the command).
    """


@hookspec
def gateway_register_chat_commands(register: ChatCommandRegistrar) -> None:
    """Add chat commands: lines typed in normal chat (``PAKCS_NORMAL_CHAT``, in the world)
    that start with ``/``, such as ``/kick NAME``.

    ``register(name, handler, *, level, usage="", help="")``: ``handler`` is a ``def`` or
    ``async def handler(ctx, command)`` where ``ctx`` is the plugin's own
    :class:`gateway_core.api.PacketContext` on the typing session (its runtime, clients and
    records writer) and ``command`` a :class:`gateway_core.api.ChatCommand` (``name``,
    ``args``: the raw argument text, ``words``: it split on whitespace). It runs only for a
    session whose ``access_level`` is at least ``level``; the setting GM_COMMAND_LEVELS
    (``"kick=200,announce=100"``) overrides the level per command. Raise
    :class:`gateway_core.api.ChatCommandError` to refuse (without a text: the usage is
    whispered). A line starting with ``/`` never reaches other players: a refusal, an unknown
    command or a handler that raised is answered with a whisper from ``server msg`` and
    counted in ``gateway_chat_commands_total{command,outcome}``. Two plugins registering one
    name is a start-up error naming both.
    """


@hookspec
def gateway_startup(app: GatewayView, runtime: Any) -> Awaitable[None] | None:
    """Called once after plugins are registered, services started, gRPC channels open and
    runtimes started, before the listener accepts connections. ``app`` is the gateway.
    """


@hookspec
def gateway_shutdown(app: GatewayView, runtime: Any) -> Awaitable[None] | None:
    """Called once when the gateway stops, after connections are closed and before gRPC
    channels and embedded services are shut down."""


@hookspec
def gateway_session_opened(session: Session, runtime: Any) -> Awaitable[None] | None:
    """A client connection was accepted and its session created."""


@hookspec
def gateway_session_state_changed(
    session: Session, old: SessionState, new: SessionState, runtime: Any
) -> Awaitable[None] | None:
    """The session moved from ``old`` to ``new`` (e.g. CHARACTER_SELECT -> IN_WORLD)."""


@hookspec
def gateway_session_closed(session: Session, runtime: Any) -> Awaitable[None] | None:
    """The connection of ``session`` is gone (peer closed, idle timeout, dropped, shutdown).
    Runs on every close, including during a graceful shutdown."""
