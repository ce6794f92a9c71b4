"""The addresses handed out for the next leg (DESIGN.md "Addresses handed out")."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from gateway_auth.handlers import public_address as login_leg_address
from gateway_character.handlers import public_address as world_leg_address

from gateway_core.bot import flow
from gateway_core.session import Session

StartGateway = Any  # the start_gateway fixture (tests/e2e/conftest.py)


def _settings(host: str | None = None, port: int | None = None, service_port: int = 29000) -> Any:
    return SimpleNamespace(PUBLIC_HOST=host, PUBLIC_PORT=port, SERVICE_PORT=service_port)


@pytest.mark.parametrize("address", [login_leg_address, world_leg_address])
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
    address: Any, local: str, expected: bytes
) -> None:
    session = Session(1, local_address=(local, 40000))
    assert address(session, _settings()) == (expected, 29000)


@pytest.mark.parametrize("address", [login_leg_address, world_leg_address])
def test_public_host_and_port_override_and_an_ephemeral_listener_gives_its_port(
    address: Any,
) -> None:
    session = Session(1, local_address=("10.1.2.3", 40000))
    assert address(session, _settings("game.example", 1234)) == (b"game.example", 1234)
    assert address(session, _settings(service_port=0)) == (b"10.1.2.3", 40000)


@pytest.mark.anyio
async def test_server_select_and_switch_server_hand_out_the_public_address(
    start_gateway: StartGateway,
) -> None:
    async with start_gateway(PUBLIC_HOST="rose.example", PUBLIC_PORT=29123) as gw:
        await gw.account("sara", "pw")
        selected = await gw.select_server("sara", "pw")
        assert (selected.ip, selected.port) == (b"rose.example", 29123)
        # Follow it the way a NAT would: to our real listener.
        client = await gw.connect()
        await flow.join(client, selected.session_id, "pw")
        await gw.create(client, "Sara")
        switch = await gw.select(client, "Sara")
        assert (switch.ip, switch.port) == (b"rose.example", 29123)
