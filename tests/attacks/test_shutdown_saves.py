"""Character saves that used to be lost, and a stored position that bricked a character.

- A character stored at an impossible position (~3e38, or outside its map's bounds) logs in
  and lands on its map's spawn point; the next save stores the repaired position.
- Many players disconnect and the gateway is stopped milliseconds later: every character's
  last position is stored (the shutdown waits for the close hooks of connections that just
  closed, not only of those still open).
- ``gateway serve`` gets SIGTERM with 2,000 players online, or milliseconds after 500 of them
  disconnected: every character is stored (in batched SaveCharacters calls), it exits 0 and
  its output holds no traceback and no lost save.

The boundary: the in-process cases run a real :class:`~gateway_core.app.Gateway` (embedded
services, SQLite in the test's tmp dir) with the headless client; the SIGTERM case runs
``gateway serve`` as a subprocess. What was stored is read from the character service's
SQLite file after the gateway stopped.
"""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path
from typing import Any

import anyio
import grpc.aio
import pytest
from gateway_protos.v1 import character_pb2

from gateway_core.bot import GameClient
from gateway_core.bot import steps as flow
from gateway_core.session import SessionState
from gateway_core.testing import (
    GATEWAY_TEST_ENV,
    GATEWAY_TEST_SETTINGS,
    RunningGateway,
    embedded_services_address,
    enter_world_direct,
    running_gateway,
    serve_process,
)

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

#: Zant (map 1) of the built-in pack: its spawn point.
ZANT, SPAWN = 1, (521000.0, 520500.0)
#: Players of the in-process case (cheap settings: they join in a few seconds).
PLAYERS = 60
#: Players online at the SIGTERM of ``gateway serve``.
ONLINE = 2000
#: Players who disconnect milliseconds before the SIGTERM of ``gateway serve``.
LEAVERS = 500


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def stored(data: Path) -> dict[str, tuple[int, float, float]]:
    """Every character in the character service's database: name -> (map, x, y)."""
    with sqlite3.connect(data / "character.sqlite3") as db:
        rows = db.execute("SELECT name, map_id, x, y FROM character_characters").fetchall()
    return {name: (map_id, x, y) for name, map_id, x, y in rows}


def point_of(index: int) -> tuple[float, float]:
    """A distinct point of Zant for player ``index`` (inside its bounds), 100 units from the
    next."""
    return 505000.0 + 100.0 * (index % 300), 505000.0 + 100.0 * (index // 300)


@pytest.mark.parametrize(("x", "y", "direct"), [
    (3.0e38, -3.0e38, False), (10.0, 10.0, False), (1.0e308, 520000.0, True)],
    ids=["no-map-coordinate", "outside-the-bounds", "written-in-the-database"])
async def test_a_character_stored_at_an_impossible_position_lands_on_the_spawn_point(
        tmp_path: Path, x: float, y: float, direct: bool) -> None:
    settings = {**GATEWAY_TEST_SETTINGS, "DATA_DIR": str(tmp_path), "SESSION_GRACE": 0.5}
    async with running_gateway(settings, RunningGateway) as gw:
        await gw.join_world("Brick")
        for client in gw.clients:  # the world and the character select legs: logged out
            await client.aclose()
        character = gw.gateway.clients["character"]
        with anyio.fail_after(5):  # the save on leaving the world
            while gw.gateway.connections.in_state(SessionState.IN_WORLD):
                await anyio.sleep(0.05)
        listed = await character.ListCharacters(character_pb2.ListCharactersRequest(
            account_id=1))
        state = await character.GetCharacter(
            character_pb2.GetCharacterRequest(character_id=listed.characters[0].id))
        # What a refused move used to leave behind: a point on no map / outside it.
        state.map_id, state.x, state.y = ZANT, x, y
        if direct:
            with sqlite3.connect(tmp_path / "character.sqlite3") as db:
                db.execute("UPDATE character_characters SET map_id = ?, x = ?, y = ? "
                           "WHERE name = 'Brick'", (ZANT, x, y))
        else:
            await character.SaveCharacter(character_pb2.SaveCharacterRequest(state=state))
        with anyio.fail_after(10):
            while True:
                try:
                    (again, initial), _ = await _join_raw(gw, "Brick")
                    break
                except AssertionError:  # the last session is still being released
                    await anyio.sleep(0.1)
        # The client is told where it landed, and the save on leaving stores it.
        landed = initial.character
        assert (landed.map, landed.x, landed.y) == (ZANT, *SPAWN)
        await flow.change_map(again)
        await again.aclose()
        assert gw.sample("gateway_world_drops_total", {"reason": "position_relocated"}) == 1
    assert stored(tmp_path)["Brick"] == (ZANT, *SPAWN)


async def _join_raw(gw: RunningGateway, name: str
                    ) -> tuple[tuple[GameClient, flow.InitialData], int]:
    """The world join of ``name``'s existing character, with its initial data."""
    login = await gw.connect()
    assert (await flow.login(login, name.lower(), "pw")).result == 0
    selected = await flow.select_server(login, 1, 1)
    await login.aclose()
    char_leg = await gw.connect(selected.ip.decode(), selected.port)
    assert (await flow.join(char_leg, selected.session_id, "pw")).result == 0
    await flow.char_list(char_leg)
    switch = await flow.select_character(char_leg, 0, name)
    world = await gw.connect(switch.ip.decode(), switch.port)
    joined = await flow.join(world, switch.session_id, "pw")
    assert joined.result == 0
    initial = await flow.receive_initial_data(world)
    return (world, initial), joined.id


async def test_a_stop_right_after_many_players_disconnect_saves_every_character(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway_character.service.servicer import CharacterServicer

    real_save = CharacterServicer.SaveCharacters
    slow = [False]

    async def slow_save(self: Any, request: Any, context: Any) -> Any:
        if slow[0]:  # the saves on leaving are still on their way when the stop comes
            await anyio.sleep(1.5)
        return await real_save(self, request, context)

    monkeypatch.setattr(CharacterServicer, "SaveCharacters", slow_save)
    settings = {**GATEWAY_TEST_SETTINGS, "DATA_DIR": str(tmp_path), "SHUTDOWN_DEADLINE": 10.0,
                "GRPC_DEADLINE": 10.0}
    async with running_gateway(settings, RunningGateway) as gw:
        gw.timeout = 20.0
        worlds: list[GameClient] = []
        limit = anyio.Semaphore(20)

        async def play(index: int) -> None:
            async with limit:
                world, object_id = await gw.join_world(f"Leaver{index}")
                await flow.change_map(world)
                x, y = point_of(index)
                await flow.move(world, object_id, x, y)
                worlds.append(world)

        async with anyio.create_task_group() as tg:
            for index in range(PLAYERS):
                tg.start_soon(play, index)
        slow[0] = True
        async with anyio.create_task_group() as tg:  # everyone leaves at once ...
            for client in list(gw.clients):  # (their world and character select legs)
                tg.start_soon(client.aclose)
        with anyio.fail_after(10):  # ... the gateway has seen every world connection close
            while gw.gateway.server.connections:  # (their close hooks are running)
                await anyio.sleep(0.001)
        gw.gateway.stop()  # ... and the stop follows at once
    saved = stored(tmp_path)
    wrong = {f"Leaver{i}": saved.get(f"Leaver{i}") for i in range(PLAYERS)
             if saved.get(f"Leaver{i}") != (ZANT, *point_of(i))}
    assert not wrong, f"{len(wrong)} of {PLAYERS} characters not saved: {list(wrong)[:5]}"
    assert gw.sample("gateway_character_saves_lost_total", {}) == 0


def raise_open_files(needed: int) -> None:
    """The test process holds a socket per player: raise its soft open-file limit."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


@pytest.mark.timeout(1800)  # 2,000 logins take minutes on a loaded 2-core machine
@pytest.mark.parametrize(("players", "leave_first"), [(ONLINE, False), (LEAVERS, True)],
                         ids=["thousands-online", "many-just-disconnected"])
async def test_sigterm_saves_every_character_and_exits_cleanly(
        tmp_path: Path, players: int, leave_first: bool) -> None:
    """Players enter the world the cheap way (account, login and character made through the
    embedded services; only the world leg through the gateway); they do not see each other
    (a view radius under their spacing), so the logins cost no spawn packets: what is tested
    is the shutdown. SHUTDOWN_DEADLINE leaves a loaded machine room: the figures of a quiet
    one are in bench/README.md (bench_shutdown_saves.py)."""
    raise_open_files(players + 512)
    data = tmp_path / "data"
    env = {**os.environ, **GATEWAY_TEST_ENV, "DATA_DIR": str(data), "LOG_LEVEL": "info",
           "SHUTDOWN_DEADLINE": "60", "GRPC_DEADLINE": "30", "WORLD_VIEW_RADIUS": "50",
           "MAX_CONCURRENT_CONNECTIONS": str(2 * players)}
    opened: list[GameClient] = []
    async with serve_process(env, tmp_path / "gateway.log", timeout=60) as gateway:
        services = grpc.aio.insecure_channel(embedded_services_address(gateway.log))
        try:
            limit = anyio.Semaphore(50)

            async def play(index: int) -> None:
                async with limit:
                    world, object_id = await enter_world_direct(
                        gateway.port, services, f"online{index}", f"Online{index}",
                        opened=opened, timeout=120)
                    await flow.move(world, object_id, *point_of(index))

            with anyio.fail_after(1800):  # a hang guard, not a measure
                async with anyio.create_task_group() as tg:
                    for index in range(players):
                        tg.start_soon(play, index)
            if leave_first:  # everyone disconnects, and SIGTERM follows milliseconds later
                async with anyio.create_task_group() as tg:
                    for client in opened:
                        tg.start_soon(client.aclose)
                await anyio.sleep(0.005)
            gateway.popen.send_signal(signal.SIGTERM)
            with anyio.fail_after(120):
                while gateway.popen.poll() is None:
                    await anyio.sleep(0.05)
        finally:
            with anyio.CancelScope(shield=True):
                await services.close()
                for client in opened:
                    await client.aclose()
    output = gateway.log.read_text(errors="replace")
    assert gateway.popen.returncode == 0, output[-3000:]
    assert "Traceback" not in output, output[output.find("Traceback") - 500:][:4000]
    assert "NOT saved" not in output, output[-3000:]
    assert "gateway stopped" in output, output[-3000:]
    saved = stored(data)
    wrong = [i for i in range(players) if saved.get(f"Online{i}") != (ZANT, *point_of(i))]
    assert not wrong, f"{len(wrong)} of {players} not saved ({wrong[:5]}): {output[-2000:]}"
