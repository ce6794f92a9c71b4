"""Alembic revisions of the character service's schema (``versions/``), applied at service
start or by ``gateway service character --migrate``; ``env.py`` runs them with the core's
runner."""
