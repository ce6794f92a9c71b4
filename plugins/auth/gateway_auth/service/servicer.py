"""The gRPC servicer of the reference auth service (contract: protos/.../auth.proto).

Strategy: every RPC validates its arguments first (a bad argument is answered with a gRPC status
and a message, never an exception), then runs one short database transaction. The slow argon2
work runs outside any transaction in a bounded worker pool that honours the caller's gRPC
deadline (:class:`~gateway_auth.service.passwords.PasswordService`): a login that cannot get
its argon2 done in time is answered FAILED before the deadline instead of queueing for nothing.
Check-then-insert steps (one live session per account, unique random session ids) run under one
asyncio lock, which is enough because a database file belongs to one service process. Expired
sessions are dropped lazily when met.

Argon2 runs once per login, never per join: the login binds the new session to the client hash
it verified (an HMAC under a key held only in memory, kept in the session row and carried over
by SelectServer), and ValidateSession compares the joining client's hash against that binding
in constant time; a wrong hash gets INVALID_PASSWORD as before. Only a session bound under
another key (the service restarted since) is checked with argon2, once, and re-bound. Details
and the security argument: :mod:`gateway_auth.service.passwords`. A login also rehashes a
stored hash made with other argon2 parameters than the configured ones (best effort: skipped
when there is no time left before the deadline).

Login policy: an account with a live session (any phase) cannot log in again: the second login
gets ALREADY_LOGGEDIN until the first session ends (logout, grace period, TTL, ban).

Session life across gateways: the service, not a gateway, decides when a session carried by
several gateways ends. A join (ValidateSession) and every touch record the calling gateway's
hold (a row of ``auth_session_holds`` with a lease of AUTH_SESSION_TTL); ReleaseSession drops
the caller's hold and ends the session only when no other live hold remains. An expired lease
(a gateway that crashed) counts for nothing. EndSession and a ban end the session whoever
holds it. The holder is the request's ``gateway_id`` or, when empty, the ``x-gateway-id`` call
metadata every gateway sends (so callers that predate the field still take holds).
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from collections.abc import Callable

import grpc
from gateway_protos.v1 import auth_pb2, auth_pb2_grpc
from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway_auth.service.db import AccountRow, SessionHoldRow, SessionRow
from gateway_auth.service.options import AuthOptions, WorldConfig
from gateway_auth.service.passwords import (
    HashBusy,
    PasswordService,
    SessionBinder,
    normalize_client_hash,
)
from gateway_core.service_errors import (
    Context,
    ServiceError,
    abort,
    abort_internal,
    check_gateway_id,
    name_error,
)

log = logging.getLogger("gateway.service.auth")

#: Longest username accepted in a login (anything longer cannot exist).
MAX_LOGIN_NAME = 64
#: Usernames of new accounts.
USERNAME_RE = re.compile(r"[A-Za-z0-9_.\-]{1,32}")
#: Largest access level (PAKLC_LOGIN_REPLY.right is a u16).
MAX_ACCESS_LEVEL = 0xFFFF
#: Largest page of ListAccounts.
MAX_PAGE = 1000
_SESSION_ID_ATTEMPTS = 64

_PHASE_LOGIN = auth_pb2.SESSION_PHASE_LOGIN
_PHASE_SELECT = auth_pb2.SESSION_PHASE_CHARACTER_SELECT
_PHASE_WORLD = auth_pb2.SESSION_PHASE_WORLD
#: Call metadata naming the calling gateway (gateway_core.backend_clients adds it to every call).
GATEWAY_ID_METADATA = "x-gateway-id"
#: A remaining time above this means the call has no deadline (seconds).
_NO_DEADLINE = 1e9


def _deadline(context: Context) -> float | None:
    """The caller's deadline as a :func:`time.monotonic` instant (None: it set none)."""
    remaining = context.time_remaining()
    if remaining is None or remaining > _NO_DEADLINE:
        return None
    return time.monotonic() + max(0.0, remaining)


class AuthServicer(auth_pb2_grpc.AuthServicer):
    """grpc.aio implementation of the Auth service over an async SQLAlchemy session factory."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        options: AuthOptions,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = sessionmaker
        self._options = options
        self._passwords = PasswordService(options.argon2, concurrency=options.hash_concurrency)
        self._binder = SessionBinder()
        self._clock = clock
        self._lock = asyncio.Lock()
        self._worlds: dict[int, WorldConfig] = {world.id: world for world in options.worlds}

    @property
    def passwords(self) -> PasswordService:
        """The argon2 worker (its ``operations`` count shows how much argon2 ran)."""
        return self._passwords

    def close(self) -> None:
        """Release the argon2 worker threads (the service is stopping)."""
        self._passwords.close()

    # -- helpers ---------------------------------------------------------------------------

    async def _client_hash(self, context: Context, value: str) -> str:
        normalized = normalize_client_hash(value)
        if normalized is None:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "password_hash must be the 64-character hex SHA-256 of the password",
            )
        return normalized

    async def _login_name(self, context: Context, value: str) -> str:
        error = name_error(value, "username", MAX_LOGIN_NAME)
        if error is not None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, error)
        return value

    async def _holder(self, context: Context, explicit: str, *, required: bool) -> str | None:
        """The gateway a session call is for: ``explicit`` or the x-gateway-id metadata (None
        when neither is there and it is not ``required``)."""
        value = explicit
        if not value:
            for key, item in context.invocation_metadata() or ():
                if key == GATEWAY_ID_METADATA and isinstance(item, str):
                    value = item
        if not value and not required:
            return None
        try:
            return check_gateway_id(value)
        except ServiceError as refused:
            await abort(context, refused)

    async def _hold(self, db: AsyncSession, session_id: int, holder: str | None) -> None:
        """Record or renew ``holder``'s lease on a live session (callers hold ``_lock``)."""
        if holder is None:
            return
        expires_at = self._clock() + self._options.session_ttl
        hold = await db.get(SessionHoldRow, (session_id, holder))
        if hold is None:
            db.add(SessionHoldRow(session_id=session_id, gateway_id=holder, expires_at=expires_at))
        else:
            hold.expires_at = expires_at
        await db.flush()

    async def _account_by_name(self, db: AsyncSession, username: str) -> AccountRow | None:
        result = await db.execute(
            select(AccountRow).where(AccountRow.username_key == username.casefold())
        )
        return result.scalar_one_or_none()

    async def _live_session(self, db: AsyncSession, session_id: int) -> SessionRow | None:
        """The session ``session_id`` if it is live; an expired one is deleted on the way."""
        row = await db.get(SessionRow, session_id)
        if row is not None and row.expires_at <= self._clock():
            await db.delete(row)
            return None
        return row

    async def _new_session_id(self, db: AsyncSession) -> int:
        """A random non-zero u32 that no live session uses (expired holders are dropped)."""
        for _ in range(_SESSION_ID_ATTEMPTS):
            candidate = secrets.randbits(32)
            if candidate == 0:
                continue
            existing = await db.get(SessionRow, candidate)
            if existing is None:
                return candidate
            if existing.expires_at <= self._clock():
                await db.delete(existing)
                await db.flush()
                return candidate
        raise RuntimeError("could not find a free session id")

    def _account_message(self, row: AccountRow, online: bool) -> auth_pb2.Account:
        return auth_pb2.Account(
            user_id=row.id,
            username=row.username,
            access_level=row.access_level,
            banned=row.banned,
            online=online,
            created_at=int(row.created_at),
            last_login_at=int(row.last_login_at),
        )

    async def _is_online(self, db: AsyncSession, account_id: int) -> bool:
        result = await db.execute(
            select(func.count())
            .select_from(SessionRow)
            .where(SessionRow.account_id == account_id, SessionRow.expires_at > self._clock())
        )
        return bool(result.scalar_one())

    def _session_message(self, session: SessionRow, account: AccountRow) -> auth_pb2.SessionInfo:
        return auth_pb2.SessionInfo(
            session_id=session.id,
            user_id=account.id,
            username=account.username,
            access_level=account.access_level,
            phase=session.phase,  # type: ignore[arg-type]
            world_id=session.world_id,
            channel_id=session.channel_id,
            character_id=session.character_id,
            character_name=session.character_name,
            expires_at=session.expires_at,
        )

    def _world_message(self, world: WorldConfig) -> auth_pb2.WorldInfo:
        return auth_pb2.WorldInfo(
            id=world.id,
            name=world.name,
            test=world.test,
            channels=[auth_pb2.ChannelInfo(id=c.id, name=c.name) for c in world.channels],
        )

    # -- login and worlds ------------------------------------------------------------------

    async def Login(self, request: auth_pb2.LoginRequest, context: Context) -> auth_pb2.LoginReply:
        """Check credentials and open a LOGIN-phase session (see the module's login policy)."""
        username = await self._login_name(context, request.username)
        client_hash = await self._client_hash(context, request.password_hash)
        try:
            return await self._login(username, client_hash, _deadline(context))
        except HashBusy as busy:
            log.warning("auth Login answered FAILED: %s", busy)
            return auth_pb2.LoginReply(result=auth_pb2.LOGIN_RESULT_FAILED)
        except SQLAlchemyError as exc:
            log.error("auth Login failed: %s", exc, exc_info=exc)
            return auth_pb2.LoginReply(result=auth_pb2.LOGIN_RESULT_FAILED)

    async def _login(
        self, username: str, client_hash: str, deadline: float | None
    ) -> auth_pb2.LoginReply:
        verify = self._passwords.verify
        async with self._db() as db:
            account = await self._account_by_name(db, username)
        if account is None:
            if not self._options.create_account_on_fail or USERNAME_RE.fullmatch(username) is None:
                return auth_pb2.LoginReply(result=auth_pb2.LOGIN_RESULT_UNKNOWN_ACCOUNT)
            account = await self._create_account_row(
                username, client_hash, self._options.default_access_level, deadline
            )
            if account is None:  # created concurrently by someone else: check as usual
                async with self._db() as db:
                    account = await self._account_by_name(db, username)
                if account is None:
                    return auth_pb2.LoginReply(result=auth_pb2.LOGIN_RESULT_FAILED)
                if not await verify(account.password_hash, client_hash, deadline=deadline):
                    return auth_pb2.LoginReply(result=auth_pb2.LOGIN_RESULT_INVALID_PASSWORD)
        elif not await verify(account.password_hash, client_hash, deadline=deadline):
            return auth_pb2.LoginReply(result=auth_pb2.LOGIN_RESULT_INVALID_PASSWORD)
        if account.banned or account.access_level < 1:
            return auth_pb2.LoginReply(result=auth_pb2.LOGIN_RESULT_NO_RIGHT_TO_CONNECT)
        rehash = None
        if self._passwords.needs_rehash(account.password_hash):
            try:
                rehash = await self._passwords.hash(client_hash, deadline=deadline)
            except HashBusy:  # the login itself is proven: the rehash waits for the next one
                log.info("login of user %d: rehash postponed (no time left)", account.id)
        async with self._lock, self._db() as db, db.begin():
            now = self._clock()
            await db.execute(
                delete(SessionRow).where(
                    SessionRow.account_id == account.id, SessionRow.expires_at <= now
                )
            )
            if await self._is_online(db, account.id):
                return auth_pb2.LoginReply(result=auth_pb2.LOGIN_RESULT_ALREADY_LOGGEDIN)
            row = await db.get(AccountRow, account.id)
            if row is None:  # deleted meanwhile
                return auth_pb2.LoginReply(result=auth_pb2.LOGIN_RESULT_UNKNOWN_ACCOUNT)
            row.last_login_at = now
            if rehash is not None:
                row.password_hash = rehash
            session_id = await self._new_session_id(db)
            db.add(
                SessionRow(
                    id=session_id,
                    account_id=row.id,
                    phase=_PHASE_LOGIN,
                    world_id=0,
                    channel_id=0,
                    character_id=0,
                    character_name="",
                    created_at=now,
                    expires_at=now + self._options.session_ttl,
                    password_binding=self._binder.bind(row.id, row.password_hash, client_hash),
                )
            )
            reply = auth_pb2.LoginReply(
                result=auth_pb2.LOGIN_RESULT_OK,
                user_id=row.id,
                username=row.username,
                access_level=row.access_level,
                session_id=session_id,
            )
        log.info("login ok: user %d", reply.user_id)
        return reply

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

    # -- sessions --------------------------------------------------------------------------

    async def SelectServer(
        self, request: auth_pb2.SelectServerRequest, context: Context
    ) -> auth_pb2.SelectServerReply:
        """Move a LOGIN session to CHARACTER_SELECT under a fresh random id."""
        world = self._worlds.get(request.world_id)
        if world is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no world {request.world_id}")
        if all(channel.id != request.channel_id for channel in world.channels):
            return auth_pb2.SelectServerReply(result=auth_pb2.SERVER_SELECT_RESULT_INVALID_CHANNEL)
        try:
            async with self._lock, self._db() as db, db.begin():
                old = await self._live_session(db, request.session_id)
                if old is None:
                    raise ServiceError(
                        grpc.StatusCode.NOT_FOUND, "no such session (ended or expired)"
                    )
                if old.phase != _PHASE_LOGIN:
                    raise ServiceError(
                        grpc.StatusCode.FAILED_PRECONDITION, "server already selected"
                    )
                account_id = old.account_id
                binding = old.password_binding
                await db.delete(old)
                await db.flush()
                now = self._clock()
                session_id = await self._new_session_id(db)
                db.add(
                    SessionRow(
                        id=session_id,
                        account_id=account_id,
                        phase=_PHASE_SELECT,
                        world_id=world.id,
                        channel_id=request.channel_id,
                        character_id=0,
                        character_name="",
                        created_at=now,
                        expires_at=now + self._options.session_ttl,
                        password_binding=binding,
                    )
                )
        except ServiceError as refused:
            await abort(context, refused)
        except SQLAlchemyError as exc:
            log.error("auth SelectServer failed: %s", exc, exc_info=exc)
            return auth_pb2.SelectServerReply(result=auth_pb2.SERVER_SELECT_RESULT_FAILED)
        return auth_pb2.SelectServerReply(
            result=auth_pb2.SERVER_SELECT_RESULT_OK, session_id=session_id
        )

    async def ValidateSession(
        self, request: auth_pb2.ValidateSessionRequest, context: Context
    ) -> auth_pb2.ValidateSessionReply:
        """Check a join (session id + password hash); extend the session on success.

        The hash is checked against the session's binding (no argon2); see the module doc."""
        client_hash = await self._client_hash(context, request.password_hash)
        holder = await self._holder(context, request.gateway_id, required=False)
        invalid = auth_pb2.ValidateSessionReply(result=auth_pb2.JOIN_RESULT_INVALID_PASSWORD)
        try:
            async with self._lock, self._db() as db, db.begin():
                row = await db.get(SessionRow, request.session_id)
                if row is None or row.phase == _PHASE_LOGIN:
                    return invalid
                if row.expires_at <= self._clock():
                    await db.delete(row)
                    return auth_pb2.ValidateSessionReply(result=auth_pb2.JOIN_RESULT_TIME_OUT)
                account = await db.get(AccountRow, row.account_id)
                if account is None or account.banned:
                    return invalid
                stored = account.password_hash
                bound = self._binder.check(row.password_binding, account.id, stored, client_hash)
                if bound is False:
                    return invalid
                if bound:
                    row.expires_at = self._clock() + self._options.session_ttl
                    await db.flush()
                    await self._hold(db, row.id, holder)
                    return auth_pb2.ValidateSessionReply(
                        result=auth_pb2.JOIN_RESULT_OK, session=self._session_message(row, account)
                    )
            # Bound under another key (or not at all): argon2 once, then bind under ours.
            if not await self._passwords.verify(stored, client_hash, deadline=_deadline(context)):
                return invalid
            async with self._lock, self._db() as db, db.begin():
                row = await self._live_session(db, request.session_id)
                account = await db.get(AccountRow, row.account_id) if row is not None else None
                if row is None or account is None:  # ended while we verified
                    return invalid
                row.expires_at = self._clock() + self._options.session_ttl
                if account.password_hash == stored:
                    row.password_binding = self._binder.bind(account.id, stored, client_hash)
                await db.flush()
                await self._hold(db, row.id, holder)
                info = self._session_message(row, account)
        except HashBusy as busy:
            log.warning("auth ValidateSession answered FAILED: %s", busy)
            return auth_pb2.ValidateSessionReply(result=auth_pb2.JOIN_RESULT_FAILED)
        except SQLAlchemyError as exc:
            log.error("auth ValidateSession failed: %s", exc, exc_info=exc)
            return auth_pb2.ValidateSessionReply(result=auth_pb2.JOIN_RESULT_FAILED)
        return auth_pb2.ValidateSessionReply(result=auth_pb2.JOIN_RESULT_OK, session=info)

    async def SetSessionPhase(
        self, request: auth_pb2.SetSessionPhaseRequest, context: Context
    ) -> auth_pb2.SessionInfo:
        """CHARACTER_SELECT <-> WORLD; re-asking for the current state is accepted."""
        phase = request.phase
        if phase == _PHASE_WORLD:
            error = name_error(request.character_name, "character_name", MAX_LOGIN_NAME)
            if request.character_id == 0:
                error = "character_id is required for WORLD"
            if error is not None:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, error)
        elif phase == _PHASE_SELECT:
            if request.character_id or request.character_name:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    "CHARACTER_SELECT takes no character",
                )
        else:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "phase must be CHARACTER_SELECT or WORLD"
            )
        try:
            async with self._db() as db, db.begin():
                row = await self._live_session(db, request.session_id)
                if row is None:
                    raise ServiceError(
                        grpc.StatusCode.NOT_FOUND, "no such session (ended or expired)"
                    )
                same = (row.phase, row.character_id) == (phase, request.character_id)
                allowed = {(_PHASE_SELECT, _PHASE_WORLD), (_PHASE_WORLD, _PHASE_SELECT)}
                if not same and (row.phase, phase) not in allowed:
                    raise ServiceError(
                        grpc.StatusCode.FAILED_PRECONDITION,
                        f"cannot move a session from {auth_pb2.SessionPhase.Name(row.phase)} "
                        f"to {auth_pb2.SessionPhase.Name(phase)}",
                    )
                account = await db.get(AccountRow, row.account_id)
                if account is None:
                    raise ServiceError(grpc.StatusCode.NOT_FOUND, "the session's account is gone")
                row.phase = phase
                row.character_id = request.character_id
                row.character_name = request.character_name
                row.expires_at = self._clock() + self._options.session_ttl
                await db.flush()
                info = self._session_message(row, account)
        except ServiceError as refused:
            await abort(context, refused)
        except SQLAlchemyError as exc:
            await abort_internal(context, log, "auth", "SetSessionPhase", exc)
        return info

    async def TouchSession(
        self, request: auth_pb2.TouchSessionRequest, context: Context
    ) -> auth_pb2.TouchSessionReply:
        """Extend a live session by AUTH_SESSION_TTL and renew the caller's hold."""
        holder = await self._holder(context, request.gateway_id, required=False)
        try:
            async with self._lock, self._db() as db, db.begin():
                row = await self._live_session(db, request.session_id)
                if row is None:
                    raise ServiceError(
                        grpc.StatusCode.NOT_FOUND, "no such session (ended or expired)"
                    )
                row.expires_at = self._clock() + self._options.session_ttl
                expires_at = row.expires_at
                await self._hold(db, row.id, holder)
        except ServiceError as refused:
            await abort(context, refused)
        except SQLAlchemyError as exc:
            await abort_internal(context, log, "auth", "TouchSession", exc)
        return auth_pb2.TouchSessionReply(expires_at=expires_at)

    async def ReleaseSession(
        self, request: auth_pb2.ReleaseSessionRequest, context: Context
    ) -> auth_pb2.ReleaseSessionReply:
        """Drop the caller's hold; end the session when no other gateway holds a live lease."""
        holder = await self._holder(context, request.gateway_id, required=True)
        try:
            async with self._lock, self._db() as db, db.begin():
                row = await self._live_session(db, request.session_id)
                if row is None:
                    return auth_pb2.ReleaseSessionReply(ended=False)
                # Expired leases go too: a gateway that stopped touching holds nothing.
                await db.execute(
                    delete(SessionHoldRow).where(
                        SessionHoldRow.session_id == row.id,
                        or_(
                            SessionHoldRow.gateway_id == holder,
                            SessionHoldRow.expires_at <= self._clock(),
                        ),
                    )
                )
                others = (
                    await db.execute(
                        select(func.count())
                        .select_from(SessionHoldRow)
                        .where(SessionHoldRow.session_id == row.id)
                    )
                ).scalar_one()
                if others:
                    log.debug("session %d released by %s, held by %d more", row.id, holder,
                              others)
                    return auth_pb2.ReleaseSessionReply(ended=False, holders=others)
                await db.delete(row)
        except SQLAlchemyError as exc:
            await abort_internal(context, log, "auth", "ReleaseSession", exc)
        log.debug("session %d released by %s: ended", request.session_id, holder)
        return auth_pb2.ReleaseSessionReply(ended=True)

    async def EndSession(
        self, request: auth_pb2.EndSessionRequest, context: Context
    ) -> auth_pb2.EndSessionReply:
        """Delete a session whoever holds it; ``ended`` tells whether a live one existed."""
        try:
            async with self._db() as db, db.begin():
                row = await self._live_session(db, request.session_id)
                if row is not None:
                    await db.delete(row)
        except SQLAlchemyError as exc:
            await abort_internal(context, log, "auth", "EndSession", exc)
        return auth_pb2.EndSessionReply(ended=row is not None)

    # -- administration --------------------------------------------------------------------

    async def _create_account_row(
        self, username: str, client_hash: str, access_level: int, deadline: float | None
    ) -> AccountRow | None:
        """Insert an account; None when the name is taken. :class:`HashBusy` when its hash
        cannot be made before ``deadline``."""
        stored = await self._passwords.hash(client_hash, deadline=deadline)
        try:
            async with self._db() as db, db.begin():
                row = AccountRow(
                    username=username,
                    username_key=username.casefold(),
                    password_hash=stored,
                    access_level=access_level,
                    banned=False,
                    created_at=self._clock(),
                    last_login_at=0.0,
                )
                db.add(row)
                await db.flush()
        except IntegrityError:
            return None
        log.info("account created: user %d", row.id)
        return row

    async def CreateAccount(
        self, request: auth_pb2.CreateAccountRequest, context: Context
    ) -> auth_pb2.Account:
        """Create an account; ALREADY_EXISTS when the name is taken (ignoring case)."""
        if USERNAME_RE.fullmatch(request.username) is None:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "username must be 1-32 letters, digits, '_', '-' or '.'",
            )
        client_hash = await self._client_hash(context, request.password_hash)
        if request.access_level > MAX_ACCESS_LEVEL:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"access_level above {MAX_ACCESS_LEVEL}"
            )
        try:
            row = await self._create_account_row(
                request.username, client_hash, request.access_level, _deadline(context)
            )
        except HashBusy as busy:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"try again later: {busy}")
        except SQLAlchemyError as exc:
            await abort_internal(context, log, "auth", "CreateAccount", exc)
        if row is None:
            await context.abort(
                grpc.StatusCode.ALREADY_EXISTS, f"username {request.username!r} is taken"
            )
        return self._account_message(row, online=False)

    async def ListAccounts(
        self, request: auth_pb2.ListAccountsRequest, context: Context
    ) -> auth_pb2.ListAccountsReply:
        """A page of accounts ordered by id, with their online flag."""
        limit = request.limit or MAX_PAGE
        if limit > MAX_PAGE:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"limit above {MAX_PAGE}")
        try:
            async with self._db() as db:
                total = (
                    await db.execute(select(func.count()).select_from(AccountRow))
                ).scalar_one()
                rows = (
                    (
                        await db.execute(
                            select(AccountRow)
                            .order_by(AccountRow.id)
                            .offset(request.offset)
                            .limit(limit)
                        )
                    )
                    .scalars()
                    .all()
                )
                online_ids = set(
                    (
                        await db.execute(
                            select(SessionRow.account_id).where(
                                SessionRow.expires_at > self._clock()
                            )
                        )
                    ).scalars()
                )
        except SQLAlchemyError as exc:
            await abort_internal(context, log, "auth", "ListAccounts", exc)
        return auth_pb2.ListAccountsReply(
            accounts=[self._account_message(row, row.id in online_ids) for row in rows],
            total=total,
        )

    async def _update_account(
        self,
        context: Context,
        rpc: str,
        username: str,
        change: Callable[[AccountRow], None],
        *,
        end_sessions: bool = False,
    ) -> auth_pb2.Account:
        await self._login_name(context, username)
        try:
            async with self._db() as db, db.begin():
                row = await self._account_by_name(db, username)
                if row is None:
                    raise ServiceError(grpc.StatusCode.NOT_FOUND, f"no account {username!r}")
                change(row)
                if end_sessions:
                    await db.execute(delete(SessionRow).where(SessionRow.account_id == row.id))
                await db.flush()
                message = self._account_message(row, await self._is_online(db, row.id))
        except ServiceError as refused:
            await abort(context, refused)
        except SQLAlchemyError as exc:
            await abort_internal(context, log, "auth", rpc, exc)
        return message

    async def SetAccessLevel(
        self, request: auth_pb2.SetAccessLevelRequest, context: Context
    ) -> auth_pb2.Account:
        """Change an account's access level."""
        if request.access_level > MAX_ACCESS_LEVEL:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"access_level above {MAX_ACCESS_LEVEL}"
            )

        def change(row: AccountRow) -> None:
            row.access_level = request.access_level

        return await self._update_account(context, "SetAccessLevel", request.username, change)

    async def SetBanned(
        self, request: auth_pb2.SetBannedRequest, context: Context
    ) -> auth_pb2.Account:
        """Ban (ending the account's sessions) or unban an account."""

        def change(row: AccountRow) -> None:
            row.banned = request.banned

        return await self._update_account(
            context, "SetBanned", request.username, change, end_sessions=request.banned
        )
