"""The auth plugin registers its settings, service and client, and `gateway account` works."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from gateway_auth.service import AuthReferenceService
from gateway_auth.service.passwords import Argon2Params
from gateway_protos.v1 import auth_pb2_grpc

from gateway_core.config import load_settings
from gateway_core.plugins import GatewayPluginManager
from gateway_core.service_host import build_services


def _manager() -> GatewayPluginManager:
    pm = GatewayPluginManager()
    pm.load_plugins(load=["auth"], builtins=False)
    pm.collect_registrations()
    return pm


def test_plugin_registers_service_client_and_settings(tmp_path: Path) -> None:
    pm = _manager()
    assert pm.services["auth"].plugin == "auth"
    assert [(c.service, c.stub_class) for c in pm.grpc_clients] == [
        ("auth", auth_pb2_grpc.AuthStub)
    ]
    names = {s.name for s in pm.plugin_settings}
    assert {"AUTH_CREATE_ACCOUNT_ON_FAIL", "AUTH_SESSION_TTL", "AUTH_WORLD_NAME"} <= names
    settings = load_settings(
        {"DATA_DIR": str(tmp_path), "AUTH_SESSION_TTL": "30", "AUTH_CHANNEL_NAMES": "a, b"},
        plugin_settings=pm.plugin_settings,
        environ={},
    )
    (service,) = build_services(pm.services, settings, ["auth"]).values()
    assert isinstance(service, AuthReferenceService)
    assert service.url.endswith("auth.sqlite3") and str(tmp_path) in service.url
    assert service.options.session_ttl == 30.0
    assert [c.name for c in service.options.worlds[0].channels] == ["a", "b"]


def test_argon2_settings_reach_the_service(tmp_path: Path) -> None:
    pm = _manager()
    overrides = {
        "DATA_DIR": str(tmp_path),
        "AUTH_HASH_CONCURRENCY": "3",
        "AUTH_ARGON2_TIME_COST": "4",
        "AUTH_ARGON2_MEMORY_KIB": "2048",
        "AUTH_ARGON2_PARALLELISM": "2",
    }
    settings = load_settings(overrides, plugin_settings=pm.plugin_settings, environ={})
    (service,) = build_services(pm.services, settings, ["auth"]).values()
    assert isinstance(service, AuthReferenceService)
    assert service.options.hash_concurrency == 3
    assert service.servicer.passwords.concurrency == 3
    assert service.options.argon2 == Argon2Params(time_cost=4, memory_kib=2048, parallelism=2)
    with pytest.raises(Exception, match="AUTH_HASH_CONCURRENCY"):
        load_settings({"AUTH_HASH_CONCURRENCY": "-1"}, plugin_settings=pm.plugin_settings,
                      environ={})


def test_bad_auth_setting_fails_naming_it() -> None:
    pm = _manager()
    with pytest.raises(Exception, match="AUTH_SESSION_TTL"):
        load_settings({"AUTH_SESSION_TTL": "-1"}, plugin_settings=pm.plugin_settings, environ={})


def _gateway(
    tmp_path: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path / "data"),
        "AUTH_ARGON2_TIME_COST": "1",
        "AUTH_ARGON2_MEMORY_KIB": "1024",
        "GATEWAY_LOAD_PLUGINS": "auth",
    }
    env.pop("AUTH_SERVICE_ADDR", None)
    return subprocess.run(
        [sys.executable, "-m", "gateway_core", *args],
        env=env,
        cwd=tmp_path,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
def test_account_commands_create_list_ban(tmp_path: Path) -> None:
    created = _gateway(tmp_path, "account", "create", "Alice", "--password", "pw", "--access", "2")
    assert created.returncode == 0, created.stderr
    assert "created account Alice" in created.stdout
    prompted = _gateway(tmp_path, "account", "create", "bob", stdin="secret\n")
    assert prompted.returncode == 0, prompted.stderr
    taken = _gateway(tmp_path, "account", "create", "ALICE", "--password", "x")
    assert taken.returncode == 1 and "taken" in taken.stderr
    banned = _gateway(tmp_path, "account", "ban", "alice")
    assert banned.returncode == 0, banned.stderr
    access = _gateway(tmp_path, "account", "set-access", "bob", "9")
    assert access.returncode == 0, access.stderr
    listed = _gateway(tmp_path, "account", "list")
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[1]: line.split() for line in listed.stdout.splitlines()[1:-1]}
    assert rows["Alice"][2:4] == ["2", "banned"]
    assert rows["bob"][2:4] == ["9", "offline"]
    unknown = _gateway(tmp_path, "account", "unban", "nobody")
    assert unknown.returncode == 1 and "nobody" in unknown.stderr
    assert (tmp_path / "data" / "auth.sqlite3").is_file()
