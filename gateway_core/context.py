"""What a packet handler and a plugin runtime see of the gateway.

Strategy: this module sits just above the session layer and below the router, so the plugin
API (:mod:`gateway_core.api`), the registrars and the router can all name these types without
importing anything that runs the gateway. :class:`GatewayView` is the part of a running
gateway a plugin may use; the composition root (:mod:`gateway_core.app`) implements it
structurally, so nothing here imports it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeAlias, TypeVar

from gateway_core.chat_guard import DEFAULT_GUARD, ChatGuard
from gateway_core.records import RecordWriter
from gateway_core.session import ConnectionRegistry, PluginData, Session, SessionState

if TYPE_CHECKING:
    from gateway_core.protocol.connection import RawFrame
    from gateway_core.protocol.packets import Packet

    OutPacket: TypeAlias = Packet | RawFrame

__all__ = [
    "FatalHandlerError",
    "GatewayView",
    "Handler",
    "PacketContext",
    "PluginRuntime",
]

R_co = TypeVar("R_co", covariant=True)


class FatalHandlerError(Exception):
    """Raise from a handler to close the client's connection (after flushing what was queued).

    Any other exception is logged and counted, and the connection goes on.
    """


class GatewayView(Protocol):
    """What a plugin's runtime gets of the gateway it runs on.

    ``clients`` holds every backend stub by service name (a plugin's own stubs are also in
    ``ctx.clients``); ``metrics_registry`` is the Prometheus registry the gateway exposes, for
    the plugin's own metrics; ``state`` is typed per-gateway storage (like
    ``session.plugin_data`` per session).
    """

    @property
    def gateway_id(self) -> str: ...

    @property
    def settings(self) -> Any: ...

    @property
    def connections(self) -> ConnectionRegistry: ...

    @property
    def clients(self) -> Mapping[str, Any]: ...

    @property
    def metrics_registry(self) -> Any: ...

    @property
    def plugin_state(self) -> PluginData: ...

    @property
    def closing(self) -> bool:
        """True once a shutdown closes the connections (calls that only undo per-player state
        in a service whose stream ends with the gateway may be skipped)."""
        ...

    def record_writer(self, plugin: str) -> RecordWriter:
        """The writer of the session records ``plugin`` claimed (what its handlers get as
        ``ctx.records``)."""
        ...


class PluginRuntime:
    """Base of a plugin's per-gateway runtime (optional: any object will do).

    The core creates one per running gateway from the factory a plugin registers with
    ``gateway_register_runtime``, hands it to the plugin's handlers as ``ctx.runtime`` and to
    the plugin's lifecycle hooks as ``runtime``, and calls these methods, which may be plain or
    ``async def``: :meth:`start` once the backend clients are open and before the listener
    accepts, the three session methods on every session event (errors are logged and counted
    per plugin, like a hook's), and :meth:`stop` after the connections are closed.
    """

    def __init__(self, gateway: GatewayView) -> None:
        self.gateway = gateway

    def start(self) -> Awaitable[None] | None:
        """Start background work (a stream to the plugin's backend)."""
        return None

    def stop(self) -> Awaitable[None] | None:
        """Stop background work: the gateway is shutting down."""
        return None

    def session_opened(self, session: Session) -> Awaitable[None] | None:
        """A client connection was accepted."""
        return None

    def session_state_changed(
        self, session: Session, old: SessionState, new: SessionState
    ) -> Awaitable[None] | None:
        """``session`` moved from ``old`` to ``new``."""
        return None

    def session_closed(self, session: Session) -> Awaitable[None] | None:
        """The connection of ``session`` is gone."""
        return None


class PacketContext(Generic[R_co]):
    """What a handler gets besides the packet: the session, the ways to answer, and the
    plugin's own things (its gRPC clients, its per-gateway ``runtime``, the writer of the
    session ``records`` it claimed, the settings).

    One context exists per (connection, plugin). Annotate it with the plugin's runtime type,
    ``PacketContext[WorldRuntime]``, or ``PacketContext[None]`` for a plugin without one.
    """

    __slots__ = ("chat_guard", "clients", "connections", "plugin", "records", "runtime", "session",
                 "settings")

    def __init__(
        self,
        session: Session,
        *,
        plugin: str,
        connections: ConnectionRegistry,
        clients: Mapping[str, Any],
        settings: Any,
        runtime: R_co,
        records: RecordWriter | None = None,
        chat_guard: ChatGuard | None = None,
    ) -> None:
        self.session = session
        self.plugin = plugin
        #: Writes the session records this plugin claimed (``ctx.records.set(session, KEY,
        #: value)``); read records with ``session.records.get(KEY)``.
        self.records = records if records is not None else RecordWriter(plugin, {})
        self.connections = connections
        self.clients = clients
        self.settings = settings
        self.runtime = runtime
        #: The gateway's chat guard (:mod:`gateway_core.chat_guard`), behind :meth:`chat_line`.
        self.chat_guard = chat_guard if chat_guard is not None else DEFAULT_GUARD

    def chat_line(self, raw: bytes, kind: str) -> bytes | None:
        """The chat line ``raw`` of this client, of ``kind`` (a :class:`ChatKind`), ready to
        relay: control characters removed; None when it must not be relayed (nothing left, or
        the player over the chat rate limits: muted, and told once, or disconnected after
        sustained abuse; all counted). Every plugin relaying chat calls it first."""
        return self.chat_guard.check(self.session, raw, kind)

    def reply(self, packet: OutPacket) -> None:
        """Queue ``packet`` to this client (never waits)."""
        self.session.send(packet)

    def send(self, session: Session, packet: OutPacket) -> None:
        """Queue ``packet`` to another client (never waits)."""
        session.send(packet)

    def broadcast(self, sessions: Iterable[Session], packet: OutPacket) -> int:
        """Encode ``packet`` once and queue it to every session in ``sessions``."""
        return self.connections.broadcast(sessions, packet)

    def close(self, reason: str) -> None:
        """Close this client's connection once what is queued has been written. Packets
        already received after the current one are not dispatched."""
        self.session.close(reason)


#: A packet handler: ``def`` or ``async def on_<packet>(ctx, packet)``.
Handler: TypeAlias = Callable[[PacketContext[Any], Any], Awaitable[None] | None]
