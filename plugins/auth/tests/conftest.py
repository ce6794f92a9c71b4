"""Fixtures of the auth plugin tests: a real grpc.aio server on loopback over a real database,
a SQLite file or a database on a real PostgreSQL server (``auth`` runs each test on both)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from gateway_auth.service import AuthOptions, AuthReferenceService
from gateway_auth.service.passwords import Argon2Params
from gateway_protos.v1 import auth_pb2_grpc

from gateway_core.storage import sqlite_url
from gateway_core.testing import ManualClock, drop_table, query, serve_on_loopback

#: Cheap argon2 so the suite stays fast; the production defaults are tested separately.
FAST_ARGON2 = Argon2Params(time_cost=1, memory_kib=64, parallelism=1)
SESSION_TTL = 100.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class AuthHarness:
    stub: auth_pb2_grpc.AuthAsyncStub
    clock: ManualClock
    service: AuthReferenceService
    #: The SQLite file (None on PostgreSQL).
    db_path: Path | None

    async def sql(self, statement: str, **params: Any) -> list[tuple[Any, ...]]:
        """Rows of ``statement`` read from the service's database behind its back."""
        return await query(self.service.engine, statement, **params)

    async def drop_table(self, table: str) -> None:
        """Break the service's database."""
        await drop_table(self.service.engine, table)


@contextlib.asynccontextmanager
async def serve_auth(
    tmp_path: Path, options: AuthOptions | None = None, *, url: str | None = None
) -> AsyncIterator[tuple[AuthReferenceService, str, ManualClock]]:
    """The auth service over database ``url`` (default ``tmp_path/auth.sqlite3``) on a
    loopback port, with a hand-moved clock: (service, address, clock)."""
    clock = ManualClock()
    options = options or AuthOptions(session_ttl=SESSION_TTL, argon2=FAST_ARGON2)
    url = url or sqlite_url(tmp_path / "auth.sqlite3")
    service = AuthReferenceService(url, options, clock=clock)
    async with serve_on_loopback(service, "auth") as host:
        yield service, host.address, clock


@pytest.fixture
async def auth(tmp_path: Path, database: Callable[[str], str]) -> AsyncIterator[AuthHarness]:
    url = database("auth")
    async with serve_auth(tmp_path, url=url) as (service, address, clock):
        async with grpc.aio.insecure_channel(address) as channel:
            yield AuthHarness(
                auth_pb2_grpc.AuthStub(channel),
                clock,
                service,
                tmp_path / "auth.sqlite3" if url.startswith("sqlite") else None,
            )
