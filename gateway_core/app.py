"""The composition root: settings, plugins, backend services and clients, metrics, listener.

Strategy: everything that can fail on a bad configuration (settings, plugin discovery, packet
ownership, unknown packet names) happens in the constructor, so ``gateway serve`` reports it
before binding anything. :meth:`Gateway.run` then starts the parts in dependency order and, on
a signal, :meth:`Gateway.stop` or cancellation, stops them in reverse within
SHUTDOWN_DEADLINE: stop accepting, close connections (session-closed hooks), gateway_shutdown
hooks, close gRPC channels, stop embedded services, stop the metrics server.

A drain (SIGTERM, SIGINT, :meth:`Gateway.drain`, ``POST /admin/drain``) comes first: ``/readyz``
answers 503 at once and the listener stops accepting; the players in the world are told the
time left (``PAKSW_ANNOUNCE_CHAT`` from ``Server``, again at 60, 30, 10 and 5 seconds) for
DRAIN_NOTICE_SECONDS, or until none is left in the world (a second SIGINT cuts it short; a
repeated SIGTERM changes nothing); then the shutdown above runs, SHUTDOWN_DEADLINE counted from
there. Closing a connection leaves the world through the session hooks, so the character
plugin saves every character, and the close waits for those saves within the deadline (those
of connections that closed just before the shutdown, still in their close hooks, included);
only then do the channels close and the embedded services stop.
"""

from __future__ import annotations

import dataclasses
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

from gateway_core import __version__
from gateway_core.admin_http import MetricsServer
from gateway_core.backend_clients import GrpcClients
from gateway_core.capture import CaptureManager
from gateway_core.chat_commands import ChatCommands
from gateway_core.chat_guard import ChatGuard, ChatLimits
from gateway_core.config import Settings, check_admin_binding, load_settings, split_host_port
from gateway_core.metrics import GatewayMetrics
from gateway_core.plugin_runtime import GatewayLifecycle
from gateway_core.plugins import GatewayPluginManager
from gateway_core.protocol.connection import Role, encode_packet
from gateway_core.protocol.numbering import get_profile
from gateway_core.protocol.packets import TEXT_ENCODING, SrvAnnounceChat
from gateway_core.records import SELECTED_CHARACTER, WORLD_PLACEMENT, RecordWriter
from gateway_core.router import Router
from gateway_core.server import Server, running_on_asyncio
from gateway_core.service_host import ServiceHost, build_services
from gateway_core.session import ConnectionRegistry, PluginData, SessionState

log = logging.getLogger("gateway")

#: Seconds left at which a drain repeats its announcement (those shorter than the notice).
DRAIN_ANNOUNCE_AT: tuple[float, ...] = (300.0, 120.0, 60.0, 30.0, 10.0, 5.0)
#: Name the drain announcement comes from.
DRAIN_ANNOUNCER = "Server"
#: Seconds past its grace the close of the channels and the stop of the embedded services get
#: at shutdown, even after SHUTDOWN_DEADLINE.
STOP_SLACK = 5.0


def drain_message(seconds: float) -> str:
    """The announcement of a drain with ``seconds`` left."""
    left = max(1, round(seconds))
    unit = "second" if left == 1 else "seconds"
    return (f"The server shuts down for maintenance in {left} {unit}. "
            "Your character will be saved.")


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
        check_admin_binding(settings)
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
        #: Control characters and rate limits of the players' chat (``ctx.chat_line``).
        self.chat_guard = ChatGuard(ChatLimits.from_settings(settings),
                                    registry=self.metrics.registry)
        self.router = Router(
            self.chat_commands.wrap(self.pm.packet_handlers),
            connections=self.connections,
            settings=settings,
            metrics=self.metrics,
            clients_for=self._clients_for,
            runtime_for=self.lifecycle.get,
            records_for=self.record_writer,
            known_packet=lambda name: _known(numbering, name),
            chat_guard=self.chat_guard,
        )
        self.server = Server(settings=settings, router=self.router, service=self.connections,
                             pm=self.lifecycle, metrics=self.metrics)
        #: Packet captures (``gateway capture``), capture on error and the packet trace.
        self.captures = CaptureManager.from_settings(settings, connections=self.connections,
                                                     gateway_id=self.gateway_id)
        self.server.driver_config = dataclasses.replace(self.server.driver_config,
                                                        tap_for=self.captures.tap_for)
        self.router.on_handler_error = self.captures.handler_error
        self.service_host: ServiceHost | None = None
        self.metrics_server: MetricsServer | None = None
        #: The /metrics-only listener of METRICS_ADDR (None when unset).
        self.public_metrics_server: MetricsServer | None = None
        self._stop = threading.Event()  # set from any thread; polled by run()
        self._stop_event: anyio.Event | None = None
        #: Wall-clock time the gateway started serving (None before).
        self.started_at: float | None = None
        #: True from the start of a drain (``/readyz`` is 503 from then on).
        self.draining = False
        #: True once the shutdown closes the connections: what their close hooks would tell
        #: the services one session at a time, the runtimes' stop may tell in bulk.
        self.closing = False
        #: Seconds of notice of the drain under way (0 for a plain :meth:`stop`).
        self._notice = 0.0
        self._notice_cut: anyio.Event | None = None

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
        queues = {c.driver.session.connection_id: c.driver.send_queue_bytes
                  for c in list(self.server.connections) if c.driver is not None}
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
                "packets_in": s.packets_in,
                "packets_out": s.packets_out,
                "bytes_in": s.bytes_in,
                "bytes_out": s.bytes_out,
                "send_queue": queues.get(s.connection_id, 0),
                "last_packet": s.last_packet,
                "idle_seconds": round(now - s.last_activity, 1),
            })
        return rows

    async def admin_status(self) -> dict[str, object]:
        """``/admin/status``: what the console's header shows."""
        health: dict[str, str] = {}
        if self.backends is not None and len(self.backends):
            health = await self.backends.health()
        address = self.server.address
        return {
            "gateway_id": self.gateway_id,
            "version": __version__,
            "started_at": self.started_at,
            "uptime_seconds": None if self.started_at is None else
            round(time.time() - self.started_at, 1),
            "listen": None if address is None else f"{address[0]}:{address[1]}",
            "plugins": [info.name for info in self.pm.plugin_infos()],
            "connections": len(self.connections),
            "in_world": len(self.connections.in_state(SessionState.IN_WORLD)),
            "backends": health,
            "draining": self.draining,
            "ready": await self._ready(),
        }

    async def _ready(self) -> bool:
        if self.server.address is None or self.server.stopping or self.draining:
            return False
        return True if self.backends is None or not len(self.backends) else \
            await self.backends.ready()

    # -- running ---------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask :meth:`run` to shut down gracefully (call from the gateway's event loop); no
        notice for the players (a drain under way keeps its own)."""
        self._stop.set()
        if self._stop_event is not None:
            self._stop_event.set()

    def drain(self, notice: float | None = None) -> dict[str, object]:
        """Start a drain (see the module's docstring): not ready at once, no new connections,
        ``notice`` seconds (default DRAIN_NOTICE_SECONDS) of announcements to the players in
        the world, then the shutdown. Call from the gateway's event loop; a drain under way
        is left as it is. Returns what ``POST /admin/drain`` answers."""
        if not self.draining:
            seconds = float(self.settings.DRAIN_NOTICE_SECONDS if notice is None else notice)
            if not seconds >= 0:
                raise ValueError("the notice must be a number of seconds >= 0")
            self.draining = True
            self._notice = seconds
            log.info("draining: %d players in the world get %.0fs of notice",
                     len(self.connections.in_state(SessionState.IN_WORLD)), seconds)
            self.stop()
        return {"draining": True, "notice_seconds": self._notice,
                "shutdown_deadline": float(self.settings.SHUTDOWN_DEADLINE),
                "in_world": len(self.connections.in_state(SessionState.IN_WORLD))}

    def _drain_action(self, query: Mapping[str, str]) -> dict[str, object]:
        raw = query.get("notice")
        try:
            notice = None if raw in (None, "") else float(raw)
        except ValueError:
            raise ValueError(f"notice={raw!r} is not a number of seconds") from None
        return self.drain(notice)

    def _capture_action(self, query: Mapping[str, str]) -> dict[str, object]:
        """``POST /admin/capture``: ``user=NAME`` or ``connection=ID`` (and ``file=PATH``)
        starts a capture, ``stop=1`` (with ``id``, ``user`` or ``connection``, else all) stops
        captures, ``list=1`` lists them; answers the captures concerned."""
        raw_connection = query.get("connection") or None
        try:
            connection = None if raw_connection is None else int(raw_connection)
            capture_id = None if not query.get("id") else int(query["id"])
        except ValueError:
            raise ValueError("connection and id must be integers") from None
        user = query.get("user") or None
        if query.get("list"):
            return {"captures": self.captures.describe()}
        if query.get("stop"):
            stopped = self.captures.stop(capture_id=capture_id, user=user, connection=connection)
            return {"stopped": [capture.describe() for capture in stopped]}
        if (user is None) == (connection is None):
            raise ValueError("give user=NAME or connection=ID")
        try:
            capture = self.captures.start(user=user, connection=connection,
                                          path=query.get("file") or None)
        except LookupError as exc:
            raise ValueError(str(exc.args[0])) from None
        except OSError as exc:
            raise ValueError(f"cannot write the capture file: {exc}") from None
        return {"started": capture.describe()}

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
        # Runs until the task group ends: the drain's notice runs while it listens.
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                name = signal.Signals(signum).name
                if not self.draining:
                    log.info("received %s, draining", name)
                    self.drain()
                elif signum == signal.SIGINT and self._notice_cut is not None:
                    log.info("received %s again: ending the notice now", name)
                    self._notice_cut.set()
                else:
                    log.info("received %s: already draining", name)

    async def _start(self, tg: anyio.abc.TaskGroup) -> None:
        settings = self.settings
        services = build_services(self.pm.services, settings)
        embedded: dict[str, str] = {}
        if services:
            self.service_host = ServiceHost(services)
            address = await self.service_host.start()
            embedded = dict.fromkeys(services, address)
        self.backends = GrpcClients(self.pm.grpc_clients, settings, embedded=embedded,
                                   embedded_services=services,
                                   metrics=self.metrics, gateway_id=self.gateway_id)
        if settings.PACKET_METRICS_PORT:
            self.metrics_server = MetricsServer(
                self.metrics,
                str(settings.ADMIN_HOST), int(settings.PACKET_METRICS_PORT),
                ready=self._ready, connections=self.admin_connections,
                status=self.admin_status, actions={"drain": self._drain_action,
                                                       "capture": self._capture_action},
                token=settings.ADMIN_TOKEN,
            )
            await tg.start(self.metrics_server.serve)
        if settings.METRICS_ADDR:
            host, port = split_host_port(str(settings.METRICS_ADDR))
            self.public_metrics_server = MetricsServer(self.metrics, host, port,
                                                       ready=self._ready, admin=False)
            await tg.start(self.public_metrics_server.serve)
        await self.lifecycle.start(self)
        await self.lifecycle.call_lifecycle("gateway_startup", app=self)
        await self.server.start()
        self.started_at = time.time()

    def _in_world(self) -> list[Any]:
        return [s for s in self.connections.in_state(SessionState.IN_WORLD) if not s.closed]

    def _announce_drain(self, seconds: float) -> int:
        packet = SrvAnnounceChat(message=drain_message(seconds).encode(TEXT_ENCODING, "replace"),
                                 name=DRAIN_ANNOUNCER.encode(TEXT_ENCODING))
        return self.connections.broadcast(self._in_world(), packet)

    async def _give_notice(self, notice: float) -> None:
        """Announce the drain to the players in the world and wait ``notice`` seconds, or
        until none is left in the world or a second SIGINT cuts it short."""
        if notice <= 0 or not self._in_world():
            return
        cut = self._notice_cut = anyio.Event()
        end = time.monotonic() + notice
        told = self._announce_drain(notice)
        log.info("drain: told %d players in the world, %.0fs of notice", told, notice)
        marks = [mark for mark in DRAIN_ANNOUNCE_AT if mark < notice]
        while not cut.is_set() and self._in_world():
            left = end - time.monotonic()
            if left <= 0:
                break
            if marks and left <= marks[0]:
                self._announce_drain(marks.pop(0))
                continue
            with anyio.move_on_after(min(0.2, left)):
                await cut.wait()

    async def _shutdown(self, deadline: float) -> None:
        self.draining = True
        self.server.stop_accepting()
        with anyio.move_on_after(self._notice + 1.0):
            await self._give_notice(self._notice)
        end = time.monotonic() + deadline

        def left() -> float:
            return max(0.05, end - time.monotonic())

        log.info("shutting down (deadline %.1fs)", deadline)
        took: dict[str, float] = {}
        mark = time.monotonic()

        def step(name: str) -> None:
            nonlocal mark
            now = time.monotonic()
            took[name], mark = now - mark, now

        self.closing = True
        await self.server.close_connections(left())
        step("connections")
        with anyio.move_on_after(left()):
            await self.lifecycle.call_lifecycle("gateway_shutdown", app=self)
        with anyio.move_on_after(left()):
            await self.lifecycle.stop()
        step("runtimes")
        # Channels, then the embedded services, only now: every save (those of connections
        # that just closed included) has been waited for above. Each gets its grace plus
        # STOP_SLACK even when the deadline has passed (cut at once, a gRPC server left
        # half-stopped is collected after the loop closed: "Event loop is closed").
        if self.backends is not None:
            with anyio.move_on_after(min(1.0, left()) + STOP_SLACK):
                await self.backends.close(grace=min(1.0, left()))
        step("channels")
        if self.service_host is not None:
            with anyio.move_on_after(min(1.0, left()) + STOP_SLACK):
                await self.service_host.stop(grace=min(1.0, left()))
        step("services")
        # The metrics server stops with the task group (cancelled right after this).
        self.captures.close()
        log.info("gateway stopped (seconds: %s)",
                 ", ".join(f"{name} {seconds:.2f}" for name, seconds in took.items()))


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
