"""The revisions, oldest first (Alembic reads the files; this one is skipped)."""
