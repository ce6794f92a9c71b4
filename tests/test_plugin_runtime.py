"""A plugin's per-gateway runtime: kept on its gateway (``app.plugin_state``), found from a
session, told of sessions entering and leaving the world, closed at shutdown. Real gateways
(built, not listening) with real connection registrys and metrics registries; the one boundary
replaced is the gateway's gRPC clients (a plain mapping naming the backend)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from gateway_core.app import Gateway
from gateway_core.plugin_runtime import PluginRuntime, Runtimes
from gateway_core.session import Key, Session, SessionState

SETTINGS: dict[str, object] = {
    "LISTEN_ADDR": "127.0.0.1",
    "SERVICE_PORT": 0,
    "PACKET_METRICS_PORT": 0,
    "GATEWAY_LOAD_PLUGINS": (),
}

log = logging.getLogger("test.plugin_runtime")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class DemoRuntime(PluginRuntime):
    PLUGIN = "demo"
    DROPS_HELP = "Demo requests dropped, by reason."

    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self.events: list[str] = []

    def start(self) -> None:
        self.events.append("start")

    async def aclose(self) -> None:
        self.events.append("aclose")

    async def entered(self, session: Session) -> None:
        assert session.character_id is not None
        self.sessions[session.character_id] = session
        self.events.append(f"entered #{session.connection_id}")

    async def left(self, session: Session) -> None:
        if session.character_id is not None:
            self.sessions.pop(session.character_id, None)
        self.events.append(f"left #{session.connection_id}")


def _gateway(*, with_client: bool = True) -> Gateway:
    gateway = Gateway(overrides=SETTINGS, environ={})
    if with_client:
        gateway.clients = {"demo": object()}  # type: ignore[assignment]
    return gateway


def _session(gateway: Gateway, character_id: int) -> Session:
    session = Session(gateway.connections.next_connection_id())
    session.character_id = character_id
    gateway.connections.add(session)
    return session


def test_gateway_plugin_state_is_typed_per_plugin_storage() -> None:
    gateway = _gateway(with_client=False)
    counter = Key[int]("demo.counter")
    assert gateway.plugin_state.get(counter) is None
    gateway.plugin_state.set(counter, 3)
    assert gateway.plugin_state.require(counter) == 3
    assert _gateway(with_client=False).plugin_state.get(counter) is None


def test_each_gateway_keeps_its_own_runtime_and_a_session_finds_its_gateways() -> None:
    runtimes = Runtimes[DemoRuntime]("demo", log=log)
    a, b = _gateway(), _gateway()
    runtimes.start(a, "demo", DemoRuntime, disabled="demo is disabled")
    runtimes.start(b, "demo", DemoRuntime, disabled="demo is disabled")
    on_a, on_b = runtimes.get(a), runtimes.get(b)
    assert on_a is not None and on_b is not None and on_a is not on_b
    assert a.plugin_state.get(runtimes.key) is on_a
    assert on_a.events == ["start"] and on_a.app is a
    assert runtimes.for_session(_session(a, 1)) is on_a
    assert runtimes.for_session(_session(b, 1)) is on_b
    assert runtimes.for_session(Session(99)) is None


@pytest.mark.anyio
async def test_session_hooks_tell_the_runtime_of_entering_and_leaving_the_world() -> None:
    runtimes = Runtimes[DemoRuntime]("demo", log=log)
    gateway = _gateway()
    runtimes.start(gateway, "demo", DemoRuntime, disabled="demo is disabled")
    runtime = runtimes.get(gateway)
    assert runtime is not None
    alice, bob = _session(gateway, 1), _session(gateway, 2)
    await runtimes.session_state_changed(alice, SessionState.CONNECTED, SessionState.LOGGED_IN)
    await runtimes.session_state_changed(
        alice, SessionState.CHARACTER_SELECT, SessionState.IN_WORLD
    )
    await runtimes.session_state_changed(bob, SessionState.CHARACTER_SELECT, SessionState.IN_WORLD)
    await runtimes.session_state_changed(
        alice, SessionState.IN_WORLD, SessionState.CHARACTER_SELECT
    )
    # A tracked session is still found after its connection left the connection registry.
    gateway.connections.remove(bob)
    await runtimes.session_closed(bob)
    assert runtime.events == [
        "start",
        f"entered #{alice.connection_id}",
        f"entered #{bob.connection_id}",
        f"left #{alice.connection_id}",
        f"left #{bob.connection_id}",
    ]


@pytest.mark.anyio
async def test_stop_closes_and_forgets_the_gateways_runtime() -> None:
    runtimes = Runtimes[DemoRuntime]("demo", log=log)
    gateway, other = _gateway(), _gateway()
    runtimes.start(gateway, "demo", DemoRuntime, disabled="demo is disabled")
    runtimes.start(other, "demo", DemoRuntime, disabled="demo is disabled")
    runtime = runtimes.get(gateway)
    session = _session(gateway, 1)
    await runtimes.stop(gateway)
    assert runtime is not None and runtime.events == ["start", "aclose"]
    assert runtimes.get(gateway) is None
    assert runtimes.for_session(session) is None
    assert runtimes.get(other) is not None
    await runtimes.stop(gateway)  # a second stop has nothing to close
    assert runtime.events == ["start", "aclose"]


def test_without_the_backend_client_no_runtime_is_made_and_a_warning_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtimes = Runtimes[DemoRuntime]("demo", log=log)
    gateway = _gateway(with_client=False)
    with caplog.at_level(logging.WARNING, logger="test.plugin_runtime"):
        runtimes.start(gateway, "demo", DemoRuntime, disabled="demo events are disabled")
    assert runtimes.get(gateway) is None
    assert [r.getMessage() for r in caplog.records] == [
        "demo: no demo client; demo events are disabled"
    ]


def test_drop_counts_by_reason_on_the_gateways_registry(caplog: pytest.LogCaptureFixture) -> None:
    gateway = _gateway()
    runtime = DemoRuntime(gateway)
    session = _session(gateway, 1)
    with caplog.at_level(logging.INFO, logger=__name__):
        runtime.drop(session, "bad_message", "3 bytes")
        runtime.drop(session, "bad_message")
    registry = gateway.metrics.registry
    assert registry.get_sample_value("gateway_demo_drops_total", {"reason": "bad_message"}) == 2
    assert [r.getMessage() for r in caplog.records] == [
        f"demo: dropped a request of connection #{session.connection_id} (bad_message): 3 bytes",
        f"demo: dropped a request of connection #{session.connection_id} (bad_message)",
    ]
