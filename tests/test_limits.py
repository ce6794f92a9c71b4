"""Admission of client connections without a socket: the per-address limiter and its clock,
the refusal log, the open-file headroom."""

from __future__ import annotations

import logging
import resource

import pytest

from gateway_core.config import ConfigError, load_settings
from gateway_core.limits import (
    AddressSet,
    ConnectionLimiter,
    FileLimit,
    RefusalLog,
    connection_capacity,
    fd_reserve,
    limit_key,
    open_descriptors,
    raise_open_file_limit,
    report_file_limit,
)
from gateway_core.testing import ManualClock


def limiter(clock: ManualClock, **kwargs: object) -> ConnectionLimiter:
    options: dict[str, object] = {"max_per_address": 3, "rate": 0.0, "burst": 1}
    options.update(kwargs)
    return ConnectionLimiter(clock=clock, **options)  # type: ignore[arg-type]


def test_an_address_over_its_cap_is_refused_while_others_are_admitted() -> None:
    limits = limiter(ManualClock())
    keys = [limits.admit("198.51.100.1") for _ in range(3)]
    assert keys == [(None, "198.51.100.1")] * 3
    assert limits.admit("198.51.100.1") == ("per_ip", "198.51.100.1")
    assert limits.admit("198.51.100.2") == (None, "198.51.100.2")
    limits.release("198.51.100.1")
    assert limits.admit("198.51.100.1") == (None, "198.51.100.1")


def test_released_addresses_leave_no_entry() -> None:
    limits = limiter(ManualClock())
    for n in range(100):
        _, key = limits.admit(f"198.51.100.{n}")
        limits.release(key)
    assert limits.open == {}


def test_connect_rate_is_a_token_bucket_on_the_injected_clock() -> None:
    clock = ManualClock()
    limits = limiter(clock, max_per_address=0, rate=2.0, burst=4)
    results = [limits.admit("203.0.113.9")[0] for _ in range(6)]
    assert results == [None] * 4 + ["rate"] * 2
    clock.advance(0.5)  # one token back
    assert limits.admit("203.0.113.9")[0] is None
    assert limits.admit("203.0.113.9")[0] == "rate"
    assert limits.admit("203.0.113.10")[0] is None  # another address has its own bucket
    clock.advance(10)
    assert [limits.admit("203.0.113.9")[0] for _ in range(5)] == [None] * 4 + ["rate"]


def test_full_buckets_are_pruned() -> None:
    clock = ManualClock()
    limits = limiter(clock, max_per_address=0, rate=10.0, burst=20)
    for n in range(50):
        limits.admit(f"192.0.2.{n}")
    assert len(limits.buckets) == 50
    clock.advance(0.05)
    limits.prune()
    assert len(limits.buckets) == 50  # half a token back of the one spent: not full yet
    clock.advance(0.1)
    limits.prune()
    assert limits.buckets == {}


def test_allow_list_is_exempt() -> None:
    limits = limiter(ManualClock(), max_per_address=1, rate=1.0, burst=1,
                     allow=AddressSet.parse("10.0.0.0/8, 2001:db8::1"))
    assert all(limits.admit("10.1.2.3") == (None, "") for _ in range(10))
    assert all(limits.admit("::ffff:10.1.2.3") == (None, "") for _ in range(10))
    assert all(limits.admit("2001:db8::1")[0] is None for _ in range(10))
    limits.release("")
    assert limits.admit("11.0.0.1")[0] is None
    assert limits.admit("11.0.0.1")[0] == "per_ip"


def test_ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() -> None:
    assert limit_key("2001:db8:1:2:aaaa::1") == limit_key("2001:db8:1:2:bbbb::2") \
        == "2001:db8:1:2::/64"
    assert limit_key("2001:db8:1:3::1") != limit_key("2001:db8:1:2::1")
    assert limit_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert limit_key("fe80::1%eth0") == "fe80::/64"
    assert limit_key("not-an-ip") == "not-an-ip"
    limits = limiter(ManualClock(), max_per_address=2)
    assert limits.admit("2001:db8::1")[0] is None
    assert limits.admit("2001:db8::2")[0] is None
    assert limits.admit("2001:db8::ffff:3")[0] == "per_ip"


def test_refusal_log_is_one_line_per_address_per_interval() -> None:
    clock = ManualClock()
    refusals = RefusalLog(interval=10.0, overall=3, clock=clock)
    assert refusals.should_log("a") == 0
    assert [refusals.should_log("a") for _ in range(5)] == [None] * 5
    assert refusals.should_log("b") == 0
    assert refusals.should_log("c") == 0
    assert refusals.should_log("d") is None  # three lines this interval already
    clock.advance(10.0)
    assert refusals.should_log("a") == 5  # the line says how many were not logged
    refusals.prune()
    clock.advance(10.0)
    refusals.prune()
    assert refusals._last == {}


def test_headroom_keeps_a_reserve_below_the_open_file_limit() -> None:
    assert fd_reserve(1024) == 102
    assert fd_reserve(256) == 64
    assert connection_capacity(10000, 1024) == 922
    assert connection_capacity(10000, 256) == 192
    assert connection_capacity(10000, 1_048_576) == 10000
    assert connection_capacity(500, 1024) == 500
    assert connection_capacity(10000, None) == 10000
    assert connection_capacity(10000, 10) == 1
    # What is open at start-up (services, channels, files) is kept too, with room to grow.
    assert fd_reserve(1024, in_use=200) == 232
    assert connection_capacity(10000, 1024, in_use=200) == 792
    assert 0 < open_descriptors() < resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def test_start_up_warns_when_the_limit_is_lower_than_the_setting_needs(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="gateway.server"):
        assert report_file_limit(FileLimit(1024, 1024, 1024), 10000) == 922
    assert "fewer than MAX_CONCURRENT_CONNECTIONS=10000" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="gateway.server"):
        assert report_file_limit(FileLimit(1024, 524288, 524288), 10000) == 10000
    assert "raised the open-file limit from 1024 to 524288" in caplog.text
    assert "fewer than" not in caplog.text


def test_raising_the_limit_reaches_the_hard_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 512, hard), hard))
        limit = raise_open_file_limit()
        assert limit.before == min(soft, 512, hard)
        if hard != resource.RLIM_INFINITY:
            assert limit.soft == limit.hard == hard
            assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == hard
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_settings_of_the_limits_are_validated() -> None:
    settings = load_settings(environ={"CONNECTION_LIMIT_ALLOW": "10.0.0.1, 192.168.0.0/16",
                                      "PROXY_TRUSTED": "", "CONNECT_RATE_PER_IP": "2.5"})
    assert settings.CONNECTION_LIMIT_ALLOW == ("10.0.0.1/32", "192.168.0.0/16")
    assert settings.PROXY_TRUSTED == ()
    assert settings.CONNECT_RATE_PER_IP == 2.5
    defaults = load_settings(environ={})
    assert defaults.CONNECTION_LIMIT_ALLOW == ("127.0.0.0/8", "::1/128")
    assert defaults.PROXY_PROTOCOL == "off"
    for name, value in (("CONNECTION_LIMIT_ALLOW", "10.0.0.300"), ("PROXY_TRUSTED", "lb"),
                        ("PROXY_PROTOCOL", "v3"), ("MAX_CONNECTIONS_PER_IP", "-1"),
                        ("CONNECT_RATE_PER_IP", "-1"), ("CONNECT_BURST_PER_IP", "0")):
        with pytest.raises(ConfigError) as info:
            load_settings(environ={name: value})
        assert info.value.setting == name


def test_proxy_protocol_without_trusted_peers_fails_start_up() -> None:
    from gateway_core.app import Gateway

    with pytest.raises(ConfigError) as info:
        Gateway(overrides={"GATEWAY_LOAD_PLUGINS": (), "PROXY_PROTOCOL": "v2"}, environ={})
    assert info.value.setting == "PROXY_TRUSTED"
    gateway = Gateway(overrides={"GATEWAY_LOAD_PLUGINS": (), "PROXY_PROTOCOL": "any",
                                 "PROXY_TRUSTED": "10.0.0.0/8"}, environ={})
    assert gateway.server.proxy_versions == {1, 2}
    assert "10.1.2.3" in gateway.server.proxy_trusted
