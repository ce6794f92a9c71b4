"""The session part of the reference auth service: auth sessions, the join binding, and the holds
gateways take on them (leases, touches, releases).

(Not to be confused with :mod:`gateway_auth.sessions`, the gateway side that keeps its holds.)

Strategy: several service processes (replicas) may share one database, so correctness rests on
nothing in process memory: every write runs in one transaction that first locks the rows it
decides on (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the transaction takes the
database's write lock with its first statement, BEGIN IMMEDIATE's semantics, so its reads are
never stale). Locks are taken in one order, account -> session -> holds, so two transactions
never wait for each other in a circle. A login locks its account row: one live session per
account holds however many replicas log it in at once. A join, touch, phase change or release
locks its session row: one world carrier, and no hold lost between a release's count and its
delete. Session ids are unique by their primary key. Expired sessions are dropped lazily when met.

Argon2 runs once per login, never per join: the login binds the new session to the client hash
it verified (an HMAC under AUTH_BINDING_KEY, which replicas share, or a random key held only in
this process's memory; kept in the session row and carried over by SelectServer), and
ValidateSession compares the joining client's hash against that binding in constant time; a
wrong hash gets INVALID_PASSWORD as before. Only a session bound under another key (the service
restarted since, or another replica without the shared key bound it) is checked with argon2,
once, and re-bound. Details
and the security argument: :mod:`gateway_auth.service.passwords`.

Session life across gateways: the service, not a gateway, decides when a session carried by
several gateways ends. A join (ValidateSession) and every touch record the calling gateway's
hold (a row of ``auth_session_holds`` with a lease of AUTH_SESSION_TTL); ReleaseSession drops
the caller's hold and ends the session only when no other live hold remains. An expired lease
(a gateway that crashed) counts for nothing. EndSession and a ban end the session whoever
holds it. The holder is the request's ``gateway_id`` or, when empty, the ``x-gateway-id`` call
metadata every gateway sends (so callers that predate the field still take holds).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable

import grpc
from gateway_protos.v1 import auth_pb2
from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway_auth.service.accounts import (
    MAX_LOGIN_NAME,
    call_deadline,
    client_hash_argument,
    is_online,
)
from gateway_auth.service.db import AccountRow, SessionHoldRow, SessionRow
from gateway_auth.service.options import AuthOptions, WorldConfig
from gateway_auth.service.passwords import HashBusy, PasswordService, SessionBinder
from gateway_core.api import (
    ServiceError,
    WriteQueue,
    abort,
    abort_internal,
    check_gateway_id,
    name_error,
)
from gateway_core.api import ServicerContext as Context

__all__ = ["GATEWAY_ID_METADATA", "Sessions"]

log = logging.getLogger("gateway.service.auth")

_SESSION_ID_ATTEMPTS = 64
_PHASE_LOGIN = auth_pb2.SESSION_PHASE_LOGIN
_PHASE_SELECT = auth_pb2.SESSION_PHASE_CHARACTER_SELECT
_PHASE_WORLD = auth_pb2.SESSION_PHASE_WORLD
#: The answer to a world join while another connection plays the session's character.
_WORLD_TAKEN = auth_pb2.ValidateSessionReply(result=auth_pb2.JOIN_RESULT_FAILED)
#: Call metadata naming the calling gateway (gateway_core.backend_clients adds it to every call).
GATEWAY_ID_METADATA = "x-gateway-id"
#: Most session ids of one ReleaseSessions call.
MAX_RELEASE_IDS = 10000
#: Sessions ReleaseSessions releases per transaction (their rows stay locked for one).
RELEASE_CHUNK = 500


class Sessions:
    """The auth sessions of the service over an async SQLAlchemy session factory.

    ``passwords`` is the service's argon2 worker (a join bound under another key is checked
    with it once); the join binding key (:class:`SessionBinder`) is AUTH_BINDING_KEY's, or
    random in memory without it.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        options: AuthOptions,
        passwords: PasswordService,
        writes: WriteQueue,
        *,
        clock: Callable[[], float] = time.time,
        gone: Callable[[str], bool] = lambda gateway_id: False,
    ) -> None:
        self._db = sessionmaker
        self._writes = writes
        self._options = options
        self._passwords = passwords
        self._binder = SessionBinder(options.binding_key or None)
        self._clock = clock
        #: Whether a gateway id is known to be gone (its account stream ended and it has not
        #: come back): its holds count for nothing at a login.
        self._gone = gone

    @property
    def lease(self) -> float:
        """Seconds a hold lasts without a touch: AUTH_HOLD_LEASE, at most AUTH_SESSION_TTL."""
        return min(self._options.session_ttl, self._options.hold_lease)

    # -- helpers ---------------------------------------------------------------------------

    @staticmethod
    async def _locked_account(db: AsyncSession, account_id: int) -> AccountRow | None:
        """The account row, locked until the transaction ends (fresh, not the identity map's)."""
        query = select(AccountRow).where(AccountRow.id == account_id).with_for_update()
        result = await db.execute(query.execution_options(populate_existing=True))
        return result.scalar_one_or_none()

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
        """Record or renew ``holder``'s lease on a live session (callers lock its row)."""
        if holder is None:
            return
        expires_at = self._clock() + self.lease
        hold = await db.get(SessionHoldRow, (session_id, holder))
        if hold is None:
            db.add(SessionHoldRow(session_id=session_id, gateway_id=holder, expires_at=expires_at))
        else:
            hold.expires_at = expires_at
        await db.flush()

    async def _carry_world(self, db: AsyncSession, row: SessionRow, holder: str | None,
                           connection: str) -> bool:
        """Make ``connection`` of ``holder`` the world connection of a WORLD-phase session;
        False when another world connection of it is live (its gateway holds the session
        and is not gone). Other phases, and joins that name no connection, pass."""
        if row.phase != _PHASE_WORLD or not connection:
            return True
        carrier = f"{holder or ''}|{connection}"
        if row.world_carrier and row.world_carrier != carrier:
            other = row.world_carrier.partition("|")[0]
            hold = await db.get(SessionHoldRow, (row.id, other))
            if hold is not None and hold.expires_at > self._clock() and not self._gone(other):
                log.info("session %d: a second world join refused (its character plays on "
                         "another connection)", row.id)
                return False
        row.world_carrier = carrier
        return True

    async def release_world(self, request: auth_pb2.ReleaseWorldRequest, context: Context
                            ) -> auth_pb2.ReleaseWorldReply:
        """ReleaseWorld: the session's world connection left the world."""
        holder = await self._holder(context, request.gateway_id, required=False)
        carrier = f"{holder or ''}|{request.world_connection}"
        try:
            async with self._writes.begin() as db:
                row = await self._live_session(db, request.session_id)
                if row is None or row.world_carrier != carrier:
                    return auth_pb2.ReleaseWorldReply(released=False)
                row.world_carrier = ""
        except SQLAlchemyError as exc:
            await abort_internal(context, log, "auth", "ReleaseWorld", exc)
        return auth_pb2.ReleaseWorldReply(released=True)

    async def _take_over(self, db: AsyncSession, account_id: int, now: float) -> bool:
        """End the account's live sessions when no live gateway carries any of them (the
        gateway died or restarted): True when they were ended and the login may go on.

        A session is carried when it has a hold whose lease runs and whose gateway is not known
        to be gone; one without any hold is carried while it is younger than a lease (a login
        whose first touch has not come yet)."""
        sessions = (await db.execute(select(SessionRow).where(
            SessionRow.account_id == account_id, SessionRow.expires_at > now))).scalars().all()
        for session in sessions:
            holds = (await db.execute(select(SessionHoldRow).where(
                SessionHoldRow.session_id == session.id,
                SessionHoldRow.expires_at > now))).scalars().all()
            if any(not self._gone(hold.gateway_id) for hold in holds):
                return False
            if not holds and session.created_at > now - self.lease:
                return False
        for session in sessions:
            log.info("login of user %d takes over session %d, which no live gateway carries",
                     account_id, session.id)
            await db.delete(session)
        await db.flush()
        return True

    async def release_gateway(self, gateway_id: str, before: float) -> tuple[int, int]:
        """Drop the holds of ``gateway_id`` last renewed before ``before`` (a previous process
        of it; 0: all of them) and end the sessions left without a live hold: (holds dropped,
        sessions ended)."""
        async with self._writes.begin() as db:
            now = self._clock()
            query = select(SessionHoldRow).where(SessionHoldRow.gateway_id == gateway_id)
            if before > 0:
                query = query.where(SessionHoldRow.expires_at - self.lease < before)
            # The sessions first, in id order (the lock order), then their holds, read again
            # under those locks: another replica's touch may have renewed one meanwhile.
            candidates = set((await db.execute(
                query.with_only_columns(SessionHoldRow.session_id))).scalars())
            await db.execute(select(SessionRow.id).where(SessionRow.id.in_(candidates))
                             .order_by(SessionRow.id).with_for_update())
            holds = (await db.execute(query.execution_options(populate_existing=True))
                     ).scalars().all()
            session_ids = {hold.session_id for hold in holds}
            for hold in holds:
                await db.delete(hold)
            await db.flush()
            ended = 0
            for session_id in session_ids:
                others = (await db.execute(
                    select(func.count()).select_from(SessionHoldRow).where(
                        SessionHoldRow.session_id == session_id,
                        SessionHoldRow.expires_at > now))).scalar_one()
                session = await db.get(SessionRow, session_id)
                if session is not None and not others:
                    await db.delete(session)
                    ended += 1
        if holds:
            log.info("gateway %s restarted: %d hold(s) of its previous process released, "
                     "%d session(s) ended", gateway_id, len(holds), ended)
        return len(holds), ended

    async def _live_session(self, db: AsyncSession, session_id: int) -> SessionRow | None:
        """The session ``session_id`` if it is live, locked until the transaction ends; an
        expired one is deleted on the way."""
        row = await self._locked_session(db, session_id)
        if row is not None and row.expires_at <= self._clock():
            await db.delete(row)
            return None
        return row

    @staticmethod
    async def _locked_session(db: AsyncSession, session_id: int) -> SessionRow | None:
        """The session row (live or not), locked until the transaction ends."""
        query = select(SessionRow).where(SessionRow.id == session_id).with_for_update()
        result = await db.execute(query.execution_options(populate_existing=True))
        return result.scalar_one_or_none()

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

    # -- login ------------------------------------------------------------------------------

    async def open_login(
        self, account_id: int, client_hash: str, rehash: str | None
    ) -> auth_pb2.LoginReply:
        """Open the LOGIN-phase session of a proven login (ALREADY_LOGGEDIN while the account
        has a live session), bound to ``client_hash``; store ``rehash`` as the account's new
        password hash in the same transaction."""
        async with self._writes.begin() as db:
            # The account's lock makes concurrent logins of it (on any replica) take turns:
            # the second sees the first's session and is ALREADY_LOGGEDIN.
            row = await self._locked_account(db, account_id)
            if row is None:  # deleted meanwhile
                return auth_pb2.LoginReply(result=auth_pb2.LOGIN_RESULT_UNKNOWN_ACCOUNT)
            now = self._clock()
            await db.execute(
                delete(SessionRow).where(
                    SessionRow.account_id == account_id, SessionRow.expires_at <= now
                )
            )
            if await is_online(db, account_id, now) and not await self._take_over(
                    db, account_id, now):
                return auth_pb2.LoginReply(result=auth_pb2.LOGIN_RESULT_ALREADY_LOGGEDIN)
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

    # -- session RPCs ----------------------------------------------------------------------

    async def select_server(
        self, request: auth_pb2.SelectServerRequest, context: Context, world: WorldConfig
    ) -> auth_pb2.SelectServerReply:
        """SelectServer (on a checked world and channel): move a LOGIN session to
        CHARACTER_SELECT under a fresh random id."""
        try:
            async with self._writes.begin() as db:
                # The account before the session (the lock order): a login of the account
                # waits until the session has its new id.
                owner = (await db.execute(select(SessionRow.account_id).where(
                    SessionRow.id == request.session_id))).scalar_one_or_none()
                if owner is not None:
                    await self._locked_account(db, owner)
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

    async def validate(
        self, request: auth_pb2.ValidateSessionRequest, context: Context
    ) -> auth_pb2.ValidateSessionReply:
        """ValidateSession: check a join (session id + password hash); extend the session and
        renew the caller's hold on success.

        The hash is checked against the session's binding (no argon2); see the module doc."""
        client_hash = await client_hash_argument(context, request.password_hash)
        holder = await self._holder(context, request.gateway_id, required=False)
        invalid = auth_pb2.ValidateSessionReply(result=auth_pb2.JOIN_RESULT_INVALID_PASSWORD)
        try:
            async with self._writes.begin() as db:
                row = await self._locked_session(db, request.session_id)
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
                    if not await self._carry_world(db, row, holder, request.world_connection):
                        return _WORLD_TAKEN
                    row.expires_at = self._clock() + self._options.session_ttl
                    await db.flush()
                    await self._hold(db, row.id, holder)
                    return auth_pb2.ValidateSessionReply(
                        result=auth_pb2.JOIN_RESULT_OK, session=self._session_message(row, account)
                    )
            # Bound under another key (or not at all): argon2 once, then bind under ours.
            deadline = call_deadline(context)
            if not await self._passwords.verify(stored, client_hash, deadline=deadline):
                return invalid
            async with self._writes.begin() as db:
                row = await self._live_session(db, request.session_id)
                account = await db.get(AccountRow, row.account_id) if row is not None else None
                if row is None or account is None:  # ended while we verified
                    return invalid
                if not await self._carry_world(db, row, holder, request.world_connection):
                    return _WORLD_TAKEN
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

    async def set_phase(
        self, request: auth_pb2.SetSessionPhaseRequest, context: Context
    ) -> auth_pb2.SessionInfo:
        """SetSessionPhase: CHARACTER_SELECT <-> WORLD; re-asking for the current state is
        accepted."""
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
            async with self._writes.begin() as db:
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
                if phase == _PHASE_SELECT:
                    row.world_carrier = ""  # the character left the world
                row.expires_at = self._clock() + self._options.session_ttl
                await db.flush()
                info = self._session_message(row, account)
        except ServiceError as refused:
            await abort(context, refused)
        except SQLAlchemyError as exc:
            await abort_internal(context, log, "auth", "SetSessionPhase", exc)
        return info

    async def touch(
        self, request: auth_pb2.TouchSessionRequest, context: Context
    ) -> auth_pb2.TouchSessionReply:
        """TouchSession: extend a live session by AUTH_SESSION_TTL and renew the caller's
        hold."""
        holder = await self._holder(context, request.gateway_id, required=False)
        try:
            async with self._writes.begin() as db:
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

    async def release(
        self, request: auth_pb2.ReleaseSessionRequest, context: Context
    ) -> auth_pb2.ReleaseSessionReply:
        """ReleaseSession: drop the caller's hold; end the session when no other gateway holds
        a live lease."""
        holder = await self._holder(context, request.gateway_id, required=True)
        try:
            async with self._writes.begin() as db:
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

    async def release_many(
        self, request: auth_pb2.ReleaseSessionsRequest, context: Context
    ) -> auth_pb2.ReleaseSessionsReply:
        """ReleaseSessions: :meth:`release` for each session id, :data:`RELEASE_CHUNK` of
        them per transaction (one commit each instead of one per session), clearing the
        caller's world connections of them too."""
        holder = await self._holder(context, request.gateway_id, required=True)
        ids = list(request.session_ids)
        if len(ids) > MAX_RELEASE_IDS:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                f"more than {MAX_RELEASE_IDS} session ids")
        ended: set[int] = set()
        try:
            for start in range(0, len(ids), RELEASE_CHUNK):
                async with self._writes.begin() as db:
                    ended |= await self._release_in(db, set(ids[start:start + RELEASE_CHUNK]),
                                                    holder or "")
        except SQLAlchemyError as exc:
            await abort_internal(context, log, "auth", "ReleaseSessions", exc)
        return auth_pb2.ReleaseSessionsReply(ended=[i in ended for i in ids])

    async def _release_in(self, db: AsyncSession, ids: set[int], holder: str) -> set[int]:
        """:meth:`release` of each of ``ids`` in one transaction, a few statements for all of
        them (not a few per session): the ids of the sessions that ended."""
        now = self._clock()
        rows = (await db.execute(
            select(SessionRow).where(SessionRow.id.in_(ids)).order_by(SessionRow.id)
            .with_for_update().execution_options(populate_existing=True))).scalars().all()
        live: set[int] = set()
        for row in rows:
            if row.expires_at <= now:  # as _live_session: an expired one goes on the way
                await db.delete(row)
                continue
            live.add(row.id)
            if row.world_carrier.partition("|")[0] == holder:
                row.world_carrier = ""  # its world connections on this gateway are gone
        if not live:
            return set()
        # Expired leases go too: a gateway that stopped touching holds nothing.
        await db.execute(delete(SessionHoldRow).where(
            SessionHoldRow.session_id.in_(live),
            or_(SessionHoldRow.gateway_id == holder, SessionHoldRow.expires_at <= now)))
        held = set((await db.execute(select(SessionHoldRow.session_id).where(
            SessionHoldRow.session_id.in_(live)).distinct())).scalars())
        ended = live - held
        if ended:
            await db.execute(delete(SessionRow).where(SessionRow.id.in_(ended)))
        return ended

    async def end_all(self) -> int:
        """Delete every session (their holds go with them); how many there were."""
        async with self._writes.begin() as db:
            count = (await db.execute(select(func.count()).select_from(SessionRow))).scalar_one()
            await db.execute(delete(SessionHoldRow))
            await db.execute(delete(SessionRow))
        return int(count)

    async def end_id(self, session_id: int) -> bool:
        """Delete session ``session_id`` (whoever holds it); whether a live one existed."""
        async with self._writes.begin() as db:
            row = await self._live_session(db, session_id)
            if row is not None:
                await db.delete(row)
        return row is not None

    async def end(
        self, request: auth_pb2.EndSessionRequest, context: Context
    ) -> auth_pb2.EndSessionReply:
        """EndSession: delete a session whoever holds it; ``ended`` tells whether a live one
        existed."""
        try:
            async with self._writes.begin() as db:
                row = await self._live_session(db, request.session_id)
                if row is not None:
                    await db.delete(row)
        except SQLAlchemyError as exc:
            await abort_internal(context, log, "auth", "EndSession", exc)
        return auth_pb2.EndSessionReply(ended=row is not None)
