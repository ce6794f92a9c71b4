"""Registrations are checked at start-up: what a plugin gets wrong fails with a message naming
the plugin and the packet, before anything is bound; ``def`` handlers run as plain calls."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from gateway_core.app import Gateway
from gateway_core.hookspecs import hookimpl
from gateway_core.metrics import GatewayMetrics
from gateway_core.plugins import GatewayPluginManager
from gateway_core.protocol.numbering import get_profile
from gateway_core.protocol.packets import CliNormalChat, SrvNormalChat
from gateway_core.registry import (
    PacketRegistrar,
    PacketRegistration,
    PluginError,
    Registry,
    RuntimeRegistrar,
)
from gateway_core.router import Router
from gateway_core.session import ConnectionRegistry, Session, SessionState
from tests.test_router import Settings, build

SETTINGS: dict[str, object] = {
    "LISTEN_ADDR": "127.0.0.1",
    "SERVICE_PORT": 0,
    "PACKET_METRICS_PORT": 0,
    "GATEWAY_LOAD_PLUGINS": (),
}


def _register(name: str, handler: Any, states: Any) -> Registry:
    registry = Registry(profile=get_profile("2026"))
    PacketRegistrar(registry, "demo")(name, handler, states=states)
    return registry


async def _handler(ctx: Any, packet: Any) -> None:
    pass


def test_a_handler_that_is_not_callable_is_refused_naming_plugin_and_packet() -> None:
    with pytest.raises(PluginError, match="plugin 'demo': handler for PAKCS_NORMAL_CHAT is not"):
        _register("PAKCS_NORMAL_CHAT", "on_normal_chat", {SessionState.IN_WORLD})


def test_a_server_to_client_packet_type_is_refused() -> None:
    with pytest.raises(PluginError, match=r"plugin 'demo' registered PAKWC_NORMAL_CHAT, a "
                                          r"server->client packet type"):
        _register(SrvNormalChat.NAME, _handler, {SessionState.IN_WORLD})


def test_an_inter_server_packet_type_is_refused() -> None:
    with pytest.raises(PluginError, match="ISC_ALIVE, a server->server packet type"):
        _register("ISC_ALIVE", _handler, {SessionState.IN_WORLD})


def test_a_name_the_numbering_does_not_know_is_refused() -> None:
    with pytest.raises(PluginError, match="PAKCS_NOPE, which is not a packet type of profile"):
        _register("PAKCS_NOPE", _handler, {SessionState.IN_WORLD})


def test_a_state_set_in_which_nothing_is_dispatched_is_refused() -> None:
    with pytest.raises(PluginError, match="PAKCS_NORMAL_CHAT is registered only for CLOSING"):
        _register(CliNormalChat.NAME, _handler, {SessionState.CLOSING})
    with pytest.raises(PluginError, match="needs a non-empty set of SessionState"):
        _register(CliNormalChat.NAME, _handler, set())


def test_closing_is_dropped_from_a_state_set_that_has_reachable_states() -> None:
    registry = _register(CliNormalChat.NAME, _handler,
                         {SessionState.IN_WORLD, SessionState.CLOSING})
    assert registry.packet_handlers[CliNormalChat.NAME].states == {SessionState.IN_WORLD}


def test_a_plain_def_handler_runs_to_completion_without_a_coroutine() -> None:
    calls: list[Any] = []

    def on_chat(ctx: Any, packet: Any) -> None:
        calls.append(inspect.currentframe())
        ctx.reply(packet)

    router, session, outbox, _ = build({"PAKCS_NORMAL_CHAT": ("p", on_chat)})
    packet = CliNormalChat(message=b"hi")
    assert router.dispatch_nowait(session, "PAKCS_NORMAL_CHAT", packet, {}) is None
    frame = calls[0]
    assert frame is not None and not (frame.f_code.co_flags & inspect.CO_COROUTINE)
    assert outbox.packets == [packet]


def test_a_bad_registration_fails_gateway_start_up_before_binding() -> None:
    class Wrong:
        @hookimpl
        def gateway_register_packets(self, register: Any) -> None:
            register(SrvNormalChat.NAME, _handler, states={SessionState.IN_WORLD})

    pm = GatewayPluginManager()
    pm.register(Wrong(), "wrong")
    with pytest.raises(PluginError, match="plugin 'wrong' registered PAKWC_NORMAL_CHAT"):
        Gateway(overrides=SETTINGS, environ={}, pm=pm)


def test_a_runtime_factory_must_be_callable_and_single() -> None:
    registry = Registry()
    with pytest.raises(PluginError, match="plugin 'demo': runtime factory is not callable"):
        RuntimeRegistrar(registry, "demo")(42)  # type: ignore[arg-type]
    RuntimeRegistrar(registry, "demo")(lambda gateway: None)
    with pytest.raises(PluginError, match="plugin 'demo' registered two runtimes"):
        RuntimeRegistrar(registry, "demo")(lambda gateway: None)


def test_the_route_table_tells_unknown_from_wrong_state() -> None:
    metrics = GatewayMetrics(process_metrics=False)
    connections = ConnectionRegistry(encode=lambda p: b"")
    registration = PacketRegistration("p", "PAKCS_NORMAL_CHAT", _handler,
                                      frozenset({SessionState.IN_WORLD}))
    router = Router({"PAKCS_NORMAL_CHAT": registration}, connections=connections,
                    settings=Settings(), metrics=metrics)
    session = Session(1)
    connections.add(session)
    router.dispatch_nowait(session, "PAKCS_NORMAL_CHAT", CliNormalChat(message=b""), {})
    router.dispatch_nowait(session, "PAKCS_ATTACK", CliNormalChat(message=b""), {})
    sample = metrics.registry.get_sample_value
    assert sample("gateway_router_drops_total", {"reason": "wrong_state"}) == 1
    assert sample("gateway_router_drops_total", {"reason": "unknown_type"}) == 1
