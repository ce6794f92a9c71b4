"""The world connection of each session (one world connection per session and character).

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
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("auth_sessions")}
    if "world_carrier" not in columns:
        with op.batch_alter_table("auth_sessions") as batch:
            batch.add_column(sa.Column("world_carrier", sa.String(160), nullable=False,
                                       server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("auth_sessions") as batch:
        batch.drop_column("world_carrier")
