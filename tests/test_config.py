"""Settings: precedence defaults < file < environment < overrides, and validation errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway_core.config import CORE_SETTINGS, ConfigError, SettingRegistration, load_settings

#: A plugin's declaration of a setting: the same record the core declares its own with.
Declared = SettingRegistration


def _toml(tmp_path: Path, text: str) -> str:
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    return str(path)


def test_defaults_match_the_documented_core_settings() -> None:
    settings = load_settings(environ={})
    assert settings.LISTEN_ADDR == "0.0.0.0"
    assert settings.SERVICE_PORT == 29000
    assert settings.PACKET_METRICS_PORT == 9102
    assert settings.MAX_CONCURRENT_CONNECTIONS == 10000
    assert settings.BUFFER_POOL_SIZE == 1024
    assert settings.RECEIVE_BUFFER_SIZE == 16384
    assert settings.LOG_LEVEL == "info"
    assert settings.IDLE_TIMEOUT == 300.0
    assert settings.SEND_QUEUE_LIMIT == 262144
    assert settings.MAX_PACKETS_PER_SECOND == 200
    assert settings.MAX_PACKETS_BURST == 400
    assert settings.SHUTDOWN_DEADLINE == 10.0
    assert settings.CIPHER == "plain"
    assert settings.PACKET_PROFILE == "2026"
    assert settings.POLICY_BEFORE_AUTH == "close"
    assert settings.POLICY_AFTER_AUTH == "drop"
    assert settings.GATEWAY_LOAD_PLUGINS is None
    assert settings.GATEWAY_DISABLE_PLUGINS == ()
    assert settings.DATA_DIR == "./data"
    assert settings.DATABASE_URL is None
    assert settings.PUBLIC_HOST is None and settings.PUBLIC_PORT is None
    assert settings.GRPC_DEADLINE == 5.0
    assert settings.SESSION_GRACE == 60.0
    assert settings.GATEWAY_ID is None
    assert {s.name for s in CORE_SETTINGS} <= set(settings)


def test_file_overrides_defaults_and_environment_overrides_file(tmp_path: Path) -> None:
    path = _toml(tmp_path, 'SERVICE_PORT = 1111\nlisten_addr = "127.0.0.1"\nIDLE_TIMEOUT = 2\n')
    settings = load_settings(environ={"SETTINGS_FILE": path, "SERVICE_PORT": "2222"})
    assert settings.SERVICE_PORT == 2222
    assert settings.source("SERVICE_PORT") == "environment"
    assert settings.LISTEN_ADDR == "127.0.0.1"
    assert settings.source("LISTEN_ADDR") == "file"
    assert settings.IDLE_TIMEOUT == 2.0
    assert settings.PACKET_METRICS_PORT == 9102
    assert settings.source("PACKET_METRICS_PORT") == "default"


def test_overrides_beat_environment() -> None:
    settings = load_settings({"service_port": 3333}, environ={"SERVICE_PORT": "2222"})
    assert settings.SERVICE_PORT == 3333


def test_yaml_settings_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text("CIPHER: rosecrypt\nGATEWAY_DISABLE_PLUGINS: [chat, world]\n")
    settings = load_settings(settings_file=str(path), environ={})
    assert settings.CIPHER == "rosecrypt"
    assert settings.GATEWAY_DISABLE_PLUGINS == ("chat", "world")


def test_only_known_environment_names_are_read() -> None:
    settings = load_settings(environ={"HOME": "/root", "PATH": "/bin", "SERVICE_PORT": "1"})
    assert "HOME" not in settings and "PATH" not in settings


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SERVICE_PORT", "abc"),
        ("SERVICE_PORT", "70000"),
        ("PACKET_METRICS_PORT", "-1"),
        ("MAX_CONCURRENT_CONNECTIONS", "0"),
        ("IDLE_TIMEOUT", "0"),
        ("IDLE_TIMEOUT", "soon"),
        ("GRPC_DEADLINE", "-5"),
        ("SHUTDOWN_DEADLINE", "nan"),
        ("CIPHER", "aes"),
        ("PACKET_PROFILE", "2019"),
        ("POLICY_BEFORE_AUTH", "ignore"),
        ("POLICY_AFTER_AUTH", "explode"),
        ("LOG_LEVEL", "loud"),
        ("LISTEN_ADDR", ""),
        ("PUBLIC_PORT", "0"),
        ("AUTH_SERVICE_ADDR", "no-port-here"),
        ("WORLD_SERVICE_ADDR", "host:99999"),
        ("AUTH_GRPC_DEADLINE", "0"),
        ("WORLD_GRPC_DEADLINE", "soon"),
        ("GATEWAY_LOAD_PLUGINS", "auth,bad name"),
        ("MAX_PACKETS_PER_SECOND", "-1"),
        ("MAX_PACKETS_PER_SECOND", "fast"),
        ("MAX_PACKETS_PER_SECOND", "2000000"),
        ("MAX_PACKETS_BURST", "0"),
        ("MAX_PACKETS_BURST", "1.5"),
    ],
)
def test_bad_environment_value_names_setting_and_value(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={name: value})
    assert caught.value.setting == name
    assert caught.value.value == value
    assert name in str(caught.value) and repr(value) in str(caught.value)


def test_packet_rate_zero_means_unlimited_and_is_read_from_file_and_environment(
    tmp_path: Path,
) -> None:
    path = _toml(tmp_path, "MAX_PACKETS_PER_SECOND = 0\nMAX_PACKETS_BURST = 1\n")
    settings = load_settings(settings_file=path, environ={})
    assert settings.MAX_PACKETS_PER_SECOND == 0 and settings.MAX_PACKETS_BURST == 1
    settings = load_settings(environ={"MAX_PACKETS_PER_SECOND": "50",
                                      "MAX_PACKETS_BURST": "75"})
    assert settings.MAX_PACKETS_PER_SECOND == 50 and settings.MAX_PACKETS_BURST == 75


def test_bad_file_value_is_reported_with_its_parsed_value(tmp_path: Path) -> None:
    path = _toml(tmp_path, "SEND_QUEUE_LIMIT = -3\n")
    with pytest.raises(ConfigError, match=r"SEND_QUEUE_LIMIT=-3"):
        load_settings(settings_file=path, environ={})


def test_missing_or_unparsable_settings_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"SETTINGS_FILE": str(tmp_path / "nope.toml")})
    assert caught.value.setting == "SETTINGS_FILE"
    broken = _toml(tmp_path, "SERVICE_PORT = = 1\n")
    with pytest.raises(ConfigError, match="SETTINGS_FILE"):
        load_settings(settings_file=broken, environ={})
    with pytest.raises(ConfigError, match="SETTINGS_FILE"):
        load_settings(settings_file=str(tmp_path / "gateway.ini"), environ={})


def test_service_addr_for_any_service_name(tmp_path: Path) -> None:
    path = _toml(tmp_path, 'chat_service_addr = "10.0.0.2:50052"\n')
    settings = load_settings(settings_file=path, environ={
        "AUTH_SERVICE_ADDR": "127.0.0.1:50051",
        "GUILD_SERVICE_ADDR": "unix:/run/guild.sock",
        "WORLD_SERVICE_ADDR": "",
    })
    assert settings.service_addr("auth") == "127.0.0.1:50051"
    assert settings.service_addr("chat") == "10.0.0.2:50052"
    assert settings.service_addr("guild") == "unix:/run/guild.sock"
    assert settings.service_addr("world") is None  # empty = embedded
    assert settings.service_addr("character") is None
    assert settings.service_addrs() == {
        "auth": "127.0.0.1:50051", "chat": "10.0.0.2:50052", "guild": "unix:/run/guild.sock"}


def test_grpc_deadline_for_any_service_name(tmp_path: Path) -> None:
    """An operator gives one service a deadline of its own (password hashing behind auth
    takes longer than a world call); the others keep GRPC_DEADLINE."""
    path = _toml(tmp_path, "chat_grpc_deadline = 0.5\n")
    settings = load_settings(settings_file=path, environ={
        "AUTH_GRPC_DEADLINE": "12", "WORLD_GRPC_DEADLINE": "", "GRPC_DEADLINE": "3"})
    assert settings.service_deadline("auth") == 12.0
    assert settings.service_deadline("chat") == 0.5
    assert settings.service_deadline("world") is None  # empty = GRPC_DEADLINE
    assert settings.service_deadline("character") is None
    assert settings.GRPC_DEADLINE == 3.0
    assert settings.call_deadline("auth") == 12.0
    assert settings.call_deadline("world") == settings.call_deadline("character") == 3.0
    assert settings.unknown_keys == ()


def test_plugin_list_settings_parse_comma_lists() -> None:
    settings = load_settings(environ={"GATEWAY_LOAD_PLUGINS": "auth, chat",
                                      "GATEWAY_DISABLE_PLUGINS": "world"})
    assert settings.GATEWAY_LOAD_PLUGINS == ("auth", "chat")
    assert settings.GATEWAY_DISABLE_PLUGINS == ("world",)
    assert load_settings(environ={"GATEWAY_LOAD_PLUGINS": ""}).GATEWAY_LOAD_PLUGINS is None


def test_plugin_settings_are_coerced_like_their_default_and_validated() -> None:
    declared = [
        Declared("character", "CHARACTER_MAX_PER_ACCOUNT", 5,
                 lambda v: None if 1 <= v <= 5 else "must be between 1 and 5"),
        Declared("chat", "CHAT_SHOUT_ENABLED", True),
        Declared("world", "WORLD_VIEW_RADIUS", 100.0),
    ]
    settings = load_settings(plugin_settings=declared,
                             environ={"CHARACTER_MAX_PER_ACCOUNT": "3",
                                      "CHAT_SHOUT_ENABLED": "false"})
    assert settings.CHARACTER_MAX_PER_ACCOUNT == 3
    assert settings.CHAT_SHOUT_ENABLED is False
    assert settings.WORLD_VIEW_RADIUS == 100.0
    assert settings.get("NOT_A_SETTING", "x") == "x"
    with pytest.raises(ConfigError) as caught:
        load_settings(plugin_settings=declared, environ={"CHARACTER_MAX_PER_ACCOUNT": "9"})
    assert (caught.value.setting, caught.value.value) == ("CHARACTER_MAX_PER_ACCOUNT", "9")
    assert "between 1 and 5" in str(caught.value)
    with pytest.raises(ConfigError, match="WORLD_VIEW_RADIUS='far'"):
        load_settings(plugin_settings=declared, environ={"WORLD_VIEW_RADIUS": "far"})


def test_plugin_setting_cannot_shadow_a_core_setting() -> None:
    with pytest.raises(ConfigError, match="SERVICE_PORT"):
        load_settings(plugin_settings=[Declared("evil", "SERVICE_PORT", 1)], environ={})


def test_unknown_file_keys_are_listed_not_loaded(tmp_path: Path) -> None:
    path = _toml(tmp_path, "SERVCE_PORT = 1\n")
    settings = load_settings(settings_file=path, environ={})
    assert settings.unknown_keys == ("SERVCE_PORT",)
    assert "SERVCE_PORT" not in settings


def test_settings_are_read_only() -> None:
    settings = load_settings(environ={})
    with pytest.raises(AttributeError):
        settings.SERVICE_PORT = 1  # type: ignore[misc]
