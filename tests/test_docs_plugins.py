"""docs/plugins.md: its complete example plugin is at most 40 lines and works as printed, run
verbatim in a gateway with the built-in plugins, over real TCP, by a player in the world."""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway_core.protocol.packets import (
    CliQuestDataReq,
    QuestDataRequestType,
    QuestDataResult,
    SrvQuestDataReply,
)
from gateway_core.testing import GATEWAY_TEST_SETTINGS, RunningGateway, running_gateway

DOCS = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def example_source() -> str:
    """The first Python block of the section "A complete plugin"."""
    section = DOCS.read_text().split("## A complete plugin", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None, "docs/plugins.md lost its example plugin"
    return match.group(1)


@pytest.fixture
def example() -> Iterator[types.ModuleType]:
    module = types.ModuleType("gateway_noquests")
    sys.modules[module.__name__] = module  # as an installed plugin's module would be
    try:
        exec(compile(example_source(), "docs/plugins.md", "exec"), module.__dict__)
        yield module
    finally:
        sys.modules.pop(module.__name__, None)


def test_the_example_plugin_is_at_most_40_lines() -> None:
    assert len(example_source().splitlines()) <= 40


def test_the_example_imports_only_the_plugin_api() -> None:
    imported = re.findall(r"^\s*(?:from|import) (gateway_core[\w.]*)", example_source(), re.M)
    assert imported == ["gateway_core.api"]


async def test_the_example_plugin_answers_a_player_in_the_world(
    example: types.ModuleType, tmp_path: Path
) -> None:
    settings = {**GATEWAY_TEST_SETTINGS, "DATA_DIR": str(tmp_path)}
    async with running_gateway(settings, RunningGateway,
                               plugins=[(example, "noquests")]) as running:
        world, _ = await running.join_world("Quester")
        await world.send(CliQuestDataReq(type=QuestDataRequestType.ADD, slot=2, id=77))
        reply = await world.expect(SrvQuestDataReply, step="quest", timeout=5)
        await world.send(CliQuestDataReq(type=QuestDataRequestType.TRIGGER, slot=0, id=9))
        trigger = await world.expect(SrvQuestDataReply, step="quest", timeout=5)
        assert reply == SrvQuestDataReply(result=QuestDataResult.ADD_FAIL, slot=2, id=77)
        assert trigger.result is QuestDataResult.TRIGGER_FAIL
        assert running.sample("gateway_noquests_refused_total", {}) == 2
