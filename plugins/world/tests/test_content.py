"""The world with content, through a real gateway (embedded reference services, SQLite under a
tmp dir) driven over TCP by the bot, on the test pack (content/pack.toml): a town on map 20
around the start point with a guard in view, a field on map 22 with three jellies by its
arrival point, and warp gates between them.

What a player sees of NPCs and monsters, taking gates (and being refused), monsters that
wander and come back, channels that separate players, positions the server corrects, and
where a character is saved.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from gateway_world.runtime import WorldRuntime

from gateway_core.api import SELECTED_CHARACTER, WORLD_PLACEMENT, ContentError
from gateway_core.bot import GameClient
from gateway_core.bot import steps as flow
from gateway_core.protocol.packets import (
    CliLogoutReq,
    CliMouseCmd,
    CliNormalChat,
    CliSetPosition,
    CliStopMoving,
    CliTeleportReq,
    LoginResult,
    SrvChangeMapReply,
    SrvLogoutReply,
    SrvMobChar,
    SrvMouseCmd,
    SrvNormalChat,
    SrvNpcChar,
    SrvPlayerChar,
    SrvRemoveObject,
    SrvSetPosition,
    SrvStopMoving,
    SrvTeleportReply,
)
from gateway_core.session import Session
from gateway_core.testing import GATEWAY_TEST_SETTINGS, RunningGateway, running_gateway

pytestmark = pytest.mark.anyio

TIMEOUT = 5.0
VIEW_RADIUS = 300.0
#: Where every new character starts: map 20 of the test pack, 100 units from gate 1.
START = (520000.0, 520000.0)
#: Where gate 1 leads: map 22, by the three jellies.
FIELD = (22, 530000.0, 530000.0)
CONTENT = Path(__file__).resolve().parent / "content"
GUARD_TYPE, ELDER_TYPE, JELLY_TYPE = 1001, 1011, 1

SETTINGS: dict[str, object] = {
    **GATEWAY_TEST_SETTINGS,
    "WORLD_VIEW_RADIUS": VIEW_RADIUS,
    "WORLD_TICK_INTERVAL": 0.05,
    "WORLD_RECONNECT_MAX_DELAY": 0.2,
    "WORLD_CONTENT": str(CONTENT),
    "CHARACTER_START_MAP": 20,  # the test pack's town
    # Monsters stand for an hour unless a test asks for wandering: views stay predictable.
    "WORLD_WANDER_INTERVAL": 3600.0,
    "WORLD_RANDOM_SEED": 7,
    "AUTH_CHANNEL_NAMES": "one,two",
}


@dataclass
class Player:
    """A bot on the map: its world connection, its session and its object id."""

    name: str
    client: GameClient
    session: Session
    object_id: int

    async def send(self, *packets: Any) -> None:
        await self.client.send(*packets)

    async def expect(self, packet_class: Any, step: str, match: Any = None) -> Any:
        return await self.client.expect(packet_class, step=step, timeout=TIMEOUT, match=match)

    async def say(self, text: str) -> None:
        """Normal chat, returning once the line came back: what the world did before it has
        reached this client."""
        await self.send(CliNormalChat(message=text.encode()))
        await self.expect(SrvNormalChat, "chat", lambda p: p.message == text.encode())

    def got(self, packet_class: Any, match: Callable[[Any], bool]) -> bool:
        return any(isinstance(p, packet_class) and match(p) for p in self.client.unexpected)

    @property
    def placement(self) -> tuple[int, float, float]:
        placement = self.session.records.require(WORLD_PLACEMENT)
        return placement.map_id, placement.position.x, placement.position.y


class World(RunningGateway):
    async def player(self, name: str, *, channel: int = 1, new: bool = True) -> Player:
        """Login on ``channel``, (create and) select character ``name``, join the world and
        load the map."""
        world_leg, _ = await self.join_world(name, channel=channel, new=new)
        change = await flow.change_map(world_leg)
        session = self.gateway.connections.by_character_name(name)
        assert session is not None
        return Player(name, world_leg, session, change.object_index)

    @property
    def runtime(self) -> WorldRuntime:
        runtime = self.gateway.runtimes.get("world")
        assert isinstance(runtime, WorldRuntime)
        return runtime

    def drops(self, reason: str) -> float:
        return self.sample("gateway_world_drops_total", {"reason": reason})


StartWorld = Callable[..., contextlib.AbstractAsyncContextManager[World]]


@pytest.fixture
def start_world(tmp_path: Path) -> StartWorld:
    def factory(**overrides: object) -> contextlib.AbstractAsyncContextManager[World]:
        settings = {**SETTINGS, "DATA_DIR": str(tmp_path / "data"), **overrides}
        return running_gateway(settings, World)

    return factory


@pytest.fixture
async def world(start_world: StartWorld) -> AsyncIterator[World]:
    async with start_world() as running:
        yield running


async def take_gate_to_field(player: Player) -> SrvTeleportReply:
    """Gate 1 (the player stands in it at the start point) to the field, and load the map."""
    await player.send(CliTeleportReq(id=1, x=START[0], y=START[1]))
    reply: SrvTeleportReply = await player.expect(SrvTeleportReply, "gate 1")
    change: SrvChangeMapReply = await flow.change_map(player.client)
    assert change.object_index == reply.id
    player.object_id = reply.id
    return reply


async def see_jellies(player: Player) -> list[SrvMobChar]:
    return [
        await player.expect(SrvMobChar, f"jelly {n}", lambda p: p.npc_id == JELLY_TYPE)
        for n in range(3)
    ]


# --- NPCs and monsters --------------------------------------------------------------------------


async def test_a_new_player_sees_the_town_npcs_within_the_view_radius(world: World) -> None:
    alice = await world.player("Alice")
    guard = await alice.expect(SrvNpcChar, "guard", lambda p: p.npc_id == GUARD_TYPE)
    assert (guard.x, guard.y, guard.angle) == (520150.0, 520050.0, 90.0)
    assert guard.id not in (0, alice.object_id) and guard.hp > 0
    await alice.say("anyone here?")
    assert not alice.got(SrvNpcChar, lambda p: p.npc_id == ELDER_TYPE)  # 2000 units away


async def test_a_gate_takes_the_player_to_the_field_and_its_monsters(world: World) -> None:
    alice = await world.player("Alice")
    bob = await world.player("Bob")
    await bob.expect(SrvPlayerChar, "alice", lambda p: p.id == alice.object_id)
    town_id = alice.object_id

    reply = await take_gate_to_field(alice)
    assert (reply.map, reply.x, reply.y) == FIELD
    jellies = await see_jellies(alice)
    assert len({j.id for j in jellies}) == 3 and alice.object_id not in {j.id for j in jellies}
    assert all(j.hp == 45 for j in jellies)
    # Leaving the town removed her for Bob; her placement is the field's arrival point.
    await bob.expect(SrvRemoveObject, "alice left", lambda p: p.id == town_id)
    assert alice.placement == FIELD


async def test_monsters_wander_within_their_circle(start_world: StartWorld) -> None:
    async with start_world(WORLD_WANDER_INTERVAL=0.1) as world:
        alice = await world.player("Alice")
        await take_gate_to_field(alice)
        jellies = {j.id for j in await see_jellies(alice)}
        walk = await alice.expect(SrvMouseCmd, "a jelly walks", lambda p: p.id in jellies)
        # Spawn circle: centre (530100, 530000), radius 100.
        assert (walk.x - 530100.0) ** 2 + (walk.y - 530000.0) ** 2 <= 100.0**2 + 1e-6


async def test_a_removed_monster_respawns_after_its_respawn_time(world: World) -> None:
    alice = await world.player("Alice")
    await take_gate_to_field(alice)
    victim = (await see_jellies(alice))[0]
    assert await world.runtime.remove_monster(22, victim.id)
    await alice.expect(SrvRemoveObject, "removed", lambda p: p.id == victim.id)
    # respawn_seconds = 0.3: a fourth jelly spawn, with a new object id.
    again = await alice.expect(SrvMobChar, "respawn", lambda p: p.npc_id == JELLY_TYPE)
    assert again.id != victim.id
    assert not await world.runtime.remove_monster(22, victim.id)  # gone already


# --- gates ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gate_id", "reason"),
    [(99, "unknown_gate"), (-1, "unknown_gate"), (2, "gate_on_other_map"),
     (3, "gate_out_of_range")],
)
async def test_a_gate_the_player_cannot_take_is_refused_and_counted(
    world: World, gate_id: int, reason: str
) -> None:
    alice = await world.player("Alice")
    before = alice.placement
    # The client's point is ignored: gate 3 is 5000 units from where the server has her.
    await alice.send(CliTeleportReq(id=gate_id, x=525000.0, y=520000.0))
    await alice.say("still here")
    assert world.drops(reason) == 1
    assert not alice.got(SrvTeleportReply, lambda p: True)
    assert alice.placement == before


# --- channels -------------------------------------------------------------------------------------


async def test_players_on_another_channel_of_the_map_are_not_seen(world: World) -> None:
    alice = await world.player("Alice", channel=1)
    bob = await world.player("Bob", channel=2)
    carol = await world.player("Carol", channel=1)
    await carol.expect(SrvPlayerChar, "alice", lambda p: p.name == b"Alice")
    await alice.expect(SrvPlayerChar, "carol", lambda p: p.name == b"Carol")
    # Every channel has its own instance of the town, its guard included.
    await bob.expect(SrvNpcChar, "bob's guard", lambda p: p.npc_id == GUARD_TYPE)
    await bob.say("hello?")
    await alice.say("hi")
    assert not bob.got(SrvPlayerChar, lambda p: True)
    assert not alice.got(SrvPlayerChar, lambda p: p.name == b"Bob")
    assert not bob.got(SrvNormalChat, lambda p: p.message == b"hi")

    # The channel list says how many players each channel holds.
    await world.account("dave", "pw")
    login = await world.connect()
    assert (await flow.login(login, "dave", "pw")).result is LoginResult.OK
    listed = await flow.channel_list(login, 1)
    assert [(c.id, c.capacity) for c in listed.channels] == [(1, 2), (2, 1)]


# --- positions ------------------------------------------------------------------------------------


async def test_an_impossible_stop_is_corrected_counted_and_never_saved(world: World) -> None:
    alice = await world.player("Alice")
    bob = await world.player("Bob")
    await alice.expect(SrvPlayerChar, "bob", lambda p: p.id == bob.object_id)
    # Standing at the start point, Alice claims to be 3000 units away.
    await alice.send(CliStopMoving(x=START[0] + 3000, y=START[1], z=0))
    told = await alice.expect(SrvSetPosition, "correction")
    assert (told.char_id, told.x, told.y) == (alice.object_id, *START)
    assert world.drops("position_corrected") == 1
    assert alice.placement == (20, *START)
    # Bob still sees her where she is.
    stopped = await bob.expect(SrvStopMoving, "stop", lambda p: p.char_id == alice.object_id)
    assert (stopped.x, stopped.y) == START

    # A stop the server can explain is taken.
    await alice.send(CliStopMoving(x=START[0] + 40, y=START[1], z=0))
    await alice.say("moved a little")
    assert alice.placement == (20, START[0] + 40, START[1])


async def test_a_claimed_position_is_checked_like_a_stop(world: World) -> None:
    alice = await world.player("Alice")
    await alice.send(CliSetPosition(x=START[0] + 3000, y=START[1]))
    told = await alice.expect(SrvSetPosition, "correction")
    assert (told.char_id, told.x, told.y) == (alice.object_id, *START)
    assert world.drops("position_corrected") == 1
    assert alice.placement == (20, *START)
    await alice.send(CliSetPosition(x=START[0] + 40, y=START[1]),
                     CliSetPosition(x=float("nan"), y=START[1]))
    await alice.say("moved a little")
    assert alice.placement == (20, START[0] + 40, START[1])
    assert world.drops("bad_position") == 1


async def test_points_outside_the_map_are_refused_and_counted(world: World) -> None:
    alice = await world.player("Alice")
    await alice.send(
        CliMouseCmd(target_id=0, x=600000.0, y=START[1], z=0),
        CliStopMoving(x=START[0], y=400000.0, z=0),
    )
    await alice.say("nowhere to go")
    assert world.drops("out_of_bounds") == 2
    assert not alice.got(SrvMouseCmd, lambda p: p.id == alice.object_id)
    assert alice.placement == (20, *START)


async def test_the_placement_follows_the_server_during_a_walk(world: World) -> None:
    alice = await world.player("Alice")
    await alice.send(CliMouseCmd(target_id=0, x=START[0] + 100, y=START[1] + 50, z=0))
    await alice.expect(SrvMouseCmd, "walk", lambda p: p.id == alice.object_id)
    assert alice.placement == (20, START[0] + 100, START[1] + 50)


# --- saving ---------------------------------------------------------------------------------------


async def test_a_character_is_saved_on_the_new_map_and_comes_back_there(world: World) -> None:
    alice = await world.player("Alice")
    await take_gate_to_field(alice)
    await alice.send(CliLogoutReq())
    await alice.expect(SrvLogoutReply, "logout")
    with anyio.fail_after(TIMEOUT):
        while world.gateway.connections.by_character_name("Alice") is not None:
            await anyio.sleep(0.01)

    again = await world.player("Alice", new=False)
    selected = again.session.records.require(SELECTED_CHARACTER)
    assert (selected.map_id, selected.position.x, selected.position.y) == FIELD
    assert again.placement == FIELD
    await see_jellies(again)


# --- GM operations and start-up -----------------------------------------------------------------


async def test_locate_finds_a_character_by_name_through_the_world_service(world: World) -> None:
    alice = await world.player("Alice")
    await take_gate_to_field(alice)
    assert await world.runtime.locate("ALICE") == FIELD
    assert await world.runtime.locate("Nobody") is None


async def test_a_gm_teleport_outside_the_map_is_refused(world: World) -> None:
    alice = await world.player("Alice")
    assert not await world.runtime.teleport(alice.session, 22, *START)  # not a field point
    assert world.drops("out_of_bounds") == 1
    assert alice.placement == (20, *START)


async def test_a_broken_content_pack_fails_start_up_with_the_loaders_message(
    start_world: StartWorld, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text('name = "broken"\nversion = "1"\n[[map]]\nid = 0\n')
    with pytest.raises(BaseException) as caught:
        async with start_world(WORLD_CONTENT=str(broken)):
            pass
    errors = [e for e in _leaves(caught.value) if isinstance(e, ContentError)]
    assert errors and "broken.toml: map[0]" in str(errors[0])


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]
