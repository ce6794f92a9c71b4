"""Alembic revisions of the auth service's schema (``versions/``), applied at service start or by
``gateway service auth --migrate``; ``env.py`` runs them with the core's runner."""
