"""Meta-tests (datasette style): every hook has a test here named ``test_hook_<name>`` and a
documented signature (docstring + a section in docs/plugins.md); then those tests."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import anyio
import pytest

from gateway_core import hookspecs
from gateway_core.core_packets import ANY_STATE
from gateway_core.hookspecs import hookimpl
from gateway_core.plugins import GatewayPluginManager
from gateway_core.protocol.packets import (
    CliLoginReq,
    CliNormalChat,
    SrvNormalChat,
    SrvWhisperChat,
)
from gateway_core.registry import CommandRegistrar, Registry
from gateway_core.session import Session, SessionState

DOCS = Path(__file__).parent.parent / "docs" / "plugins.md"
HOOKS = sorted(name for name, value in vars(hookspecs).items()
               if name.startswith("gateway_") and inspect.isfunction(value))


def test_hookspecs_are_declared() -> None:
    pm = GatewayPluginManager()
    assert HOOKS and all(hasattr(pm.hook, name) for name in HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_plugin_hooks_have_tests(hook: str) -> None:
    assert f"test_hook_{hook}" in globals(), f"write test_hook_{hook} in {__file__}"


@pytest.mark.parametrize("hook", HOOKS)
def test_plugin_hooks_are_documented(hook: str) -> None:
    function = getattr(hookspecs, hook)
    assert (function.__doc__ or "").strip(), f"{hook} has no docstring"
    params = ", ".join(inspect.signature(function).parameters)
    heading = f"### `{hook}({params})`"
    assert heading in DOCS.read_text(), f"docs/plugins.md lacks the section {heading!r}"


def test_documented_hooks_exist() -> None:
    documented = re.findall(r"^### `(gateway_\w+)\(", DOCS.read_text(), re.MULTILINE)
    assert sorted(documented) == HOOKS


# -- one test per hook -----------------------------------------------------------------------


class Lifecycle:
    """Records every lifecycle hook; logs in on PAKCS_LOGIN_REQ to change the state."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    @hookimpl
    def gateway_register_packets(self, register: Any) -> None:
        register("PAKCS_LOGIN_REQ", self.login, states=ANY_STATE)

    async def login(self, ctx: Any, packet: Any) -> None:
        await ctx.session.set_state(SessionState.LOGGED_IN)
        ctx.reply(SrvNormalChat(char_id=0, message=b"ok"))

    @hookimpl
    async def gateway_startup(self, app: Any) -> None:
        self.events.append(("startup", type(app).__name__))

    @hookimpl
    def gateway_shutdown(self, app: Any) -> None:
        self.events.append(("shutdown", type(app).__name__))

    @hookimpl
    def gateway_session_opened(self, session: Session) -> None:
        self.events.append(("opened", session.connection_id, session.state))

    @hookimpl
    async def gateway_session_state_changed(
        self, session: Session, old: SessionState, new: SessionState
    ) -> None:
        self.events.append(("changed", session.connection_id, old, new))

    @hookimpl
    def gateway_session_closed(self, session: Session) -> None:
        self.events.append(("closed", session.connection_id))


async def run_flow(gateway: Any, connect: Any) -> list[tuple[Any, ...]]:
    probe = Lifecycle()
    async with gateway(probe) as gw:
        async with connect(gw) as client:
            await client.send(CliLoginReq(password=b"0" * 64, username=b"u"))
            await client.receive()
        with anyio.fail_after(3):
            while ("closed", 1) not in probe.events:
                await anyio.sleep(0.01)
    return probe.events


@pytest.mark.anyio
async def test_hook_gateway_startup(gateway: Any, connect: Any) -> None:
    events = await run_flow(gateway, connect)
    assert events[0] == ("startup", "Gateway")


@pytest.mark.anyio
async def test_hook_gateway_shutdown(gateway: Any, connect: Any) -> None:
    events = await run_flow(gateway, connect)
    assert events[-1] == ("shutdown", "Gateway")


@pytest.mark.anyio
async def test_hook_gateway_session_opened(gateway: Any, connect: Any) -> None:
    events = await run_flow(gateway, connect)
    assert events[1] == ("opened", 1, SessionState.CONNECTED)


@pytest.mark.anyio
async def test_hook_gateway_session_state_changed(gateway: Any, connect: Any) -> None:
    events = await run_flow(gateway, connect)
    changes = [e for e in events if e[0] == "changed"]
    assert changes == [("changed", 1, SessionState.CONNECTED, SessionState.LOGGED_IN),
                       ("changed", 1, SessionState.LOGGED_IN, SessionState.CLOSING)]


@pytest.mark.anyio
async def test_hook_gateway_session_closed(gateway: Any, connect: Any) -> None:
    events = await run_flow(gateway, connect)
    closed = events.index(("closed", 1))
    assert events.index(("changed", 1, SessionState.LOGGED_IN, SessionState.CLOSING)) < closed


def test_hook_gateway_register_settings() -> None:
    class Declares:
        @hookimpl
        def gateway_register_settings(self, register: Any) -> None:
            register("HELLO_TIMES", 3, validate=lambda v: None if v > 0 else "must be > 0",
                     doc="How often to say hello.")

    pm = GatewayPluginManager()
    pm.register(Declares(), "hello")
    [setting] = pm.collect_settings()
    assert (setting.plugin, setting.name, setting.default, setting.doc) == (
        "hello", "HELLO_TIMES", 3, "How often to say hello.")
    assert setting.validate is not None and setting.validate(0) == "must be > 0"


def test_hook_gateway_register_packets() -> None:
    async def handler(ctx: Any, packet: Any) -> None:
        pass

    class Claims:
        @hookimpl
        def gateway_register_packets(self, register: Any) -> None:
            register("PAKCS_NORMAL_CHAT", handler, states=[SessionState.IN_WORLD])

    pm = GatewayPluginManager()
    pm.register(Claims(), "claims")
    pm.collect_registrations()
    reg = pm.packet_handlers["PAKCS_NORMAL_CHAT"]
    assert (reg.plugin, reg.handler, reg.states) == ("claims", handler,
                                                      frozenset({SessionState.IN_WORLD}))


def test_hook_gateway_register_grpc_clients() -> None:
    class Needs:
        @hookimpl
        def gateway_register_grpc_clients(self, register: Any) -> None:
            register("chat", dict)
            register("world", list, deadline=0.5)

    pm = GatewayPluginManager()
    pm.register(Needs(), "needs")
    pm.collect_registrations()
    assert [(c.plugin, c.service, c.stub_class, c.deadline) for c in pm.grpc_clients] == [
        ("needs", "chat", dict, None), ("needs", "world", list, 0.5)]


def test_hook_gateway_register_services() -> None:
    def factory(config: Any) -> Any:
        return config

    class Provides:
        @hookimpl
        def gateway_register_services(self, register: Any) -> None:
            register("chat", factory)

    pm = GatewayPluginManager()
    pm.register(Provides(), "provides")
    pm.collect_registrations()
    service = pm.services["chat"]
    assert (service.plugin, service.factory) == ("provides", factory)


def test_hook_gateway_register_commands() -> None:
    class Commands:
        @hookimpl
        def gateway_register_commands(self, register: Any) -> None:
            register("hello", help="say hello", configure=lambda parser: None,
                     run=lambda args, cli: 0)

    pm = GatewayPluginManager()
    pm.register(Commands(), "commands")
    registry = Registry()
    pm.hook.gateway_register_commands(register=CommandRegistrar(registry, "commands"))
    assert registry.commands["hello"].plugin == "commands"
    pm.collect_registrations()
    assert pm.commands["hello"].plugin == "commands"


class Commands:
    """Registers the chat command /echo (level 5) and enters the world on PAKCS_LOGIN_REQ,
    with the access level the test gives; no plugin handles normal chat."""

    def __init__(self, access_level: int) -> None:
        self.access_level = access_level
        self.seen: list[tuple[str, ...]] = []

    @hookimpl
    def gateway_register_chat_commands(self, register: Any) -> None:
        register("echo", self.echo, level=5, usage="TEXT", help="say TEXT back")

    @hookimpl
    def gateway_register_packets(self, register: Any) -> None:
        register("PAKCS_LOGIN_REQ", self.login, states=ANY_STATE)

    async def login(self, ctx: Any, packet: Any) -> None:
        ctx.session.access_level = self.access_level
        await ctx.session.set_state(SessionState.IN_WORLD)
        ctx.reply(SrvNormalChat(char_id=0, message=b"in"))

    async def echo(self, ctx: Any, command: Any) -> None:
        self.seen.append((ctx.plugin, command.name, command.args, *command.words))
        ctx.reply(SrvWhisperChat(sender=b"echo", message=command.args.encode()))


@pytest.mark.anyio
@pytest.mark.parametrize("access_level", [5, 4])
async def test_hook_gateway_register_chat_commands(
    gateway: Any, connect: Any, access_level: int
) -> None:
    plugin = Commands(access_level)
    async with gateway((plugin, "commands")) as gw, connect(gw) as client:
        assert gw.pm.chat_commands["echo"].plugin == "commands"
        await client.send(CliLoginReq(password=b"0" * 64, username=b"u"))
        await client.receive()
        await client.send(CliNormalChat(message=b"/Echo  hello   world "))
        (reply,) = await client.receive()
    if access_level == 5:
        # The handler got its own plugin's context and the parsed line.
        assert plugin.seen == [("commands", "echo", "hello   world", "hello", "world")]
        assert reply == SrvWhisperChat(sender=b"echo", message=b"hello   world")
    else:
        assert plugin.seen == []
        assert reply == SrvWhisperChat(sender=b"server msg",
                                       message=b"You are not allowed to use /echo.")


class Counted:
    """A runtime that records what the core tells it."""

    def __init__(self, gateway: Any) -> None:
        self.gateway = gateway
        self.events: list[tuple[Any, ...]] = []

    async def start(self) -> None:
        self.events.append(("start",))

    def session_opened(self, session: Session) -> None:
        self.events.append(("opened", session.connection_id))

    async def session_state_changed(
        self, session: Session, old: SessionState, new: SessionState
    ) -> None:
        self.events.append(("changed", old, new))

    def session_closed(self, session: Session) -> None:
        self.events.append(("closed", session.connection_id))

    async def stop(self) -> None:
        self.events.append(("stop",))


class WithRuntime:
    """Registers a runtime; its handler and hooks report the runtime they were given."""

    def __init__(self) -> None:
        self.runtimes: list[Counted] = []
        self.seen: list[tuple[str, Any]] = []

    def make(self, gateway: Any) -> Counted:
        runtime = Counted(gateway)
        self.runtimes.append(runtime)
        return runtime

    @hookimpl
    def gateway_register_runtime(self, register: Any) -> None:
        register(self.make)

    @hookimpl
    def gateway_register_packets(self, register: Any) -> None:
        register("PAKCS_LOGIN_REQ", self.login, states=ANY_STATE)

    def login(self, ctx: Any, packet: Any) -> None:  # a plain def handler
        self.seen.append(("handler", ctx.runtime))
        ctx.reply(SrvNormalChat(char_id=0, message=b"ok"))

    @hookimpl
    def gateway_startup(self, app: Any, runtime: Any) -> None:
        self.seen.append(("startup", runtime))
        assert runtime.events == [("start",)]  # started before the startup hooks

    @hookimpl
    def gateway_session_closed(self, session: Session, runtime: Any) -> None:
        self.seen.append(("closed", runtime))

    @hookimpl
    def gateway_shutdown(self, app: Any, runtime: Any) -> None:
        self.seen.append(("shutdown", runtime))


@pytest.mark.anyio
async def test_hook_gateway_register_runtime(gateway: Any, connect: Any) -> None:
    plugin = WithRuntime()
    async with gateway((plugin, "with-runtime")) as first, gateway((plugin, "with-runtime")):
        async with connect(first) as client:
            await client.send(CliLoginReq(password=b"0" * 64, username=b"u"))
            assert await client.receive() == [SrvNormalChat(char_id=0, message=b"ok")]
        mine, other = plugin.runtimes
        assert mine.gateway is first and other.gateway is not first
        assert first.runtimes["with-runtime"] is mine
        with anyio.fail_after(3):
            while ("closed", 1) not in mine.events:
                await anyio.sleep(0.01)
    # Each gateway handed its own runtime to its handler and hooks, and told it everything.
    assert ("handler", mine) in plugin.seen and ("handler", other) not in plugin.seen
    assert [who for what, who in plugin.seen if what == "closed"] == [mine]
    assert {id(who) for what, who in plugin.seen if what == "startup"} == {id(mine), id(other)}
    assert mine.events == [
        ("start",), ("opened", 1), ("changed", SessionState.CONNECTED, SessionState.CLOSING),
        ("closed", 1), ("stop",),
    ]
    assert other.events == [("start",), ("stop",)]
