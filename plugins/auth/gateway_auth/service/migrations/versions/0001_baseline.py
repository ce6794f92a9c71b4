"""Baseline: the accounts, sessions and session holds of the auth service.

A database made before the schema had revisions (the tables created from the models, by
releases up to this one) is adopted as it is: what is missing is added (the holds table, the
sessions' ``password_binding`` column), nothing is dropped or rewritten.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

#: A 64-bit integer (session ids are random u32s); SQLite's INTEGER already is one.
INT64 = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    bind = op.get_bind()
    tables = set(sa.inspect(bind).get_table_names())
    if "auth_accounts" not in tables:
        op.create_table(
            "auth_accounts",
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("username", sa.String(64), nullable=False),
            sa.Column("username_key", sa.String(64), nullable=False),
            sa.Column("password_hash", sa.String(255), nullable=False),
            sa.Column("access_level", sa.Integer(), nullable=False),
            sa.Column("banned", sa.Boolean(), nullable=False),
            sa.Column("created_at", sa.Float(), nullable=False),
            sa.Column("last_login_at", sa.Float(), nullable=False),
            sqlite_autoincrement=True,  # never reuse ids
        )
        op.create_index(
            "ix_auth_accounts_username_key", "auth_accounts", ["username_key"], unique=True
        )
    if "auth_sessions" not in tables:
        op.create_table(
            "auth_sessions",
            sa.Column("id", INT64, primary_key=True, autoincrement=False),
            sa.Column(
                "account_id",
                sa.Integer(),
                sa.ForeignKey("auth_accounts.id", ondelete="CASCADE"),
                nullable=False,
            ),
            sa.Column("phase", sa.Integer(), nullable=False),
            sa.Column("world_id", sa.Integer(), nullable=False),
            sa.Column("channel_id", sa.Integer(), nullable=False),
            sa.Column("character_id", INT64, nullable=False),
            sa.Column("character_name", sa.String(64), nullable=False),
            sa.Column("created_at", sa.Float(), nullable=False),
            sa.Column("expires_at", sa.Float(), nullable=False),
            sa.Column("password_binding", sa.String(96), nullable=False, server_default=""),
        )
        op.create_index("ix_auth_sessions_account_id", "auth_sessions", ["account_id"])
        op.create_index("ix_auth_sessions_expires_at", "auth_sessions", ["expires_at"])
    else:
        columns = {c["name"] for c in sa.inspect(bind).get_columns("auth_sessions")}
        if "password_binding" not in columns:
            op.add_column(
                "auth_sessions",
                sa.Column("password_binding", sa.String(96), nullable=False, server_default=""),
            )
    if "auth_session_holds" not in tables:
        op.create_table(
            "auth_session_holds",
            sa.Column(
                "session_id",
                INT64,
                sa.ForeignKey("auth_sessions.id", ondelete="CASCADE"),
                primary_key=True,
                autoincrement=False,
            ),
            sa.Column("gateway_id", sa.String(64), primary_key=True),
            sa.Column("expires_at", sa.Float(), nullable=False),
        )


def downgrade() -> None:
    op.drop_table("auth_session_holds")
    op.drop_table("auth_sessions")
    op.drop_table("auth_accounts")
