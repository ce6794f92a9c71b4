"""Settings: core defaults < settings file < environment < explicit overrides, all validated.

Strategy: dynaconf reads the settings file (TOML or YAML, flat upper-case keys); the environment is
read by name only - the core settings, the settings plugins declare, ``<SERVICE>_SERVICE_ADDR``
and ``<SERVICE>_GRPC_DEADLINE`` - so unrelated variables never leak into the settings. Every
value is then coerced (environment values are strings) and validated once at start-up into an
immutable :class:`Settings`; a bad value raises :class:`ConfigError` naming the setting and the
value. Loading happens twice at start-up: once with the core settings only (to know which
plugins to load), then again with the settings the loaded plugins declared. The core declares
its own settings as :class:`SettingRegistration` objects of the plugin ``core``, exactly as a
plugin's are declared, and both go through one conversion and validation path.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from dynaconf import Dynaconf  # type: ignore[import-untyped]

__all__ = [
    "CORE_PLUGIN",
    "CORE_SETTINGS",
    "ConfigError",
    "SettingRegistration",
    "Settings",
    "check_admin_binding",
    "is_loopback_host",
    "load_settings",
    "service_addr_setting",
    "service_deadline_setting",
    "split_host_port",
]

_SERVICE_ADDR_RE = re.compile(r"^[A-Z][A-Z0-9_]*_SERVICE_ADDR$")
_SERVICE_DEADLINE_RE = re.compile(r"^[A-Z][A-Z0-9_]*_GRPC_DEADLINE$")
_SERVICE_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_UNSET = object()


class ConfigError(Exception):
    """A setting has a bad value (or a settings file cannot be read).

    ``setting`` is the setting name (as the environment variable), ``value`` the offending value
    as given, ``reason`` why it was refused.
    """

    def __init__(self, setting: str, value: object, reason: str) -> None:
        self.setting = setting
        self.value = value
        self.reason = reason
        super().__init__(f"invalid setting {setting}={value!r}: {reason}")


@dataclass(frozen=True, slots=True)
class SettingRegistration:
    """One setting, the core's or a plugin's: who declares it (``plugin``; ``"core"`` for the
    core), its name (= environment variable), default and meaning.

    ``convert`` turns a raw value (a string from the environment, a value from the settings
    file) into the setting's type, raising ``ValueError`` with a reason; without one the raw
    value is coerced to the type of ``default``. ``validate`` returns a message for a value it
    refuses (or ``None``). A setting whose default is ``None`` may stay unset (an empty string
    from the environment then means unset).
    """

    plugin: str
    name: str
    default: Any
    validate: Callable[[Any], str | None] | None = None
    doc: str = ""
    convert: Callable[[object], Any] | None = None

    @property
    def optional(self) -> bool:
        """True when unset is a valid value."""
        return self.default is None


#: Who declares the core's own settings.
CORE_PLUGIN = "core"


# --- coercion helpers: each takes the raw value (a str from the environment, or whatever the
# settings file parsed to) and returns the typed value or raises ValueError(reason).


def _as_int(raw: object) -> int:
    if isinstance(raw, bool):
        raise ValueError("expected an integer")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str):
        try:
            return int(raw.strip(), 10)
        except ValueError:
            pass
    raise ValueError("expected an integer")


def _as_float(raw: object) -> float:
    if isinstance(raw, bool):
        raise ValueError("expected a number")
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            raise ValueError("expected a number (seconds)") from None
    else:
        raise ValueError("expected a number")
    if not math.isfinite(value):
        raise ValueError("expected a finite number")
    return value


def _as_str(raw: object) -> str:
    if isinstance(raw, str):
        return raw.strip()
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return str(raw)
    raise ValueError("expected a string")


def _as_bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str):
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
    raise ValueError("expected a boolean (true/false)")


def _as_name_list(raw: object) -> tuple[str, ...]:
    if isinstance(raw, str):
        items = [part.strip() for part in raw.split(",")]
    elif isinstance(raw, list | tuple):
        items = [_as_str(part) for part in raw]
    else:
        raise ValueError("expected a comma-separated list of names")
    names = tuple(item for item in items if item)
    for name in names:
        if not _SERVICE_NAME_RE.match(name):
            raise ValueError(f"{name!r} is not a plugin name")
    return names


_COMMAND_NAME_RE = re.compile(r"^[a-z0-9_-]{1,32}$")


def _command_levels(raw: object) -> Mapping[str, int]:
    """GM_COMMAND_LEVELS: ``"tp=100,kick=200"`` (or a table of the settings file) as a
    read-only mapping of chat command name -> access level 0-65535."""
    if isinstance(raw, str):
        pairs: list[tuple[object, object]] = []
        for part in raw.split(","):
            part = part.strip()
            if not part:
                continue
            left, sep, right = part.partition("=")
            if not sep:
                raise ValueError(f"expected name=level, not {part!r}")
            pairs.append((left, right))
    elif isinstance(raw, Mapping):
        pairs = list(raw.items())
    else:
        raise ValueError("expected a comma-separated list of name=level")
    levels: dict[str, int] = {}
    for raw_name, level in pairs:
        key = _as_str(raw_name).strip().lower().removeprefix("/")
        if not _COMMAND_NAME_RE.match(key):
            raise ValueError(f"{raw_name!r} is not a chat command name")
        if key in levels:
            raise ValueError(f"command {key!r} is given twice")
        value = _as_int(level.strip() if isinstance(level, str) else level)
        if not 0 <= value <= 0xFFFF:
            raise ValueError(f"the level of {key!r} must be between 0 and 65535")
        levels[key] = value
    return MappingProxyType(levels)


def _int_range(low: int, high: int | None = None) -> Callable[[object], int]:
    def convert(raw: object) -> int:
        value = _as_int(raw)
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise ValueError(f"must be {bound}")
        return value

    return convert


def _seconds(*, allow_zero: bool = False) -> Callable[[object], float]:
    def convert(raw: object) -> float:
        value = _as_float(raw)
        if value < 0 or (value == 0 and not allow_zero):
            raise ValueError(
                "must not be negative" if allow_zero else "must be a positive number of seconds"
            )
        return value

    return convert


def _choice(*choices: str) -> Callable[[object], str]:
    def convert(raw: object) -> str:
        value = _as_str(raw).lower()
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return value

    return convert


def _non_empty(raw: object) -> str:
    value = _as_str(raw)
    if not value:
        raise ValueError("must not be empty")
    return value


def _address_list(raw: object) -> tuple[str, ...]:
    """A comma-separated list (or a list) of IP addresses and networks, normalised
    (``"10.0.0.1, 192.168.0.0/16"`` -> ``("10.0.0.1/32", "192.168.0.0/16")``)."""
    if isinstance(raw, str):
        items = [part.strip() for part in raw.split(",")]
    elif isinstance(raw, list | tuple):
        items = [_as_str(part) for part in raw]
    else:
        raise ValueError("expected a comma-separated list of addresses or networks")
    networks: list[str] = []
    for item in items:
        if not item:
            continue
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or network (CIDR)") from None
    return tuple(networks)


def _rate(raw: object) -> float:
    value = _as_float(raw)
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _grpc_target(raw: object) -> str:
    """A gRPC target: ``host:port``, ``[v6]:port`` or a URI such as ``unix:/path``/``dns:///h:p``."""
    value = _non_empty(raw)
    if any(ch.isspace() for ch in value):
        raise ValueError("must not contain whitespace")
    if re.match(r"^(unix|unix-abstract|dns|ipv4|ipv6|vsock):", value):
        return value
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) <= 65535:
        raise ValueError("expected host:port with a port between 1 and 65535")
    return value


def _file_path(raw: object) -> str:
    """A path of a file that exists (certificates, keys, CA bundles)."""
    value = _non_empty(raw)
    if not Path(value).expanduser().is_file():
        raise ValueError("no such file")
    return value


def _listen_address(raw: object) -> str:
    """``host:port`` (``[v6]:port``) to bind, port 0-65535 (0 = a free one)."""
    value = _non_empty(raw)
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError("expected host:port with a port between 0 and 65535")
    return value


def split_host_port(address: str) -> tuple[str, int]:
    """``"host:port"`` / ``"[v6]:port"`` as ``(host, port)`` (brackets removed)."""
    host, _, port = address.rpartition(":")
    return host.removeprefix("[").removesuffix("]"), int(port)


def is_loopback_host(host: str) -> bool:
    """True for an address only this machine can reach: 127.0.0.0/8, ::1, ``localhost``."""
    host = host.strip().removeprefix("[").removesuffix("]")
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_admin_binding(settings: Settings) -> None:
    """Refuse an admin HTTP server that others could reach without a token: ADMIN_HOST not a
    loopback address while ADMIN_TOKEN is unset (raises :class:`ConfigError`)."""
    if not settings.PACKET_METRICS_PORT or settings.ADMIN_TOKEN:
        return
    if not is_loopback_host(settings.ADMIN_HOST):
        raise ConfigError(
            "ADMIN_HOST", settings.ADMIN_HOST,
            "the admin port shows user names and addresses and can drain the gateway: set "
            "ADMIN_TOKEN to bind a non-loopback address (or keep ADMIN_HOST=127.0.0.1 and "
            "expose /metrics alone with METRICS_ADDR)")


def _core(
    name: str, default: object, convert: Callable[[object], object], doc: str
) -> SettingRegistration:
    # A None default makes the setting optional (see SettingRegistration.optional).
    return SettingRegistration(CORE_PLUGIN, name, default, doc=doc, convert=convert)


_PORT = _int_range(0, 65535)

CORE_SETTINGS: tuple[SettingRegistration, ...] = (
    _core("LISTEN_ADDR", "0.0.0.0", _non_empty,
                "Address the game listener binds to (and `gateway service` by default)."),
    _core("SERVICE_PORT", 29000, _PORT, "TCP port of the game listener."),
    _core("PACKET_METRICS_PORT", 9102, _PORT,
                "Port of the metrics/health/admin HTTP server (0 = disabled)."),
    _core("ADMIN_HOST", "127.0.0.1", _non_empty,
                "Address the metrics/health/admin HTTP server (PACKET_METRICS_PORT) binds to; "
                "a non-loopback address needs ADMIN_TOKEN."),
    _core("ADMIN_TOKEN", None, _non_empty,
                "Bearer token every /admin/* request must carry when set (unset = no token; "
                "then ADMIN_HOST must be a loopback address)."),
    _core("METRICS_ADDR", None, _listen_address,
                "host:port of a second HTTP listener serving only /metrics, /healthz and "
                "/readyz, never /admin/* (for Prometheus and probes; unset = none)."),
    _core("DRAIN_NOTICE_SECONDS", 10.0, _seconds(allow_zero=True),
                "Seconds in-world players are warned before a drain (SIGTERM, `gateway drain`) "
                "closes their connections (0 = no notice)."),
    _core("MAX_CONCURRENT_CONNECTIONS", 10000, _int_range(1),
                "Client connections accepted at once; more are closed and counted."),
    _core("MAX_CONNECTIONS_PER_IP", 32, _int_range(0),
                "Client connections one address (an IPv6 /64) may hold at once (0 = no cap); "
                "more are closed at once and counted."),
    _core("CONNECT_RATE_PER_IP", 5.0, _rate,
                "New connections per second one address may open on average (0 = no limit)."),
    _core("CONNECT_BURST_PER_IP", 30, _int_range(1),
                "New connections one address may open at once above CONNECT_RATE_PER_IP."),
    _core("CONNECTION_LIMIT_ALLOW", ("127.0.0.0/8", "::1/128"), _address_list,
                "Comma list of addresses/networks exempt from the per-address limits."),
    _core("PROXY_PROTOCOL", "off", _choice("off", "v1", "v2", "any"),
                "PROXY protocol header expected from PROXY_TRUSTED peers: off, v1, v2 or any."),
    _core("PROXY_TRUSTED", (), _address_list,
                "Comma list of addresses/networks (the load balancers) that send PROXY headers."),
    _core("PROXY_HEADER_TIMEOUT", 3.0, _seconds(),
                "Seconds a trusted peer has to send its whole PROXY header."),
    _core("BUFFER_POOL_SIZE", 1024, _int_range(1), "Number of pooled receive buffers."),
    _core("RECEIVE_BUFFER_SIZE", 16384, _int_range(256, 16 * 1024 * 1024),
                "Bytes per pooled receive buffer (largest chunk read from a socket at once)."),
    _core("LOG_LEVEL", "info", _choice("debug", "info", "warning", "error", "critical"),
                "Log level."),
    _core("LOG_FORMAT", "text", _choice("text", "json"),
                "Log line format: text (logfmt) or json (one JSON object per line)."),
    _core("CAPTURE_ON_ERROR", False, _as_bool,
                "Keep each connection's last CAPTURE_RING_SIZE packets and write them to "
                "CAPTURE_DIR on a protocol error or a handler exception."),
    _core("CAPTURE_RING_SIZE", 64, _int_range(1, 100_000),
                "Packets kept per connection for CAPTURE_ON_ERROR."),
    _core("CAPTURE_DIR", None, _non_empty,
                "Directory of capture files (unset = DATA_DIR/captures)."),
    _core("IDLE_TIMEOUT", 300.0, _seconds(),
                "Seconds without a packet from a client before its connection is closed."),
    _core("SEND_QUEUE_LIMIT", 262144, _int_range(1),
                "Bytes queued for one client before it is disconnected as too slow."),
    _core("MAX_PACKETS_PER_SECOND", 200, _int_range(0, 1_000_000),
                "Packets per second one client may send on average (0 = unlimited); a client "
                "over the limit is disconnected and counted as a flood."),
    _core("MAX_PACKETS_BURST", 400, _int_range(1, 1_000_000),
                "Packets one client may send at once above its MAX_PACKETS_PER_SECOND average "
                "(the token bucket's size)."),
    _core("SHUTDOWN_DEADLINE", 10.0, _seconds(),
                "Seconds a graceful shutdown waits for connections and services."),
    _core("CIPHER", "plain", _choice("plain", "rosecrypt"), "Wire cipher."),
    _core("PACKET_PROFILE", "2026", _choice("2026", "2021"),
                "Packet profile: the type numbering and the few payload layouts that differ "
                "(2021 for osIROSE-new era clients; docs/protocol.md §9.1)."),
    _core("POLICY_BEFORE_AUTH", "close", _choice("close", "drop"),
                "Unknown or wrong-state packet before a login/join succeeded: close or drop."),
    _core("POLICY_AFTER_AUTH", "drop", _choice("drop", "close"),
                "Unknown or wrong-state packet after a login/join succeeded: drop or close."),
    _core("GATEWAY_LOAD_PLUGINS", None, _as_name_list,
                "Comma list of the only plugins to load (unset or empty = all installed)."),
    _core("GATEWAY_DISABLE_PLUGINS", (), _as_name_list,
                "Comma list of installed plugins not to load."),
    _core("DATA_DIR", "./data", _non_empty,
                "Directory of the embedded reference services' data (SQLite files)."),
    _core("DATABASE_URL", None, _non_empty,
                "SQLAlchemy async URL for the reference services, e.g. postgresql+asyncpg://"
                "user:password@host/db (unset = SQLite file per service under DATA_DIR)."),
    _core("PUBLIC_HOST", None, _non_empty,
                "Host handed to clients for the next leg (unset = the address they reached)."),
    _core("PUBLIC_PORT", None, _int_range(1, 65535),
                "Port handed to clients for the next leg (unset = SERVICE_PORT)."),
    _core("GRPC_DEADLINE", 5.0, _seconds(), "Default deadline of a backend gRPC call."),
    _core("GRPC_TLS_CA_FILE", None, _file_path,
                "PEM CA bundle verifying the services' certificates; set = TLS to every service "
                "at a <SERVICE>_SERVICE_ADDR (embedded loopback services stay plaintext)."),
    _core("GRPC_TLS_CLIENT_CERT_FILE", None, _file_path,
                "PEM client certificate (chain) presented to the services (mutual TLS); needs "
                "GRPC_TLS_CLIENT_KEY_FILE and GRPC_TLS_CA_FILE."),
    _core("GRPC_TLS_CLIENT_KEY_FILE", None, _file_path,
                "PEM private key of GRPC_TLS_CLIENT_CERT_FILE."),
    _core("GRPC_TLS_SERVER_NAME", None, _non_empty,
                "Name the services' certificates are checked against (unset = the host of each "
                "<SERVICE>_SERVICE_ADDR)."),
    _core("GRPC_TLS_CERT_FILE", None, _file_path,
                "`gateway service`: PEM certificate (chain) of the service; set (with "
                "GRPC_TLS_KEY_FILE) = the port speaks TLS only."),
    _core("GRPC_TLS_KEY_FILE", None, _file_path,
                "`gateway service`: PEM private key of GRPC_TLS_CERT_FILE."),
    _core("GRPC_TLS_CLIENT_CA_FILE", None, _file_path,
                "`gateway service`: PEM CA bundle of the client certificates; set = clients "
                "without a certificate signed by it are refused (mutual TLS)."),
    _core("SESSION_GRACE", 60.0, _seconds(allow_zero=True),
                "Seconds a session outlives its last connection (reconnects between legs)."),
    _core("GATEWAY_ID", None, _non_empty,
                "Identity of this gateway towards the backends (unset = random per process)."),
    _core("SETTINGS_FILE", None, _non_empty,
                "Path of a TOML or YAML settings file."),
    _core("GM_COMMAND_LEVELS", MappingProxyType({}), _command_levels,
                "Access level per chat command, overriding the registered defaults: "
                "'kick=200,announce=100' (a name no plugin registers is reported at start-up)."),
    _core("CHAT_RATE", 1.0, _seconds(allow_zero=True),
                "Chat lines per second one player may send on average, every kind together "
                "(0 = no limit); over it the player is muted for CHAT_MUTE_SECONDS."),
    _core("CHAT_BURST", 6, _int_range(1, 1000),
                "Chat lines one player may send at once above CHAT_RATE (its bucket's size)."),
    _core("CHAT_SHOUT_RATE", 0.1, _seconds(allow_zero=True),
                "Shouts per second one player may send on average (0 = no own limit)."),
    _core("CHAT_SHOUT_BURST", 3, _int_range(1, 1000),
                "Shouts one player may send at once above CHAT_SHOUT_RATE."),
    _core("CHAT_MUTE_SECONDS", 30.0, _seconds(),
                "Seconds a player over a chat limit is muted (told once by a server whisper)."),
    _core("CHAT_KICK_MUTES", 3, _int_range(0, 1000),
                "Mutes within CHAT_KICK_WINDOW that disconnect the player (0 = never)."),
    _core("CHAT_KICK_WINDOW", 600.0, _seconds(),
                "Seconds over which CHAT_KICK_MUTES mutes are counted."),
)


def service_addr_setting(service: str) -> str:
    """The setting that holds the address of backend ``service`` (``auth`` -> AUTH_SERVICE_ADDR)."""
    return f"{service.upper().replace('-', '_')}_SERVICE_ADDR"


def service_deadline_setting(service: str) -> str:
    """The setting that holds the call deadline of backend ``service`` (``auth`` ->
    AUTH_GRPC_DEADLINE)."""
    return f"{service.upper().replace('-', '_')}_GRPC_DEADLINE"


def _per_service(name: str) -> bool:
    """``<SERVICE>_SERVICE_ADDR`` and ``<SERVICE>_GRPC_DEADLINE``: settings of any service."""
    return bool(_SERVICE_ADDR_RE.match(name) or _SERVICE_DEADLINE_RE.match(name))


def _coerce_like(default: object, raw: object) -> object:
    """Coerce a plugin setting's raw value to the type of its default."""
    if default is None or raw is None:
        return raw
    if isinstance(default, bool):
        return _as_bool(raw)
    if isinstance(default, int):
        return _as_int(raw)
    if isinstance(default, float):
        return _as_float(raw)
    if isinstance(default, str):
        return _as_str(raw)
    if isinstance(default, tuple | list):
        return _as_name_list(raw) if isinstance(raw, str) else tuple(raw)  # type: ignore[arg-type]
    return raw


class Settings:
    """Validated, immutable settings with attribute access by the upper-case name.

    Core settings are typed attributes; plugin settings are reachable the same way
    (``settings.CHARACTER_MAX_PER_ACCOUNT``) and through :meth:`get`.
    """

    LISTEN_ADDR: str
    SERVICE_PORT: int
    PACKET_METRICS_PORT: int
    ADMIN_HOST: str
    ADMIN_TOKEN: str | None
    METRICS_ADDR: str | None
    DRAIN_NOTICE_SECONDS: float
    MAX_CONCURRENT_CONNECTIONS: int
    MAX_CONNECTIONS_PER_IP: int
    CONNECT_RATE_PER_IP: float
    CONNECT_BURST_PER_IP: int
    CONNECTION_LIMIT_ALLOW: tuple[str, ...]
    PROXY_PROTOCOL: str
    PROXY_TRUSTED: tuple[str, ...]
    PROXY_HEADER_TIMEOUT: float
    BUFFER_POOL_SIZE: int
    RECEIVE_BUFFER_SIZE: int
    LOG_LEVEL: str
    LOG_FORMAT: str
    CAPTURE_ON_ERROR: bool
    CAPTURE_RING_SIZE: int
    CAPTURE_DIR: str | None
    IDLE_TIMEOUT: float
    SEND_QUEUE_LIMIT: int
    MAX_PACKETS_PER_SECOND: int
    MAX_PACKETS_BURST: int
    SHUTDOWN_DEADLINE: float
    CIPHER: str
    PACKET_PROFILE: str
    POLICY_BEFORE_AUTH: str
    POLICY_AFTER_AUTH: str
    GATEWAY_LOAD_PLUGINS: tuple[str, ...] | None
    GATEWAY_DISABLE_PLUGINS: tuple[str, ...]
    DATA_DIR: str
    DATABASE_URL: str | None
    PUBLIC_HOST: str | None
    PUBLIC_PORT: int | None
    GRPC_DEADLINE: float
    GRPC_TLS_CA_FILE: str | None
    GRPC_TLS_CLIENT_CERT_FILE: str | None
    GRPC_TLS_CLIENT_KEY_FILE: str | None
    GRPC_TLS_SERVER_NAME: str | None
    GRPC_TLS_CERT_FILE: str | None
    GRPC_TLS_KEY_FILE: str | None
    GRPC_TLS_CLIENT_CA_FILE: str | None
    SESSION_GRACE: float
    GATEWAY_ID: str | None
    SETTINGS_FILE: str | None
    GM_COMMAND_LEVELS: Mapping[str, int]
    CHAT_RATE: float
    CHAT_BURST: int
    CHAT_SHOUT_RATE: float
    CHAT_SHOUT_BURST: int
    CHAT_MUTE_SECONDS: float
    CHAT_KICK_MUTES: int
    CHAT_KICK_WINDOW: float

    _values: dict[str, object]
    _sources: dict[str, str]
    unknown_keys: tuple[str, ...]  # keys of the settings file that no setting claims

    def __init__(
        self,
        values: Mapping[str, object],
        *,
        sources: Mapping[str, str] | None = None,
        unknown: Iterable[str] = (),
    ) -> None:
        object.__setattr__(self, "_values", dict(values))
        object.__setattr__(self, "_sources", dict(sources or {}))
        object.__setattr__(self, "unknown_keys", tuple(sorted(unknown)))

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails, i.e. for every setting (class annotations are
        # not attributes).
        values: dict[str, object] = object.__getattribute__(self, "_values")
        try:
            return values[name]
        except KeyError:
            raise AttributeError(f"no setting named {name!r}") from None

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("settings are read-only; pass overrides to load_settings()")

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def get(self, name: str, default: Any = None) -> Any:
        """The value of setting ``name``, or ``default`` when there is no such setting."""
        return self._values.get(name, default)

    def source(self, name: str) -> str:
        """Where the value of ``name`` came from: default, file, environment or override."""
        return str(self._sources.get(name, "default"))

    def service_addr(self, service: str) -> str | None:
        """The configured address of backend ``service`` (``<SERVICE>_SERVICE_ADDR``), or None."""
        value = self._values.get(service_addr_setting(service))
        return value if isinstance(value, str) else None

    def service_deadline(self, service: str) -> float | None:
        """The call deadline configured for backend ``service`` (``<SERVICE>_GRPC_DEADLINE``),
        or None (GRPC_DEADLINE applies)."""
        value = self._values.get(service_deadline_setting(service))
        return value if isinstance(value, float) else None

    def call_deadline(self, service: str) -> float:
        """The deadline of a call to backend ``service``: its ``<SERVICE>_GRPC_DEADLINE``, else
        GRPC_DEADLINE."""
        own = self.service_deadline(service)
        return own if own is not None else float(self.GRPC_DEADLINE)

    def service_addrs(self) -> dict[str, str]:
        """Every configured ``<SERVICE>_SERVICE_ADDR``, keyed by lower-case service name."""
        return {
            name[: -len("_SERVICE_ADDR")].lower(): value
            for name, value in self._values.items()
            if _SERVICE_ADDR_RE.match(name) and isinstance(value, str)
        }

    def as_dict(self) -> dict[str, object]:
        """A copy of all values (for display)."""
        return dict(self._values)

    def __repr__(self) -> str:
        return f"Settings({self._values!r})"


def _read_settings_file(path: str) -> dict[str, object]:
    file = Path(path)
    if file.suffix.lower() not in (".toml", ".yaml", ".yml"):
        raise ConfigError("SETTINGS_FILE", path, "expected a .toml, .yaml or .yml file")
    if not file.is_file():
        raise ConfigError("SETTINGS_FILE", path, "no such file")
    try:
        loaded = Dynaconf(
            settings_files=[str(file.resolve())],
            environments=False,
            loaders=[],  # the environment is read by name below, never wholesale
            load_dotenv=False,
            core_loaders=["TOML", "YAML"],
            merge_enabled=False,
        )
        data = loaded.as_dict()
    except Exception as exc:  # dynaconf surfaces parser errors of several libraries
        raise ConfigError("SETTINGS_FILE", path, f"cannot be parsed: {exc}") from exc
    data.pop("LOAD_DOTENV", None)
    return {str(key).upper(): value for key, value in data.items()}


def load_settings(
    overrides: Mapping[str, object] | None = None,
    *,
    settings_file: str | None = None,
    plugin_settings: Iterable[SettingRegistration] = (),
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Load and validate the settings.

    Precedence (lowest first): core and plugin defaults, the settings file (``settings_file``,
    else the SETTINGS_FILE setting from ``overrides`` or the environment), the environment
    (``environ``, default ``os.environ``; known names only), ``overrides``.

    Raises :class:`ConfigError` naming the first bad setting and its value.
    """
    env = os.environ if environ is None else environ
    overrides = {key.upper(): value for key, value in (overrides or {}).items()}

    # One path for every setting, the core's and the plugins': convert, then validate.
    specs: dict[str, tuple[object, Callable[[object], object], bool]] = {}
    validators: dict[str, tuple[str, Callable[[Any], str | None] | None]] = {}
    for registration in (*CORE_SETTINGS, *plugin_settings):
        name = registration.name.upper()
        if name in validators and validators[name][0] != registration.plugin:
            owner = validators[name][0]
            reason = (f"plugin {registration.plugin!r} declares a core setting"
                      if owner == CORE_PLUGIN else
                      f"declared by both plugin {owner!r} and {registration.plugin!r}")
            raise ConfigError(name, registration.default, reason)
        default = registration.default
        convert = registration.convert or functools.partial(_coerce_like, default)
        specs[name] = (default, convert, registration.optional)
        validators[name] = (registration.plugin, registration.validate)

    file_path = settings_file
    if file_path is None:
        raw_path = overrides.get("SETTINGS_FILE", env.get("SETTINGS_FILE") or None)
        file_path = str(raw_path) if raw_path else None
    file_values = _read_settings_file(file_path) if file_path else {}

    raw: dict[str, object] = {}
    sources: dict[str, str] = {}
    for layer_name, layer in (("file", file_values), ("environment", env),
                              ("override", overrides)):
        for name in specs:
            if name in layer:
                raw[name] = layer[name]
                sources[name] = layer_name
        for name in layer:
            if _per_service(name) and name not in specs:
                raw[name] = layer[name]
                sources[name] = layer_name
    if file_path:
        raw["SETTINGS_FILE"] = file_path
        sources.setdefault("SETTINGS_FILE", "override")

    values: dict[str, object] = {}
    for name, (default, convert, optional) in specs.items():
        value = raw.get(name, _UNSET)
        if value is _UNSET or value is None or (optional and value == ""):
            if not optional and value is None:
                raise ConfigError(name, value, "must be set")
            values[name] = default
            continue
        try:
            values[name] = convert(value)
        except ValueError as exc:
            raise ConfigError(name, value, str(exc)) from None
        except TypeError:
            raise ConfigError(name, value, "has the wrong type") from None
    for name, value in raw.items():
        if _SERVICE_ADDR_RE.match(name) and name not in specs:
            if value is None or value == "":
                continue  # an empty address means "use the embedded service"
            try:
                values[name] = _grpc_target(value)
            except ValueError as exc:
                raise ConfigError(name, value, str(exc)) from None
        elif _SERVICE_DEADLINE_RE.match(name) and name not in specs:
            if value is None or value == "":
                continue  # GRPC_DEADLINE applies
            try:
                values[name] = _seconds()(value)
            except (TypeError, ValueError) as exc:
                raise ConfigError(name, value, str(exc) or "has the wrong type") from None

    for name, (plugin, validate) in validators.items():
        if validate is None:
            continue
        try:
            problem = validate(values[name])
        except Exception as exc:  # a plugin's validator must not crash start-up obscurely
            problem = f"validator of plugin {plugin!r} failed: {exc!r}"
        if problem:
            raise ConfigError(name, raw.get(name, values[name]), problem)

    unknown = {name for name in file_values if name not in specs and not _per_service(name)}
    return Settings(values, sources=sources, unknown=unknown)
