"""The bot's journey (:mod:`gateway_core.bot.journey`): whole flows of one or N clients,
against the scripted server.

Boundary: the server side is the scripted peer of ``tests/bot/conftest.py`` (real TCP on
127.0.0.1, real ProtocolConnection in the server role), standing in for the gateway's auth,
character, chat and world handlers until they exist. Both ciphers and both numbering profiles.
"""

from __future__ import annotations

import anyio
import pytest

from gateway_core.bot.journey import FlowOptions, run_clients, run_flow
from gateway_core.bot.results import RunSummary
from gateway_core.protocol.packets import LoginResult

from .conftest import CIPHERS, PROFILES, ScriptedServer, ServerFactory

pytestmark = pytest.mark.anyio

FAST = 1.0  # seconds per wait: the scripted server answers at once
HAPPY_STEPS = [
    "login_connect", "login", "channel_list", "select_server",
    "char_connect", "char_join", "char_list", "create_character", "char_list_after_create",
    "select_character", "world_connect", "world_join", "initial_data", "change_map",
    "chat", "whisper", "move", "logout",
]


def options(server: ScriptedServer, **overrides: object) -> FlowOptions:
    values: dict[str, object] = {
        "host": "127.0.0.1", "port": server.port, "username": "alice", "password": "secret",
        "cipher": server.cipher, "profile": server.profile, "timeout": FAST,
    }
    values.update(overrides)
    return FlowOptions(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("cipher", CIPHERS)
async def test_flow_completes_every_step_and_records_codes(
    scripted_server: ServerFactory, cipher: str, profile: str
) -> None:
    async with scripted_server(cipher=cipher, profile=profile,
                               accounts={"alice": "secret"}) as server:
        result = await run_flow(options(server, character="Alicia", create=True,
                                        chat="hello there", move=(521000.0, 519500.0)))

    assert result.ok, result.error
    assert [step.name for step in result.steps] == HAPPY_STEPS
    assert all(step.ok for step in result.steps)
    assert result.step("login").codes == {"result": 0}
    assert result.step("login").names == {"result": "OK"}
    assert result.step("select_server").codes == {"result": 0}
    assert result.step("char_join").codes == {"result": 0}
    assert result.step("create_character").names == {"result": "OK"}
    assert result.step("world_join").codes == {"result": 0}
    assert result.step("logout").codes == {"wait_time": 0}
    assert result.character == "Alicia"
    assert result.object_id == 1
    assert result.map_id == 20
    assert result.session_id in server.sessions
    # The "You are client N" whisper after the change of map is collected, not fatal.
    assert result.unexpected["PAKWC_WHISPER_CHAT"] == 1
    # The character connection was still open when the world leg joined (§7.3 step 10).
    assert server.open_legs_at_world_join == [2]


@pytest.mark.parametrize("cipher", CIPHERS)
async def test_flow_picks_existing_character_without_creating(
    scripted_server: ServerFactory, cipher: str
) -> None:
    async with scripted_server(cipher=cipher, accounts={"alice": "secret"},
                               characters={"alice": ["First", "Second"]}) as server:
        by_default = await run_flow(options(server))
        by_name = await run_flow(options(server, character="Second"))

    assert by_default.ok and by_default.character == "First"
    assert by_name.ok and by_name.character == "Second"
    assert not by_name.has_step("create_character")
    assert "PAKCS_CREATE_CHAR_REQ" not in server.received


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("cipher", CIPHERS)
async def test_flow_login_refusal_ends_with_the_code(
    scripted_server: ServerFactory, cipher: str, profile: str
) -> None:
    async with scripted_server(cipher=cipher, profile=profile,
                               accounts={"alice": "secret"}) as server:
        result = await run_flow(options(server, password="wrong"))

    assert not result.ok
    assert result.failed_step == "login"
    assert result.code == "INVALID_PASSWORD"
    assert result.code_value == LoginResult.INVALID_PASSWORD
    assert result.step("login").codes == {"result": 3}
    assert not result.step("login").ok
    assert [step.name for step in result.steps] == ["login_connect", "login"]
    assert "PAKCS_CHANNEL_LIST_REQ" not in server.received


async def test_flow_unknown_account_is_named(scripted_server: ServerFactory) -> None:
    async with scripted_server(accounts={}) as server:
        result = await run_flow(options(server))
    assert (result.failed_step, result.code) == ("login", "UNKNOWN_ACCOUNT")


async def test_flow_missing_character_without_create_fails_naming_it(
    scripted_server: ServerFactory,
) -> None:
    async with scripted_server(accounts={"alice": "secret"},
                               characters={"alice": ["Other"]}) as server:
        result = await run_flow(options(server, character="Nobody"))
    assert result.failed_step == "char_list"
    assert result.error is not None and "'Nobody' not found" in result.error
    assert "Other" in result.error


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("cipher", CIPHERS)
async def test_flow_timeout_names_step_and_expected_packet(
    scripted_server: ServerFactory, cipher: str, profile: str
) -> None:
    async with scripted_server(cipher=cipher, profile=profile, accounts={"alice": "secret"},
                               mute={"PAKCS_CHANNEL_LIST_REQ"}) as server:
        result = await run_flow(options(server, timeout=0.2))

    assert not result.ok
    assert result.failed_step == "channel_list"
    assert result.code is None
    assert result.error == ("step 'channel_list': timed out after 0.2s waiting for "
                            "PAKLC_CHANNEL_LIST_REPLY")
    assert not result.step("channel_list").ok


async def test_flow_reaches_a_wildcard_handout_the_way_it_came(
    scripted_server: ServerFactory,
) -> None:
    async with scripted_server(accounts={"alice": "secret"}, characters={"alice": ["A"]},
                               handout=(b"0.0.0.0", 0)) as server:
        result = await run_flow(options(server))
    assert result.ok, result.error


async def test_flow_unreachable_handout_fails_at_connect_unless_not_followed(
    scripted_server: ServerFactory, free_port: int
) -> None:
    async with scripted_server(accounts={"alice": "secret"}, characters={"alice": ["A"]},
                               handout=(b"127.0.0.1", free_port)) as server:
        followed = await run_flow(options(server))
        not_followed = await run_flow(options(server, follow_addresses=False))
    assert followed.failed_step == "char_connect"
    assert followed.error is not None
    expected = f"step 'char_connect': cannot connect to 127.0.0.1:{free_port}"
    assert followed.error.startswith(expected)
    assert not_followed.ok, not_followed.error


async def test_flow_total_deadline_fails_the_step_in_progress(
    scripted_server: ServerFactory,
) -> None:
    async with scripted_server(accounts={"alice": "secret"},
                               mute={"PAKCS_CHAR_LIST_REQ"}) as server:
        result = await run_flow(options(server, timeout=30.0),
                                deadline=anyio.current_time() + 0.3)
    assert result.failed_step == "char_list"
    assert result.error == "step 'char_list': total timeout reached"


async def test_flow_reports_initial_data_out_of_order(scripted_server: ServerFactory) -> None:
    async with scripted_server(accounts={"alice": "secret"}, characters={"alice": ["A"]},
                               initial_order=(1, 0, 2, 3)) as server:
        result = await run_flow(options(server))
    assert result.failed_step == "initial_data"
    assert result.error == ("step 'initial_data': received PAKWC_INVENTORY_DATA while waiting "
                            "for PAKWC_SELECT_CHAR_REPLY")


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("cipher", CIPHERS)
async def test_run_clients_runs_three_independent_clients(
    scripted_server: ServerFactory, cipher: str, profile: str
) -> None:
    accounts = {f"user{i}": "secret" for i in range(3)}
    async with scripted_server(cipher=cipher, profile=profile, accounts=accounts) as server:
        results = await run_clients(
            options(server, username="user{i}", character="Hero{i}", create=True,
                    chat="hi all", move=(1.0, 2.0)),
            3, total_timeout=10.0,
        )

    assert [result.client for result in results] == ["user0", "user1", "user2"]
    assert all(result.ok for result in results), [result.error for result in results]
    assert sorted(result.character or "" for result in results) == ["Hero0", "Hero1", "Hero2"]
    assert len({result.object_id for result in results}) == 3
    assert len({result.session_id for result in results}) == 3
    summary = RunSummary.from_results(results, elapsed=1.0)
    assert (summary.total, summary.succeeded, summary.failed, summary.ok) == (3, 3, 0, True)
    assert {timing.name: timing.count for timing in summary.steps}["logout"] == 3


async def test_run_clients_keeps_failures_apart(scripted_server: ServerFactory) -> None:
    async with scripted_server(accounts={"user0": "secret", "user2": "secret"}) as server:
        results = await run_clients(options(server, username="user{i}", create=True), 3)
    assert [result.ok for result in results] == [True, False, True]
    assert results[1].code == "UNKNOWN_ACCOUNT"
    summary = RunSummary.from_results(results, elapsed=0.5)
    assert summary.failures == {"login: UNKNOWN_ACCOUNT": 1}
    assert not summary.ok
