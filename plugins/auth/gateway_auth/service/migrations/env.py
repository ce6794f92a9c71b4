"""Alembic environment: the core's runner, on the connection the service hands over."""

from gateway_core.api import run_migrations

run_migrations()
