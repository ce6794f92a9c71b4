"""The real commands as an operator runs them: `gateway serve`, `gateway account create`,
`gateway bot`, and a remote `gateway service auth` that goes down and comes back."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import anyio
import pytest

from gateway_core.bot import steps as flow
from gateway_core.protocol.packets import JoinResult, LoginResult, ServerSelectResult
from gateway_core.testing import GATEWAY_TEST_ENV, free_port

GATEWAY = [sys.executable, "-m", "gateway_core"]

StartGateway = Any  # the start_gateway fixture (tests/e2e/conftest.py)

pytestmark = [pytest.mark.anyio, pytest.mark.slow]



def environment(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_SERVICE_ADDR")}
    return {**env, **GATEWAY_TEST_ENV, "DATA_DIR": str(data_dir), **extra}


@contextlib.contextmanager
def process(args: list[str], env: Mapping[str, str], log: Path) -> Iterator[subprocess.Popen[str]]:
    """Run ``args`` with its output in ``log`` (a pipe nobody reads could fill and block it);
    on exit SIGTERM it (by PID) and wait, killing it if it hangs."""
    with log.open("a") as out:
        proc = subprocess.Popen(args, env=dict(env), stdout=out, stderr=subprocess.STDOUT,
                                text=True)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


async def wait_listening(port: int, proc: subprocess.Popen[str], timeout: float = 20) -> None:
    with anyio.fail_after(timeout):
        while True:
            assert proc.poll() is None, f"process exited with {proc.returncode}"
            try:
                stream = await anyio.connect_tcp("127.0.0.1", port)
            except OSError:
                await anyio.sleep(0.05)
                continue
            await stream.aclose()
            return


async def run_command(args: list[str], env: Mapping[str, str],
                      timeout: float = 60) -> subprocess.CompletedProcess[str]:
    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, env=dict(env), capture_output=True, text=True,
                              timeout=timeout, check=False)

    return await anyio.to_thread.run_sync(run)


async def test_gateway_serve_with_an_account_from_the_cli_passes_the_bot(tmp_path: Path) -> None:
    port = free_port()
    env = environment(tmp_path / "data", SERVICE_PORT=str(port))
    created = await run_command([*GATEWAY, "account", "create", "walt", "--password", "pw"], env)
    assert created.returncode == 0, created.stdout + created.stderr

    with process([*GATEWAY, "serve"], env, tmp_path / "serve.log") as serve:
        await wait_listening(port, serve)
        bot = [*GATEWAY, "bot", "--port", str(port), "--user", "walt", "--password", "pw",
               "--character", "Walter", "--create", "--no-enter-map", "--timeout", "5",
               "--total-timeout", "30"]
        first = await run_command(bot, env)
        assert first.returncode == 0, first.stdout + first.stderr
        assert "all completed" in first.stdout
        # Again, with the character created by the first run.
        second = await run_command([a for a in bot if a != "--create"], env)
        assert second.returncode == 0, second.stdout + second.stderr
        serve.terminate()
        assert serve.wait(timeout=15) == 0


async def test_a_login_fails_while_the_auth_service_is_down_and_works_once_it_is_back(
    tmp_path: Path, start_gateway: StartGateway
) -> None:
    auth_port = free_port()
    address = f"127.0.0.1:{auth_port}"
    env = environment(tmp_path / "data")
    service = [*GATEWAY, "service", "auth", "--listen", address]
    async with contextlib.AsyncExitStack() as stack:
        auth = stack.enter_context(process(service, env, tmp_path / "auth.log"))
        await wait_listening(auth_port, auth)
        gw = await stack.enter_async_context(start_gateway(AUTH_SERVICE_ADDR=address))
        await gw.account("xena", "pw")
        await gw.account("yuri", "pw")
        pending = await gw.connect()
        assert (await flow.login(pending, "xena", "pw")).result is LoginResult.OK

        auth.terminate()
        assert auth.wait(timeout=15) == 0

        # Each request gets FAILED, and the gateway goes on serving.
        selected = await flow.select_server(pending, 1, 1)
        assert selected.result is ServerSelectResult.FAILED
        down = await gw.connect()
        assert (await flow.login(down, "yuri", "pw")).result is LoginResult.FAILED
        assert (await flow.login(down, "yuri", "pw")).result is LoginResult.FAILED
        joined = await flow.join(await gw.connect(), 0x0BAD, "pw")
        assert joined.result is JoinResult.FAILED

        # Back on the same port: the next attempts work (after the channel reconnects).
        auth = stack.enter_context(process(service, env, tmp_path / "auth.log"))
        await wait_listening(auth_port, auth)
        with anyio.fail_after(20):
            while (result := (await flow.login(down, "yuri", "pw")).result) is \
                    LoginResult.FAILED:
                await anyio.sleep(0.2)
        assert result is LoginResult.OK
        assert (await flow.select_server(pending, 1, 1)).result is ServerSelectResult.OK
