"""Packet routing: packet type -> the handler of exactly one plugin, state guards, error policy.

Strategy: the routing table is a plain dict built once at start-up from the plugin manager's
registrations (no pluggy per packet). Per packet the router does one dict lookup, one set
membership test for the session state, then awaits the handler with a :class:`PacketContext`
cached per (connection, plugin). Everything a packet can do wrong ends here: an unknown type
or a packet in a state where it is not allowed gets POLICY_BEFORE_AUTH (before a login or join
succeeded on the connection) or POLICY_AFTER_AUTH; a handler exception is logged with plugin
and packet type, counted, and the connection goes on, unless the handler raised
:class:`FatalHandlerError` (or called ``ctx.close``), which closes that connection only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from gateway_core.grpc import CallContext, grpc_call_context
from gateway_core.plugins import PacketRegistration, PluginError

if TYPE_CHECKING:
    from gateway_core.metrics import GatewayMetrics
    from gateway_core.protocol.connection import RawFrame
    from gateway_core.protocol.packets import Packet
    from gateway_core.session import ConnectionService, Session

    Event: TypeAlias = Packet | RawFrame

log = logging.getLogger("gateway.router")

#: Router policy values (POLICY_BEFORE_AUTH / POLICY_AFTER_AUTH).
POLICY_CLOSE = "close"
POLICY_DROP = "drop"


class Handler(Protocol):
    """``async def on_<packet>(ctx, packet)``: a packet handler."""

    def __call__(self, ctx: PacketContext, packet: Any, /) -> Awaitable[None]: ...


class FatalHandlerError(Exception):
    """Raise from a handler to close the client's connection (after flushing what was queued).

    Any other exception is logged and counted, and the connection goes on.
    """


class PacketContext:
    """What a handler gets besides the packet: the session and the ways to answer.

    One context exists per (connection, plugin); ``clients`` are the gRPC stubs the plugin
    registered (``ctx.clients["auth"]``) and ``settings`` the gateway's validated settings.
    """

    __slots__ = ("clients", "connections", "plugin", "session", "settings")

    def __init__(
        self,
        session: Session,
        *,
        plugin: str,
        connections: ConnectionService,
        clients: Mapping[str, Any],
        settings: Any,
    ) -> None:
        self.session = session
        self.plugin = plugin
        self.connections = connections
        self.clients = clients
        self.settings = settings

    def reply(self, packet: Packet | RawFrame) -> None:
        """Queue ``packet`` to this client (never waits)."""
        self.session.send(packet)

    def send(self, session: Session, packet: Packet | RawFrame) -> None:
        """Queue ``packet`` to another client (never waits)."""
        session.send(packet)

    def broadcast(self, sessions: Iterable[Session], packet: Packet | RawFrame) -> int:
        """Encode ``packet`` once and queue it to every session in ``sessions``."""
        return self.connections.broadcast(sessions, packet)

    def close(self, reason: str) -> None:
        """Close this client's connection once what is queued has been written. Packets
        already received after the current one are not dispatched."""
        self.session.close(reason)


class Router:
    """Dispatches decoded packets of one gateway to their handlers.

    ``known_packet`` validates registered names (``profile.by_name``); ``clients_for(plugin)``
    gives the stubs a plugin registered.
    """

    __slots__ = (
        "_clients_for",
        "_connections",
        "_metrics",
        "_policy_after",
        "_policy_before",
        "_settings",
        "_table",
    )

    def __init__(
        self,
        registrations: Mapping[str, PacketRegistration],
        *,
        connections: ConnectionService,
        settings: Any,
        metrics: GatewayMetrics,
        clients_for: Callable[[str], Mapping[str, Any]] = lambda plugin: {},
        known_packet: Callable[[str], bool] | None = None,
    ) -> None:
        for name, reg in registrations.items():
            if known_packet is not None and not known_packet(name):
                raise PluginError(
                    f"plugin {reg.plugin!r} registered {name}, which is not a packet type of "
                    f"profile {getattr(settings, 'PACKET_PROFILE', '?')}"
                )
        self._table: dict[str, PacketRegistration] = dict(registrations)
        self._connections = connections
        self._settings = settings
        self._metrics = metrics
        self._clients_for = clients_for
        self._policy_before = _policy(getattr(settings, "POLICY_BEFORE_AUTH", POLICY_CLOSE))
        self._policy_after = _policy(getattr(settings, "POLICY_AFTER_AUTH", POLICY_DROP))

    @property
    def packet_names(self) -> frozenset[str]:
        """The packet types somebody handles."""
        return frozenset(self._table)

    def context(self, session: Session, plugin: str) -> PacketContext:
        """A new context for ``plugin`` on ``session`` (the server caches it)."""
        return PacketContext(
            session,
            plugin=plugin,
            connections=self._connections,
            clients=self._clients_for(plugin),
            settings=self._settings,
        )

    async def dispatch(
        self, session: Session, name: str, event: Event, contexts: dict[str, PacketContext]
    ) -> None:
        """Run the handler of ``event`` (type ``name``) for ``session``; never raises except
        for cancellation. ``contexts`` is the connection's per-plugin context cache."""
        self._metrics.received(name)
        reg = self._table.get(name)
        if reg is None:
            self._refuse(session, name, "unknown_type")
            return
        if session.state not in reg.states:
            self._refuse(session, name, "wrong_state")
            return
        ctx = contexts.get(reg.plugin)
        if ctx is None:
            ctx = contexts[reg.plugin] = self.context(session, reg.plugin)
        metrics = self._metrics
        start = time.perf_counter()
        # Backend calls made by the handler carry who they are for (gateway_core.grpc).
        token = grpc_call_context.set(CallContext.from_session(session)) if ctx.clients else None
        try:
            await reg.handler(ctx, event)
        except FatalHandlerError as exc:
            log.warning("plugin %s closed connection #%d on %s: %s", reg.plugin,
                        session.connection_id, name, exc)
            session.close(f"fatal handler error: {exc}")
        except Exception:
            log.exception("plugin %s raised handling %s on connection #%d", reg.plugin, name,
                          session.connection_id)
            metrics.handler_error(reg.plugin)
        finally:
            if token is not None:
                grpc_call_context.reset(token)
        metrics.processed(name, time.perf_counter() - start)

    def _refuse(self, session: Session, name: str, reason: str) -> None:
        self._metrics.router_drop(reason)
        policy = self._policy_after if session.authenticated else self._policy_before
        if policy == POLICY_CLOSE:
            log.info("closing connection #%d: %s packet %s in state %s", session.connection_id,
                     reason, name, session.state.value)
            session.close(f"{reason}: {name}")
        else:
            log.debug("dropped %s packet %s on connection #%d in state %s", reason, name,
                      session.connection_id, session.state.value)


def _policy(value: object) -> str:
    text = str(value).lower()
    if text not in (POLICY_CLOSE, POLICY_DROP):
        raise ValueError(f"router policy must be 'close' or 'drop', not {value!r}")
    return text
