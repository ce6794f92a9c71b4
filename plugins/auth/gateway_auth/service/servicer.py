"""The gRPC servicer of the reference auth service (contract: protos/.../auth.proto).

Strategy: :class:`AuthServicer` is the gRPC surface; it composes the service's two parts and
keeps the worlds: :class:`~gateway_auth.service.accounts.Accounts` (accounts, their password
check, the administration RPCs) and :class:`~gateway_auth.service.sessions.Sessions` (auth
sessions, the join binding, gateways' holds, leases, touches and releases). Both share one
argon2 worker. Every RPC validates its arguments first (a bad argument is answered with a gRPC
status and a message, never an exception), then runs one short database transaction. The slow
argon2 work runs outside any transaction in a bounded worker pool that honours the caller's gRPC
deadline (:class:`~gateway_auth.service.passwords.PasswordService`): a login that cannot get
its argon2 done in time is answered FAILED before the deadline instead of queueing for nothing.

A login is where the two parts meet: the account part checks the password (argon2, once per
login; creating the account first with AUTH_CREATE_ACCOUNT_ON_FAIL) and, best effort, rehashes
a stored hash made with other argon2 parameters than the configured ones (skipped when there is
no time left before the deadline); the session part then opens the session bound to the
verified client hash (joins check that binding without argon2, see
:mod:`gateway_auth.service.sessions`).

Login policy: an account with a live session (any phase) cannot log in again: the second login
gets ALREADY_LOGGEDIN until the first session ends (logout, grace period, TTL, ban).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable

import grpc
from gateway_protos.v1 import auth_pb2, auth_pb2_grpc
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway_auth.service.accounts import (
    Accounts,
    call_deadline,
    client_hash_argument,
    login_name_argument,
)
from gateway_auth.service.db import SQLITE_WRITE_LOCK, AccountRow
from gateway_auth.service.options import AuthOptions, WorldConfig
from gateway_auth.service.passwords import HashBusy, PasswordService
from gateway_auth.service.sessions import GATEWAY_ID_METADATA, Sessions
from gateway_auth.service.throttle import LoginAttempts, LoginThrottle
from gateway_auth.service.watchers import AccountWatchers
from gateway_core.api import ServiceError, WriteQueue, abort, abort_internal, check_gateway_id
from gateway_core.api import ServicerContext as Context

__all__ = ["GATEWAY_ID_METADATA", "AuthServicer"]

log = logging.getLogger("gateway.service.auth")

#: Seconds a gateway's account stream may be away (reconnecting) before it counts as gone.
WATCH_GRACE = 3.0


class AuthServicer(auth_pb2_grpc.AuthServicer):
    """grpc.aio implementation of the Auth service over an async SQLAlchemy session factory."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        options: AuthOptions,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._passwords = PasswordService(options.argon2, concurrency=options.hash_concurrency,
                                          pending_per_source=options.pending_per_source)
        self.throttle = LoginThrottle(options.pair_throttle, options.source_throttle)
        self._attempts = LoginAttempts()
        writes = WriteQueue(sessionmaker, sqlite_lock=SQLITE_WRITE_LOCK)  # accounts and sessions
        self._accounts = Accounts(sessionmaker, options, self._passwords, writes, clock=clock)
        #: The gateways told of every ban (WatchAccounts); a gateway whose stream ended and
        #: did not come back within WATCH_GRACE seconds is gone: its holds count for nothing.
        self.watchers = AccountWatchers()
        self.watch_grace = WATCH_GRACE
        self._sessions = Sessions(sessionmaker, options, self._passwords, writes, clock=clock,
                                  gone=lambda g: self.watchers.gone(g, self.watch_grace))
        self._worlds: dict[int, WorldConfig] = {world.id: world for world in options.worlds}

    @property
    def passwords(self) -> PasswordService:
        """The argon2 worker (its ``operations`` count shows how much argon2 ran)."""
        return self._passwords

    async def end_all_sessions(self) -> int:
        """End every session (the embedded service starts after its gateway's crash)."""
        return await self._sessions.end_all()

    def close(self) -> None:
        """End the account event streams and release the argon2 worker threads (the service
        is stopping)."""
        self.watchers.close_all(grpc.StatusCode.UNAVAILABLE, "auth service shutting down")
        self._passwords.close()

    def _world_message(self, world: WorldConfig) -> auth_pb2.WorldInfo:
        return auth_pb2.WorldInfo(
            id=world.id,
            name=world.name,
            test=world.test,
            channels=[auth_pb2.ChannelInfo(id=c.id, name=c.name) for c in world.channels],
        )

    # -- login and worlds ------------------------------------------------------------------

    async def Login(self, request: auth_pb2.LoginRequest, context: Context) -> auth_pb2.LoginReply:
        """Check credentials and open a LOGIN-phase session (see the module's login policy).

        Throttled first (:mod:`gateway_auth.service.throttle`): a login whose account and
        address, or address, failed too often lately is FAILED at once with
        ``retry_after_seconds``, without a password check."""
        username = await login_name_argument(context, request.username)
        client_hash = await client_hash_argument(context, request.password_hash)
        if len(request.source_address) > 128 or len(request.attempt_id) > 64:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                "source_address or attempt_id too long")
        source = request.source_address
        wait = self.throttle.retry_after(username, source)
        if wait > 0:
            return auth_pb2.LoginReply(result=auth_pb2.LOGIN_RESULT_FAILED,
                                       retry_after_seconds=wait)
        # Shielded: a call cancelled at its deadline (the gateway gave up) must not stop a
        # login between the opening of its session and the look at its attempt id.
        attempt = asyncio.ensure_future(self._attempt(
            username, client_hash, call_deadline(context), source, request.attempt_id))
        return await asyncio.shield(attempt)

    async def _attempt(self, username: str, client_hash: str, deadline: float | None,
                       source: str, attempt_id: str) -> auth_pb2.LoginReply:
        try:
            reply = await self._login(username, client_hash, deadline, source)
        except HashBusy as busy:
            log.warning("auth Login answered FAILED: %s", busy)
            return auth_pb2.LoginReply(result=auth_pb2.LOGIN_RESULT_FAILED)
        except SQLAlchemyError as exc:
            log.error("auth Login failed: %s", exc, exc_info=exc)
            return auth_pb2.LoginReply(result=auth_pb2.LOGIN_RESULT_FAILED)
        if reply.result in (auth_pb2.LOGIN_RESULT_INVALID_PASSWORD,
                            auth_pb2.LOGIN_RESULT_UNKNOWN_ACCOUNT):
            self.throttle.failed(username, source)
        elif reply.result == auth_pb2.LOGIN_RESULT_OK:
            self.throttle.succeeded(username, source)
            if attempt_id and not self._attempts.opened(attempt_id, reply.session_id):
                # The gateway gave up on this login while it ran: no session may stay behind.
                await self._sessions.end_id(reply.session_id)
                log.info("auth: login of user %d abandoned by its gateway; session ended",
                         reply.user_id)
                return auth_pb2.LoginReply(result=auth_pb2.LOGIN_RESULT_FAILED)
        return reply

    async def AbandonLogin(
        self, request: auth_pb2.AbandonLoginRequest, context: Context
    ) -> auth_pb2.AbandonLoginReply:
        """End the session a Login opened (or will open) under ``attempt_id``."""
        if not request.attempt_id or len(request.attempt_id) > 64:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "attempt_id must be 1-64 bytes")
        session_id = self._attempts.abandon(request.attempt_id)
        if session_id is None:
            return auth_pb2.AbandonLoginReply(ended=False)
        try:
            ended = await self._sessions.end_id(session_id)
        except SQLAlchemyError as exc:
            await abort_internal(context, log, "auth", "AbandonLogin", exc)
        return auth_pb2.AbandonLoginReply(ended=ended)

    async def _login(
        self, username: str, client_hash: str, deadline: float | None, source: str
    ) -> auth_pb2.LoginReply:
        account = await self._accounts.authenticate(username, client_hash, deadline, source)
        if not isinstance(account, AccountRow):
            return auth_pb2.LoginReply(result=account)
        rehash = await self._accounts.rehash(account, client_hash, deadline)
        return await self._sessions.open_login(account.id, client_hash, rehash)

    async def ListWorlds(
        self, request: auth_pb2.ListWorldsRequest, context: Context
    ) -> auth_pb2.ListWorldsReply:
        """Every configured world with its channels."""
        worlds = sorted(self._worlds.values(), key=lambda world: world.id)
        return auth_pb2.ListWorldsReply(worlds=[self._world_message(w) for w in worlds])

    async def ListChannels(
        self, request: auth_pb2.ListChannelsRequest, context: Context
    ) -> auth_pb2.ListChannelsReply:
        """The channels of one world; NOT_FOUND for an unknown world."""
        world = self._worlds.get(request.world_id)
        if world is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no world {request.world_id}")
        return auth_pb2.ListChannelsReply(
            world_id=world.id, channels=self._world_message(world).channels
        )

    # -- sessions (gateway_auth.service.sessions) ------------------------------------------

    async def SelectServer(
        self, request: auth_pb2.SelectServerRequest, context: Context
    ) -> auth_pb2.SelectServerReply:
        """Move a LOGIN session to CHARACTER_SELECT under a fresh random id."""
        world = self._worlds.get(request.world_id)
        if world is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no world {request.world_id}")
        if all(channel.id != request.channel_id for channel in world.channels):
            return auth_pb2.SelectServerReply(result=auth_pb2.SERVER_SELECT_RESULT_INVALID_CHANNEL)
        return await self._sessions.select_server(request, context, world)

    async def ValidateSession(
        self, request: auth_pb2.ValidateSessionRequest, context: Context
    ) -> auth_pb2.ValidateSessionReply:
        """Check a join (session id + password hash); extend the session on success.

        The hash is checked against the session's binding (no argon2); see
        :mod:`gateway_auth.service.sessions`."""
        return await self._sessions.validate(request, context)

    async def SetSessionPhase(
        self, request: auth_pb2.SetSessionPhaseRequest, context: Context
    ) -> auth_pb2.SessionInfo:
        """CHARACTER_SELECT <-> WORLD; re-asking for the current state is accepted."""
        return await self._sessions.set_phase(request, context)

    async def TouchSession(
        self, request: auth_pb2.TouchSessionRequest, context: Context
    ) -> auth_pb2.TouchSessionReply:
        """Extend a live session by AUTH_SESSION_TTL and renew the caller's hold."""
        return await self._sessions.touch(request, context)

    async def ReleaseSession(
        self, request: auth_pb2.ReleaseSessionRequest, context: Context
    ) -> auth_pb2.ReleaseSessionReply:
        """Drop the caller's hold; end the session when no other gateway holds a live lease."""
        return await self._sessions.release(request, context)

    async def ReleaseSessions(
        self, request: auth_pb2.ReleaseSessionsRequest, context: Context
    ) -> auth_pb2.ReleaseSessionsReply:
        """ReleaseSession for many sessions of the caller in one call."""
        return await self._sessions.release_many(request, context)

    async def ReleaseWorld(
        self, request: auth_pb2.ReleaseWorldRequest, context: Context
    ) -> auth_pb2.ReleaseWorldReply:
        """The session's world connection left the world."""
        return await self._sessions.release_world(request, context)

    async def EndSession(
        self, request: auth_pb2.EndSessionRequest, context: Context
    ) -> auth_pb2.EndSessionReply:
        """Delete a session whoever holds it; ``ended`` tells whether a live one existed."""
        return await self._sessions.end(request, context)

    # -- administration (gateway_auth.service.accounts) ------------------------------------

    async def CreateAccount(
        self, request: auth_pb2.CreateAccountRequest, context: Context
    ) -> auth_pb2.Account:
        """Create an account; ALREADY_EXISTS when the name is taken (ignoring case)."""
        return await self._accounts.create_account(request, context)

    async def ListAccounts(
        self, request: auth_pb2.ListAccountsRequest, context: Context
    ) -> auth_pb2.ListAccountsReply:
        """A page of accounts ordered by id, with their online flag."""
        return await self._accounts.list_accounts(request, context)

    async def SetAccessLevel(
        self, request: auth_pb2.SetAccessLevelRequest, context: Context
    ) -> auth_pb2.Account:
        """Change an account's access level."""
        return await self._accounts.set_access_level(request, context)

    async def SetBanned(
        self, request: auth_pb2.SetBannedRequest, context: Context
    ) -> auth_pb2.Account:
        """Ban (ending the account's sessions, and telling every watching gateway) or unban an
        account."""
        account = await self._accounts.set_banned(request, context)
        if request.banned:
            told = self.watchers.banned(account.user_id, account.username)
            log.info("account %s banned; %d gateway(s) told", account.username, told)
        return account

    async def WatchAccounts(
        self, request: auth_pb2.WatchAccountsRequest, context: Context
    ) -> AsyncIterator[auth_pb2.AccountEvent]:
        """The gateway's account events (bans) until it goes away."""
        try:
            gateway_id = check_gateway_id(request.gateway_id)
        except ServiceError as exc:
            await abort(context, exc)
        watcher = self.watchers.watch(gateway_id)
        log.info("auth: gateway %r watches account events", gateway_id)
        if request.started_at > 0:
            try:
                await self._sessions.release_gateway(gateway_id, request.started_at)
            except SQLAlchemyError as exc:
                log.error("auth: holds of gateway %r not released: %s", gateway_id, exc)
        try:
            async for event in watcher.drain(context, log, "auth"):
                yield event
        finally:
            self.watchers.release(watcher)
