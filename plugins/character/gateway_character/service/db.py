"""Storage of the reference character service: its SQLAlchemy 2 async model.

The engine set-up (SQLite file under DATA_DIR by default, WAL, ``synchronous=FULL`` so a
committed create or delete is on disk before the reply, schema creation) is
:mod:`gateway_core.storage`'s, the schema the revisions in
:mod:`gateway_character.service.migrations` (a change here needs a new revision there); tables
carry a ``character_`` prefix. Fixed-size arrays
(inventory, hotbar, skills) are stored as JSON lists of integers.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Float, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


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


class StorageRow(Base):
    """The storage of an account, shared by its characters (made on its first change)."""

    __tablename__ = "character_storage"

    account_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    #: 160 ``[header, data]`` pairs.
    items: Mapped[list[list[int]]] = mapped_column(JSON)
    zuly: Mapped[int] = mapped_column(BigInteger)


class ItemRequestRow(Base):
    """A ChangeItems request applied to a character: its id and the reply it got (a
    serialized ChangeItemsReply), answered again when the id comes back."""

    __tablename__ = "character_item_requests"
    __table_args__ = (
        UniqueConstraint("character_id", "request_id", name="uq_character_item_requests"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    character_id: Mapped[int] = mapped_column(Integer)
    request_id: Mapped[str] = mapped_column(String(64))
    reply: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[float] = mapped_column(Float)
