"""Two character service processes' worth of servicers on one PostgreSQL database (two real
grpc.aio servers, one database): conflicting creates at once on both replicas keep the rules
that one process keeps with its own lock. The per-account limit holds exactly, and a name
asked for on both wins once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from gateway_character.service import CharacterOptions, CharacterReferenceService
from gateway_protos.v1 import character_pb2 as c
from gateway_protos.v1 import character_pb2_grpc

from gateway_core.testing import PostgresServer, serve_on_loopback

pytestmark = pytest.mark.anyio
LIMIT = 3


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def replicas(
    postgres: PostgresServer,
) -> AsyncIterator[list[character_pb2_grpc.CharacterAsyncStub]]:
    url = postgres.create_database()
    options = CharacterOptions(delete_delay=1000.0, max_per_account=LIMIT)
    one, two = CharacterReferenceService(url, options), CharacterReferenceService(url, options)
    async with (
        serve_on_loopback(one, "character") as first,
        serve_on_loopback(two, "character") as second,
        grpc.aio.insecure_channel(first.address) as a,
        grpc.aio.insecure_channel(second.address) as b,
    ):
        yield [character_pb2_grpc.CharacterStub(a), character_pb2_grpc.CharacterStub(b)]


async def create(stub: character_pb2_grpc.CharacterAsyncStub, account: int, name: str) -> int:
    reply = await stub.CreateCharacter(
        c.CreateCharacterRequest(account_id=account, name=name, race=0), timeout=30
    )
    return int(reply.result)


async def test_the_per_account_limit_holds_across_replicas(
    replicas: list[character_pb2_grpc.CharacterAsyncStub],
) -> None:
    results = await asyncio.gather(*(
        create(replicas[n % 2], 7, f"Hero{n}") for n in range(3 * LIMIT)
    ))
    assert results.count(c.CREATE_CHAR_RESULT_OK) == LIMIT
    assert results.count(c.CREATE_CHAR_RESULT_TOO_MANY_CHARS) == 2 * LIMIT
    listed = await replicas[0].ListCharacters(c.ListCharactersRequest(account_id=7))
    assert len(listed.characters) == LIMIT


async def test_a_name_asked_for_on_both_replicas_is_created_once(
    replicas: list[character_pb2_grpc.CharacterAsyncStub],
) -> None:
    for round_ in range(5):
        name = f"Twin{round_}"
        results = await asyncio.gather(create(replicas[0], 20 + round_, name),
                                       create(replicas[1], 40 + round_, name))
        assert sorted(results) == sorted(
            [c.CREATE_CHAR_RESULT_OK, c.CREATE_CHAR_RESULT_NAME_TAKEN]
        ), results
