"""Storage of the reference services: one SQLAlchemy 2 async database per service.

Strategy: a service keeps its tables in the database its own ``<NAME>_DATABASE_URL`` setting
names, else DATABASE_URL, else one SQLite file per service under DATA_DIR
(:func:`database_url`). SQLite runs in WAL mode with ``synchronous=FULL``, so a committed write
is on disk before the gRPC reply leaves, with foreign keys enforced and a busy timeout for the
moments another connection writes. The schema is created on first start. A service's tables
carry its name as a prefix, so several services can share one database when DATABASE_URL points
them at the same one.

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

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import MetaData, event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

if TYPE_CHECKING:
    import grpc

    from gateway_core.service_host import ServiceConfig

__all__ = ["DatabaseService", "database_url", "open_engine", "sqlite_url"]


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


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
    finally:
        cursor.close()


async def open_engine(url: str, metadata: MetaData) -> AsyncEngine:
    """Create the engine for ``url`` (SQLite: with the pragmas above on every connection) and
    the tables of ``metadata`` that are missing."""
    engine = create_async_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    return engine


class DatabaseService:
    """Base of a reference service (a :class:`gateway_core.service_host.ReferenceService`)
    that keeps its data in the database at ``url`` with the tables of ``metadata``.

    Subclasses create their servicer over :attr:`sessionmaker` and implement
    :meth:`add_to_server`; :meth:`start` opens the database (creating the schema on first
    start) and :meth:`stop` closes it.
    """

    def __init__(self, url: str, metadata: MetaData) -> None:
        self.url = url
        self._metadata = metadata
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
        """Open the database, creating the schema on first start."""
        self._engine = await open_engine(self.url, self._metadata)
        self.sessionmaker.configure(bind=self._engine)

    async def stop(self) -> None:
        """Close the database."""
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
