"""Plugin runtimes: made per gateway from the plugin's factory, started before the startup hooks,
told of every session event, handed to the plugin's own hooks, stopped at shutdown; a runtime
that raises is logged and counted and the others go on. Real gateways (built, not listening)
with real connection registries and metrics registries; the one boundary replaced is a
gateway's backend clients (``backends``, a plain mapping naming the service)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from gateway_core.api import (
    SELECTED_CHARACTER,
    GatewayView,
    InWorldRuntime,
    Key,
    Position,
    RecordWriter,
    SelectedCharacter,
    Session,
    SessionState,
    hookimpl,
)
from gateway_core.app import Gateway
from gateway_core.plugins import GatewayPluginManager

SETTINGS: dict[str, object] = {
    "LISTEN_ADDR": "127.0.0.1",
    "SERVICE_PORT": 0,
    "PACKET_METRICS_PORT": 0,
    "GATEWAY_LOAD_PLUGINS": (),
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class DemoRuntime(InWorldRuntime):
    PLUGIN = "demo"
    DROPS_HELP = "Demo requests dropped, by reason."
    SERVICE = "demo"
    WITHOUT_SERVICE = "demo events are disabled"

    def __init__(self, gateway: GatewayView) -> None:
        super().__init__(gateway)
        self.events: list[str] = []

    def start(self) -> None:
        self.events.append("start")

    async def stop(self) -> None:
        self.events.append("stop")

    async def entered(self, session: Session) -> None:
        character = session.records.require(SELECTED_CHARACTER)
        self.sessions[character.character_id] = session
        self.events.append(f"entered #{session.connection_id}")

    async def left(self, session: Session) -> None:
        character = session.records.get(SELECTED_CHARACTER)
        if character is not None:
            self.sessions.pop(character.character_id, None)
        self.events.append(f"left #{session.connection_id}")


class Demo:
    """A plugin whose runtime needs the ``demo`` backend, and whose hook reports it."""

    def __init__(self) -> None:
        self.hook_saw: list[Any] = []

    @staticmethod
    def make(gateway: GatewayView) -> DemoRuntime | None:
        return DemoRuntime(gateway) if "demo" in gateway.clients else None

    @hookimpl
    def gateway_register_runtime(self, register: Any) -> None:
        register(self.make)

    @hookimpl
    def gateway_session_closed(self, session: Session, runtime: Any) -> None:
        self.hook_saw.append(runtime)


def _gateway(plugin: object | None = None, *, with_client: bool = True) -> Gateway:
    pm = GatewayPluginManager()
    if plugin is not None:
        pm.register(plugin, "demo")
    gateway = Gateway(overrides=SETTINGS, environ={}, pm=pm)
    if with_client:
        gateway.backends = {"demo": object()}  # type: ignore[assignment]
    return gateway


def _session(gateway: Gateway, character_id: int) -> Session:
    session = Session(gateway.connections.next_connection_id())
    # Written as the character plugin would: the record's one owner.
    RecordWriter("character", {SELECTED_CHARACTER: "character"}).set(
        session, SELECTED_CHARACTER,
        SelectedCharacter(character_id, f"c{character_id}", 1, Position()),
    )
    gateway.connections.add(session)
    return session


def test_gateway_plugin_state_is_typed_per_plugin_storage() -> None:
    gateway = _gateway(with_client=False)
    counter = Key[int]("demo.counter")
    assert gateway.plugin_state.get(counter) is None
    gateway.plugin_state.set(counter, 3)
    assert gateway.plugin_state.require(counter) == 3
    assert _gateway(with_client=False).plugin_state.get(counter) is None


@pytest.mark.anyio
async def test_each_gateway_makes_and_starts_its_own_runtime() -> None:
    plugin = Demo()
    a, b = _gateway(plugin), _gateway(plugin)
    await a.lifecycle.start(a)
    await b.lifecycle.start(b)
    on_a, on_b = a.runtimes["demo"], b.runtimes["demo"]
    assert on_a is not on_b and on_a.app is a and on_b.app is b
    assert on_a.events == ["start"] and a.lifecycle.get("demo") is on_a


@pytest.mark.anyio
async def test_session_events_tell_the_runtime_of_entering_and_leaving_the_world() -> None:
    plugin = Demo()
    gateway = _gateway(plugin)
    await gateway.lifecycle.start(gateway)
    runtime = gateway.runtimes["demo"]
    alice, bob = _session(gateway, 1), _session(gateway, 2)
    await alice.set_state(SessionState.LOGGED_IN)
    await alice.set_state(SessionState.IN_WORLD)
    await bob.set_state(SessionState.IN_WORLD)
    await alice.set_state(SessionState.CHARACTER_SELECT)
    gateway.connections.remove(bob)
    await gateway.lifecycle.call_lifecycle("gateway_session_closed", session=bob)
    assert runtime.events == [
        "start",
        f"entered #{alice.connection_id}",
        f"entered #{bob.connection_id}",
        f"left #{alice.connection_id}",
        f"left #{bob.connection_id}",
    ]
    assert plugin.hook_saw == [runtime]  # the plugin's own hook got its own runtime


@pytest.mark.anyio
async def test_stop_stops_and_forgets_the_gateways_runtimes() -> None:
    plugin = Demo()
    gateway, other = _gateway(plugin), _gateway(plugin)
    await gateway.lifecycle.start(gateway)
    await other.lifecycle.start(other)
    runtime = gateway.runtimes["demo"]
    await gateway.lifecycle.stop()
    assert runtime.events == ["start", "stop"]
    assert "demo" not in gateway.runtimes and "demo" in other.runtimes
    await gateway.lifecycle.stop()  # a second stop has nothing to stop
    assert runtime.events == ["start", "stop"]


@pytest.mark.anyio
async def test_a_factory_may_decline_and_the_handlers_then_get_no_runtime() -> None:
    gateway = _gateway(Demo(), with_client=False)
    await gateway.lifecycle.start(gateway)
    assert "demo" not in gateway.runtimes
    assert gateway.router.context(_session(gateway, 1), "demo").runtime is None


def test_create_makes_no_runtime_without_the_backend_client_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger=__name__):
        assert DemoRuntime.create(_gateway(with_client=False)) is None
    assert [r.getMessage() for r in caplog.records] == [
        "demo: no demo client; demo events are disabled"
    ]
    gateway = _gateway()
    runtime = DemoRuntime.create(gateway)
    assert isinstance(runtime, DemoRuntime) and runtime.app is gateway


class Broken(DemoRuntime):
    PLUGIN = "broken"

    async def entered(self, session: Session) -> None:
        raise RuntimeError("boom")


@pytest.mark.anyio
async def test_a_runtime_that_raises_is_logged_and_counted_and_others_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Two(Demo):
        @staticmethod
        def make(gateway: GatewayView) -> DemoRuntime | None:
            return Broken(gateway)

    pm = GatewayPluginManager()
    pm.register(Two(), "broken")
    pm.register(Demo(), "demo")
    gateway = Gateway(overrides=SETTINGS, environ={}, pm=pm)
    gateway.backends = {"demo": object()}  # type: ignore[assignment]
    await gateway.lifecycle.start(gateway)
    session = _session(gateway, 1)
    with caplog.at_level(logging.ERROR, logger="gateway.plugins"):
        await session.set_state(SessionState.IN_WORLD)
    assert gateway.runtimes["demo"].events == ["start", f"entered #{session.connection_id}"]
    assert "plugin broken: runtime raised in session_state_changed" in caplog.text
    assert gateway.metrics.registry.get_sample_value(
        "gateway_handler_errors_total", {"plugin": "broken"}) == 1
