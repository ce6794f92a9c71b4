"""The addresses handed out for the next leg (docs/protocol.md §10.2), end to end:
both legs hand out what gateway_core.addresses.public_address computes (its unit tests are
tests/test_addresses.py)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway_core.bot import steps as flow

StartGateway = Any  # the start_gateway fixture (tests/e2e/conftest.py)


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
