"""The address handed out for the next leg (docs/protocol.md §10.2):
:func:`gateway_core.addresses.public_address`, used by the login leg (server select reply) and
the character leg (switch server). The end-to-end check is tests/e2e/test_addresses.py."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest

from gateway_core.addresses import public_address
from gateway_core.session import Session


def _settings(host: str | None = None, port: int | None = None, service_port: int = 29000) -> Any:
    return SimpleNamespace(PUBLIC_HOST=host, PUBLIC_PORT=port, SERVICE_PORT=service_port)


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("10.1.2.3", b"10.1.2.3"),
        ("::ffff:10.1.2.3", b"10.1.2.3"),  # IPv4 client on a dual-stack listener
        ("::1", b"127.0.0.1"),
        ("0.0.0.0", b"127.0.0.1"),
        ("2001:db8::7", b"2001:db8::7"),  # handed out as is (with a warning)
    ],
)
def test_default_address_is_where_the_client_reached_the_gateway(
    local: str, expected: bytes
) -> None:
    session = Session(1, local_address=(local, 40000))
    assert public_address(session, _settings()) == (expected, 29000)


def test_public_host_and_port_override_and_an_ephemeral_listener_gives_its_port() -> None:
    session = Session(1, local_address=("10.1.2.3", 40000))
    assert public_address(session, _settings("game.example", 1234)) == (b"game.example", 1234)
    assert public_address(session, _settings(service_port=0)) == (b"10.1.2.3", 40000)


def test_a_global_ipv6_address_is_handed_out_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    session = Session(1, local_address=("2001:db8::7", 40000))
    with caplog.at_level(logging.WARNING, logger="gateway.addresses"):
        assert public_address(session, _settings()) == (b"2001:db8::7", 29000)
    assert "set PUBLIC_HOST" in caplog.text


def test_an_unreadable_local_address_is_handed_out_as_is() -> None:
    session = Session(1, local_address=("", 40000))
    assert public_address(session, _settings()) == (b"127.0.0.1", 29000)
    session = Session(1, local_address=("gateway.local", 40000))
    assert public_address(session, _settings()) == (b"gateway.local", 29000)
