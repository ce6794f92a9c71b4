"""Settings of the reference auth service and their validation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway_auth.service.passwords import Argon2Params
from gateway_auth.service.throttle import ThrottlePolicy
from gateway_core.api import Validator, int_range, name_list, positive_finite_number


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    """A channel of a world, as offered in the channel list."""

    id: int
    name: str


@dataclass(frozen=True, slots=True)
class WorldConfig:
    """A world (server list entry) and its channels."""

    id: int
    name: str
    test: bool
    channels: tuple[ChannelConfig, ...]


@dataclass(frozen=True, slots=True)
class AuthOptions:
    """Everything the auth service is configured with (see :data:`SETTINGS`)."""

    session_ttl: float = 600.0
    create_account_on_fail: bool = False
    default_access_level: int = 1
    worlds: tuple[WorldConfig, ...] = (
        WorldConfig(1, "rose-gateway", False, (ChannelConfig(1, "channel-1"),)),
    )
    argon2: Argon2Params = field(default_factory=Argon2Params)
    #: argon2 operations at once; 0 = one per CPU.
    hash_concurrency: int = 0
    #: Seconds a gateway's hold on a session lasts without a touch.
    hold_lease: float = 60.0
    #: Logins waiting for password hashing per source address (0: no cap).
    pending_per_source: int = 8
    #: The secret the join bindings are keyed with, shared by replicas ("": random per process).
    binding_key: str = ""
    #: Failed-login throttles of an (account, address) pair and of an address.
    pair_throttle: ThrottlePolicy = field(default_factory=ThrottlePolicy)
    source_throttle: ThrottlePolicy = field(default_factory=lambda: ThrottlePolicy(
        free_failures=20, lock_failures=100))

    @classmethod
    def from_settings(cls, settings: Any) -> AuthOptions:
        """Build from validated settings (attribute access by upper-case name)."""
        channel_names = name_list(settings.AUTH_CHANNEL_NAMES)
        world = WorldConfig(
            id=1,
            name=str(settings.AUTH_WORLD_NAME),
            test=bool(settings.AUTH_WORLD_TEST),
            channels=tuple(ChannelConfig(i, n) for i, n in enumerate(channel_names, start=1)),
        )
        return cls(
            session_ttl=float(settings.AUTH_SESSION_TTL),
            create_account_on_fail=bool(settings.AUTH_CREATE_ACCOUNT_ON_FAIL),
            default_access_level=int(settings.AUTH_DEFAULT_ACCESS_LEVEL),
            worlds=(world,),
            argon2=Argon2Params(
                time_cost=int(settings.AUTH_ARGON2_TIME_COST),
                memory_kib=int(settings.AUTH_ARGON2_MEMORY_KIB),
                parallelism=int(settings.AUTH_ARGON2_PARALLELISM),
            ),
            hash_concurrency=int(settings.AUTH_HASH_CONCURRENCY),
            pending_per_source=int(settings.AUTH_LOGIN_PENDING_PER_SOURCE),
            hold_lease=float(settings.AUTH_HOLD_LEASE),
            binding_key=str(settings.AUTH_BINDING_KEY or ""),
            pair_throttle=ThrottlePolicy(
                free_failures=int(settings.AUTH_LOGIN_FREE_FAILURES),
                lock_failures=int(settings.AUTH_LOGIN_LOCK_FAILURES),
                lock_seconds=float(settings.AUTH_LOGIN_LOCK_SECONDS),
            ),
            source_throttle=ThrottlePolicy(
                free_failures=int(settings.AUTH_SOURCE_FREE_FAILURES),
                lock_failures=int(settings.AUTH_SOURCE_LOCK_FAILURES),
                lock_seconds=float(settings.AUTH_LOGIN_LOCK_SECONDS),
            ),
        )


def _world_name(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip() or len(value) > 32:
        return "must be a non-empty name of at most 32 characters"
    return None


def _binding_key(value: Any) -> str | None:
    if value and (not isinstance(value, str) or len(value) < 32):
        return "must be empty or a secret of at least 32 characters"
    return None


def _channel_names(value: Any) -> str | None:
    names = name_list(value)
    if not 1 <= len(names) <= 255:
        return "must list 1 to 255 channel names (comma-separated)"
    if any(len(name) > 32 for name in names):
        return "channel names must be at most 32 characters"
    return None


#: (name, default, validator, doc) of every auth setting, registered by the plugin.
SETTINGS: tuple[tuple[str, object, Validator | None, str], ...] = (
    (
        "AUTH_DATABASE_URL",
        None,
        None,
        "SQLAlchemy async URL of the auth database (unset: DATABASE_URL, else "
        "DATA_DIR/auth.sqlite3).",
    ),
    (
        "AUTH_CREATE_ACCOUNT_ON_FAIL",
        False,
        None,
        "Create an unknown account on its first login with the password given (then log in).",
    ),
    (
        "AUTH_DEFAULT_ACCESS_LEVEL",
        1,
        int_range(0, 65535),
        "Access level of accounts created on login.",
    ),
    (
        "AUTH_SESSION_TTL",
        600.0,
        positive_finite_number,
        "Seconds a session lives without being touched (join, phase change, keep-alive).",
    ),
    (
        "AUTH_HOLD_LEASE",
        60.0,
        positive_finite_number,
        "Seconds a gateway's hold on a session lasts without a touch (gateways touch three "
        "times as often; at most AUTH_SESSION_TTL). A login may take over a session no live "
        "gateway holds.",
    ),
    (
        "AUTH_BINDING_KEY",
        "",
        _binding_key,
        "Secret (at least 32 characters) the auth service keys its join bindings with; give "
        "every replica the same one so a join need not check the password with argon2 again "
        "on another replica than its login's. Empty: a random key per process.",
    ),
    ("AUTH_WORLD_NAME", "rose-gateway", _world_name, "Name of the world in the server list."),
    ("AUTH_WORLD_TEST", False, None, "Mark the world as a test server ('@') in the list."),
    (
        "AUTH_CHANNEL_NAMES",
        ("channel-1",),
        _channel_names,
        "Channels of the world, comma-separated; ids are 1, 2, ... in this order.",
    ),
    (
        "AUTH_ARGON2_TIME_COST",
        2,
        int_range(1, 100),
        "argon2id iterations (default: OWASP's argon2id recommendation, with the two below).",
    ),
    (
        "AUTH_ARGON2_MEMORY_KIB",
        19456,
        int_range(64, 4 * 1024 * 1024),
        "argon2id memory in KiB (at least 8 x parallelism); 19456 = 19 MiB.",
    ),
    ("AUTH_ARGON2_PARALLELISM", 1, int_range(1, 8), "argon2id lanes."),
    (
        "AUTH_HASH_CONCURRENCY",
        0,
        int_range(0, 1024),
        "argon2 operations run at once (0 = one per CPU); more logins queue, and one that "
        "cannot be served before its gRPC deadline gets FAILED.",
    ),
    (
        "AUTH_LOGIN_PENDING_PER_SOURCE",
        8,
        int_range(0, 100_000),
        "Logins from one client address waiting for password hashing at once (0 = no cap); "
        "more get FAILED at once. Waiting logins are served in turn between addresses; calls "
        "without a client address (operator tools) are not capped.",
    ),
    (
        "AUTH_LOGIN_FREE_FAILURES",
        5,
        int_range(1, 1_000_000),
        "Failed logins of one account from one address before each further one makes the "
        "next try wait (1 s, doubling, at most 60 s; earlier tries get FAILED unchecked).",
    ),
    (
        "AUTH_LOGIN_LOCK_FAILURES",
        20,
        int_range(1, 1_000_000),
        "Failed logins of one account from one address that close it for "
        "AUTH_LOGIN_LOCK_SECONDS (the owner from another address is not affected).",
    ),
    (
        "AUTH_SOURCE_FREE_FAILURES",
        20,
        int_range(1, 1_000_000),
        "Failed logins from one address (any accounts) before its tries are slowed the same "
        "way.",
    ),
    (
        "AUTH_SOURCE_LOCK_FAILURES",
        100,
        int_range(1, 1_000_000),
        "Failed logins from one address (any accounts) that close it for "
        "AUTH_LOGIN_LOCK_SECONDS.",
    ),
    (
        "AUTH_LOGIN_LOCK_SECONDS",
        900.0,
        positive_finite_number,
        "Seconds a closed account-and-address pair or address stays closed.",
    ),
)
