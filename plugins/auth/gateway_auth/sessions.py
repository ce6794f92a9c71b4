"""The gateway side of auth sessions: ending them when their connections are gone, keeping
them alive while they are not.

Strategy: a session (issued by the auth service) outlives the connection that carries it: the
client reconnects between legs (login -> character select -> world) and keeps its character
select connection open while it plays (docs/protocol.md §10.4). So the gateway gives a session
up only when no connection of this gateway carries it any more, and only after SESSION_GRACE
seconds, re-checked when the timer fires; a join that picks the session up again cancels the
timer. A login connection that closes before server select gives its session up at once (its
id was never handed to the client). While connections carry a session, a keeper task touches it
every third of AUTH_SESSION_TTL so that a long game does not outlive the service's expiry; a
session the service no longer knows (banned, ended elsewhere) closes its connections.

Giving a session up is a release, not an end: the legs of one client may be on different
gateways (docs/protocol.md §10.5), so the auth service arbitrates. Every touch
renews this gateway's hold (a lease of AUTH_SESSION_TTL, keyed by GATEWAY_ID) and a join takes
one; ReleaseSession drops this gateway's hold, and the service ends the session only when no
other gateway holds a live lease. Logout ends the session for every gateway (:meth:`end`).

One :class:`SessionKeeper` exists per running gateway (tests run several in one process); the
lifecycle hooks find theirs by the session they are given.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

import grpc
from gateway_protos.v1 import auth_pb2

from gateway_core.api import AUTHENTICATED_STATES, Key, Session, SessionState

if TYPE_CHECKING:
    from gateway_protos.v1.auth_pb2_grpc import AuthAsyncStub

    from gateway_core.api import ConnectionRegistry, GatewayView

log = logging.getLogger("gateway.auth")

#: Set on a connection whose login succeeded but which has not selected a server yet: its
#: session id is the LOGIN-phase one, unknown to the client, so closing ends it at once.
LOGIN_PHASE = Key[bool]("auth.login_phase")

#: Longest pause between two touches of the live sessions, seconds.
MAX_TOUCH_INTERVAL = 60.0
#: Shortest pause between two touches (tests configure tiny TTLs).
MIN_TOUCH_INTERVAL = 0.05


class SessionKeeper:
    """Ends and keeps alive the auth sessions of one gateway's connections."""

    def __init__(
        self,
        connections: ConnectionRegistry,
        auth: AuthAsyncStub,
        *,
        grace: float,
        session_ttl: float,
        deadline: float,
        gateway_id: str = "",
    ) -> None:
        self.connections = connections
        self.auth = auth
        #: This gateway's id in its holds ("" = the x-gateway-id metadata of its calls).
        self.gateway_id = gateway_id
        self.grace = grace
        self.deadline = deadline
        self.touch_interval = min(MAX_TOUCH_INTERVAL, max(MIN_TOUCH_INTERVAL, session_ttl / 3))
        self._timers: dict[int, asyncio.Task[None]] = {}
        self._touch_task: asyncio.Task[None] | None = None

    @classmethod
    def for_app(cls, app: GatewayView) -> SessionKeeper | None:
        """The keeper of gateway ``app`` (None without an auth client: sessions are then
        neither ended nor kept alive, which is logged)."""
        clients = app.clients
        if "auth" not in clients:
            log.warning("auth: no auth client; sessions are not ended or kept alive")
            return None
        settings = app.settings
        return cls(
            app.connections,
            clients["auth"],
            grace=float(settings.SESSION_GRACE),
            session_ttl=float(settings.get("AUTH_SESSION_TTL", 600.0)),
            deadline=float(settings.GRPC_DEADLINE),
            gateway_id=str(getattr(app, "gateway_id", "") or ""),
        )

    def session_state_changed(
        self, session: Session, old: SessionState, new: SessionState
    ) -> None:
        """A join picked a session up: its pending end is cancelled."""
        if new in (SessionState.CHARACTER_SELECT, SessionState.IN_WORLD) and session.session_id:
            self.picked_up(session.session_id)

    def session_closed(self, session: Session) -> None:
        """A connection is gone: its session ends now (login phase) or after the grace
        period."""
        self.connection_closed(session)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start touching live sessions."""
        if self._touch_task is None:
            self._touch_task = asyncio.get_running_loop().create_task(self._touch_loop())

    async def stop(self) -> None:
        """Stop touching and release at once every session whose grace period was running
        (the gateway is going away with its connections)."""
        if self._touch_task is not None:
            self._touch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._touch_task
            self._touch_task = None
        pending = list(self._timers)
        for task in self._timers.values():
            task.cancel()
        self._timers.clear()
        if pending:
            await asyncio.gather(*(self.release(session_id) for session_id in pending))

    def connection_closed(self, session: Session) -> None:
        """A connection is gone: release its session now (login phase) or after the grace
        period when no other connection of this gateway carries it by then."""
        session_id = session.session_id
        if session_id is None:
            return
        if session.plugin_data.pop(LOGIN_PHASE):
            self._schedule(session_id, 0.0)
        else:
            self._schedule(session_id, self.grace)

    def picked_up(self, session_id: int) -> None:
        """A join carried ``session_id`` onto a new connection: no end is due any more."""
        task = self._timers.pop(session_id, None)
        if task is not None:
            task.cancel()

    # -- ending ---------------------------------------------------------------------------------

    def carriers(self, session_id: int) -> list[Session]:
        """The open connections of this gateway that carry ``session_id``."""
        return [
            s for s in self.connections
            if s.session_id == session_id and not s.closed and s.state in AUTHENTICATED_STATES
        ]

    def _schedule(self, session_id: int, delay: float) -> None:
        self.picked_up(session_id)
        task = asyncio.get_running_loop().create_task(self._end_later(session_id, delay))
        self._timers[session_id] = task

    async def _end_later(self, session_id: int, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
        finally:
            if self._timers.get(session_id) is asyncio.current_task():
                del self._timers[session_id]
        if self.carriers(session_id):
            return
        await self.release(session_id)

    async def release(self, session_id: int) -> bool:
        """Tell the auth service this gateway no longer carries ``session_id``; it ends when
        no other gateway holds it. True when it ended; False when it lives on elsewhere or the
        call failed (logged; the hold then lapses with its lease)."""
        try:
            reply = await self.auth.ReleaseSession(
                auth_pb2.ReleaseSessionRequest(session_id=session_id, gateway_id=self.gateway_id),
                timeout=self.deadline,
            )
        except grpc.aio.AioRpcError as exc:
            log.warning("could not release session %d: %s %s", session_id, exc.code().name,
                        exc.details())
            return False
        except Exception as exc:  # e.g. the channel is already closed at shutdown
            log.warning("could not release session %d: %r", session_id, exc)
            return False
        if reply.ended:
            log.debug("session %d ended", session_id)
        else:
            log.debug("session %d released; %d other gateway(s) hold it", session_id,
                      reply.holders)
        return reply.ended

    async def end(self, session_id: int) -> bool:
        """Ask the auth service to end ``session_id`` at once, for every gateway (logout);
        False (logged) when it could not."""
        try:
            await self.auth.EndSession(
                auth_pb2.EndSessionRequest(session_id=session_id), timeout=self.deadline
            )
        except grpc.aio.AioRpcError as exc:
            log.warning("could not end session %d: %s %s", session_id, exc.code().name,
                        exc.details())
            return False
        except Exception as exc:  # e.g. the channel is already closed at shutdown
            log.warning("could not end session %d: %r", session_id, exc)
            return False
        log.debug("session %d ended", session_id)
        return True

    # -- keeping alive --------------------------------------------------------------------------

    async def _touch_loop(self) -> None:
        while True:
            await asyncio.sleep(self.touch_interval)
            try:
                await self.touch_all()
            except asyncio.CancelledError:
                raise
            except Exception:  # never let the keeper die: the next round tries again
                log.exception("touching sessions failed")

    async def touch_all(self) -> None:
        """Extend every session carried by an open connection (renewing this gateway's hold);
        close the connections of a session the service no longer knows."""
        ids = {s.session_id for s in self.connections
               if s.session_id is not None and s.state in AUTHENTICATED_STATES}
        for session_id in ids:
            try:
                await self.auth.TouchSession(
                    auth_pb2.TouchSessionRequest(session_id=session_id,
                                                 gateway_id=self.gateway_id),
                    timeout=self.deadline,
                )
            except grpc.aio.AioRpcError as exc:
                if exc.code() is grpc.StatusCode.NOT_FOUND:
                    # A login-phase id disappears legitimately while its server select runs.
                    for carrier in self.carriers(session_id):
                        if LOGIN_PHASE in carrier.plugin_data:
                            continue
                        log.info("closing connection #%d: session ended by the auth service",
                                 carrier.connection_id)
                        carrier.session_id = None
                        carrier.close("session ended")
                else:
                    log.warning("could not touch session %d: %s", session_id,
                                exc.code().name)
