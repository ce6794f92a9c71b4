"""Packet routing: packet type -> the handler of exactly one plugin, state guards, error policy.

Strategy: the routing tables are plain dicts built once at start-up from the plugin manager's
registrations (no pluggy per packet), one per session state, so a packet costs one lookup in
the table of its session's state; a miss is told apart as unknown or wrong-state only then.
The handler runs with a :class:`PacketContext` cached per (connection, plugin) that carries the
plugin's clients and per-gateway runtime. A plain ``def`` handler is simply called. Most
``async def`` handlers finish without ever suspending (they only queue replies), so
:meth:`Router.dispatch_nowait` drives the coroutine by hand (``coro.send(None)``) in the
caller's task: no await chain per packet; only when the handler really suspends does it hand
back an awaitable that goes on driving that same coroutine, passing what it yields up to the
caller's task unchanged, exactly as ``await`` would. Who a backend call is for is put in the
call context as the session itself; the metadata is built from it only when a call is made.

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
from collections.abc import Awaitable, Callable, Coroutine, Generator, Mapping
from contextvars import Token
from typing import TYPE_CHECKING, Any, TypeAlias

from gateway_core.backend_clients import CallSource, grpc_call_context
from gateway_core.chat_guard import ChatGuard
from gateway_core.context import FatalHandlerError, Handler, PacketContext
from gateway_core.logs import session_fields
from gateway_core.records import RecordWriter
from gateway_core.registry import PacketRegistration, PluginError
from gateway_core.session import SessionState

if TYPE_CHECKING:
    from gateway_core.metrics import GatewayMetrics
    from gateway_core.protocol.connection import RawFrame
    from gateway_core.protocol.packets import Packet
    from gateway_core.session import ConnectionRegistry, Session

    Event: TypeAlias = Packet | RawFrame

__all__ = ["POLICY_CLOSE", "POLICY_DROP", "FatalHandlerError", "Handler", "PacketContext",
           "Router"]

log = logging.getLogger("gateway.router")

_clock = time.perf_counter
_CoroutineType = types.CoroutineType

#: Router policy values (POLICY_BEFORE_AUTH / POLICY_AFTER_AUTH).
POLICY_CLOSE = "close"
POLICY_DROP = "drop"


class Router:
    """Dispatches decoded packets of one gateway to their handlers.

    ``known_packet`` validates registered names (``profile.by_name``); ``clients_for(plugin)``
    gives the stubs a plugin registered, ``runtime_for(plugin)`` its runtime on this
    gateway and ``records_for(plugin)`` the writer of the session records it claimed;
    ``chat_guard`` is the gateway's :class:`~gateway_core.chat_guard.ChatGuard` every context
    carries (``ctx.chat_line``).
    """

    __slots__ = (
        "_chat_guard",
        "_clients_for",
        "_connections",
        "_metrics",
        "_policy_after",
        "_policy_before",
        "_processed",
        "_received",
        "_records_for",
        "_routes",
        "_runtime_for",
        "_settings",
        "_table",
        "on_handler_error",
    )

    def __init__(
        self,
        registrations: Mapping[str, PacketRegistration],
        *,
        connections: ConnectionRegistry,
        settings: Any,
        metrics: GatewayMetrics,
        clients_for: Callable[[str], Mapping[str, Any]] = lambda plugin: {},
        runtime_for: Callable[[str], Any] = lambda plugin: None,
        records_for: Callable[[str], RecordWriter] | None = None,
        known_packet: Callable[[str], bool] | None = None,
        chat_guard: ChatGuard | None = None,
    ) -> None:
        for name, reg in registrations.items():
            if known_packet is not None and not known_packet(name):
                raise PluginError(
                    f"plugin {reg.plugin!r} registered {name}, which is not a packet type of "
                    f"profile {getattr(settings, 'PACKET_PROFILE', '?')}"
                )
        self._table: dict[str, PacketRegistration] = dict(registrations)
        # One table per state: the state guard and the lookup are one dict access.
        self._routes: dict[SessionState, dict[str, PacketRegistration]] = {
            state: {name: reg for name, reg in self._table.items() if state in reg.states}
            for state in SessionState
        }
        self._connections = connections
        self._settings = settings
        self._metrics = metrics
        self._received = metrics.received
        self._processed = metrics.processed
        self._clients_for = clients_for
        self._runtime_for = runtime_for
        self._records_for = records_for
        self._chat_guard = chat_guard
        self._policy_before = _policy(getattr(settings, "POLICY_BEFORE_AUTH", POLICY_CLOSE))
        self._policy_after = _policy(getattr(settings, "POLICY_AFTER_AUTH", POLICY_DROP))
        #: Told of every handler exception: ``on_handler_error(session, packet name, plugin)``
        #: (the capture on error); must not raise.
        self.on_handler_error: Callable[[Session, str, str], None] | None = None

    @property
    def packet_names(self) -> frozenset[str]:
        """The packet types somebody handles."""
        return frozenset(self._table)

    def context(self, session: Session, plugin: str) -> PacketContext[Any]:
        """A new context for ``plugin`` on ``session`` (the server caches it)."""
        return PacketContext(
            session,
            plugin=plugin,
            connections=self._connections,
            clients=self._clients_for(plugin),
            settings=self._settings,
            runtime=self._runtime_for(plugin),
            records=self._records_for(plugin) if self._records_for is not None else None,
            chat_guard=self._chat_guard,
        )

    async def dispatch(
        self, session: Session, name: str, event: Event, contexts: dict[str, PacketContext[Any]]
    ) -> None:
        """Run the handler of ``event`` (type ``name``) for ``session``; never raises except
        for cancellation. ``contexts`` is the connection's per-plugin context cache."""
        rest = self.dispatch_nowait(session, name, event, contexts)
        if rest is not None:
            await rest

    def dispatch_nowait(
        self, session: Session, name: str, event: Event, contexts: dict[str, PacketContext[Any]]
    ) -> Awaitable[None] | None:
        """:meth:`dispatch` without an await when the handler does not suspend.

        Runs the handler in the calling task as far as it goes. Returns ``None`` when it is
        done (metrics recorded, errors handled), else an awaitable the caller must await, in
        the same task and before dispatching anything else on this connection, to finish it
        with the same error handling. Must be called from a running task.
        """
        self._received(name)
        reg = self._routes[session.state].get(name)
        if reg is None:
            self._refuse(session, name, "wrong_state" if name in self._table else "unknown_type")
            return None
        ctx = contexts.get(reg.plugin)
        if ctx is None:
            ctx = contexts[reg.plugin] = self.context(session, reg.plugin)
        start = _clock()
        # Backend calls made by the handler carry who they are for: the session, turned into
        # metadata by the client interceptor only when a call is made.
        token = grpc_call_context.set(session) if ctx.clients else None
        suspended = False
        try:
            aw = reg.handler(ctx, event)
            if aw is None:
                pass  # a plain function that is done
            elif type(aw) is not _CoroutineType:
                suspended = True  # any other awaitable: await it the ordinary way
                return self._finish(_await(aw), reg, session, name, start, token)
            else:
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
        token: Token[CallSource | None] | None,
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
                    session.connection_id, name, exc,
                    extra={**session_fields(session), "packet": name, "plugin": reg.plugin})
        session.close(f"fatal handler error: {exc}")

    def _failed(self, reg: PacketRegistration, session: Session, name: str) -> None:
        log.exception("plugin %s raised handling %s on connection #%d", reg.plugin, name,
                      session.connection_id,
                      extra={**session_fields(session), "packet": name, "plugin": reg.plugin})
        self._metrics.handler_error(reg.plugin)
        if self.on_handler_error is not None:
            self.on_handler_error(session, name, reg.plugin)

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
