"""Stopping, ramping and watching a bot run (:class:`~gateway_core.bot.journey.RunControl`,
``ramp``, :mod:`gateway_core.bot.progress`, :mod:`gateway_core.bot.advice`), against the
scripted server of ``tests/bot/conftest.py`` (real TCP on 127.0.0.1, a real
``ProtocolConnection`` in the server role). The same behaviour against a real gateway:
``tests/bot/test_load.py``."""

from __future__ import annotations

import io
import time

import anyio
import pytest
from rich.console import Console

from gateway_core.bot.advice import advise
from gateway_core.bot.journey import FlowOptions, RunControl, run_clients
from gateway_core.bot.progress import RunProgress, render_progress
from gateway_core.bot.results import FlowResult, RunSummary, SoakStats

from .conftest import ScriptedServer, ServerFactory

pytestmark = pytest.mark.anyio

ACCOUNTS = {f"user{i}": "secret" for i in range(4)}


def options(server: ScriptedServer, **overrides: object) -> FlowOptions:
    values: dict[str, object] = {
        "host": "127.0.0.1", "port": server.port, "username": "user{i}", "password": "secret",
        "create": True, "timeout": 2.0,
    }
    values.update(overrides)
    return FlowOptions(**values)  # type: ignore[arg-type]


async def until(condition: object, timeout: float = 5.0) -> None:
    with anyio.fail_after(timeout):
        while not callable(condition) or not condition():
            await anyio.sleep(0.01)


async def test_an_interrupt_stops_every_flow_and_logs_it_out(
    scripted_server: ServerFactory,
) -> None:
    # The map never answers: every client waits in change_map, in the world.
    async with scripted_server(accounts=ACCOUNTS, mute={"PAKCS_CHANGE_MAP_REQ"}) as server:
        control = RunControl()
        async with anyio.create_task_group() as group:
            results: list[FlowResult] = []

            async def run() -> None:
                results.extend(await run_clients(options(server), 3, control=control))

            group.start_soon(run)
            await until(lambda: control.progress.in_world == 3)
            assert control.progress.steps == {"change_map": 3}
            control.interrupt()
    assert [(r.failed_step, r.error_kind, r.release) for r in results] == [
        ("change_map", "interrupted", "logged_out")] * 3
    assert all(r.interrupted and r.error == "step 'change_map': interrupted" for r in results)
    assert server.received.count("PAKCS_LOGOUT_REQ") == 3
    progress = control.progress
    assert (progress.failed, progress.released, progress.in_world, progress.connected) == (
        3, 3, 0, 0)
    summary = RunSummary.from_results(results, 1.0)
    assert (summary.interrupted, summary.releases) == (3, {"logged_out": 3})


async def test_a_second_interrupt_abandons_the_logouts(scripted_server: ServerFactory) -> None:
    async with scripted_server(accounts=ACCOUNTS,
                               mute={"PAKCS_CHANGE_MAP_REQ", "PAKCS_LOGOUT_REQ"}) as server:
        control = RunControl()
        started = time.perf_counter()
        async with anyio.create_task_group() as group:
            results: list[FlowResult] = []

            async def run() -> None:
                results.extend(await run_clients(options(server, timeout=30.0), 2,
                                                 control=control))

            group.start_soon(run)
            await until(lambda: control.progress.in_world == 2)
            control.interrupt()
            await until(lambda: control.progress.releasing == 2)
            control.interrupt()
    assert time.perf_counter() - started < 10  # not the 2 x 30 s a logout may take
    assert [r.release for r in results] == ["abandoned"] * 2
    assert control.progress.phase == "abandoning"


async def test_a_ramp_starts_the_clients_at_its_rate_and_an_interrupt_leaves_the_rest_out(
    scripted_server: ServerFactory,
) -> None:
    async with scripted_server(accounts=ACCOUNTS) as server:
        started = anyio.current_time()
        ramped = await run_clients(options(server, enter_map=False), 3, ramp=10.0)
        spread = anyio.current_time() - started
        assert [r.ok for r in ramped] == [True] * 3
        assert spread >= 0.2  # the third client starts 2/10 s after the first

        control = RunControl()
        async with anyio.create_task_group() as group:
            partial: list[FlowResult] = []

            async def run() -> None:
                partial.extend(await run_clients(options(server, enter_map=False), 4,
                                                 ramp=1.0, control=control))

            group.start_soon(run)
            await until(lambda: control.progress.started == 1)  # the first, at once
            control.interrupt()  # the next one would start 1 s after the first
    assert [r.client for r in partial] == ["user0"]
    summary = RunSummary.from_results(partial, 1.0, not_started=4 - len(partial))
    assert (summary.not_started, summary.ok) == (3, False)


def test_the_progress_shows_counts_steps_and_the_soak() -> None:
    progress = RunProgress(total=5, started=4, connected=3, in_world=2, succeeded=1, failed=1)
    progress.enter("login")
    progress.enter("stay")
    progress.enter("stay")
    progress.leave("login")
    progress.staying = 2
    progress.soak.add(SoakStats(moves=7, move_replies=6, chats=2, chat_replies=2))
    progress.failures["login: FAILED"] += 1
    console = Console(file=io.StringIO(), width=100)
    console.print(render_progress(progress, "gateway bot: 5 client(s)"))
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert "started 4/5  connected 3  in world 2  ok 1  failed 1" in shown
    assert "now: stay 2" in shown and "login" not in shown.split("now:")[1].split("\n")[0]
    assert "soak: 2 staying, 7 moves (6 replies), 2 chats (2 echoes)" in shown
    assert "most failures: login: FAILED x1" in shown
    progress.phase = "interrupted"
    console.print(render_progress(progress, "t"))
    assert "Ctrl-C again to quit at once" in console.file.getvalue()  # type: ignore[attr-defined]


def failed(step: str, code: str | None = None, kind: str = "refused") -> FlowResult:
    return FlowResult(client="c", failed_step=step, code=code, error_kind=kind)


def test_the_advice_says_what_a_failure_means_and_what_to_do() -> None:
    already = advise(failed("login", "ALREADY_LOGGEDIN"))
    assert already is not None
    assert "SESSION_GRACE" in already.meaning and "log those clients out" in already.action
    deadline = advise(failed("login", "FAILED"))
    assert deadline is not None
    assert "argon2" in deadline.meaning
    assert "AUTH_HASH_CONCURRENCY" in deadline.action and "--ramp" in deadline.action
    slow_login = advise(failed("login", kind="timeout"))
    assert slow_login is not None and "--ramp" in slow_login.action
    handout = advise(failed("char_connect", kind="connect"))
    assert handout is not None and "PUBLIC_HOST" in handout.action
    nothing = advise(failed("login_connect", kind="connect"))
    assert nothing is not None and "gateway serve" in nothing.action
    # Every kind of failure gets an answer; a completed flow none.
    assert advise(failed("weird_step", "ODD_CODE", "refused")) is not None
    assert advise(FlowResult(client="c", ok=True)) is None
