"""Fixtures of the auth plugin tests: a real grpc.aio server on loopback over a real SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from gateway_auth.service import AuthOptions, AuthReferenceService
from gateway_auth.service.passwords import Argon2Params
from gateway_protos.v1 import auth_pb2_grpc

#: Cheap argon2 so the suite stays fast; the production defaults are tested separately.
FAST_ARGON2 = Argon2Params(time_cost=1, memory_kib=64, parallelism=1)
SESSION_TTL = 100.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeClock:
    """The service's time source (the one boundary these tests replace): moved by hand."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class AuthHarness:
    stub: auth_pb2_grpc.AuthAsyncStub
    clock: FakeClock
    service: AuthReferenceService
    db_path: Path


async def start_auth(
    tmp_path: Path, options: AuthOptions | None = None
) -> tuple[AuthReferenceService, grpc.aio.Server, str, FakeClock]:
    """Start the auth service on a loopback port; returns (service, server, address, clock)."""
    clock = FakeClock()
    options = options or AuthOptions(session_ttl=SESSION_TTL, argon2=FAST_ARGON2)
    db_path = tmp_path / "auth.sqlite3"
    service = AuthReferenceService(f"sqlite+aiosqlite:///{db_path}", options, clock=clock)
    await service.start()
    server = grpc.aio.server()
    service.add_to_server(server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return service, server, f"127.0.0.1:{port}", clock


@pytest.fixture
async def auth(tmp_path: Path) -> AsyncIterator[AuthHarness]:
    service, server, address, clock = await start_auth(tmp_path)
    channel = grpc.aio.insecure_channel(address)
    try:
        yield AuthHarness(
            auth_pb2_grpc.AuthStub(channel),
            clock,
            service,
            tmp_path / "auth.sqlite3",
        )
    finally:
        await channel.close()
        await server.stop(None)
        await service.stop()
