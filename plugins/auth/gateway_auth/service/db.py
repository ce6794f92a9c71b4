"""Storage of the reference auth service: SQLAlchemy 2 async models and engine set-up.

Strategy: one SQLite file per service under DATA_DIR by default (``auth.sqlite3``), any
SQLAlchemy async URL otherwise. SQLite runs in WAL mode with ``synchronous=FULL`` so that a
committed write is on disk before the gRPC reply leaves; table names carry an ``auth_`` prefix so
that several services can share one database when DATABASE_URL points them at the same one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: File name of the default SQLite database under DATA_DIR.
SQLITE_FILE = "auth.sqlite3"


class Base(DeclarativeBase):
    """Declarative base of the auth tables."""


class AccountRow(Base):
    """One account. ``password_hash`` is an argon2id hash of the client's SHA-256 hex."""

    __tablename__ = "auth_accounts"
    __table_args__ = ({"sqlite_autoincrement": True},)  # never reuse ids

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    #: ``username.casefold()``: lookups and uniqueness ignore case.
    username_key: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    access_level: Mapped[int] = mapped_column(Integer, default=1)
    banned: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Float)
    last_login_at: Mapped[float] = mapped_column(Float, default=0.0)


class SessionRow(Base):
    """One session: the random id the client presents, its account, phase and expiry."""

    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("auth_accounts.id", ondelete="CASCADE"), index=True
    )
    phase: Mapped[int] = mapped_column(Integer)
    world_id: Mapped[int] = mapped_column(Integer, default=0)
    channel_id: Mapped[int] = mapped_column(Integer, default=0)
    character_id: Mapped[int] = mapped_column(Integer, default=0)
    character_name: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


def database_url(explicit: str | None, shared: str | None, data_dir: str | Path) -> str:
    """The URL to use: the service's own setting, else DATABASE_URL, else SQLite under
    ``data_dir`` (created if missing)."""
    if explicit:
        return explicit
    if shared:
        return shared
    directory = Path(data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite+aiosqlite:///{(directory / SQLITE_FILE).resolve()}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
    finally:
        cursor.close()


async def open_engine(url: str) -> AsyncEngine:
    """Create the engine for ``url`` and the schema if missing."""
    engine = create_async_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    return engine
