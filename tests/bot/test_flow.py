"""The bot's scripted flow and its building blocks, against the scripted server.

Boundary: the server side is the scripted peer of ``tests/bot/conftest.py`` (real TCP on
127.0.0.1, real ProtocolConnection in the server role), standing in for the gateway's auth,
character, chat and world handlers until they exist. Both ciphers and both numbering profiles.
"""

from __future__ import annotations

import argparse
import json

import anyio
import anyio.from_thread
import pytest

from gateway_core.bot import cli as bot_cli
from gateway_core.bot.client import StepTimeout, UnexpectedPacket
from gateway_core.bot.flow import (
    FlowOptions,
    Refused,
    alive,
    char_list,
    connect,
    create_character,
    enter_world,
    join,
    login,
    logout,
    run_clients,
    run_flow,
    select_character,
    select_server,
)
from gateway_core.bot.results import RunSummary
from gateway_core.config import load_settings
from gateway_core.protocol.packets import (
    CreateCharResult,
    JoinResult,
    LoginResult,
    ServerSelectResult,
)

from .conftest import CIPHERS, PROFILES, ScriptedServer, ServerFactory, running

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


# -- building blocks, driven one step at a time ------------------------------------------


@pytest.mark.parametrize("cipher", CIPHERS)
async def test_blocks_return_refusals_for_the_caller_to_judge(
    scripted_server: ServerFactory, cipher: str
) -> None:
    async with scripted_server(cipher=cipher, accounts={"alice": "secret", "bob": "pw"},
                               characters={"bob": ["Taken"]}) as server:
        async with await connect("127.0.0.1", server.port, cipher=cipher, timeout=FAST) as leg:
            reply = await login(leg, "alice", "secret")
            assert reply.result == LoginResult.OK
            assert [info.id for info in reply.servers_info] == [7]
            selected = await select_server(leg, 7, 1)
            assert selected.result == ServerSelectResult.OK

        async with await connect("127.0.0.1", server.port, cipher=cipher, timeout=FAST) as leg:
            forged = await join(leg, selected.session_id + 1, "secret")
            assert forged.result == JoinResult.INVALID_PASSWORD

        async with await connect("127.0.0.1", server.port, cipher=cipher, timeout=FAST) as leg:
            joined = await join(leg, selected.session_id, "secret")
            assert joined.result == JoinResult.OK
            taken = await create_character(leg, "Taken")
            assert taken.result == CreateCharResult.NAME_TAKEN
            created = await create_character(leg, "Fresh")
            assert created.result == CreateCharResult.OK
            listing = await char_list(leg)
            assert [info.name for info in listing.characters] == [b"Fresh"]
            await alive(leg)  # never answered: the next reply is still the select's
            switch = await select_character(leg, 0, "Fresh")
            assert switch.session_id == selected.session_id

            async with await connect("127.0.0.1", switch.port, cipher=cipher,
                                     timeout=FAST) as world:
                entry = await enter_world(world, switch.session_id, "secret")
                assert entry.object_id == entry.change_map.object_index
                assert entry.initial.character.name == b"Fresh"
                assert entry.initial.billing.function_type == 0x1001
                bye = await logout(world)
                assert bye.wait_time == 0
    assert "PAKCS_ALIVE" in server.received


async def test_enter_world_raises_refused_for_a_bad_session(
    scripted_server: ServerFactory,
) -> None:
    async with scripted_server(accounts={"alice": "secret"}) as server:
        async with await connect("127.0.0.1", server.port, timeout=FAST) as leg:
            with pytest.raises(Refused) as caught:
                await enter_world(leg, 999, "secret")
    assert (caught.value.step, caught.value.code, caught.value.value) == (
        "enter_world", "INVALID_PASSWORD", 3)


async def test_block_timeout_is_a_step_timeout(scripted_server: ServerFactory) -> None:
    async with scripted_server(accounts={"alice": "secret"},
                               mute={"PAKCS_LOGIN_REQ"}) as server:
        async with await connect("127.0.0.1", server.port, timeout=0.1) as leg:
            with pytest.raises(StepTimeout) as caught:
                await login(leg, "alice", "secret", step="my_login")
    assert caught.value.step == "my_login"
    assert caught.value.expected == "PAKLC_LOGIN_REPLY"


async def test_receive_initial_data_rejects_order_swap_as_unexpected_packet(
    scripted_server: ServerFactory,
) -> None:
    async with scripted_server(accounts={"alice": "secret"}, characters={"alice": ["A"]},
                               initial_order=(0, 1, 3, 2)) as server:
        async with await connect("127.0.0.1", server.port, timeout=FAST) as leg:
            await login(leg, "alice", "secret")
            selected = await select_server(leg, 7, 1)
        async with await connect("127.0.0.1", server.port, timeout=FAST) as leg:
            await join(leg, selected.session_id, "secret")
            await select_character(leg, 0, "A")
            async with await connect("127.0.0.1", server.port, timeout=FAST) as world:
                with pytest.raises(UnexpectedPacket) as caught:
                    await enter_world(world, selected.session_id, "secret")
    assert caught.value.received == "PAKWC_BILLING_MESSAGE"
    assert caught.value.expected == "PAKWC_QUEST_DATA"


# -- the command line --------------------------------------------------------------------


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bot_cli.configure(parser)
    return parser.parse_args(list(argv))


def test_cli_parses_move_and_rejects_bad_values() -> None:
    args = parse("--move", "10.5,-3", "--count", "4", "--chat", "yo")
    assert (args.move, args.count, args.chat) == ((10.5, -3.0), 4, "yo")
    assert args.user == "bot{i}"
    for bad in (["--move", "1"], ["--count", "0"], ["--timeout", "-1"]):
        with pytest.raises(SystemExit):
            parse(*bad)


def test_cli_defaults_come_from_the_gateway_settings() -> None:
    settings = load_settings({"SERVICE_PORT": 29123, "CIPHER": "rosecrypt",
                              "PACKET_PROFILE": "2021"}, environ={})
    from_settings = bot_cli.options_from_args(parse(), settings)
    assert (from_settings.port, from_settings.cipher, from_settings.profile) == (
        29123, "rosecrypt", "2021")
    # A backend call that hit GRPC_DEADLINE is answered FAILED before a bot gives up waiting.
    assert from_settings.timeout > settings.GRPC_DEADLINE
    assert FlowOptions().timeout == from_settings.timeout
    explicit = bot_cli.options_from_args(
        parse("--port", "1234", "--cipher", "plain", "--profile", "2026"), settings)
    assert (explicit.port, explicit.cipher, explicit.profile) == (1234, "plain", "2026")


@pytest.mark.parametrize("cipher", CIPHERS)
def test_cli_json_run_exits_zero_when_every_client_completes(
    cipher: str, capsys: pytest.CaptureFixture[str]
) -> None:
    server = ScriptedServer(cipher=cipher, accounts={f"u{i}": "pw" for i in range(1, 3)})
    with anyio.from_thread.start_blocking_portal("asyncio") as portal:
        with portal.wrap_async_context_manager(running(server)):
            args = parse("--port", str(server.port), "--cipher", cipher, "--user", "u{i}",
                         "--password", "pw", "--create", "--count", "2", "--first-index",
                         "1", "--chat", "hey", "--move", "5,6", "--timeout", "2", "--json")
            status = bot_cli.run(args, None)
    document = json.loads(capsys.readouterr().out)
    assert status == 0
    assert document["summary"]["ok"] is True
    assert document["summary"]["succeeded"] == 2
    assert [client["client"] for client in document["clients"]] == ["u1", "u2"]
    assert document["clients"][0]["steps"][1] == {
        "name": "login", "ok": True, "elapsed_ms": document["clients"][0]["steps"][1]
        ["elapsed_ms"], "codes": {"result": 0}, "names": {"result": "OK"}, "detail": "1 server(s)"}
    assert document["options"]["cipher"] == cipher


def test_cli_table_run_exits_non_zero_and_names_the_refusal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = ScriptedServer(accounts={"u0": "pw"})
    with anyio.from_thread.start_blocking_portal("asyncio") as portal:
        with portal.wrap_async_context_manager(running(server)):
            args = parse("--port", str(server.port), "--user", "u0", "--password", "nope",
                         "--timeout", "2")
            status = bot_cli.run(args, None)
    out = capsys.readouterr().out
    assert status == 1
    assert "login: INVALID_PASSWORD" in out
    assert "0/1 ok" in out
