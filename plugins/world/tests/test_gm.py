"""The world's GM commands through a real gateway (embedded services, the test pack of
content/pack.toml) driven over TCP: ``/tp``, ``/goto``, ``/summon`` and ``/where`` move and
locate characters the way a warp gate does, for a GM; a player, bad arguments, an unknown map
or a name that matches nobody get a whisper from ``server msg`` and nothing moves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway_core.api import WORLD_PLACEMENT
from gateway_core.bot import GameClient
from gateway_core.bot import steps as flow
from gateway_core.protocol.packets import (
    CliNormalChat,
    SrvMobChar,
    SrvTeleportReply,
    SrvWhisperChat,
)
from gateway_core.session import Session
from gateway_core.testing import GATEWAY_TEST_SETTINGS, RunningGateway, running_gateway

pytestmark = pytest.mark.anyio

TIMEOUT = 5.0
CONTENT = Path(__file__).resolve().parent / "content"
GM_ACCESS = 200
START = (520000.0, 520000.0)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Player:
    client: GameClient
    session: Session

    async def type(self, line: str) -> None:
        await self.client.send(CliNormalChat(message=line.encode()))

    async def whisper(self) -> str:
        reply = await self.client.expect(
            SrvWhisperChat, step="whisper", timeout=TIMEOUT,
            match=lambda p: p.sender == b"server msg",
        )
        return reply.message.decode()

    async def teleported(self) -> SrvTeleportReply:
        reply = await self.client.expect(SrvTeleportReply, step="teleport", timeout=TIMEOUT)
        await flow.change_map(self.client)
        return reply

    def where(self) -> tuple[int, float, float]:
        placement = self.session.records.require(WORLD_PLACEMENT)
        return placement.map_id, placement.position.x, placement.position.y


class World(RunningGateway):
    async def player(self, name: str, *, access: int = 1) -> Player:
        world_leg, _ = await self.join_world(name, access_level=access)
        await flow.change_map(world_leg)
        session = self.gateway.connections.by_character_name(name)
        assert session is not None
        return Player(world_leg, session)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    settings = {**GATEWAY_TEST_SETTINGS, "DATA_DIR": str(tmp_path), "WORLD_VIEW_RADIUS": 300.0,
                "WORLD_CONTENT": str(CONTENT), "CHARACTER_START_MAP": 20,
                "WORLD_WANDER_INTERVAL": 3600.0, "WORLD_RANDOM_SEED": 7}
    async with running_gateway(settings, World) as running:
        yield running


async def test_tp_takes_a_gm_to_a_point_of_another_map(world: World) -> None:
    gm = await world.player("Gamma", access=GM_ACCESS)
    await gm.type("/tp 22 530000 530000")
    reply = await gm.teleported()
    assert (reply.map, reply.x, reply.y) == (22, 530000.0, 530000.0)
    await gm.client.expect(SrvMobChar, step="field monsters", timeout=TIMEOUT)
    assert gm.where() == (22, 530000.0, 530000.0)


async def test_a_player_is_refused_and_stays_where_it_is(world: World) -> None:
    player = await world.player("Pia")
    await player.type("/tp 22 530000 530000")
    assert await player.whisper() == "You are not allowed to use /tp."
    assert player.where() == (20, *START)
    assert not any(isinstance(p, SrvTeleportReply) for p in player.client.unexpected)


@pytest.mark.parametrize("line", [
    "/tp", "/tp 22 530000", "/tp 22 abc 530000", "/tp 22 nan 530000", "/tp 0 1 1",
    "/tp 99 530000 530000", "/tp 22 1 1", "/goto", "/goto Nobody", "/summon Nobody",
    "/where extra",
])
async def test_bad_arguments_get_a_whisper_and_nothing_moves(world: World, line: str) -> None:
    gm = await world.player("Gamma", access=GM_ACCESS)
    await gm.type(line)
    assert await gm.whisper()
    assert gm.where() == (20, *START)


async def test_goto_and_summon_move_to_and_bring_a_character(world: World) -> None:
    gm = await world.player("Gamma", access=GM_ACCESS)
    bob = await world.player("Bob")
    await bob.type("/tp 22 531000 531000")  # a player cannot: refused
    await bob.whisper()
    await gm.type("/tp 22 531000 531000")
    await gm.teleported()

    await gm.type("/goto Bob")
    reply = await gm.teleported()
    assert (reply.map, reply.x, reply.y) == (20, *START)

    await gm.type("/tp 22 531000 531000")
    await gm.teleported()
    await gm.type("/summon Bob")
    reply = await bob.teleported()
    assert (reply.map, reply.x, reply.y) == (22, 531000.0, 531000.0)
    assert bob.where() == (22, 531000.0, 531000.0)
    # The whisper went out with the teleport: it may have arrived while Bob reloaded the map.
    told = [p.message for p in bob.client.unexpected if isinstance(p, SrvWhisperChat)]
    assert b"A GM summoned you." in told or await bob.whisper() == "A GM summoned you."
    assert await gm.whisper() == "Summoned Bob."


async def test_where_says_map_channel_and_position(world: World) -> None:
    gm = await world.player("Gamma", access=GM_ACCESS)
    await gm.type("/where")
    text = await gm.whisper()
    assert text.startswith("map 20 channel 1 at (520000, 520000)")
