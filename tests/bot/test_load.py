"""``gateway bot`` as a load and soak tool, against a real gateway (all built-in plugins, the
embedded reference services, SQLite under a tmp dir) on 127.0.0.1: a failed or interrupted
client logs out so that the next run of the same accounts works at once, Ctrl-C prints the
partial results, ``--stay`` keeps the clients in the world moving and chatting.

Boundary: everything is real (the gateway in-process or ``gateway bot`` as a subprocess, TCP,
grpc.aio, SQLite); SESSION_GRACE keeps its production default, so a session a client left
behind would refuse the next login ALREADY_LOGGEDIN for a minute.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import pytest

from gateway_core.bot import cli as bot_cli
from gateway_core.bot.journey import FlowOptions, run_clients
from gateway_core.session import SessionState
from gateway_core.testing import (
    GATEWAY_TEST_ENV,
    GATEWAY_TEST_SETTINGS,
    RunningGateway,
    free_port,
    running_gateway,
)

GATEWAY = [sys.executable, "-m", "gateway_core"]
#: Bound on every single wait of a client.
TIMEOUT = 5.0
#: Bound on waiting for a subprocess to start and get its clients into the world.
STARTUP = 60.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def settings(tmp_path: Path, **extra: object) -> dict[str, object]:
    return {**GATEWAY_TEST_SETTINGS, "DATA_DIR": str(tmp_path / "data"), "SESSION_GRACE": 60.0,
            **extra}


@contextlib.asynccontextmanager
async def gateway_with(tmp_path: Path, **extra: object) -> AsyncIterator[RunningGateway]:
    async with running_gateway(settings(tmp_path, **extra), RunningGateway) as running:
        yield running


def options(gateway: RunningGateway, **fields: Any) -> FlowOptions:
    return FlowOptions(host=gateway.host, port=gateway.port, password="pw", timeout=TIMEOUT,
                       **fields)


async def connections_drop_to_zero(gateway: RunningGateway) -> None:
    with anyio.fail_after(TIMEOUT):
        while len(gateway.gateway.connections):
            await anyio.sleep(0.05)


@pytest.mark.anyio
async def test_a_failed_run_logs_out_so_the_next_run_of_the_same_accounts_works_at_once(
    tmp_path: Path,
) -> None:
    async with gateway_with(tmp_path) as gateway:
        for index in range(5):
            await gateway.account(f"fail{index}", "pw")
        # No such characters and no --create: each client fails in character select, where
        # it holds its session.
        failed = await run_clients(options(gateway, username="fail{i}", character="Nobody{i}"),
                                   3, total_timeout=30)
        assert [(r.failed_step, r.error_kind) for r in failed] == [("char_list", "flow")] * 3
        assert [r.release for r in failed] == ["logged_out"] * 3
        again = await run_clients(options(gateway, username="fail{i}", create=True,
                                          enter_map=False), 3, total_timeout=30)
        assert [r.ok for r in again] == [True] * 3, [r.error for r in again]

        # The same failure without the release leaves the sessions to SESSION_GRACE.
        kept = await run_clients(options(gateway, username="fail{i}", character="Nobody{i}",
                                         release=False), 2, total_timeout=30, first_index=3)
        assert [r.release for r in kept] == [None, None]
        refused = await run_clients(options(gateway, username="fail{i}", create=True), 2,
                                    total_timeout=30, first_index=3)
        assert [(r.failed_step, r.code) for r in refused] == [("login", "ALREADY_LOGGEDIN")] * 2


@pytest.mark.anyio
async def test_a_client_that_cannot_reach_the_next_leg_rejoins_its_session_to_log_out(
    tmp_path: Path,
) -> None:
    # The gateway hands out a port nothing listens on: the character leg cannot be reached,
    # no connection holds the session, and only a new join on the gateway's port can end it.
    async with gateway_with(tmp_path, PUBLIC_PORT=free_port()) as gateway:
        for index in range(2):
            await gateway.account(f"lost{index}", "pw")
        failed = await run_clients(options(gateway, username="lost{i}", create=True), 2,
                                   total_timeout=30)
        assert [(r.failed_step, r.error_kind) for r in failed] == [("char_connect",
                                                                    "connect")] * 2
        assert [r.release for r in failed] == ["rejoined"] * 2
        again = await run_clients(options(gateway, username="lost{i}", create=True,
                                          follow_addresses=False), 2, total_timeout=30)
        assert [r.ok for r in again] == [True] * 2, [r.error for r in again]
        await connections_drop_to_zero(gateway)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bot_cli.configure(parser)
    return parser.parse_args(list(argv))


def test_stay_keeps_the_clients_in_the_world_moving_and_chatting_then_logs_them_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    with anyio.from_thread.start_blocking_portal("asyncio") as portal:
        with portal.wrap_async_context_manager(gateway_with(tmp_path)) as gateway:
            for index in range(3):
                portal.call(gateway.account, f"soak{index}", "pw")
            args = parse("--port", str(gateway.port), "--user", "soak{i}", "--password", "pw",
                         "--create", "--count", "3", "--stay", "2", "--move-rate", "2",
                         "--chat-rate", "1", "--timeout", str(TIMEOUT), "--json")
            status = bot_cli.run(args, None)
            portal.call(connections_drop_to_zero, gateway)
    document = json.loads(capsys.readouterr().out)
    assert status == 0
    summary = document["summary"]
    # What scripts read keeps its names.
    assert {"total", "succeeded", "failed", "ok", "failures", "elapsed_ms", "steps"} <= set(
        summary)
    assert (summary["ok"], summary["succeeded"]) == (True, 3)
    assert (document["options"]["stay"], document["options"]["move_rate"]) == (2.0, 2.0)
    for client in document["clients"]:
        names = [step["name"] for step in client["steps"]]
        assert names[-2:] == ["stay", "logout"]
        stay = client["steps"][-2]
        assert stay["ok"] and stay["elapsed_ms"] >= 1990  # (the loop clock is not perf_counter)
        soak = client["soak"]
        # Every 0.5 s from a random phase within the first 0.5 s, for 2 s: 4 moves (the
        # loop never bursts to catch up, so a slow machine may send fewer); 2 chat lines.
        assert 3 <= soak["moves"] <= 4 and 1 <= soak["chats"] <= 2, soak
        assert soak["move_replies"] == soak["moves"] and soak["chat_replies"] == soak["chats"]
        assert (soak["unanswered"], soak["server_messages"]) == (0, 0)
        assert client["release"] is None  # it logged out by itself
    totals = summary["soak"]
    assert totals["moves"] == sum(c["soak"]["moves"] for c in document["clients"])
    assert totals["chat_replies"] == sum(c["soak"]["chat_replies"] for c in document["clients"])


def bot_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_SERVICE_ADDR")}
    return {**env, **GATEWAY_TEST_ENV}


@contextlib.contextmanager
def bot_process(argv: list[str], cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``gateway bot ARGV`` with its output in files (a pipe nobody reads could block it);
    ended by its PID on exit if it still runs."""
    with (cwd / "bot.out").open("wb") as out, (cwd / "bot.err").open("wb") as err:
        popen = subprocess.Popen([*GATEWAY, "bot", *argv], env=bot_environment(), cwd=cwd,
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    try:
        yield popen
    finally:
        if popen.poll() is None:
            popen.kill()
            popen.wait()


@pytest.mark.slow
@pytest.mark.anyio
async def test_ctrl_c_logs_the_clients_out_and_prints_the_partial_results(
    tmp_path: Path,
) -> None:
    async with gateway_with(tmp_path) as gateway:
        for index in range(3):
            await gateway.account(f"int{index}", "pw")
        argv = ["--port", str(gateway.port), "--user", "int{i}", "--password", "pw", "--create",
                "--count", "3", "--stay", "60", "--timeout", str(TIMEOUT)]
        with bot_process(argv, tmp_path) as bot:
            with anyio.fail_after(STARTUP):
                while len(gateway.gateway.connections.in_state(SessionState.IN_WORLD)) < 3:
                    assert bot.poll() is None, (tmp_path / "bot.err").read_text()
                    await anyio.sleep(0.05)
            await anyio.sleep(0.5)  # a move or two
            bot.send_signal(signal.SIGINT)
            status = await anyio.to_thread.run_sync(bot.wait, 30.0)
        out = (tmp_path / "bot.out").read_text()
        assert status == bot_cli.EXIT_INTERRUPTED, out + (tmp_path / "bot.err").read_text()
        # The partial table (every client, stopped in its stay), the soak so far, what was
        # done with the sessions, and the verdict.
        assert out.count("stay: interrupted") >= 3  # the rows, then the summary
        assert "soak: 3 client(s) stayed" in out
        assert "sessions of the clients that did not finish: logged out x3" in out
        assert "INTERRUPTED (partial results): 0/3 ok" in out
        assert "Traceback" not in (tmp_path / "bot.err").read_text()
        await connections_drop_to_zero(gateway)
        # The same accounts log in again at once.
        again = await run_clients(options(gateway, username="int{i}", enter_map=False), 3,
                                  total_timeout=30)
        assert [r.ok for r in again] == [True] * 3, [r.error for r in again]

