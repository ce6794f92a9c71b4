"""Storage of the reference services: one SQLAlchemy 2 async database per service.

Strategy: a service keeps its tables in the database its own ``<NAME>_DATABASE_URL`` setting
names, else DATABASE_URL, else one SQLite file per service under DATA_DIR
(:func:`database_url`): SQLite (aiosqlite) is the embedded default, PostgreSQL
(``postgresql+asyncpg://...``) the database of a deployment. SQLite runs in WAL mode with
``synchronous=FULL``, so a committed write is on disk before the gRPC reply leaves, with
foreign keys enforced and a busy timeout for the moments another connection writes. A
service's tables carry its name as a prefix, so several services can share one database when
DATABASE_URL points them at the same one.

Schema: a service with :class:`Migrations` (the built-in ones) gets its schema from its Alembic
revisions, applied at start (or alone by ``gateway service <name> --migrate``), on SQLite and
PostgreSQL alike; its version is kept in a table of its own (``<service>_alembic_version``), so
services sharing a database never see each other's revisions. An older database is upgraded,
never dropped. A service without migrations gets the tables of its metadata created when
missing.

:class:`DatabaseService` is the lifecycle every database-backed reference service shares: its
servicer gets :attr:`DatabaseService.sessionmaker` at construction (the gRPC server needs the
servicer before the service starts), and :meth:`~DatabaseService.start` binds that factory to
the engine it opens. A third-party plugin's service can derive from it the same way::

    class InventoryService(DatabaseService):
        def __init__(self, url: str) -> None:
            super().__init__(url, Base.metadata)
            self.servicer = InventoryServicer(self.sessionmaker)

        def add_to_server(self, server: grpc.aio.Server) -> None:
            inventory_pb2_grpc.add_InventoryServicer_to_server(self.servicer, server)

This module needs SQLAlchemy (with aiosqlite for the SQLite default); nothing else in the core
imports it, so the protocol layer and the gateway runtime stay free of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiosqlite
from sqlalchemy import URL, Connection, MetaData, event, make_url, text
from sqlalchemy.dialects.sqlite.aiosqlite import dialect as aiosqlite_dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

if TYPE_CHECKING:
    import grpc

    from gateway_core.service_host import ServiceConfig

__all__ = [
    "DatabaseService",
    "Migrations",
    "WriteQueue",
    "database_url",
    "migrate",
    "open_engine",
    "run_migrations",
    "sqlite_url",
]


def sqlite_url(path: str | Path) -> str:
    """The async SQLAlchemy URL of the SQLite file ``path`` (made absolute)."""
    return f"sqlite+aiosqlite:///{Path(path).resolve()}"


def database_url(config: ServiceConfig, own_setting: str) -> str:
    """The database of the reference service ``config.service``: the setting ``own_setting``
    (e.g. ``AUTH_DATABASE_URL``) if set, else ``config.database_url`` (DATABASE_URL, or the
    service's SQLite file under DATA_DIR), else ``<service>.sqlite3`` under ``config.data_dir``
    (the directory is created if missing)."""
    explicit = config.settings.get(own_setting)
    if explicit:
        return str(explicit)
    if config.database_url:
        return config.database_url
    directory = Path(config.data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    return sqlite_url(directory / f"{config.service}.sqlite3")


class _SQLiteConnection(aiosqlite.Connection):
    """aiosqlite's connection, with a :meth:`stop` that can be called twice.

    aiosqlite 0.22 queues a stop for its worker thread on every call, and the thread ends at
    the first: a ``close()`` that follows a ``stop()`` waits forever for the second. SQLAlchemy
    makes that sequence whenever the task closing an invalidated connection is cancelled (it
    stops the connection, while the shielded graceful close goes on), and the loop's shutdown
    then hangs on that close. Here every stop after the first answers with the first's
    future (already done, or done when the thread ends)."""

    _stopped = False
    _stop_future: asyncio.Future[Any] | None = None

    def stop(self) -> asyncio.Future[Any] | None:
        if not self._stopped:
            self._stopped = True
            self._stop_future = super().stop()
        return self._stop_future


def _sqlite_creator(url: URL) -> Callable[[], Awaitable[aiosqlite.Connection]]:
    """The ``async_creator`` of an aiosqlite engine: the arguments SQLAlchemy's aiosqlite
    dialect would pass, on a :class:`_SQLiteConnection`."""
    args, options = aiosqlite_dialect().create_connect_args(url)

    async def connect() -> aiosqlite.Connection:
        connection = _SQLiteConnection(
            functools.partial(sqlite3.connect, *args, **options), iter_chunk_size=64)
        connection._thread.daemon = True  # as the dialect does: a stuck worker never holds exit
        return await connection

    return connect


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
    finally:
        cursor.close()


class WriteQueue:
    """The write transactions of one service process over ``sessionmaker``.

    SQLite has one writer at a time anyway: this process's writers queue for it here, in the
    event loop, rather than in SQLite's busy timeout, which a burst of writes on a busy machine
    outlasts ("database is locked"); a transaction that read first and writes later cannot meet
    another writer's commit in between either. ``sqlite_lock`` (a statement that writes
    nothing) is run first in every SQLite transaction so it holds the write lock from its start
    against other processes on the file too. PostgreSQL's writers are not queued (they lock the
    rows they decide on)."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], *, sqlite_lock: str | None = None
    ) -> None:
        self._db = sessionmaker
        self._lock = asyncio.Lock()
        self._sqlite_lock = text(sqlite_lock) if sqlite_lock else None

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:
        """A write transaction (committed at the end, rolled back on an exception); on SQLite
        it waits for this process's earlier writers first."""
        async with contextlib.AsyncExitStack() as stack:
            db = await stack.enter_async_context(self._db())
            sqlite = db.get_bind().dialect.name == "sqlite"
            if sqlite:
                await stack.enter_async_context(self._lock)
            await stack.enter_async_context(db.begin())
            if sqlite and self._sqlite_lock is not None:
                await db.execute(self._sqlite_lock)
            yield db


@dataclass(frozen=True, slots=True)
class Migrations:
    """The Alembic revisions of a service: the package holding ``env.py`` and ``versions/``
    (its ``env.py`` calls :func:`run_migrations`), and the table keeping its version."""

    package: str
    version_table: str

    @property
    def script_location(self) -> str:
        """The directory of :attr:`package`."""
        module = importlib.import_module(self.package)
        return str(Path(module.__file__ or "").parent)


def _alembic_config(migrations: Migrations, connection: Connection) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", migrations.script_location)
    config.attributes["connection"] = connection
    config.attributes["version_table"] = migrations.version_table
    return config


def _upgrade(connection: Connection, migrations: Migrations) -> None:
    from alembic import command

    command.upgrade(_alembic_config(migrations, connection), "head")


def run_migrations() -> None:
    """The body of a service's Alembic ``env.py``: run the revisions on the connection
    :func:`migrate` hands over, keeping the version in the service's own table. SQLite's
    limited ALTER TABLE is worked around with Alembic's batch mode."""
    from alembic import context

    attributes = context.config.attributes
    connection: Connection = attributes["connection"]
    context.configure(
        connection=connection,
        version_table=attributes["version_table"],
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def migrate(engine: AsyncEngine, migrations: Migrations) -> None:
    """Bring the database of ``engine`` to the newest revision of ``migrations``."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade, migrations)


async def open_engine(
    url: str, metadata: MetaData, migrations: Migrations | None = None
) -> AsyncEngine:
    """Create the engine for ``url`` (SQLite: with the pragmas above on every connection) and
    bring its schema up to date: the revisions of ``migrations``, or without them the tables
    of ``metadata`` that are missing."""
    parsed = make_url(url)
    if parsed.get_driver_name() == "aiosqlite":
        engine = create_async_engine(parsed, async_creator=_sqlite_creator(parsed))
    else:
        engine = create_async_engine(parsed)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    try:
        if migrations is not None:
            await migrate(engine, migrations)
        else:
            async with engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
    except BaseException:
        await engine.dispose()
        raise
    return engine


class DatabaseService:
    """Base of a reference service (a :class:`gateway_core.service_host.ReferenceService`)
    that keeps its data in the database at ``url`` with the tables of ``metadata``.

    Subclasses create their servicer over :attr:`sessionmaker` and implement
    :meth:`add_to_server`; :meth:`start` opens the database (applying ``migrations``, or
    creating the missing tables of ``metadata`` without them) and :meth:`stop` closes it.
    """

    def __init__(
        self, url: str, metadata: MetaData, migrations: Migrations | None = None
    ) -> None:
        self.url = url
        self._metadata = metadata
        self.migrations = migrations
        self._engine: AsyncEngine | None = None
        #: Session factory for the servicer; bound to the engine by :meth:`start`.
        self.sessionmaker: async_sessionmaker[AsyncSession] = async_sessionmaker(
            expire_on_commit=False
        )

    @property
    def engine(self) -> AsyncEngine | None:
        """The open engine (None before :meth:`start` and after :meth:`stop`)."""
        return self._engine

    def add_to_server(self, server: grpc.aio.Server) -> None:
        """Register the service's servicer(s) on ``server``."""
        raise NotImplementedError

    async def start(self) -> None:
        """Open the database and bring its schema up to date."""
        self._engine = await open_engine(self.url, self._metadata, self.migrations)
        self.sessionmaker.configure(bind=self._engine)

    async def stop(self) -> None:
        """Close the database."""
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
