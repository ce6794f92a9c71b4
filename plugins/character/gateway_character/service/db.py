"""Storage of the reference character service: SQLAlchemy 2 async model and engine set-up.

Strategy: as for the auth service, one SQLite file under DATA_DIR by default
(``character.sqlite3``) in WAL mode with ``synchronous=FULL`` (a committed create or delete is on
disk before the reply), any SQLAlchemy async URL otherwise; tables carry a ``character_``
prefix. Fixed-size arrays (inventory, hotbar, skills) are stored as JSON lists of integers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, Integer, String, event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: File name of the default SQLite database under DATA_DIR.
SQLITE_FILE = "character.sqlite3"


class Base(DeclarativeBase):
    """Declarative base of the character tables."""


class CharacterRow(Base):
    """One character and its saved state."""

    __tablename__ = "character_characters"
    __table_args__ = ({"sqlite_autoincrement": True},)  # never reuse ids

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(Integer, index=True)
    name: Mapped[str] = mapped_column(String(64))
    #: ``name.casefold()``: names are unique ignoring case.
    name_key: Mapped[str] = mapped_column(String(64), unique=True)
    race: Mapped[int] = mapped_column(Integer)
    stone: Mapped[int] = mapped_column(Integer)
    face: Mapped[int] = mapped_column(Integer)
    hair: Mapped[int] = mapped_column(Integer)
    level: Mapped[int] = mapped_column(Integer)
    job: Mapped[int] = mapped_column(Integer)
    str_: Mapped[int] = mapped_column("str", Integer)
    dex: Mapped[int] = mapped_column(Integer)
    int_: Mapped[int] = mapped_column("int", Integer)
    con: Mapped[int] = mapped_column(Integer)
    charm: Mapped[int] = mapped_column(Integer)
    sense: Mapped[int] = mapped_column(Integer)
    hp: Mapped[int] = mapped_column(Integer)
    mp: Mapped[int] = mapped_column(Integer)
    xp: Mapped[int] = mapped_column(BigInteger)
    stat_points: Mapped[int] = mapped_column(BigInteger)
    skill_points: Mapped[int] = mapped_column(BigInteger)
    penalty_xp: Mapped[int] = mapped_column(BigInteger)
    stamina: Mapped[int] = mapped_column(Integer)
    money: Mapped[int] = mapped_column(BigInteger)
    map_id: Mapped[int] = mapped_column(Integer)
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    spawn: Mapped[int] = mapped_column(Integer)
    #: 140 ``[header, data]`` pairs.
    inventory: Mapped[list[list[int]]] = mapped_column(JSON)
    #: 32 HotbarItem values.
    hotbar: Mapped[list[int]] = mapped_column(JSON)
    #: 120 skill ids.
    skills: Mapped[list[int]] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float)
    #: When a pending deletion takes effect (Unix seconds); None = not pending.
    delete_at: Mapped[float | None] = mapped_column(Float, nullable=True, index=True)


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
