"""``gateway bot --warp GATE``: the bot walks to a gate of the content pack the gateway runs,
takes it, enters the destination map and reports what it saw there. A real gateway with the
test pack (content/pack.toml: gate 1 is 100 units from the start point and leads to the field
with three jellies), the bot's own journey over TCP."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from gateway_core.bot.cli import configure, run, warp_gate
from gateway_core.bot.journey import FlowOptions, WarpGate, run_flow
from gateway_core.testing import GATEWAY_TEST_SETTINGS, RunningGateway, running_gateway

CONTENT = Path(__file__).resolve().parent / "content"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[RunningGateway]:
    settings = {**GATEWAY_TEST_SETTINGS, "DATA_DIR": str(tmp_path), "WORLD_VIEW_RADIUS": 300.0,
                "WORLD_CONTENT": str(CONTENT), "CHARACTER_START_MAP": 20,
                "WORLD_WANDER_INTERVAL": 3600.0}
    async with running_gateway(settings, RunningGateway) as running:
        yield running


def test_the_gate_comes_from_the_pack_the_settings_name() -> None:
    settings = SimpleNamespace(WORLD_CONTENT=str(CONTENT))  # what the bot reads of them
    assert warp_gate(1, settings) == WarpGate(1, 20, 520100.0, 520000.0)
    assert warp_gate(1, None).map_id == 1  # the default pack's town gate


def test_an_unknown_gate_exits_2_naming_the_gates(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    configure(parser)
    assert run(parser.parse_args(["--warp", "99"])) == 2
    assert "no gate 99 (gates: 1, 2)" in capsys.readouterr().err


@pytest.mark.anyio
async def test_warp_takes_the_gate_and_reports_the_monsters_seen(
    gateway: RunningGateway,
) -> None:
    await gateway.account("walker", "pw")
    options = FlowOptions(host=gateway.host, port=gateway.port, username="walker",
                          password="pw", create=True, timeout=5.0,
                          warp=WarpGate(1, 20, 520100.0, 520000.0))
    result = await run_flow(options)
    assert result.ok, result.error
    assert [s.name for s in result.steps][-4:] == [
        "walk_to_gate", "warp", "change_map_after_warp", "logout"]
    assert result.map_id == 22
    assert result.sightings["npcs"] >= 1  # the town guard, before the gate
    assert result.sightings["monsters"] >= 3  # the field's jellies
