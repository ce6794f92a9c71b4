"""Fixtures of the character plugin tests: a real grpc.aio server on loopback over a real
database, a SQLite file or a database on a real PostgreSQL server (``chars`` runs each test on
both)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from gateway_character.service import CharacterOptions, CharacterReferenceService
from gateway_protos.v1 import character_pb2_grpc

from gateway_core.testing import ManualClock, drop_table, query, serve_on_loopback

DELETE_DELAY = 1000.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class CharacterHarness:
    stub: character_pb2_grpc.CharacterAsyncStub
    clock: ManualClock
    service: CharacterReferenceService

    async def sql(self, statement: str, **params: Any) -> list[tuple[Any, ...]]:
        """Rows of ``statement`` read from the service's database behind its back."""
        return await query(self.service.engine, statement, **params)

    async def drop_table(self, table: str) -> None:
        """Break the service's database."""
        await drop_table(self.service.engine, table)


@pytest.fixture
def options() -> CharacterOptions:
    return CharacterOptions(delete_delay=DELETE_DELAY, max_per_account=3)


@pytest.fixture
async def chars(
    options: CharacterOptions, database: Callable[[str], str]
) -> AsyncIterator[CharacterHarness]:
    clock = ManualClock()
    service = CharacterReferenceService(database("character"), options, clock=clock)
    async with (
        serve_on_loopback(service, "character") as host,
        grpc.aio.insecure_channel(host.address) as channel,
    ):
        yield CharacterHarness(character_pb2_grpc.CharacterStub(channel), clock, service)
