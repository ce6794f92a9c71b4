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


async def test_batch_saves_on_both_replicas_neither_deadlock_nor_undo_item_changes(
    replicas: list[character_pb2_grpc.CharacterAsyncStub],
) -> None:
    """Batches of the same characters in opposite orders through both replicas at once, with
    ChangeItems on the same rows beside them: every entry is stored (row locks in id order:
    no deadlock), each row holds one batch's entry whole, and no zuly change is lost."""
    ids = []
    for n in range(12):
        reply = await replicas[0].CreateCharacter(
            c.CreateCharacterRequest(account_id=100 + n, name=f"Saver{n}", race=0), timeout=30)
        ids.append(reply.character.id)

    def batch(round_: int, replica: int) -> c.SaveCharactersRequest:
        order = ids if replica == 0 else ids[::-1]
        return c.SaveCharactersRequest(states=[
            c.CharacterState(id=i, level=1, xp=round_ * 10 + replica, x=float(round_ * 10 +
                                                                            replica))
            for i in order])

    async def change(character_id: int, round_: int) -> None:
        reply = await replicas[round_ % 2].ChangeItems(c.ChangeItemsRequest(
            character_id=character_id, request_id=f"z{character_id}-{round_}", zuly_delta=1),
            timeout=30)
        assert reply.result == c.ITEM_RESULT_OK

    calls = [replicas[r].SaveCharacters(batch(round_, r), timeout=30)
             for round_ in range(5) for r in (0, 1)]
    replies, *_ = await asyncio.gather(
        asyncio.gather(*calls),
        *(change(i, round_) for i in ids for round_ in range(5)))
    assert all(o.code == 0 for reply in replies for o in reply.outcomes)
    for character_id in ids:
        state = await replicas[1].GetCharacter(c.GetCharacterRequest(character_id=character_id))
        assert state.x == float(state.xp)  # one entry's values, not a mix of two
        assert state.money == 1000 + 5  # the starter kit's zuly and every change
