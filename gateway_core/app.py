"""The composition root: settings, plugins, backend services and clients, metrics, listener.

Strategy: everything that can fail on a bad configuration (settings, plugin discovery, packet
ownership, unknown packet names) happens in the constructor, so ``gateway serve`` reports it
before binding anything. :meth:`Gateway.run` then starts the parts in dependency order and, on
a signal, :meth:`Gateway.stop` or cancellation, stops them in reverse within
SHUTDOWN_DEADLINE: stop accepting, close connections (session-closed hooks), gateway_shutdown
hooks, close gRPC channels, stop embedded services, stop the metrics server.
"""

from __future__ import annotations

import importlib.util
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import anyio
import anyio.abc

from gateway_core.admin_http import MetricsServer
from gateway_core.backend_clients import GrpcClients
from gateway_core.chat_commands import ChatCommands
from gateway_core.config import Settings, load_settings
from gateway_core.metrics import GatewayMetrics
from gateway_core.plugin_runtime import GatewayLifecycle
from gateway_core.plugins import GatewayPluginManager
from gateway_core.protocol.connection import Role, encode_packet
from gateway_core.protocol.numbering import get_profile
from gateway_core.records import SELECTED_CHARACTER, WORLD_PLACEMENT, RecordWriter
from gateway_core.router import Router
from gateway_core.server import Server, running_on_asyncio
from gateway_core.service_host import ServiceHost, build_services
from gateway_core.session import ConnectionRegistry, PluginData

log = logging.getLogger("gateway")


class Gateway:
    """One gateway process: build it, then ``await gateway.run()``.

    ``settings`` (already loaded) wins; otherwise they are loaded with ``overrides``,
    ``settings_file`` and ``environ`` (see :func:`gateway_core.config.load_settings`) around
    plugin discovery: a first pass reads GATEWAY_LOAD_PLUGINS / GATEWAY_DISABLE_PLUGINS, the
    selected plugins declare their settings, and the second pass validates everything. Pass
    ``pm`` to start from a manager that already holds plugins (tests register theirs there).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        overrides: Mapping[str, object] | None = None,
        settings_file: str | None = None,
        environ: Mapping[str, str] | None = None,
        pm: GatewayPluginManager | None = None,
        metrics: GatewayMetrics | None = None,
    ) -> None:
        self.pm = pm if pm is not None else GatewayPluginManager()
        if settings is None:
            first = load_settings(overrides, settings_file=settings_file, environ=environ)
            self.pm.load_plugins(load=first.GATEWAY_LOAD_PLUGINS,
                                 disable=first.GATEWAY_DISABLE_PLUGINS)
            self.pm.collect_settings()
            settings = load_settings(overrides, settings_file=settings_file, environ=environ,
                                     plugin_settings=self.pm.plugin_settings)
        else:
            self.pm.load_plugins(load=settings.GATEWAY_LOAD_PLUGINS,
                                 disable=settings.GATEWAY_DISABLE_PLUGINS)
        self.settings = settings
        _report_unknown(settings, self.pm)
        numbering = get_profile(settings.PACKET_PROFILE)
        self.pm.collect_registrations(numbering)
        self.gateway_id = settings.GATEWAY_ID or uuid.uuid4().hex[:12]
        #: Typed per-plugin state of this gateway, addressed by a plugin's own
        #: :class:`~gateway_core.session.Key` (like ``session.plugin_data`` per session).
        self.plugin_state = PluginData()
        #: One writer per plugin of the session records it claimed.
        self._record_writers: dict[str, RecordWriter] = {}
        self.metrics = metrics if metrics is not None else GatewayMetrics()
        self.pm.on_hook_error = lambda plugin, hook: self.metrics.handler_error(plugin)
        #: The plugins' runtimes on this gateway and the dispatch of its lifecycle events.
        self.lifecycle = GatewayLifecycle(
            self.pm.runtimes, self.pm,
            on_error=lambda plugin, what: self.metrics.handler_error(plugin),
        )

        cipher, profile = settings.CIPHER, settings.PACKET_PROFILE
        self.connections = ConnectionRegistry(
            encode=lambda packet: encode_packet(packet, role=Role.SERVER, cipher=cipher,
                                                profile=profile),
            on_state_changed=self.lifecycle.session_state_changed,
            watchers=self.pm.registry.record_watchers,
            on_watcher_error=self.metrics.handler_error,
        )
        #: The backend clients (after start-up).
        self.backends: GrpcClients | None = None
        #: The chat commands (``/name`` in normal chat) and their dispatch.
        self.chat_commands = ChatCommands(
            self.pm.registry.chat_commands,
            context_for=lambda session, plugin: self.router.context(session, plugin),
            levels=settings.GM_COMMAND_LEVELS,
            registry=self.metrics.registry,
            on_error=self.metrics.handler_error,
        )
        self.router = Router(
            self.chat_commands.wrap(self.pm.packet_handlers),
            connections=self.connections,
            settings=settings,
            metrics=self.metrics,
            clients_for=self._clients_for,
            runtime_for=self.lifecycle.get,
            records_for=self.record_writer,
            known_packet=lambda name: _known(numbering, name),
        )
        self.server = Server(settings=settings, router=self.router, service=self.connections,
                             pm=self.lifecycle, metrics=self.metrics)
        self.service_host: ServiceHost | None = None
        self.metrics_server: MetricsServer | None = None
        self._stop = threading.Event()  # set from any thread; polled by run()
        self._stop_event: anyio.Event | None = None

    # -- accessors -------------------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        """The bound client listener address (after start-up)."""
        if self.server.address is None:
            raise RuntimeError("the gateway is not listening")
        return self.server.address

    @property
    def clients(self) -> Mapping[str, Any]:
        """Every backend stub by service name (empty before start-up)."""
        return self.backends if self.backends is not None else {}

    @property
    def metrics_registry(self) -> Any:
        """The Prometheus registry this gateway exposes (for the plugins' own metrics)."""
        return self.metrics.registry

    @property
    def runtimes(self) -> Mapping[str, Any]:
        """The runtime of each plugin that has one on this gateway."""
        return self.lifecycle.runtimes

    def record_writer(self, plugin: str) -> RecordWriter:
        """The writer of the session records ``plugin`` claimed (``ctx.records``)."""
        writer = self._record_writers.get(plugin)
        if writer is None:
            writer = RecordWriter(plugin, self.pm.registry.record_owners)
            self._record_writers[plugin] = writer
        return writer

    def _clients_for(self, plugin: str) -> Mapping[str, Any]:
        return self.backends.for_plugin(plugin) if self.backends is not None else {}

    def admin_connections(self) -> list[dict[str, object]]:
        """Rows for ``/admin/connections`` (what ``gateway console`` shows)."""
        now = time.monotonic()
        rows: list[dict[str, object]] = []
        for s in self.connections:
            character = s.records.get(SELECTED_CHARACTER)
            placement = s.records.get(WORLD_PLACEMENT)
            rows.append({
                "id": s.connection_id,
                "peer": f"{s.peer_address[0]}:{s.peer_address[1]}",
                "state": s.state.name,
                "user": s.username if s.username is not None else s.user_id,
                "character": character.name if character is not None else None,
                "map": placement.map_id if placement is not None else None,
                "idle_seconds": round(now - s.last_activity, 1),
            })
        return rows

    async def _ready(self) -> bool:
        if self.server.address is None or self.server.stopping:
            return False
        return True if self.backends is None or not len(self.backends) else \
            await self.backends.ready()

    # -- running ---------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask :meth:`run` to shut down gracefully (call from the gateway's event loop)."""
        self._stop.set()
        if self._stop_event is not None:
            self._stop_event.set()

    async def run(
        self,
        *,
        handle_signals: bool = True,
        task_status: anyio.abc.TaskStatus[tuple[str, int]] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Start everything, report the bound client address through ``task_status``, serve
        until SIGINT/SIGTERM (when ``handle_signals`` and on the main thread), :meth:`stop` or
        cancellation, then shut down in order within SHUTDOWN_DEADLINE."""
        if not running_on_asyncio():
            raise RuntimeError("the gateway's transport needs the asyncio backend of anyio")
        settings = self.settings
        self._stop_event = anyio.Event()
        if self._stop.is_set():
            self._stop_event.set()
        try:
            async with anyio.create_task_group() as tg:
                try:
                    await self._start(tg)
                    task_status.started(self.address)
                    if handle_signals and threading.current_thread() is threading.main_thread():
                        tg.start_soon(self._watch_signals)
                    tg.start_soon(self.server.sweep_idle)
                    await self._stop_event.wait()
                finally:
                    with anyio.CancelScope(shield=True):
                        await self._shutdown(float(settings.SHUTDOWN_DEADLINE))
                    tg.cancel_scope.cancel()
        finally:
            self._stop_event = None

    async def _watch_signals(self) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                log.info("received %s, shutting down", signal.Signals(signum).name)
                self.stop()
                return

    async def _start(self, tg: anyio.abc.TaskGroup) -> None:
        settings = self.settings
        services = build_services(self.pm.services, settings)
        embedded: dict[str, str] = {}
        if services:
            self.service_host = ServiceHost(services)
            address = await self.service_host.start()
            embedded = dict.fromkeys(services, address)
        self.backends = GrpcClients(self.pm.grpc_clients, settings, embedded=embedded,
                                   metrics=self.metrics, gateway_id=self.gateway_id)
        if settings.PACKET_METRICS_PORT:
            self.metrics_server = MetricsServer(
                self.metrics,
                str(settings.LISTEN_ADDR), int(settings.PACKET_METRICS_PORT),
                ready=self._ready, connections=self.admin_connections,
            )
            await tg.start(self.metrics_server.serve)
        await self.lifecycle.start(self)
        await self.lifecycle.call_lifecycle("gateway_startup", app=self)
        await self.server.start()

    async def _shutdown(self, deadline: float) -> None:
        end = time.monotonic() + deadline

        def left() -> float:
            return max(0.05, end - time.monotonic())

        log.info("shutting down (deadline %.1fs)", deadline)
        self.server.stop_accepting()
        await self.server.close_connections(left())
        with anyio.move_on_after(left()):
            await self.lifecycle.call_lifecycle("gateway_shutdown", app=self)
        with anyio.move_on_after(left()):
            await self.lifecycle.stop()
        if self.backends is not None:
            with anyio.move_on_after(left()):
                await self.backends.close(grace=min(1.0, left()))
        if self.service_host is not None:
            with anyio.move_on_after(left()):
                await self.service_host.stop(grace=min(1.0, left()))
        # The metrics server stops with the task group (cancelled right after this).
        log.info("gateway stopped")


def _report_unknown(settings: Settings, pm: GatewayPluginManager) -> None:
    """Say at start-up what the configuration names that nothing uses (likely typos)."""
    if settings.unknown_keys:
        log.warning("settings file %s has settings no core setting or plugin declares "
                    "(ignored): %s", settings.SETTINGS_FILE, ", ".join(settings.unknown_keys))
    if pm.unknown_disabled:
        log.warning("GATEWAY_DISABLE_PLUGINS names plugins that are not installed: %s",
                    ", ".join(pm.unknown_disabled))


def _known(profile: Any, name: str) -> bool:
    try:
        return profile.by_name(name) is not None
    except (KeyError, LookupError, ValueError):
        return False


def run_gateway(
    gateway: Gateway, on_listening: Callable[[tuple[str, int]], None] | None = None
) -> int:
    """Run ``gateway`` until SIGINT/SIGTERM on asyncio (with uvloop when installed) and return
    the exit code 0; ``on_listening(address)`` is called once the listener is bound."""

    async def serve() -> None:
        async with anyio.create_task_group() as tg:
            address = await tg.start(gateway.run)
            if on_listening is not None:
                on_listening(address)

    use_uvloop = importlib.util.find_spec("uvloop") is not None
    anyio.run(serve, backend="asyncio", backend_options={"use_uvloop": use_uvloop})
    return 0
