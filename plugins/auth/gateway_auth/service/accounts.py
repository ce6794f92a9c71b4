"""The account part of the reference auth service: accounts, their password check, and the
administration RPCs (create, list, ban/unban, set access level).

Strategy: as in the rest of the service (:mod:`gateway_auth.service.servicer`), every RPC
validates its arguments first (a bad argument is answered with a gRPC status and a message,
never an exception), then runs one short database transaction. The slow argon2 work (a new
account's hash, a login's check and rehash) runs outside any transaction in the bounded worker
pool of :class:`~gateway_auth.service.passwords.PasswordService`, which honours the caller's
gRPC deadline (:func:`call_deadline`). An account is *online* while it has a live session
(:func:`is_online`); a ban ends the account's sessions in the same transaction.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable

import grpc
from gateway_protos.v1 import auth_pb2
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway_auth.service.db import AccountRow, SessionRow
from gateway_auth.service.options import AuthOptions
from gateway_auth.service.passwords import HashBusy, PasswordService, normalize_client_hash
from gateway_core.api import ServiceError, WriteQueue, abort, abort_internal, name_error
from gateway_core.api import ServicerContext as Context

__all__ = [
    "MAX_ACCESS_LEVEL",
    "MAX_LOGIN_NAME",
    "MAX_PAGE",
    "USERNAME_RE",
    "Accounts",
    "call_deadline",
    "client_hash_argument",
    "is_online",
    "login_name_argument",
]

log = logging.getLogger("gateway.service.auth")

#: Longest username accepted in a login (anything longer cannot exist).
MAX_LOGIN_NAME = 64
#: Usernames of new accounts.
USERNAME_RE = re.compile(r"[A-Za-z0-9_.\-]{1,32}")
#: Largest access level (PAKLC_LOGIN_REPLY.right is a u16).
MAX_ACCESS_LEVEL = 0xFFFF
#: Largest page of ListAccounts.
MAX_PAGE = 1000
#: A remaining time above this means the call has no deadline (seconds).
_NO_DEADLINE = 1e9


def call_deadline(context: Context) -> float | None:
    """The caller's deadline as a :func:`time.monotonic` instant (None: it set none)."""
    remaining = context.time_remaining()
    if remaining is None or remaining > _NO_DEADLINE:
        return None
    return time.monotonic() + max(0.0, remaining)


async def client_hash_argument(context: Context, value: str) -> str:
    """``value`` as a normalized client password hash; aborts INVALID_ARGUMENT otherwise."""
    normalized = normalize_client_hash(value)
    if normalized is None:
        await context.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            "password_hash must be the 64-character hex SHA-256 of the password",
        )
    return normalized


async def login_name_argument(context: Context, value: str) -> str:
    """``value`` if it can be a username; aborts INVALID_ARGUMENT otherwise."""
    error = name_error(value, "username", MAX_LOGIN_NAME)
    if error is not None:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, error)
    return value


async def is_online(db: AsyncSession, account_id: int, now: float) -> bool:
    """Whether the account has a session live at ``now``."""
    result = await db.execute(
        select(func.count())
        .select_from(SessionRow)
        .where(SessionRow.account_id == account_id, SessionRow.expires_at > now)
    )
    return bool(result.scalar_one())


class Accounts:
    """The accounts of the auth service over an async SQLAlchemy session factory.

    ``passwords`` is the service's argon2 worker (shared with the session part, which checks
    a join with argon2 once after a restart).
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        options: AuthOptions,
        passwords: PasswordService,
        writes: WriteQueue,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = sessionmaker
        self._writes = writes
        self._options = options
        self._passwords = passwords
        self._clock = clock

    # -- helpers ---------------------------------------------------------------------------

    async def by_name(self, db: AsyncSession, username: str) -> AccountRow | None:
        """The account named ``username`` (ignoring case), if any."""
        result = await db.execute(
            select(AccountRow).where(AccountRow.username_key == username.casefold())
        )
        return result.scalar_one_or_none()

    def message(self, row: AccountRow, online: bool) -> auth_pb2.Account:
        """``row`` as the administration RPCs show it (never its password)."""
        return auth_pb2.Account(
            user_id=row.id,
            username=row.username,
            access_level=row.access_level,
            banned=row.banned,
            online=online,
            created_at=int(row.created_at),
            last_login_at=int(row.last_login_at),
        )

    async def create_row(
        self, username: str, client_hash: str, access_level: int, deadline: float | None,
        source: str = "",
    ) -> AccountRow | None:
        """Insert an account; None when the name is taken. :class:`HashBusy` when its hash
        cannot be made before ``deadline``."""
        stored = await self._passwords.hash(client_hash, deadline=deadline, source=source)
        try:
            async with self._writes.begin() as db:
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

    # -- the password check of a login -----------------------------------------------------

    async def authenticate(
        self, username: str, client_hash: str, deadline: float | None, source: str = ""
    ) -> AccountRow | auth_pb2.LoginResult:
        """The account a login may open a session for, or the ``LoginResult`` refusing it.

        Creates the account on a failed lookup when AUTH_CREATE_ACCOUNT_ON_FAIL is set. The
        right to connect (not banned, access level >= 1) is only revealed to the right
        password. :class:`HashBusy` when argon2 cannot be done before ``deadline``."""
        def verify(stored: str, client_hash: str, *, deadline: float | None) -> Awaitable[bool]:
            return self._passwords.verify(stored, client_hash, deadline=deadline, source=source)

        async with self._db() as db:
            account = await self.by_name(db, username)
        if account is None:
            if not self._options.create_account_on_fail or USERNAME_RE.fullmatch(username) is None:
                return auth_pb2.LOGIN_RESULT_UNKNOWN_ACCOUNT
            account = await self.create_row(
                username, client_hash, self._options.default_access_level, deadline, source
            )
            if account is None:  # created concurrently by someone else: check as usual
                async with self._db() as db:
                    account = await self.by_name(db, username)
                if account is None:
                    return auth_pb2.LOGIN_RESULT_FAILED
                if not await verify(account.password_hash, client_hash, deadline=deadline):
                    return auth_pb2.LOGIN_RESULT_INVALID_PASSWORD
        elif not await verify(account.password_hash, client_hash, deadline=deadline):
            return auth_pb2.LOGIN_RESULT_INVALID_PASSWORD
        if account.banned or account.access_level < 1:
            return auth_pb2.LOGIN_RESULT_NO_RIGHT_TO_CONNECT
        return account

    async def rehash(
        self, account: AccountRow, client_hash: str, deadline: float | None
    ) -> str | None:
        """A new stored hash for a proven login when the stored one was made with other argon2
        parameters than the configured ones; None when it needs none or there is no time left
        before ``deadline`` (the rehash waits for the next login)."""
        if not self._passwords.needs_rehash(account.password_hash):
            return None
        try:
            return await self._passwords.hash(client_hash, deadline=deadline)
        except HashBusy:  # the login itself is proven: the rehash waits for the next one
            log.info("login of user %d: rehash postponed (no time left)", account.id)
            return None

    # -- administration RPCs ---------------------------------------------------------------

    async def create_account(
        self, request: auth_pb2.CreateAccountRequest, context: Context
    ) -> auth_pb2.Account:
        """CreateAccount: ALREADY_EXISTS when the name is taken (ignoring case)."""
        if USERNAME_RE.fullmatch(request.username) is None:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "username must be 1-32 letters, digits, '_', '-' or '.'",
            )
        client_hash = await client_hash_argument(context, request.password_hash)
        if request.access_level > MAX_ACCESS_LEVEL:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"access_level above {MAX_ACCESS_LEVEL}"
            )
        try:
            row = await self.create_row(
                request.username, client_hash, request.access_level, call_deadline(context)
            )
        except HashBusy as busy:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"try again later: {busy}")
        except SQLAlchemyError as exc:
            await abort_internal(context, log, "auth", "CreateAccount", exc)
        if row is None:
            await context.abort(
                grpc.StatusCode.ALREADY_EXISTS, f"username {request.username!r} is taken"
            )
        return self.message(row, online=False)

    async def list_accounts(
        self, request: auth_pb2.ListAccountsRequest, context: Context
    ) -> auth_pb2.ListAccountsReply:
        """ListAccounts: a page of accounts ordered by id, with their online flag."""
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
            accounts=[self.message(row, row.id in online_ids) for row in rows],
            total=total,
        )

    async def _update(
        self,
        context: Context,
        rpc: str,
        username: str,
        change: Callable[[AccountRow], None],
        *,
        end_sessions: bool = False,
    ) -> auth_pb2.Account:
        await login_name_argument(context, username)
        try:
            async with self._writes.begin() as db:
                row = await self.by_name(db, username)
                if row is None:
                    raise ServiceError(grpc.StatusCode.NOT_FOUND, f"no account {username!r}")
                change(row)
                if end_sessions:
                    await db.execute(delete(SessionRow).where(SessionRow.account_id == row.id))
                await db.flush()
                message = self.message(row, await is_online(db, row.id, self._clock()))
        except ServiceError as refused:
            await abort(context, refused)
        except SQLAlchemyError as exc:
            await abort_internal(context, log, "auth", rpc, exc)
        return message

    async def set_access_level(
        self, request: auth_pb2.SetAccessLevelRequest, context: Context
    ) -> auth_pb2.Account:
        """SetAccessLevel: change an account's access level."""
        if request.access_level > MAX_ACCESS_LEVEL:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"access_level above {MAX_ACCESS_LEVEL}"
            )

        def change(row: AccountRow) -> None:
            row.access_level = request.access_level

        return await self._update(context, "SetAccessLevel", request.username, change)

    async def set_banned(
        self, request: auth_pb2.SetBannedRequest, context: Context
    ) -> auth_pb2.Account:
        """SetBanned: ban (ending the account's sessions) or unban an account."""

        def change(row: AccountRow) -> None:
            row.banned = request.banned

        return await self._update(
            context, "SetBanned", request.username, change, end_sessions=request.banned
        )
