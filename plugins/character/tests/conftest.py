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

from gateway_core.storage import sqlite_url
from gateway_core.testing import ManualClock, serve_on_loopback

DELETE_DELAY = 1000.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class CharacterHarness:
    stub: character_pb2_grpc.CharacterAsyncStub
    clock: ManualClock
    db_path: Path


@pytest.fixture
def options() -> CharacterOptions:
    return CharacterOptions(delete_delay=DELETE_DELAY, max_per_account=3)


@pytest.fixture
async def chars(tmp_path: Path, options: CharacterOptions) -> AsyncIterator[CharacterHarness]:
    clock = ManualClock()
    db_path = tmp_path / "character.sqlite3"
    service = CharacterReferenceService(sqlite_url(db_path), options, clock=clock)
    async with (
        serve_on_loopback(service, "character") as host,
        grpc.aio.insecure_channel(host.address) as channel,
    ):
        yield CharacterHarness(character_pb2_grpc.CharacterStub(channel), clock, db_path)
