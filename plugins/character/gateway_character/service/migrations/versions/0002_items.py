"""Items: the storage of each account and the ChangeItems requests applied (idempotency).

A database whose tables were created from the model (as before revisions existed) is
adopted as it is.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    tables = set(sa.inspect(op.get_bind()).get_table_names())
    if "character_storage" not in tables:
        op.create_table(
            "character_storage",
            sa.Column("account_id", sa.Integer(), primary_key=True, autoincrement=False),
            sa.Column("items", sa.JSON(), nullable=False),
            sa.Column("zuly", sa.BigInteger(), nullable=False),
        )
    if "character_item_requests" not in tables:
        op.create_table(
            "character_item_requests",
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("character_id", sa.Integer(), nullable=False),
            sa.Column("request_id", sa.String(64), nullable=False),
            sa.Column("reply", sa.LargeBinary(), nullable=False),
            sa.Column("created_at", sa.Float(), nullable=False),
            sa.UniqueConstraint("character_id", "request_id",
                                name="uq_character_item_requests"),
        )


def downgrade() -> None:
    op.drop_table("character_item_requests")
    op.drop_table("character_storage")
