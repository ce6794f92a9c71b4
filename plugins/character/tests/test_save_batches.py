"""The gateway side of batched saves (:class:`gateway_character.saves.SaveBatcher`): the saves
pending at once share one SaveCharacters call, each gets its own outcome, and a service
without SaveCharacters gets one SaveCharacter per save. The boundary: a recording stub in
place of the character service's (the service itself is tested in ``service/``)."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from gateway_character.saves import SaveBatcher, SaveRefused
from gateway_protos.v1 import character_pb2

pytestmark = pytest.mark.anyio

NOT_FOUND = grpc.StatusCode.NOT_FOUND


class Unimplemented(grpc.aio.AioRpcError):
    def __init__(self) -> None:
        super().__init__(grpc.StatusCode.UNIMPLEMENTED, grpc.aio.Metadata(),
                         grpc.aio.Metadata(), "unknown method")


class Stub:
    """Answers every entry OK, except the character ids in ``refuse`` (NOT_FOUND)."""

    def __init__(self, *, batches: bool = True, refuse: frozenset[int] = frozenset()) -> None:
        self.batches = batches
        self.refuse = refuse
        self.calls: list[list[int]] = []
        self.singles: list[int] = []

    async def SaveCharacters(self, request: character_pb2.SaveCharactersRequest) -> Any:
        if not self.batches:
            raise Unimplemented()
        self.calls.append([state.id for state in request.states])
        await asyncio.sleep(0.01)
        return character_pb2.SaveCharactersReply(outcomes=[
            character_pb2.SaveOutcome(code=NOT_FOUND.value[0], message="no such character")
            if state.id in self.refuse else character_pb2.SaveOutcome()
            for state in request.states])

    async def SaveCharacter(self, request: character_pb2.SaveCharacterRequest) -> Any:
        self.singles.append(request.state.id)
        return character_pb2.SaveCharacterReply()


def state(character_id: int) -> character_pb2.CharacterState:
    return character_pb2.CharacterState(id=character_id)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_the_saves_pending_at_once_share_calls_of_at_most_a_batch() -> None:
    stub = Stub()
    batcher = SaveBatcher(batch=100)
    await asyncio.gather(*(batcher.save(stub, state(i)) for i in range(1, 251)))
    assert sorted(i for call in stub.calls for i in call) == list(range(1, 251))
    assert [len(call) for call in stub.calls] == [100, 100, 50]
    await batcher.save(stub, state(7))  # alone: a call of its own, after the window
    assert stub.calls[-1] == [7]


async def test_a_refused_entry_fails_only_its_own_save() -> None:
    stub = Stub(refuse=frozenset({2}))
    batcher = SaveBatcher()
    outcomes = await asyncio.gather(*(batcher.save(stub, state(i)) for i in (1, 2, 3)),
                                    return_exceptions=True)
    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], SaveRefused) and outcomes[1].code is NOT_FOUND
    assert len(stub.calls) == 1


async def test_a_service_without_batches_gets_one_save_per_state() -> None:
    stub = Stub(batches=False)
    batcher = SaveBatcher()
    await asyncio.gather(*(batcher.save(stub, state(i)) for i in (1, 2, 3)))
    assert sorted(stub.singles) == [1, 2, 3]


async def test_a_save_cancelled_before_its_batch_is_not_sent() -> None:
    stub = Stub()
    batcher = SaveBatcher(window=0.05)
    first = asyncio.ensure_future(batcher.save(stub, state(1)))
    second = asyncio.ensure_future(batcher.save(stub, state(2)))
    await asyncio.sleep(0)
    first.cancel()
    await second
    assert stub.calls == [[2]]
    await batcher.aclose()
