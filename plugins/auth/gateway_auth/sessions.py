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

A ban must not wait for the next touch: the keeper keeps a ``WatchAccounts`` stream open to the
auth service (:class:`BanWatch`), which pushes every ban to every gateway, and closes the banned
account's connections on this gateway as soon as it is told.

One :class:`SessionKeeper` exists per running gateway (tests run several in one process); the
lifecycle hooks find theirs by the session they are given.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import grpc
from gateway_protos.v1 import auth_pb2
from prometheus_client import Counter

from gateway_auth.tokens import refusal_counter
from gateway_core.api import (
    AUTHENTICATED_STATES,
    Key,
    ReconnectingStream,
    Session,
    SessionState,
    server_message,
)

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
#: What a banned player is told before its connection closes.
BANNED_MESSAGE = "This account has been banned."
#: Sessions per ReleaseSessions call of :meth:`SessionKeeper.release_all`.
RELEASE_BATCH = 1000


class BanWatch(ReconnectingStream):
    """Keeps the gateway's ``WatchAccounts`` stream to the auth service open and hands every
    ban (a user id) to ``on_banned``. An auth service without the RPC (UNIMPLEMENTED) is
    logged once and not asked again: bans then take effect at the next touch."""

    def __init__(self, auth: AuthAsyncStub, gateway_id: str,
                 on_banned: Callable[[int], None], *, max_backoff: float = 5.0) -> None:
        super().__init__(label="auth: account stream", callback_label="auth: ban",
                         task_name=f"auth-watch-{gateway_id}", logger=log,
                         max_backoff=max_backoff)
        self._auth = auth
        self.gateway_id = gateway_id
        self._on_banned = on_banned
        self.unsupported = False
        #: This process's start (the service releases the holds of earlier ones).
        self.started_at = time.time()

    async def stream_once(self) -> None:
        call = self._auth.WatchAccounts(
            auth_pb2.WatchAccountsRequest(gateway_id=self.gateway_id,
                                          started_at=self.started_at))
        try:
            async for event in call:
                if event.HasField("watching"):
                    self.connections += 1
                    self._ready.set()
                elif event.HasField("banned"):
                    await self.dispatch(self._on_banned, event.banned.user_id)
        except grpc.aio.AioRpcError as exc:
            if exc.code() is not grpc.StatusCode.UNIMPLEMENTED:
                raise
            self.unsupported = True
            log.warning("auth: the auth service has no WatchAccounts; bans take effect at "
                        "the next session touch")
            await asyncio.Event().wait()  # never ask again; ends when cancelled
        finally:
            call.cancel()


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
        hold_lease: float = 60.0,
    ) -> None:
        self.connections = connections
        self.auth = auth
        #: This gateway's id in its holds ("" = the x-gateway-id metadata of its calls).
        self.gateway_id = gateway_id
        self.grace = grace
        self.deadline = deadline
        self.touch_interval = min(MAX_TOUCH_INTERVAL,
                                  max(MIN_TOUCH_INTERVAL, min(session_ttl, hold_lease) / 3))
        self._timers: dict[int, asyncio.Task[None]] = {}
        self._touch_task: asyncio.Task[None] | None = None
        #: The world service's stub, when this gateway has one (see :meth:`for_app`).
        self.world: Any = None
        #: Refused token logins on this gateway (``gateway_auth_token_refusals_total``).
        self.token_refusals: Any = None
        #: Logins this gateway answered FAILED without asking the auth service's password
        #: check: ``gateway_auth_logins_refused_total{reason}`` (throttled, abandoned).
        self.login_refusals: Any = None
        #: The stream telling this gateway of bans (needs a gateway id to watch with).
        self.bans = BanWatch(auth, gateway_id, self.banned) if gateway_id else None

    @classmethod
    def for_app(cls, app: GatewayView) -> SessionKeeper | None:
        """The keeper of gateway ``app`` (None without an auth client: sessions are then
        neither ended nor kept alive, which is logged)."""
        clients = app.clients
        if "auth" not in clients:
            log.warning("auth: no auth client; sessions are not ended or kept alive")
            return None
        settings = app.settings
        keeper = cls(
            app.connections,
            clients["auth"],
            grace=float(settings.SESSION_GRACE),
            session_ttl=float(settings.get("AUTH_SESSION_TTL", 600.0)),
            hold_lease=float(settings.get("AUTH_HOLD_LEASE", 60.0)),
            deadline=settings.call_deadline("auth"),
            gateway_id=str(getattr(app, "gateway_id", "") or ""),
        )
        # The world client, when a world plugin declared one (the core shares one channel per
        # service): the channel list shows the players of each channel from it.
        keeper.world = clients.get("world")
        keeper.token_refusals = refusal_counter(app.metrics_registry)
        keeper.login_refusals = Counter(
            "gateway_auth_logins_refused",
            "Logins answered FAILED because the auth service throttled them (too many failed "
            "logins of the account from the address, or from the address) or because the "
            "call failed (then abandoned, so no session stays behind), by reason.",
            ["reason"], registry=app.metrics_registry)
        return keeper

    async def abandon(self, attempt_id: str) -> None:
        """Tell the auth service a login answered FAILED is given up (best effort: a session
        it opened is ended now, or as soon as it opens)."""
        try:
            await self.auth.AbandonLogin(auth_pb2.AbandonLoginRequest(attempt_id=attempt_id),
                                         timeout=self.deadline)
        except grpc.aio.AioRpcError as exc:
            log.warning("auth: could not abandon login attempt %s: %s", attempt_id,
                        exc.code().name)

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
        """Start touching live sessions and watching for bans."""
        if self._touch_task is None:
            self._touch_task = asyncio.get_running_loop().create_task(self._touch_loop())
        if self.bans is not None:
            self.bans.start()

    async def stop(self) -> None:
        """Stop touching and watching, and release at once every session whose grace period
        was running (the gateway is going away with its connections)."""
        if self.bans is not None:
            await self.bans.aclose()
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
            await self.release_all(pending)

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

    async def release_all(self, session_ids: list[int]) -> None:
        """:meth:`release` many sessions in ReleaseSessions calls of :data:`RELEASE_BATCH`
        (one commit per batch in the service instead of one per session: thousands at a
        shutdown fit its deadline); a service without that call gets one ReleaseSession per
        session. Best effort like :meth:`release`: a failure is logged, the holds lapse."""
        for start in range(0, len(session_ids), RELEASE_BATCH):
            chunk = session_ids[start:start + RELEASE_BATCH]
            try:
                await self.auth.ReleaseSessions(
                    auth_pb2.ReleaseSessionsRequest(session_ids=chunk, gateway_id=self.gateway_id),
                    timeout=self.deadline)
            except grpc.aio.AioRpcError as exc:
                if exc.code() is grpc.StatusCode.UNIMPLEMENTED:
                    await asyncio.gather(*(self.release(session_id) for session_id in chunk))
                else:
                    log.warning("could not release %d sessions: %s %s", len(chunk),
                                exc.code().name, exc.details())
            except Exception as exc:  # e.g. the channel is already closed at shutdown
                log.warning("could not release %d sessions: %r", len(chunk), exc)

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

    def banned(self, user_id: int) -> None:
        """Account ``user_id`` was banned (its sessions are already ended): tell its
        connections on this gateway, and close them."""
        for session in list(self.connections.by_user_id(user_id)):
            if session.closed:
                continue
            log.info("closing connection #%d: account %d banned", session.connection_id,
                     user_id)
            session.session_id = None  # ended by the service: nothing to release
            session.send(server_message(BANNED_MESSAGE))
            session.close("account banned")

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
