"""The world plugin's packet handlers, through a real gateway (embedded reference services,
SQLite under a tmp dir) driven over TCP by the bot: entering the map and the spawns, normal
chat within the view radius, movement, animations, teleports, bad values and a world service
that goes away."""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from gateway_world.handlers import CHAT_UNAVAILABLE, SERVER_SENDER, WORLD_UNAVAILABLE
from gateway_world.runtime import BASE_RUN_SPEED, PRESENCE
from gateway_world.service import WorldReferenceService

from gateway_core.api import WORLD_PLACEMENT
from gateway_core.bot import GameClient
from gateway_core.bot import steps as flow
from gateway_core.protocol.packets import (
    CliMouseCmd,
    CliNormalChat,
    CliSetAnimation,
    CliStopMoving,
    CliTeleportReq,
    SrvChangeMapReply,
    SrvMouseCmd,
    SrvNormalChat,
    SrvPlayerChar,
    SrvRemoveObject,
    SrvSetAnimation,
    SrvTeleportReply,
    SrvWhisperChat,
)
from gateway_core.service_host import ServiceHost
from gateway_core.testing import (
    GATEWAY_TEST_SETTINGS,
    RunningGateway,
    running_gateway,
    serve_on_loopback,
)

pytestmark = pytest.mark.anyio

#: Small view radius and fast ticks so visibility is cheap to change in a test.
VIEW_RADIUS = 300.0
TIMEOUT = 5.0
#: Where every new character starts (the character service's default map start point).
START = (520000.0, 520000.0)
#: The test content pack: map 20 (the start map) is a town, map 22 a field (content/pack.toml).
CONTENT = Path(__file__).resolve().parent / "content"

SETTINGS: dict[str, object] = {
    **GATEWAY_TEST_SETTINGS,
    "WORLD_VIEW_RADIUS": VIEW_RADIUS,
    "WORLD_TICK_INTERVAL": 0.05,
    "WORLD_RECONNECT_MAX_DELAY": 0.2,
    "WORLD_CONTENT": str(CONTENT),
    "CHARACTER_START_MAP": 20,  # the test pack's town
}


@dataclass
class Player:
    """A bot in the world: its world-leg connection and what the world told it."""

    name: str
    client: GameClient
    change_map: SrvChangeMapReply

    @property
    def object_id(self) -> int:
        return self.change_map.object_index

    async def send(self, *packets: Any) -> None:
        await self.client.send(*packets)

    async def expect_chat(self, speaker: Player, text: str) -> SrvNormalChat:
        wire = text.encode()
        return await self.client.expect(
            SrvNormalChat,
            step="chat",
            timeout=TIMEOUT,
            match=lambda p: p.char_id == speaker.object_id and p.message == wire,
        )

    async def say(self, text: str) -> None:
        """Normal chat, returning once the line came back (so the world has processed it)."""
        await self.send(CliNormalChat(message=text.encode()))
        await self.expect_chat(self, text)

    def heard(self, text: str) -> bool:
        return any(
            isinstance(e, SrvNormalChat) and e.message == text.encode()
            for e in self.client.unexpected
        )


class World(RunningGateway):
    """A running gateway and the players a test put in it."""

    async def player(self, name: str) -> Player:
        """A new character that entered the world and loaded its map."""
        client, _ = await self.join_world(name)
        return Player(name, client, await flow.change_map(client))

    def drops(self, reason: str) -> float:
        return self.sample("gateway_world_drops_total", {"reason": reason})


StartWorld = Callable[..., contextlib.AbstractAsyncContextManager[World]]


@pytest.fixture(params=[True, False], ids=["in-process", "grpc"])
def start_world(tmp_path: Path, request: pytest.FixtureRequest) -> StartWorld:
    # Every test runs with the embedded world called in-process and through gRPC.
    def factory(**overrides: object) -> contextlib.AbstractAsyncContextManager[World]:
        settings = {**SETTINGS, "DATA_DIR": str(tmp_path / "data"),
                    "WORLD_IN_PROCESS": request.param, **overrides}
        return running_gateway(settings, World)

    return factory


@pytest.fixture
async def world(start_world: StartWorld) -> AsyncIterator[World]:
    async with start_world() as running:
        yield running


def spawn_of(player: Player) -> Callable[[SrvPlayerChar], bool]:
    return lambda p: p.id == player.object_id and p.name == player.name.encode()


# --- entering the map -------------------------------------------------------------------------


async def test_change_map_reply_carries_the_object_id_and_vitals_then_spawns_go_both_ways(
    world: World,
) -> None:
    alice = await world.player("Alice")
    session = world.gateway.connections.by_character_name("alice")
    assert session is not None
    assert alice.object_id == session.records.require(WORLD_PLACEMENT).object_id != 0
    presence = session.plugin_data.get(PRESENCE)
    assert presence is not None and presence.entered
    with anyio.fail_after(TIMEOUT):  # the reply goes out before the world's ready answer
        while not presence.ready:
            await anyio.sleep(0.01)
    assert alice.change_map.hp == min(presence.hp, 0xFFFF) and alice.change_map.hp > 0
    assert alice.change_map.item_rate == (0,) * 11 and alice.change_map.world_time == 0

    bob = await world.player("Bob")
    assert bob.object_id not in (0, alice.object_id)
    # The newcomer gets the players around; they get the newcomer.
    seen_by_bob = await bob.client.expect(
        SrvPlayerChar, step="spawn", timeout=TIMEOUT, match=spawn_of(alice)
    )
    seen_by_alice = await alice.client.expect(
        SrvPlayerChar, step="spawn", timeout=TIMEOUT, match=spawn_of(bob)
    )
    assert (seen_by_bob.x, seen_by_bob.y) == START
    assert seen_by_bob.level == 1 and seen_by_bob.run_speed == BASE_RUN_SPEED
    assert seen_by_alice.hp > 0


async def test_nothing_reaches_the_world_before_the_client_loaded_its_map(world: World) -> None:
    alice = await world.player("Alice")
    bob_client, _ = await world.join_world("Bob")
    await bob_client.send(
        CliNormalChat(message=b"too early"),
        CliMouseCmd(target_id=0, x=START[0] + 5, y=START[1], z=0),
    )
    await bob_client.send(CliNormalChat(message=b"too early"))
    change = await flow.change_map(bob_client)  # handled in order, after the two above
    assert world.drops("map_not_loaded") == 3
    bob = Player("Bob", bob_client, change)
    await bob.say("now")
    await alice.expect_chat(bob, "now")
    assert not alice.heard("too early") and not bob.heard("too early")


# --- chat ---------------------------------------------------------------------------------------


async def test_normal_chat_reaches_the_players_within_the_view_radius_and_the_speaker(
    world: World,
) -> None:
    alice = await world.player("Alice")
    bob = await world.player("Bob")
    carol = await world.player("Carol")
    # Carol is taken out of view (the GM teleport) and loads the map there.
    carol_session = world.gateway.connections.by_character_name("Carol")
    assert carol_session is not None
    assert await _runtime(world).teleport(carol_session, 20, START[0] + 5 * VIEW_RADIUS, START[1])
    await alice.client.expect(
        SrvRemoveObject,
        step="out of view",
        timeout=TIMEOUT,
        match=lambda p: p.id == carol.object_id,
    )
    carol.change_map = await flow.change_map(carol.client)

    await alice.say("hello there")
    await bob.expect_chat(alice, "hello there")
    # Carol's own line comes back after Alice's was processed: Alice's never reached her.
    await carol.say("anyone?")
    assert not carol.heard("hello there")
    assert not alice.heard("anyone?") and not bob.heard("anyone?")


async def test_empty_and_oversize_chat_lines_are_dropped_and_counted(world: World) -> None:
    alice = await world.player("Alice")
    await alice.send(CliNormalChat(message=b""), CliNormalChat(message=b"x" * 1901))
    await alice.say("fine")  # the next line still works
    # The empty line stops at the core's chat guard (nothing to relay), the oversize one here.
    assert world.drops("bad_message") == 1
    assert world.sample("gateway_chat_refused_total", {"kind": "normal", "reason": "empty"}) == 1
    assert not any(
        isinstance(e, SrvNormalChat) and e.message != b"fine" for e in alice.client.unexpected
    )


async def test_a_latin1_line_that_fits_the_wire_but_not_the_service_is_refused(
    world: World,
) -> None:
    alice = await world.player("Alice")
    # 1000 bytes on the wire, 2000 UTF-8 bytes: more than any chat packet carries back.
    await alice.send(CliNormalChat(message=b"\xe9" * 1000))
    await alice.say("ok")
    assert world.drops("bad_message") == 1


# --- movement and actions -----------------------------------------------------------------------


async def test_mouse_cmd_is_broadcast_to_the_viewers_and_the_mover(world: World) -> None:
    alice = await world.player("Alice")
    bob = await world.player("Bob")
    await alice.send(CliMouseCmd(target_id=bob.object_id, x=START[0] + 100, y=START[1] + 20, z=7))
    for viewer in (alice, bob):
        moved = await viewer.client.expect(
            SrvMouseCmd, step="move", timeout=TIMEOUT, match=lambda p: p.id == alice.object_id
        )
        assert (moved.target_id, moved.x, moved.y, moved.z) == (
            bob.object_id,
            START[0] + 100,
            START[1] + 20,
            7,
        )
        assert moved.distance == round(math.hypot(100, 20))
    session = world.gateway.connections.by_character_name("Alice")
    assert session is not None
    here = session.records.require(WORLD_PLACEMENT).position
    assert (here.x, here.y) == (
        START[0] + 100,
        START[1] + 20,
    )


async def test_a_non_finite_destination_is_dropped_and_counted(world: World) -> None:
    alice = await world.player("Alice")
    await alice.send(
        CliMouseCmd(target_id=0, x=math.nan, y=START[1], z=0),
        CliStopMoving(x=math.inf, y=START[1], z=0),
    )
    await alice.say("still here")
    assert world.drops("bad_position") == 2
    assert not any(isinstance(e, SrvMouseCmd) for e in alice.client.unexpected)


async def test_set_animation_is_relayed_to_the_players_around(world: World) -> None:
    alice = await world.player("Alice")
    bob = await world.player("Bob")
    await alice.send(CliSetAnimation(id=12, value=1))
    for viewer in (alice, bob):
        relayed = await viewer.client.expect(SrvSetAnimation, step="animation", timeout=TIMEOUT)
        assert (relayed.id, relayed.value, relayed.object_id) == (12, 1, alice.object_id)


async def test_a_gate_teleport_on_the_same_map_reloads_and_spawns_again(world: World) -> None:
    alice = await world.player("Alice")
    bob = await world.player("Bob")
    await alice.client.expect(SrvPlayerChar, step="spawn", timeout=TIMEOUT, match=spawn_of(bob))
    alice_session = world.gateway.connections.by_character_name("Alice")
    assert alice_session is not None
    # Gate 3 of the test pack leads from (525000, 520000) to (525200, 520000) on map 20.
    assert await _runtime(world).teleport(alice_session, 20, 525000.0, 520000.0)
    await alice.client.expect(SrvTeleportReply, step="teleport", timeout=TIMEOUT)
    await bob.client.expect(
        SrvRemoveObject, step="hidden", timeout=TIMEOUT, match=lambda p: p.id == alice.object_id
    )
    await flow.change_map(alice.client)
    await alice.send(CliTeleportReq(id=3, x=0.0, y=0.0))  # the client's point is not used
    reply = await alice.client.expect(SrvTeleportReply, step="gate", timeout=TIMEOUT)
    assert (reply.id, reply.map, reply.x, reply.y) == (alice.object_id, 20, 525200.0, 520000.0)
    again = await flow.change_map(alice.client)
    assert again.object_index == alice.object_id
    here = alice_session.records.require(WORLD_PLACEMENT)
    assert (here.map_id, here.position.x, here.position.y) == (20, 525200.0, 520000.0)


async def test_a_player_leaving_the_world_is_removed_for_the_others(world: World) -> None:
    alice = await world.player("Alice")
    bob = await world.player("Bob")
    await alice.client.expect(SrvPlayerChar, step="spawn", timeout=TIMEOUT, match=spawn_of(bob))
    await bob.client.aclose()
    await alice.client.expect(
        SrvRemoveObject, step="left", timeout=TIMEOUT, match=lambda p: p.id == bob.object_id
    )


# --- the world service goes away ----------------------------------------------------------------


def remote_world() -> contextlib.AbstractAsyncContextManager[ServiceHost]:
    """The reference world service on its own loopback gRPC server (stopped by the test)."""
    return serve_on_loopback(
        WorldReferenceService(view_radius=VIEW_RADIUS, tick_interval=0.05), "world"
    )


async def test_world_service_down_gets_chat_a_server_whisper_and_movement_a_counted_drop(
    start_world: StartWorld,
) -> None:
    async with remote_world() as server, start_world(WORLD_SERVICE_ADDR=server.address) as w:
        alice = await w.player("Alice")
        await alice.say("before")
        await server.stop()
        runtime_link = _link(w)
        with anyio.fail_after(TIMEOUT):
            while runtime_link.connected:
                await anyio.sleep(0.01)
        await alice.send(CliNormalChat(message=b"into the void"))
        notice = await alice.client.expect(SrvWhisperChat, step="down", timeout=TIMEOUT)
        assert (notice.sender, notice.message) == (
            SERVER_SENDER.encode(),
            CHAT_UNAVAILABLE.encode(),
        )
        await alice.send(CliMouseCmd(target_id=0, x=START[0] + 1, y=START[1], z=0))
        await alice.send(CliNormalChat(message=b"again"))
        await alice.client.expect(SrvWhisperChat, step="down", timeout=TIMEOUT)
        assert w.drops("world_unavailable") == 3
        # A new player still gets onto the map (told the world is unavailable).
        bob_client, _ = await w.join_world("Bob")
        change = await flow.change_map(bob_client)
        assert change.object_index != 0
        notice = await bob_client.expect(SrvWhisperChat, step="down", timeout=TIMEOUT)
        assert notice.message == WORLD_UNAVAILABLE.encode()


def _runtime(world: World) -> Any:
    runtime = world.gateway.runtimes.get("world")
    assert runtime is not None
    return runtime


def _link(world: World) -> Any:
    runtime = world.gateway.runtimes.get("world")
    assert runtime is not None
    return runtime.link
