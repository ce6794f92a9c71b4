"""Settings for the whole test suite (core and plugin tests alike)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from hypothesis import settings

from gateway_core.storage import sqlite_url
from gateway_core.testing import PostgresServer

# The suite must be deterministic: property tests draw the same examples on every run and
# machine (a failure reproduces by rerunning), and no example database is read or written.
settings.register_profile("gateway", derandomize=True, database=None, print_blob=True)
settings.load_profile("gateway")


# --- a test that hangs says where: every asyncio task's stack ---------------------------------


def _await_chain(task: asyncio.Task[Any]) -> list[str]:
    """Where a task waits: each coroutine (or generator) of its chain of awaits, outermost
    first (``Task.print_stack`` shows only the outermost frame of a suspended task)."""
    lines: list[str] = []
    awaited: Any = task.get_coro()
    while awaited is not None and len(lines) < 40:
        frame = (getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
                 or getattr(awaited, "ag_frame", None))
        if frame is not None:
            code = frame.f_code
            lines.append(f"  {code.co_filename}:{frame.f_lineno} in {code.co_name}")
        awaited = (getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
                   or getattr(awaited, "ag_await", None))
    return lines


def _dump_tasks() -> None:
    """Print where every task of the running event loop waits (pytest-timeout shows only the
    threads, and a hung async test is always idle in the loop's select)."""
    try:
        tasks = asyncio.all_tasks()
    except RuntimeError:
        return  # no loop runs in this thread
    print(f"\n+++ {len(tasks)} asyncio tasks at the timeout +++", file=sys.stderr)
    for task in tasks:
        print(f"--- {task.get_name()}", file=sys.stderr)
        print("\n".join(_await_chain(task)), file=sys.stderr)


@pytest.hookimpl(hookwrapper=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> Generator[None, Any, None]:
    """pytest-timeout's SIGALRM handler, preceded by the dump of the asyncio tasks."""
    yield
    if getattr(settings, "method", None) != "signal":
        return
    timed_out = signal.getsignal(signal.SIGALRM)
    if not callable(timed_out):
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        _dump_tasks()
        timed_out(signum, frame)

    signal.signal(signal.SIGALRM, handler)


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
