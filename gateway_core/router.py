"""Packet routing: packet type -> the handler of exactly one plugin, state guards, error policy.

Strategy: the routing table is a plain dict built once at start-up from the plugin manager's
registrations (no pluggy per packet). Per packet the router does one dict lookup, one set
membership test for the session state, then runs the handler with a :class:`PacketContext` cached
per (connection, plugin). Most handlers finish without ever suspending (they only queue replies),
so :meth:`Router.dispatch_nowait` drives the handler's coroutine by hand (``coro.send(None)``) in
the caller's task: no await chain per packet; only when the handler really suspends does it hand
back an awaitable that goes on driving that same coroutine, passing what it yields up to the
caller's task unchanged, exactly as ``await`` would.

Everything a packet can do wrong ends here: an unknown type or a packet in a state where it is not
allowed gets POLICY_BEFORE_AUTH (before a login or join succeeded on the connection) or
POLICY_AFTER_AUTH; a handler exception is logged with plugin and packet type, counted, and the
connection goes on, unless the handler raised :class:`FatalHandlerError` (or called ``ctx.close``),
which closes that connection only.
"""

from __future__ import annotations

import logging
import time
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable, Mapping
from contextvars import Token
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from gateway_core.backend_clients import CallContext, grpc_call_context
from gateway_core.plugins import PacketRegistration, PluginError

if TYPE_CHECKING:
    from gateway_core.metrics import GatewayMetrics
    from gateway_core.protocol.connection import RawFrame
    from gateway_core.protocol.packets import Packet
    from gateway_core.session import ConnectionRegistry, Session

    Event: TypeAlias = Packet | RawFrame

log = logging.getLogger("gateway.router")

_clock = time.perf_counter
_CoroutineType = types.CoroutineType

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
        connections: ConnectionRegistry,
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
        "_processed",
        "_received",
        "_settings",
        "_table",
    )

    def __init__(
        self,
        registrations: Mapping[str, PacketRegistration],
        *,
        connections: ConnectionRegistry,
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
        self._received = metrics.received
        self._processed = metrics.processed
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
        rest = self.dispatch_nowait(session, name, event, contexts)
        if rest is not None:
            await rest

    def dispatch_nowait(
        self, session: Session, name: str, event: Event, contexts: dict[str, PacketContext]
    ) -> Awaitable[None] | None:
        """:meth:`dispatch` without an await when the handler does not suspend.

        Runs the handler in the calling task as far as it goes. Returns ``None`` when it is
        done (metrics recorded, errors handled), else an awaitable the caller must await, in
        the same task and before dispatching anything else on this connection, to finish it
        with the same error handling. Must be called from a running task.
        """
        self._received(name)
        reg = self._table.get(name)
        if reg is None:
            self._refuse(session, name, "unknown_type")
            return None
        if session.state not in reg.states:
            self._refuse(session, name, "wrong_state")
            return None
        ctx = contexts.get(reg.plugin)
        if ctx is None:
            ctx = contexts[reg.plugin] = self.context(session, reg.plugin)
        start = _clock()
        # Backend calls made by the handler carry who they are for (gateway_core.backend_clients).
        token = grpc_call_context.set(CallContext.from_session(session)) if ctx.clients else None
        suspended = False
        try:
            aw = reg.handler(ctx, event)
            if type(aw) is not _CoroutineType:
                suspended = True  # any other awaitable: await it the ordinary way
                return self._finish(_await(aw), reg, session, name, start, token)
            try:
                waiting = aw.send(None)
            except StopIteration:
                pass
            else:
                suspended = True
                return self._finish(_resume(aw, waiting), reg, session, name, start, token)
        except FatalHandlerError as exc:
            self._fatal(reg, session, name, exc)
        except Exception:
            self._failed(reg, session, name)
        finally:
            if token is not None and not suspended:
                grpc_call_context.reset(token)
        self._processed(name, _clock() - start)
        return None

    async def _finish(
        self,
        rest: Awaitable[Any],
        reg: PacketRegistration,
        session: Session,
        name: str,
        start: float,
        token: Token[CallContext | None] | None,
    ) -> None:
        try:
            await rest
        except FatalHandlerError as exc:
            self._fatal(reg, session, name, exc)
        except Exception:
            self._failed(reg, session, name)
        finally:
            if token is not None:
                grpc_call_context.reset(token)
        self._processed(name, _clock() - start)

    def _fatal(
        self, reg: PacketRegistration, session: Session, name: str, exc: FatalHandlerError
    ) -> None:
        log.warning("plugin %s closed connection #%d on %s: %s", reg.plugin,
                    session.connection_id, name, exc)
        session.close(f"fatal handler error: {exc}")

    def _failed(self, reg: PacketRegistration, session: Session, name: str) -> None:
        log.exception("plugin %s raised handling %s on connection #%d", reg.plugin, name,
                      session.connection_id)
        self._metrics.handler_error(reg.plugin)

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


@types.coroutine
def _resume(coro: Coroutine[Any, Any, Any], waiting: Any) -> Generator[Any, Any, Any]:
    """Go on driving ``coro``, already started and suspended on ``waiting``, as the task
    awaiting it would: what it yields goes up to the task, what the task sends or throws in
    goes down (the delegation of PEP 380's ``yield from``, entered half-way)."""
    value = waiting
    while True:
        try:
            sent = yield value
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:
            try:
                value = coro.throw(exc)
            except StopIteration as stop:
                return stop.value
        else:
            try:
                value = coro.send(sent)
            except StopIteration as stop:
                return stop.value


async def _await(aw: Awaitable[Any]) -> Any:
    return await aw


def _policy(value: object) -> str:
    text = str(value).lower()
    if text not in (POLICY_CLOSE, POLICY_DROP):
        raise ValueError(f"router policy must be 'close' or 'drop', not {value!r}")
    return text
