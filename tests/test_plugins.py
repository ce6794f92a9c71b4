"""The plugin manager: entry point discovery with a real installed distribution, selection,
scoped registrars, duplicate detection and isolated lifecycle calls."""

from __future__ import annotations

import importlib.metadata
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway_core.hookspecs import ENTRY_POINT_GROUP, hookimpl
from gateway_core.plugins import (
    BUILTIN_PLUGIN_NAME,
    GatewayPluginManager,
    PluginError,
    parse_plugin_list,
)
from gateway_core.session import SessionState

DIST_DIR = Path(__file__).parent / "fixtures" / "plugin_dist"


@pytest.fixture
def installed_dist(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Put the test distribution on sys.path (a real installed distribution for
    importlib.metadata); yields the names of every *other* installed gateway plugin so that
    tests can exclude plugins they do not control."""
    monkeypatch.syspath_prepend(str(DIST_DIR))
    others = [ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
              if ep.name != "testdist"]
    try:
        yield others
    finally:
        sys.modules.pop("gateway_testdist", None)


class Claims:
    """A test plugin claiming packet types given at construction."""

    def __init__(self, *names: str) -> None:
        self.names = names

    @hookimpl
    def gateway_register_packets(self, register: Any) -> None:
        for name in self.names:
            register(name, self.handle, states={SessionState.CONNECTED})

    async def handle(self, ctx: Any, packet: Any) -> None:
        pass


def test_discovery_registers_an_installed_distribution(installed_dist: list[str]) -> None:
    pm = GatewayPluginManager()
    names = pm.load_plugins(disable=installed_dist)
    assert names == [BUILTIN_PLUGIN_NAME, "testdist"]
    pm.collect_registrations()
    reg = pm.packet_handlers["PAKCS_NORMAL_CHAT"]
    assert reg.plugin == "testdist" and reg.states == {SessionState.IN_WORLD}
    assert pm.packet_handlers["PAKCS_ACCEPT_REQ"].plugin == BUILTIN_PLUGIN_NAME
    [setting] = pm.plugin_settings
    assert (setting.plugin, setting.name, setting.default) == ("testdist", "TESTDIST_GREETING",
                                                               "hello")
    info = {i.name: i for i in pm.plugin_infos()}["testdist"]
    assert (info.version, info.dist_name) == ("0.3.0", "gateway-testdist")
    assert "gateway_register_packets" in info.hooks


def test_load_list_selects_by_entry_point_or_distribution_name(installed_dist: list[str]) -> None:
    for selector in ("testdist", "gateway-testdist"):
        pm = GatewayPluginManager()
        assert pm.load_plugins(load=[selector]) == [BUILTIN_PLUGIN_NAME, "testdist"]
        sys.modules.pop("gateway_testdist", None)
    pm = GatewayPluginManager()
    assert pm.load_plugins(load=[]) == [BUILTIN_PLUGIN_NAME]  # empty list: no plugins
    assert pm.get_plugin("testdist") is None


def test_disable_list_skips_a_distribution_and_the_builtins(installed_dist: list[str]) -> None:
    pm = GatewayPluginManager()
    assert pm.load_plugins(load=["testdist"], disable=["gateway-testdist"]) == [
        BUILTIN_PLUGIN_NAME]
    pm = GatewayPluginManager()
    assert pm.load_plugins(load=["testdist"], disable=[BUILTIN_PLUGIN_NAME]) == ["testdist"]
    assert pm.get_plugin(BUILTIN_PLUGIN_NAME) is None


def test_load_list_may_name_the_core_builtins(installed_dist: list[str]) -> None:
    # GATEWAY_LOAD_PLUGINS=core,testdist: "core" names the built-ins, not a missing plugin.
    pm = GatewayPluginManager()
    assert pm.load_plugins(load=["core", "testdist"]) == [BUILTIN_PLUGIN_NAME, "testdist"]
    pm = GatewayPluginManager()
    assert pm.load_plugins(load=["core"]) == [BUILTIN_PLUGIN_NAME]


def test_disable_names_that_match_nothing_are_kept_for_the_start_up_report(
    installed_dist: list[str],
) -> None:
    pm = GatewayPluginManager()
    pm.load_plugins(load=["testdist"], disable=["testdits", "core"])
    assert pm.unknown_disabled == ("testdits",)
    assert pm.get_plugin(BUILTIN_PLUGIN_NAME) is None


def test_load_list_naming_a_missing_plugin_fails(installed_dist: list[str]) -> None:
    pm = GatewayPluginManager()
    with pytest.raises(PluginError, match="not installed: nosuchplugin"):
        pm.load_plugins(load=["testdist", "nosuchplugin"])


def test_duplicate_packet_type_fails_naming_both_plugins() -> None:
    pm = GatewayPluginManager()
    pm.register(Claims("PAKCS_NORMAL_CHAT"), "first")
    pm.register(Claims("PAKCS_NORMAL_CHAT"), "second")
    with pytest.raises(PluginError) as info:
        pm.collect_registrations()
    message = str(info.value)
    assert "PAKCS_NORMAL_CHAT" in message and "'first'" in message and "'second'" in message


def test_duplicate_service_and_setting_fail_naming_both_plugins() -> None:
    class Provides:
        @hookimpl
        def gateway_register_services(self, register: Any) -> None:
            register("auth", lambda config: None)

        @hookimpl
        def gateway_register_settings(self, register: Any) -> None:
            register("SHARED_SETTING", 1)

    pm = GatewayPluginManager()
    pm.register(Provides(), "a")
    pm.register(Provides(), "b")
    with pytest.raises(PluginError,
                       match=r"SHARED_SETTING is declared by two plugins: 'b' and 'a'"):
        pm.collect_settings()
    pm = GatewayPluginManager()
    pm.register(Provides(), "a")
    pm.register(Provides(), "b")
    pm._done.add("gateway_register_settings")  # skip to the services check
    with pytest.raises(PluginError, match="service 'auth' is provided by two plugins"):
        pm.collect_registrations()


def test_every_registration_is_tagged_with_its_plugin() -> None:
    class Client:
        @hookimpl
        def gateway_register_grpc_clients(self, register: Any) -> None:
            register("Auth", object, deadline=2.0)

    pm = GatewayPluginManager()
    pm.register(Claims("PAKCS_ALIVE"), "claimer")
    pm.register(Client(), "client")
    pm.collect_registrations()
    assert pm.packet_handlers["PAKCS_ALIVE"].plugin == "claimer"
    [client] = pm.grpc_clients
    assert (client.plugin, client.service, client.deadline) == ("client", "auth", 2.0)


@pytest.mark.parametrize(
    ("register_call", "message"),
    [
        (lambda r: r("PAKCS_ALIVE", lambda c, p: None, states=set()), "non-empty set"),
        (lambda r: r("PAKCS_ALIVE", "not callable", states={SessionState.CONNECTED}),
         "not callable"),
        (lambda r: r("", lambda c, p: None, states={SessionState.CONNECTED}), "bad name"),
    ],
)
def test_packet_registrar_rejects_bad_registrations(register_call: Any, message: str) -> None:
    class Bad:
        @hookimpl
        def gateway_register_packets(self, register: Any) -> None:
            register_call(register)

    pm = GatewayPluginManager()
    pm.register(Bad(), "bad")
    with pytest.raises(PluginError, match=message):
        pm.collect_registrations()


def test_exception_in_a_register_hook_fails_start_up_naming_the_plugin() -> None:
    class Broken:
        @hookimpl
        def gateway_register_grpc_clients(self, register: Any) -> None:
            raise RuntimeError("boom")

    pm = GatewayPluginManager()
    pm.register(Broken(), "broken")
    with pytest.raises(PluginError, match="'broken' failed in gateway_register_grpc_clients"):
        pm.collect_registrations()


@pytest.mark.anyio
async def test_lifecycle_hooks_are_awaited_and_exceptions_isolated() -> None:
    calls: list[str] = []

    class SyncRaises:
        @hookimpl
        def gateway_session_opened(self, session: Any) -> None:
            calls.append("sync-raises")
            raise ValueError("sync")

    class AsyncRaises:
        @hookimpl
        async def gateway_session_opened(self, session: Any) -> None:
            calls.append("async-raises")
            raise ValueError("async")

    class Fine:
        @hookimpl
        async def gateway_session_opened(self, session: Any) -> None:
            calls.append(f"fine:{session}")

    errors: list[tuple[str, str]] = []
    pm = GatewayPluginManager()
    pm.on_hook_error = lambda plugin, hook: errors.append((plugin, hook))
    pm.register(Fine(), "fine")
    pm.register(SyncRaises(), "sync")
    pm.register(AsyncRaises(), "async")
    await pm.call_lifecycle("gateway_session_opened", session="s1")
    # Most recently registered first, like pluggy; every plugin ran.
    assert calls == ["async-raises", "sync-raises", "fine:s1"]
    assert errors == [("async", "gateway_session_opened"), ("sync", "gateway_session_opened")]
    pm.unregister(name="async")
    calls.clear()
    await pm.call_lifecycle("gateway_session_opened", session="s2")
    assert calls == ["sync-raises", "fine:s2"]


def test_parse_plugin_list_reads_strings_and_sequences() -> None:
    assert parse_plugin_list(None) is None
    assert parse_plugin_list(" auth, chat ,,") == ["auth", "chat"]
    assert parse_plugin_list(("world",)) == ["world"]
    assert parse_plugin_list("") == []
