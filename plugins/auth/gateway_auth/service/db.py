"""Storage of the reference auth service: its SQLAlchemy 2 async models.

The engine set-up (SQLite file under DATA_DIR by default or PostgreSQL, WAL and
``synchronous=FULL`` on SQLite) is :mod:`gateway_core.storage`'s; the schema is the revisions
in :mod:`gateway_auth.service.migrations` (a change here needs a new revision there). Table
names carry an ``auth_`` prefix so that several services can share one database when
DATABASE_URL points them at the same one.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: A 64-bit integer column (session ids are random u32s, past PostgreSQL's INTEGER); SQLite's
#: INTEGER already is one, and stays the type its existing files have.
Int64 = BigInteger().with_variant(Integer(), "sqlite")


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
    """One session: the random id the client presents, its account, phase, expiry and the
    binding of the client hash its login verified."""

    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(Int64, primary_key=True, autoincrement=False)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("auth_accounts.id", ondelete="CASCADE"), index=True
    )
    phase: Mapped[int] = mapped_column(Integer)
    world_id: Mapped[int] = mapped_column(Integer, default=0)
    channel_id: Mapped[int] = mapped_column(Integer, default=0)
    character_id: Mapped[int] = mapped_column(Int64, default=0)
    character_name: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
    #: The client hash the login verified, bound under the service's in-memory key (see
    #: :class:`gateway_auth.service.passwords.SessionBinder`); "" = none.
    password_binding: Mapped[str] = mapped_column(String(96), default="", server_default="")
    #: ``"<gateway id>|<connection>"`` of the connection playing the session's character
    #: ("" when none does).
    world_carrier: Mapped[str] = mapped_column(String(160), default="", server_default="")


class SessionHoldRow(Base):
    """A gateway's hold on a session: that gateway carries connections of it until
    ``expires_at`` (its lease, renewed by its touches). A session ends on a release only when
    no other live hold remains; the rows go with their session (ON DELETE CASCADE)."""

    __tablename__ = "auth_session_holds"

    session_id: Mapped[int] = mapped_column(
        Int64,
        ForeignKey("auth_sessions.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )
    gateway_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[float] = mapped_column(Float)


#: SQLite: a write as a transaction's first statement takes the database's write lock (waiting
#: up to the busy timeout) before anything is read, as BEGIN IMMEDIATE would; the driver
#: begins the transaction only at a write, so reads before one would see no transaction at all.
SQLITE_WRITE_LOCK = "UPDATE auth_accounts SET id = id WHERE 0"
