"""The chat command registry and dispatch of the core (:mod:`gateway_core.chat_commands`):
registrations checked at start-up, access levels and their setting, the wrapped normal-chat
route, and a handler that fails; the last ones through a real gateway over TCP."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest

from gateway_core.chat_commands import (
    NORMAL_CHAT,
    ChatCommand,
    ChatCommandError,
    ChatCommands,
    int_argument,
)
from gateway_core.config import ConfigError, load_settings
from gateway_core.core_packets import ANY_STATE
from gateway_core.hookspecs import hookimpl
from gateway_core.plugins import GatewayPluginManager
from gateway_core.protocol.packets import (
    CliLoginReq,
    CliNormalChat,
    SrvNormalChat,
    SrvWhisperChat,
)
from gateway_core.registry import (
    ChatCommandRegistrar,
    PacketRegistration,
    PluginError,
    Registry,
)
from gateway_core.session import Session, SessionState


def _noop(ctx: Any, command: ChatCommand) -> None:
    return None


# -- registrations ---------------------------------------------------------------------------


def test_registration_keeps_owner_level_usage_and_help() -> None:
    registry = Registry()
    ChatCommandRegistrar(registry, "mine")("tp", _noop, level=100, usage="MAP X Y", help="go")
    reg = registry.chat_commands["tp"]
    assert (reg.plugin, reg.level, reg.usage, reg.help) == ("mine", 100, "MAP X Y", "go")


def test_a_name_registered_twice_fails_start_up_naming_both_plugins() -> None:
    class One:
        @hookimpl
        def gateway_register_chat_commands(self, register: Any) -> None:
            register("kick", _noop, level=1)

    class Two(One):
        pass

    pm = GatewayPluginManager()
    pm.register(One(), "one")
    pm.register(Two(), "two")
    with pytest.raises(PluginError, match=r"/kick is registered by two plugins: '\w+' and '\w+'"
                       ) as info:
        pm.collect_registrations()
    assert "'one'" in str(info.value) and "'two'" in str(info.value)


@pytest.mark.parametrize(("name", "handler", "level"), [
    ("", _noop, 1), ("Kick", _noop, 1), ("a b", _noop, 1), ("/kick", _noop, 1),
    ("x" * 33, _noop, 1), ("kick", "not callable", 1), ("kick", _noop, -1),
    ("kick", _noop, 65536), ("kick", _noop, True), ("kick", _noop, 1.5),
])
def test_bad_registrations_fail_naming_the_plugin(name: str, handler: Any, level: Any) -> None:
    with pytest.raises(PluginError, match="plugin 'mine'"):
        ChatCommandRegistrar(Registry(), "mine")(name, handler, level=level)


def test_the_core_registers_help() -> None:
    pm = GatewayPluginManager()
    pm.load_plugins(load=["core"])
    pm.collect_registrations()
    assert pm.chat_commands["help"].plugin == "core"
    assert pm.chat_commands["help"].level == 0


# -- GM_COMMAND_LEVELS -----------------------------------------------------------------------


def test_levels_setting_reads_name_level_pairs() -> None:
    settings = load_settings({"GM_COMMAND_LEVELS": " tp=100, /Kick = 200,"}, environ={})
    assert dict(settings.GM_COMMAND_LEVELS) == {"tp": 100, "kick": 200}
    assert dict(load_settings({}, environ={}).GM_COMMAND_LEVELS) == {}
    table = load_settings({"GM_COMMAND_LEVELS": {"heal": 3}}, environ={})
    assert dict(table.GM_COMMAND_LEVELS) == {"heal": 3}


@pytest.mark.parametrize("value", ["tp", "tp=x", "tp=-1", "tp=65536", "tp=1,tp=2", "a b=1",
                                   "=5", 7])
def test_bad_levels_setting_fails_start_up(value: object) -> None:
    with pytest.raises(ConfigError, match="GM_COMMAND_LEVELS"):
        load_settings({"GM_COMMAND_LEVELS": value}, environ={})


def test_levels_override_the_registered_ones_and_unknown_names_are_reported(
        caplog: pytest.LogCaptureFixture) -> None:
    registry = Registry()
    ChatCommandRegistrar(registry, "p")("kick", _noop, level=100)
    ChatCommandRegistrar(registry, "p")("heal", _noop, level=100)
    with caplog.at_level(logging.WARNING):
        commands = ChatCommands(registry.chat_commands, context_for=_no_context,
                                levels={"kick": 200, "tp": 5})
    assert (commands.level("kick"), commands.level("heal"), commands.level("tp")) == \
        (200, 100, None)
    assert commands.unknown_levels == ("tp",)
    assert "GM_COMMAND_LEVELS names chat commands nobody registered: tp" in caplog.text
    assert [c.name for c in commands.available(150)] == ["heal"]


def _no_context(session: Any, plugin: str) -> Any:
    raise AssertionError("no command runs here")


# -- the wrapped route -----------------------------------------------------------------------


class _Ctx:
    def __init__(self, state: SessionState) -> None:
        self.session = type("S", (), {"state": state})()


def test_without_commands_the_routes_are_unchanged() -> None:
    routes = {NORMAL_CHAT: PacketRegistration("world", NORMAL_CHAT, _noop,
                                              frozenset({SessionState.IN_WORLD}))}
    commands = ChatCommands({}, context_for=_no_context)
    assert commands.wrap(routes) == routes


def test_lines_that_are_not_commands_reach_the_normal_chat_handler_in_the_same_call() -> None:
    seen: list[bytes] = []

    def on_chat(ctx: Any, packet: CliNormalChat) -> str:
        seen.append(packet.message)
        return "handled"

    registry = Registry()
    ChatCommandRegistrar(registry, "p")("x", _noop, level=0)
    world = frozenset({SessionState.IN_WORLD})
    routes = {NORMAL_CHAT: PacketRegistration("world", NORMAL_CHAT, on_chat, world)}
    wrapped = ChatCommands(registry.chat_commands, context_for=_no_context).wrap(routes)
    reg = wrapped[NORMAL_CHAT]
    assert (reg.plugin, reg.states) == ("world", world)
    ctx = _Ctx(SessionState.IN_WORLD)
    assert reg.handler(ctx, CliNormalChat(message=b"hello /x")) == "handled"
    assert seen == [b"hello /x"]
    # Without a normal chat plugin the core owns the route, in the world.
    alone = ChatCommands(registry.chat_commands, context_for=_no_context).wrap({})
    assert (alone[NORMAL_CHAT].plugin, alone[NORMAL_CHAT].states) == ("core", world)
    assert alone[NORMAL_CHAT].handler(ctx, CliNormalChat(message=b"hi")) is None


@pytest.mark.anyio
async def test_a_command_line_loses_its_control_characters_before_it_is_parsed() -> None:
    seen: list[ChatCommand] = []
    registry = Registry()
    ChatCommandRegistrar(registry, "p")("announce", lambda ctx, c: seen.append(c), level=0)
    commands = ChatCommands(registry.chat_commands,
                            context_for=lambda session, plugin: SimpleNamespace(clients={}))
    session = Session(1)
    await commands.run(session, b"/announce \x1b[31m[GM]\x1b[0m\r\nfree items\x08\x07")
    (line,) = seen
    assert (line.name, line.args) == ("announce", "[31m[GM][0m free items")


@pytest.mark.parametrize(("word", "value"), [("0", 0), ("+7", 7), ("10", 10)])
def test_int_argument_reads_bounded_numbers(word: str, value: int) -> None:
    assert int_argument(word, low=0, high=10) == value


@pytest.mark.parametrize("word", ["", "-1", "11", "x", "1.5", "٣", "9" * 21, "1_0"])
def test_int_argument_refuses_with_the_usage(word: str) -> None:
    with pytest.raises(ChatCommandError) as info:
        int_argument(word, low=0, high=10)
    assert info.value.message is None


# -- a real gateway --------------------------------------------------------------------------


class Failing:
    """/boom raises, /nope refuses with a text; PAKCS_LOGIN_REQ enters the world."""

    @hookimpl
    def gateway_register_chat_commands(self, register: Any) -> None:
        register("boom", self.boom, level=0)
        register("nope", self.nope, level=0, usage="THING")

    @hookimpl
    def gateway_register_packets(self, register: Any) -> None:
        register("PAKCS_LOGIN_REQ", self.login, states=ANY_STATE)

    async def login(self, ctx: Any, packet: Any) -> None:
        await ctx.session.set_state(SessionState.IN_WORLD)
        ctx.reply(SrvNormalChat(char_id=0, message=b"in"))

    async def boom(self, ctx: Any, command: ChatCommand) -> None:
        raise RuntimeError("broken command")

    def nope(self, ctx: Any, command: ChatCommand) -> None:
        raise ChatCommandError(f"no {command.args}")


def _whisper(text: str) -> SrvWhisperChat:
    return SrvWhisperChat(sender=b"server msg", message=text.encode())


@pytest.mark.anyio
async def test_a_failing_handler_is_counted_and_whispered_and_the_connection_goes_on(
        gateway: Any, connect: Any) -> None:
    async with gateway((Failing(), "failing")) as gw, connect(gw) as client:
        await client.send(CliLoginReq(password=b"0" * 64, username=b"u"))
        await client.receive()
        await client.send(CliNormalChat(message=b"/boom"))
        assert await client.receive() == [_whisper("/boom failed; the server log says why.")]
        await client.send(CliNormalChat(message=b"/nope cake"))
        assert await client.receive() == [_whisper("no cake")]
        await client.send(CliNormalChat(message=b"/nope " + b"x" * 300))
        assert await client.receive() == [_whisper("Usage: /nope THING")]
        await client.send(CliNormalChat(message=b"/"))
        assert await client.receive() == [_whisper(
            "Unknown command /. Type /help for the commands you may use.")]
        # Still connected: /help answers (core), listing what this player may use.
        await client.send(CliNormalChat(message=b"/help"))
        assert await client.receive(4) == [
            _whisper("Commands you may use:"), _whisper("/boom"),
            _whisper("/help: the commands you may use"), _whisper("/nope THING")]
        registry = gw.metrics.registry

        def count(command: str, outcome: str) -> float:
            return registry.get_sample_value(
                "gateway_chat_commands_total", {"command": command, "outcome": outcome}) or 0

        assert count("boom", "error") == 1
        assert count("nope", "refused") == 1 and count("nope", "bad_args") == 1
        assert count("unknown", "unknown") == 1 and count("help", "ok") == 1
        assert registry.get_sample_value("gateway_handler_errors_total",
                                         {"plugin": "failing"}) == 1
