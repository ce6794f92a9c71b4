"""``gateway bot`` (:mod:`gateway_core.bot.cli`): argument parsing, defaults from the gateway
settings, and whole runs against the scripted server (``tests/bot/conftest.py``)."""

from __future__ import annotations

import argparse
import json

import anyio
import anyio.from_thread
import pytest

from gateway_core.bot import cli as bot_cli
from gateway_core.bot.journey import FlowOptions
from gateway_core.config import load_settings

from .conftest import CIPHERS, ScriptedServer, running


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


def test_cli_failure_summary_says_what_the_code_means_and_what_to_do(
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = ScriptedServer(accounts={})
    with anyio.from_thread.start_blocking_portal("asyncio") as portal:
        with portal.wrap_async_context_manager(running(server)):
            args = parse("--port", str(server.port), "--user", "u{i}", "--count", "2",
                         "--timeout", "2")
            status = bot_cli.run(args, None)
    out = " ".join(capsys.readouterr().out.split())  # rich wraps at 80 columns
    assert status == 1
    assert "failures: login: UNKNOWN_ACCOUNT x2" in out
    assert "means: there is no account of that name" in out
    assert "do: create it (gateway account create NAME --password PW)" in out


def test_cli_parses_the_load_options_and_refuses_a_stay_without_the_map(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = parse("--ramp", "2.5", "--stay", "30", "--move-rate", "0", "--chat-rate", "0.5")
    assert (args.ramp, args.stay, args.move_rate, args.chat_rate) == (2.5, 30.0, 0.0, 0.5)
    built = bot_cli.options_from_args(args)
    assert (built.stay, built.move_rate, built.chat_rate) == (30.0, 0.0, 0.5)
    defaults = parse()
    assert (defaults.ramp, defaults.stay) == (None, 0.0)
    assert 0 < defaults.move_rate <= 1 and 0 < defaults.chat_rate <= 1  # modest
    for bad in (["--ramp", "0"], ["--stay", "-1"], ["--move-rate", "x"]):
        with pytest.raises(SystemExit):
            parse(*bad)
    assert bot_cli.run(parse("--stay", "5", "--no-enter-map"), None) == 2
    assert "--stay needs the map" in capsys.readouterr().err
