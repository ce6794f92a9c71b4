"""Fixtures of the auth plugin tests: a real grpc.aio server on loopback over a real SQLite file."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from gateway_auth.service import AuthOptions, AuthReferenceService
from gateway_auth.service.passwords import Argon2Params
from gateway_protos.v1 import auth_pb2_grpc

from gateway_core.storage import sqlite_url
from gateway_core.testing import ManualClock, serve_on_loopback

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
    db_path: Path


@contextlib.asynccontextmanager
async def serve_auth(
    tmp_path: Path, options: AuthOptions | None = None
) -> AsyncIterator[tuple[AuthReferenceService, str, ManualClock]]:
    """The auth service over ``tmp_path/auth.sqlite3`` on a loopback port, with a hand-moved
    clock: (service, address, clock)."""
    clock = ManualClock()
    options = options or AuthOptions(session_ttl=SESSION_TTL, argon2=FAST_ARGON2)
    db_path = tmp_path / "auth.sqlite3"
    service = AuthReferenceService(sqlite_url(db_path), options, clock=clock)
    async with serve_on_loopback(service, "auth") as host:
        yield service, host.address, clock


@pytest.fixture
async def auth(tmp_path: Path) -> AsyncIterator[AuthHarness]:
    async with serve_auth(tmp_path) as (service, address, clock):
        async with grpc.aio.insecure_channel(address) as channel:
            yield AuthHarness(
                auth_pb2_grpc.AuthStub(channel),
                clock,
                service,
                tmp_path / "auth.sqlite3",
            )
