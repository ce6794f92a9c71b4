"""The character plugin registers its settings, service and clients."""

from __future__ import annotations

from pathlib import Path

import pytest
from gateway_character.service import CharacterReferenceService
from gateway_protos.v1 import auth_pb2_grpc, character_pb2_grpc

from gateway_core.config import load_settings
from gateway_core.plugins import GatewayPluginManager
from gateway_core.service_host import build_services


def _manager() -> GatewayPluginManager:
    pm = GatewayPluginManager()
    pm.load_plugins(load=["character"], builtins=False)
    pm.collect_registrations()
    return pm


def test_plugin_registers_service_clients_and_settings(tmp_path: Path) -> None:
    pm = _manager()
    assert pm.services["character"].plugin == "character"
    assert {(c.service, c.stub_class) for c in pm.grpc_clients} == {
        ("character", character_pb2_grpc.CharacterStub),
        ("auth", auth_pb2_grpc.AuthStub),
    }
    settings = load_settings(
        {
            "DATA_DIR": str(tmp_path),
            "CHARACTER_MAX_PER_ACCOUNT": "2",
            "CHARACTER_DELETE_DELAY": "0",
            "CHARACTER_BLOCKED_NAMES": "Foo,Bar",
        },
        plugin_settings=pm.plugin_settings,
        environ={},
    )
    (service,) = build_services(pm.services, settings, ["character"]).values()
    assert isinstance(service, CharacterReferenceService)
    assert service.url.endswith("character.sqlite3")
    assert service.options.max_per_account == 2
    assert service.options.delete_delay == 0.0
    assert service.options.blocked_names == ("Foo", "Bar")
    assert service.options.name_max_length == 16


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CHARACTER_MAX_PER_ACCOUNT", "0"),
        ("CHARACTER_NAME_PATTERN", "[unclosed"),
        ("CHARACTER_DELETE_DELAY", "-5"),
    ],
)
def test_bad_character_setting_fails_naming_it(name: str, value: str) -> None:
    pm = _manager()
    with pytest.raises(Exception, match=name):
        load_settings({name: value}, plugin_settings=pm.plugin_settings, environ={})
