"""The character's progress is stored: on leaving the world, on a level-up, by the autosave, and
saves of one character never overlap or go back in time.

Real parts: a running gateway with the auth, character and chat plugins, its embedded
reference services over SQLite, TCP clients. One boundary is replaced: the world plugin, the
owner of the ``CHARACTER_PROGRESS`` record, which writes it from the world service's events
(regeneration, XP, level-ups) at times of the world's choosing. A stand-in plugin named
``"world"`` claims the record and nothing else, and the tests write it as the world plugin
does, with the record writer of plugin ``"world"`` obtained from the running gateway
(``gateway.record_writer("world")``); everything after the write is the real thing.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from gateway_character.handlers import PLAYING, Playing, apply_progress, store
from gateway_character.tokens import CharacterRuntime
from gateway_protos.v1 import character_pb2

from gateway_core.api import (
    CHARACTER_PROGRESS,
    SELECTED_CHARACTER,
    CharacterProgress,
    RecordWriter,
    RuntimeRegistrar,
    Session,
    SessionState,
    hookimpl,
)
from gateway_core.app import Gateway
from gateway_core.config import ConfigError
from gateway_core.testing import GATEWAY_TEST_SETTINGS, RunningGateway, running_gateway

pytestmark = pytest.mark.anyio

TIMEOUT = 5.0


def progress(level: int = 1, xp: int = 0, **changes: Any) -> CharacterProgress:
    values: dict[str, Any] = {
        "level": level, "xp": xp, "hp": 80, "mp": 40, "stats": (20, 21, 22, 23, 24, 25),
        "stat_points": 3, "skill_points": 2, "penalty_xp": 0, "skills": (11, 12),
        "max_hp": 150, "max_mp": 70,
    }
    values.update(changes)
    return CharacterProgress(**values)


class ProgressOwner:
    """The stand-in of the world plugin: the one writer of the progress record."""

    @hookimpl
    def gateway_register_runtime(self, register: RuntimeRegistrar) -> None:
        register.claim(CHARACTER_PROGRESS)


@contextlib.asynccontextmanager
async def gateway(tmp_path: Path, **settings: object) -> AsyncIterator[RunningGateway]:
    overrides = {**GATEWAY_TEST_SETTINGS, "DATA_DIR": str(tmp_path),
                 "GATEWAY_LOAD_PLUGINS": "auth,character,chat", **settings}
    async with running_gateway(overrides, RunningGateway,
                               plugins=[(ProgressOwner(), "world")]) as running:
        yield running


async def enter(running: RunningGateway, name: str) -> tuple[Any, Session, int]:
    """``name``'s new character in the world: its client, its session on the gateway and its
    character id."""
    client, _ = await running.join_world(name)
    session = running.gateway.connections.by_character_name(name)
    assert session is not None and session.state is SessionState.IN_WORLD
    return client, session, session.records.require(SELECTED_CHARACTER).character_id


async def stored(running: RunningGateway, character_id: int) -> character_pb2.CharacterState:
    stub = running.gateway.clients["character"]
    state: character_pb2.CharacterState = await stub.GetCharacter(
        character_pb2.GetCharacterRequest(character_id=character_id))
    return state


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def world_writes(running: RunningGateway, session: Session, value: CharacterProgress) -> None:
    """The boundary: what the world plugin will do on a ``progress`` event."""
    running.gateway.record_writer("world").set(session, CHARACTER_PROGRESS, value)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_progress_is_stored_when_the_character_leaves_the_world(tmp_path: Path) -> None:
    async with gateway(tmp_path, CHARACTER_AUTOSAVE_SECONDS=0) as running:
        client, session, character_id = await enter(running, "Grower")
        before = await stored(running, character_id)
        assert before.level == 1 and len(before.skills) == 120
        world_writes(running, session, progress(level=1, xp=10))
        world_writes(running, session, progress(
            level=7, xp=1234, hp=-5, mp=2**40, stats=(30, 31, 32, 33, 34, 70000),
            stat_points=9, skill_points=4, penalty_xp=17, skills=(101, 102, 70000),
        ))
        await client.aclose()
        await eventually(lambda: _gone(running, session))
        state = await stored(running, character_id)
    assert (state.level, state.xp, state.hp, state.mp) == (7, 1234, 0, 2**31 - 1)
    assert (state.stats.str, state.stats.dex, state.stats.int_, state.stats.con,
            state.stats.charm, state.stats.sense) == (30, 31, 32, 33, 34, 65535)
    assert (state.stat_points, state.skill_points, state.penalty_xp) == (9, 4, 17)
    assert list(state.skills) == [101, 102, 65535] + [0] * 117
    assert state.money == before.money and state.name == before.name  # the rest is kept


async def _gone(running: RunningGateway, session: Session) -> bool:
    return running.gateway.connections.get(session.connection_id) is None


async def test_a_level_up_saves_the_character_while_it_is_in_the_world(tmp_path: Path) -> None:
    async with gateway(tmp_path, CHARACTER_AUTOSAVE_SECONDS=0) as running:
        _, session, character_id = await enter(running, "Climber")
        world_writes(running, session, progress(level=1, xp=50))  # no level-up: no save
        await asyncio.sleep(0.2)
        assert (await stored(running, character_id)).xp == 0
        world_writes(running, session, progress(level=2, xp=3, skills=(5,)))

        async def saved() -> bool:
            state = await stored(running, character_id)
            return state.level == 2 and state.xp == 3 and state.skills[0] == 5

        await eventually(saved)
        assert session.state is SessionState.IN_WORLD
        runtime = running.gateway.runtimes["character"]
        assert isinstance(runtime, CharacterRuntime)
        await eventually(lambda: _idle(runtime))


async def _idle(runtime: CharacterRuntime) -> bool:
    return runtime.background_saves == 0


async def test_the_autosave_stores_progress_while_the_character_is_in_the_world(
    tmp_path: Path,
) -> None:
    async with gateway(tmp_path, CHARACTER_AUTOSAVE_SECONDS=0.1) as running:
        _, session, character_id = await enter(running, "Steady")
        world_writes(running, session, progress(level=1, xp=77, hp=60))

        async def saved() -> bool:
            state = await stored(running, character_id)
            return state.xp == 77 and state.hp == 60

        await eventually(saved)
        assert session.state is SessionState.IN_WORLD
        world_writes(running, session, progress(level=1, xp=78, hp=61))
        await eventually(saved_xp(running, character_id, 78))


def saved_xp(running: RunningGateway, character_id: int, xp: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return (await stored(running, character_id)).xp == xp

    return check


class RecordingStub:
    """The real character stub, recording when each save ran and what it stored (a batch's
    entries each as one save)."""

    def __init__(self, stub: Any) -> None:
        self._stub = stub
        self.saves: list[tuple[float, float, int]] = []

    async def SaveCharacter(self, request: character_pb2.SaveCharacterRequest) -> Any:
        started = time.monotonic()
        await asyncio.sleep(0.05)  # a slow service: an overlap would show
        reply = await self._stub.SaveCharacter(request)
        self.saves.append((started, time.monotonic(), request.state.xp))
        return reply

    async def SaveCharacters(self, request: character_pb2.SaveCharactersRequest) -> Any:
        started = time.monotonic()
        await asyncio.sleep(0.05)
        reply = await self._stub.SaveCharacters(request)
        self.saves.extend((started, time.monotonic(), state.xp) for state in request.states)
        return reply

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stub, name)


async def test_two_overlapping_saves_end_with_the_newest_state(tmp_path: Path) -> None:
    async with gateway(tmp_path, CHARACTER_AUTOSAVE_SECONDS=0) as running:
        client, session, character_id = await enter(running, "Racer")
        playing = session.plugin_data.require(PLAYING)
        recorder = RecordingStub(playing.character)
        playing.character = recorder  # type: ignore[assignment]
        world_writes(running, session, progress(level=1, xp=10))
        first = asyncio.create_task(store(session, playing))
        await asyncio.sleep(0.01)  # the first save holds the lock, its state computed
        assert playing.lock.locked()
        world_writes(running, session, progress(level=1, xp=20))
        second = asyncio.create_task(store(session, playing))
        await asyncio.gather(first, second)
        assert [xp for _, _, xp in recorder.saves] == [10, 20]
        (_, end_first, _), (start_second, _, _) = recorder.saves
        assert end_first <= start_second
        assert (await stored(running, character_id)).xp == 20

        # A level-up save in flight when the character leaves: the leave's save comes last.
        world_writes(running, session, progress(level=3, xp=30))  # background save
        world_writes(running, session, progress(level=3, xp=31))
        await client.aclose()
        await eventually(lambda: _gone(running, session))
        runtime = running.gateway.runtimes["character"]
        await eventually(lambda: _idle(runtime))
        assert [xp for _, _, xp in recorder.saves][-1] == 31
        starts_ends = [(s, e) for s, e, _ in recorder.saves]
        assert all(e1 <= s2 for (_, e1), (s2, _) in itertools.pairwise(starts_ends))
        state = await stored(running, character_id)
    assert (state.level, state.xp) == (3, 31)


def test_progress_is_clamped_into_what_the_service_stores() -> None:
    state = character_pb2.CharacterState(id=1, level=4, skills=[9] * 3)
    apply_progress(state, progress(level=0, xp=-1, hp=2**40, mp=-1, penalty_xp=2**33,
                                   skills=tuple(range(1, 10))))
    assert (state.level, state.xp, state.hp, state.mp) == (1, 0, 2**31 - 1, 0)
    assert state.penalty_xp == 2**32 - 1
    assert list(state.skills) == [1, 2, 3]  # the state's slots
    empty = character_pb2.CharacterState(id=1)
    apply_progress(empty, progress(skills=tuple(range(200))))
    assert list(empty.skills) == list(range(120))


async def test_a_save_after_the_leave_save_stores_nothing() -> None:
    class Service:
        def __init__(self) -> None:
            self.saved: list[int] = []

        async def SaveCharacter(self, request: Any) -> Any:
            self.saved.append(request.state.xp)
            return character_pb2.SaveCharacterReply()

    service = Service()
    session = Session(1)
    playing = Playing(character_pb2.CharacterState(id=5, xp=1), service)  # type: ignore[arg-type]
    assert await store(session, playing, final=True) is not None
    assert await store(session, playing) is None
    assert service.saved == [1]


def test_the_autosave_period_is_a_setting(tmp_path: Path) -> None:
    base = {**GATEWAY_TEST_SETTINGS, "DATA_DIR": str(tmp_path)}
    assert Gateway(overrides=base, environ={}).settings.CHARACTER_AUTOSAVE_SECONDS == 60.0
    with pytest.raises(ConfigError, match="CHARACTER_AUTOSAVE_SECONDS"):
        Gateway(overrides={**base, "CHARACTER_AUTOSAVE_SECONDS": -1}, environ={})


async def test_a_gm_change_outlives_the_progress_record_it_was_made_over() -> None:
    class Service:
        def __init__(self) -> None:
            self.levels: list[int] = []

        async def SaveCharacter(self, request: Any) -> Any:
            self.levels.append(request.state.level)
            return character_pb2.SaveCharacterReply()

    service = Service()
    session = Session(1)
    world = RecordWriter("world", {CHARACTER_PROGRESS: "world"})
    playing = Playing(character_pb2.CharacterState(id=5, level=1), service)  # type: ignore[arg-type]
    world.set(session, CHARACTER_PROGRESS, progress(level=3))

    def gm_level(state: character_pb2.CharacterState) -> None:
        state.level = 42

    await store(session, playing, gm_level)
    await store(session, playing)  # the record is older than the GM's change
    world.set(session, CHARACTER_PROGRESS, progress(level=43))
    await store(session, playing)  # the world's new record is newer
    assert service.levels == [42, 42, 43]
