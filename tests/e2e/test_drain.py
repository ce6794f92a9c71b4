"""Drain of a real ``gateway serve`` process: SIGTERM with two players in the world.

The players are told the time left (``PAKSW_ANNOUNCE_CHAT``), ``/readyz`` answers 503 from the
signal on while the process still serves, the connections close after the notice, the
characters' positions are stored (read back from the character service on the same data), and
the process exits 0 within DRAIN_NOTICE_SECONDS + SHUTDOWN_DEADLINE.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import anyio
import grpc.aio
import pytest
from gateway_protos.v1 import character_pb2, character_pb2_grpc

from gateway_core.bot import GameClient
from gateway_core.bot import steps as flow
from gateway_core.bot.client import ConnectFailed
from gateway_core.protocol.packets import (
    CreateCharResult,
    JoinResult,
    LoginResult,
    SrvAnnounceChat,
)
from gateway_core.testing import GATEWAY_TEST_ENV, free_port, start_service

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

GATEWAY = [sys.executable, "-m", "gateway_core"]
TIMEOUT = 10.0
NOTICE = 2.0
DEADLINE = 5.0
START = 520000.0
PLAYERS = (("Drainer", 520300.0), ("Keeper", 519700.0))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def http_status(port: int, path: str) -> int | None:
    """The status of ``GET path`` on the admin port, or None when nothing answers."""
    try:
        stream = await anyio.connect_tcp("127.0.0.1", port)
    except OSError:
        return None
    data = b""
    async with stream:
        with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError, OSError):
            await stream.send(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            while len(data) < 16:
                data += await stream.receive()
    parts = data.split()
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


@contextlib.asynccontextmanager
async def serve(env: Mapping[str, str], log: Path) -> AsyncIterator[tuple[subprocess.Popen[bytes],
                                                                        int, int]]:
    port, admin = free_port(), free_port()
    with log.open("wb") as out:
        popen = subprocess.Popen(
            [*GATEWAY, "serve"],
            env={**env, "SERVICE_PORT": str(port), "PACKET_METRICS_PORT": str(admin)},
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    try:
        with anyio.fail_after(TIMEOUT * 2):
            while await http_status(admin, "/readyz") != 200:
                assert popen.poll() is None, log.read_text()
                await anyio.sleep(0.05)
        yield popen, port, admin
    finally:
        if popen.poll() is None:
            popen.kill()
            popen.wait()


async def into_world(port: int, name: str, opened: list[GameClient]) -> tuple[GameClient, int]:
    async def connect(leg_port: int) -> GameClient:
        client = await flow.connect("127.0.0.1", leg_port, timeout=TIMEOUT, label=name)
        opened.append(client)
        return client

    login = await connect(port)
    assert (await flow.login(login, name.lower(), "pw")).result is LoginResult.OK
    selected = await flow.select_server(login, 1, 1)
    await login.aclose()
    char_leg = await connect(selected.port)
    assert (await flow.join(char_leg, selected.session_id, "pw")).result is JoinResult.OK
    assert (await flow.create_character(char_leg, name)).result is CreateCharResult.OK
    await flow.char_list(char_leg)
    switch = await flow.select_character(char_leg, 0, name)
    world = await connect(switch.port)
    entry = await flow.enter_world(world, switch.session_id, "pw")
    await char_leg.aclose()
    return world, int(entry.change_map.object_index)


async def stored_positions(address: str) -> dict[str, tuple[float, float]]:
    found: dict[str, tuple[float, float]] = {}
    async with grpc.aio.insecure_channel(address) as channel:
        stub = character_pb2_grpc.CharacterStub(channel)
        for character_id in range(1, 2 * len(PLAYERS) + 1):
            with contextlib.suppress(grpc.aio.AioRpcError):
                state = await stub.GetCharacter(
                    character_pb2.GetCharacterRequest(character_id=character_id), timeout=5)
                found[state.name] = (state.x, state.y)
    return found


async def test_sigterm_warns_saves_and_exits_zero_within_the_deadline(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.endswith("_SERVICE_ADDR")},
        **GATEWAY_TEST_ENV,
        "DATA_DIR": str(tmp_path / "data"),
        "LOG_LEVEL": "info",
        "AUTH_CREATE_ACCOUNT_ON_FAIL": "true",
        "CHARACTER_AUTOSAVE_SECONDS": "0",  # only the drain's close saves
        "DRAIN_NOTICE_SECONDS": str(NOTICE),
        "SHUTDOWN_DEADLINE": str(DEADLINE),
    }
    opened: list[GameClient] = []
    log = tmp_path / "gateway.log"
    try:
        async with serve(env, log) as (popen, port, admin):
            players = [(await into_world(port, name, opened), x) for name, x in PLAYERS]
            for (world, object_id), x in players:
                await flow.move(world, object_id, x, START)
            await anyio.sleep(0.6)  # the world tick walks them off the start point

            signalled = time.monotonic()
            popen.send_signal(signal.SIGTERM)
            with anyio.fail_after(NOTICE / 2):  # at once (the signal's delivery aside)
                while await http_status(admin, "/readyz") != 503:
                    await anyio.sleep(0.02)
            assert await http_status(admin, "/healthz") == 200  # the process still serves
            with anyio.fail_after(NOTICE / 2):  # and the listener stopped accepting
                while True:
                    try:
                        probe = await flow.connect("127.0.0.1", port, timeout=1.0)
                    except ConnectFailed:
                        break
                    await probe.aclose()
                    await anyio.sleep(0.02)
            assert popen.poll() is None and not any(world.closed for (world, _), _x in players)

            for (world, _), _x in players:
                notice = await world.expect(SrvAnnounceChat, step="drain notice",
                                            timeout=TIMEOUT)
                assert b"shuts down" in notice.message and b"2 seconds" in notice.message
                assert notice.name == b"Server"
            for (world, _), _x in players:  # closed by the gateway once the notice is over
                await world.drain(NOTICE + DEADLINE + 2)
                assert world.closed
            assert time.monotonic() - signalled >= NOTICE - 0.5
            with anyio.fail_after(NOTICE + DEADLINE + 2):
                while popen.poll() is None:
                    await anyio.sleep(0.05)
            assert popen.returncode == 0, log.read_text()
            assert time.monotonic() - signalled <= NOTICE + DEADLINE + 2
    finally:
        for client in opened:
            await client.aclose()
    output = log.read_text()
    assert "draining" in output and "gateway stopped" in output, output

    service = start_service("character", env)
    try:
        positions = await stored_positions(service.address)
    finally:
        service.stop()
    for name, x in PLAYERS:
        stored_x, stored_y = positions[name]
        assert stored_y == pytest.approx(START, abs=1.0), (name, positions)
        # Stored where the drain found it: walked off the start point towards its target.
        assert abs(stored_x - START) > 10 and abs(stored_x - START) <= abs(x - START) + 1, (
            name, positions)


async def test_gateway_drain_command_stops_a_gateway_and_waits_for_it(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.endswith("_SERVICE_ADDR")},
        **GATEWAY_TEST_ENV,
        "DATA_DIR": str(tmp_path / "data"),
        "GATEWAY_LOAD_PLUGINS": "",
        "ADMIN_TOKEN": "drain-token",
    }
    async with serve(env, tmp_path / "gateway.log") as (popen, _port, admin):
        refused = subprocess.run(
            [*GATEWAY, "drain", "--url", f"http://127.0.0.1:{admin}"],
            env={k: v for k, v in env.items() if k != "ADMIN_TOKEN"},
            capture_output=True, text=True, timeout=TIMEOUT * 3, check=False)
        assert refused.returncode == 1 and "401" in refused.stdout, refused
        assert popen.poll() is None
        result = await anyio.to_thread.run_sync(lambda: subprocess.run(
            [*GATEWAY, "drain", "--url", f"http://127.0.0.1:{admin}", "--notice", "0",
             "--wait", "--timeout", str(TIMEOUT)],
            env=env, capture_output=True, text=True, timeout=TIMEOUT * 3, check=False))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "draining" in result.stdout and "gateway stopped" in result.stdout
        assert popen.wait(TIMEOUT) == 0
