"""Baseline: the characters of the character service.

A database made before the schema had revisions (the table created from the model by releases
up to this one) is adopted as it is.

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

_INTS = ("race", "stone", "face", "hair", "level", "job", "str", "dex", "int", "con", "charm",
         "sense", "hp", "mp")
_BIG = ("xp", "stat_points", "skill_points", "penalty_xp")


def upgrade() -> None:
    if "character_characters" in set(sa.inspect(op.get_bind()).get_table_names()):
        return
    op.create_table(
        "character_characters",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("name_key", sa.String(64), nullable=False, unique=True),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _INTS),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in _BIG),
        sa.Column("stamina", sa.Integer(), nullable=False),
        sa.Column("money", sa.BigInteger(), nullable=False),
        sa.Column("map_id", sa.Integer(), nullable=False),
        sa.Column("x", sa.Float(), nullable=False),
        sa.Column("y", sa.Float(), nullable=False),
        sa.Column("spawn", sa.Integer(), nullable=False),
        sa.Column("inventory", sa.JSON(), nullable=False),
        sa.Column("hotbar", sa.JSON(), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("delete_at", sa.Float(), nullable=True),
        sqlite_autoincrement=True,  # never reuse ids
    )
    op.create_index("ix_character_characters_account_id", "character_characters",
                    ["account_id"])
    op.create_index("ix_character_characters_delete_at", "character_characters", ["delete_at"])


def downgrade() -> None:
    op.drop_table("character_characters")
