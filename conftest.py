"""Settings for the whole test suite (core and plugin tests alike)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from gateway_core.storage import sqlite_url
from gateway_core.testing import PostgresServer

# The suite must be deterministic: property tests draw the same examples on every run and
# machine (a failure reproduces by rerunning), and no example database is read or written.
settings.register_profile("gateway", derandomize=True, database=None, print_blob=True)
settings.load_profile("gateway")


# --- databases: every service test runs on SQLite and on a real PostgreSQL server ------------


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server for the whole run (each test gets its own database).

    Skipped, saying how to install it, where the server binaries are missing, unless
    GATEWAY_REQUIRE_POSTGRES is set (as ``.ci/run`` does): then that is a failure.
    """
    reason = PostgresServer.unavailable()
    if reason is not None:
        if os.environ.get("GATEWAY_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is required here: {reason}")
        pytest.skip(reason)
    # Not under pytest's tmp_path: its parents are private to root, and the server may run
    # as the postgres account.
    directory = tempfile.mkdtemp(prefix="gateway-postgres-")
    server = PostgresServer(directory)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], str]:
    """``database(name)``: the URL of a new empty database for a service, a SQLite file under
    ``tmp_path`` or a database on the session's PostgreSQL server (the test runs on both)."""
    if request.param == "sqlite":
        return lambda name: sqlite_url(tmp_path / f"{name}.sqlite3")
    server: PostgresServer = request.getfixturevalue("postgres")
    return lambda name: server.create_database()
