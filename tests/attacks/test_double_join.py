"""One world connection per character: a second world join of a session whose character is in
the world on another connection is refused (FAILED), on one gateway and across two gateways,
while the first connection keeps being served; once the first leaves the world, a new join
works. Real gateways (in-process, embedded or shared services), real TCP on loopback."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from gateway_core.bot import steps as flow
from gateway_core.protocol.packets import JoinResult
from gateway_core.testing import (
    GATEWAY_TEST_SETTINGS,
    RunningGateway,
    running_gateway,
    still_served,
)

pytestmark = pytest.mark.anyio

TIMEOUT = 10.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_a_second_world_join_of_a_session_is_refused_until_the_first_leaves(
        tmp_path: Path) -> None:
    settings = {**GATEWAY_TEST_SETTINGS, "DATA_DIR": str(tmp_path)}
    async with running_gateway(settings, RunningGateway) as gateway:
        first, _ = await gateway.join_world("Alice")
        await flow.change_map(first)
        carried = gateway.gateway.connections.by_character_name("Alice")
        assert carried is not None and carried.session_id is not None
        session_id = carried.session_id

        second = await gateway.connect()
        refused = await flow.join(second, session_id, "pw")
        assert refused.result is JoinResult.FAILED
        await still_served(first, "still the only one")
        playing = [s for s in gateway.gateway.connections
                   if s.username and s.username.lower() == "alice" and not s.closed
                   and s.state.name == "IN_WORLD"]
        assert len(playing) == 1

        await first.aclose()  # leaves the world: saved, then released
        with anyio.fail_after(TIMEOUT):
            while gateway.gateway.connections.by_character_name("Alice") is not None:
                await anyio.sleep(0.02)
        again = await gateway.connect()
        assert (await flow.join(again, session_id, "pw")).result is JoinResult.OK
