"""Fixtures of the character plugin tests: a real grpc.aio server on loopback over a real
SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from gateway_character.service import CharacterOptions, CharacterReferenceService
from gateway_protos.v1 import character_pb2_grpc

DELETE_DELAY = 1000.0


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
class CharacterHarness:
    stub: character_pb2_grpc.CharacterAsyncStub
    clock: FakeClock
    db_path: Path


@pytest.fixture
def options() -> CharacterOptions:
    return CharacterOptions(delete_delay=DELETE_DELAY, max_per_account=3)


@pytest.fixture
async def chars(tmp_path: Path, options: CharacterOptions) -> AsyncIterator[CharacterHarness]:
    clock = FakeClock()
    db_path = tmp_path / "character.sqlite3"
    service = CharacterReferenceService(f"sqlite+aiosqlite:///{db_path}", options, clock=clock)
    await service.start()
    server = grpc.aio.server()
    service.add_to_server(server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield CharacterHarness(character_pb2_grpc.CharacterStub(channel), clock, db_path)
    finally:
        await channel.close()
        await server.stop(None)
        await service.stop()
