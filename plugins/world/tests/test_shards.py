"""The world sharded by map (WORLD_SHARDS, WORLD_SERVICE_MAPS).

The table's syntax and its errors; a world service that owns some maps only (entering another
is refused, a warp to one is answered with its destination); and a real gateway on two world
service processes over the test pack (content/pack.toml: town map 20 with gate 1 next to the
start point, field map 22): players on both shards see only their map's players, a gate to the
other shard's map hands the character over as an ordinary map change, it is saved there, GM
lookups ask every shard, and a shard that is down leaves the other serving.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import grpc
import pytest
from gateway_protos.v1 import world_pb2
from gateway_world.delivery import WorldLink, WorldRequestError
from gateway_world.local import LocalWorldStub
from gateway_world.runtime import WorldRuntime
from gateway_world.service import WorldReferenceService
from gateway_world.shards import parse_maps, parse_shards, validate_shards

from gateway_core.api import SELECTED_CHARACTER, WORLD_PLACEMENT, load_content
from gateway_core.bot import steps as flow
from gateway_core.protocol.packets import (
    CliLogoutReq,
    CliNormalChat,
    CliTeleportReq,
    SrvChangeMapReply,
    SrvLogoutReply,
    SrvMobChar,
    SrvNormalChat,
    SrvPlayerChar,
    SrvRemoveObject,
    SrvTeleportReply,
)
from gateway_core.testing import (
    GATEWAY_TEST_SETTINGS,
    RunningGateway,
    ServiceProcess,
    kill_service,
    running_gateway,
    start_service_in_thread,
    started_services,
)

from .conftest import EVENT_TIMEOUT, pos

pytestmark = pytest.mark.anyio

CONTENT = Path(__file__).resolve().parent / "content"
TOWN, FIELD_MAP = 20, 22
START = (520000.0, 520000.0)
#: Where gate 1 of the town leads: the field, by its three jellies.
FIELD = (FIELD_MAP, 530000.0, 530000.0)
JELLY_TYPE = 1
TIMEOUT = 5.0
#: What both world service processes run with (the town's and the field's).
SERVICE_SETTINGS: dict[str, object] = {
    "WORLD_CONTENT": str(CONTENT),
    "WORLD_VIEW_RADIUS": 300.0,
    "WORLD_TICK_INTERVAL": 0.05,
    "WORLD_WANDER_INTERVAL": 3600.0,
    "WORLD_RANDOM_SEED": 7,
}


# --- the table --------------------------------------------------------------------------------


def test_a_shard_table_lists_maps_and_ranges_per_address() -> None:
    table = parse_shards("1-3,22=127.0.0.1:50061; 21 , 23-24 = 127.0.0.1:50062")
    assert table is not None
    assert table.addresses == ("127.0.0.1:50061", "127.0.0.1:50062")
    assert [table.shard_of(m) for m in (1, 2, 3, 22, 21, 23, 24, 4)] == [0, 0, 0, 0, 1, 1, 1, None]
    assert table.maps_of(1) == {21, 23, 24}


def test_an_empty_shard_table_means_one_world_service() -> None:
    assert parse_shards("") is None
    assert parse_shards("   ") is None


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("1-20", "is not MAPS=ADDRESS"),
        ("=127.0.0.1:1", "is not MAPS=ADDRESS"),
        ("1=", "is not MAPS=ADDRESS"),
        ("1,x=a:1", "'x' is not a map id"),
        ("5-2=a:1", "'5-2' is not a range of map ids"),
        ("70000=a:1", "'70000' is not a range of map ids"),
        ("1,,2=a:1", "empty map"),
        ("1-5=a:1;5=b:1", "map 5 is on two shards (a:1 and b:1)"),
        ("1=a:1;2=a:1", "address a:1 is given twice"),
    ],
)
def test_a_bad_shard_table_is_refused_saying_why(value: str, error: str) -> None:
    reason = validate_shards(value)
    assert reason is not None and error in reason


def test_a_service_map_list_takes_the_same_syntax() -> None:
    assert parse_maps("20, 22-23") == {20, 22, 23}
    with pytest.raises(ValueError, match="not a map id"):
        parse_maps("town")


async def test_a_bad_world_shards_fails_start_up_naming_the_setting(tmp_path: Path) -> None:
    settings = {**GATEWAY_TEST_SETTINGS, "DATA_DIR": str(tmp_path),
                "WORLD_SHARDS": "1-20=127.0.0.1:1;20=127.0.0.1:2"}
    with pytest.raises(BaseException) as caught:
        async with running_gateway(settings, RunningGateway):
            pass
    text = " ".join(str(leaf) for leaf in _leaves(caught.value))
    assert "WORLD_SHARDS" in text and "map 20 is on two shards" in text


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


# --- a world service owning some maps ----------------------------------------------------------


@pytest.fixture
async def town_link() -> AsyncIterator[WorldLink]:
    """A link to a world service (in this process) that owns the town only."""
    service = WorldReferenceService(content=load_content(str(CONTENT)), view_radius=300.0,
                                    maps={TOWN})
    await service.start()
    link = WorldLink(LocalWorldStub(service), "gw-test", lambda event: None,
                     request_timeout=EVENT_TIMEOUT)
    link.start()
    try:
        await anyio.sleep(0)
        with anyio.fail_after(EVENT_TIMEOUT):
            await link.wait_connected()
        yield link
    finally:
        await link.aclose()
        await service.stop()


def _enter(character_id: int, map_id: int, x: float, y: float) -> world_pb2.EnterMap:
    return world_pb2.EnterMap(character_id=character_id, name=f"char{character_id}",
                              map_id=map_id, position=pos(x, y), channel_id=1)


async def test_a_service_refuses_to_enter_a_map_it_does_not_own(town_link: WorldLink) -> None:
    with pytest.raises(WorldRequestError) as caught:
        await town_link.enter(_enter(1, FIELD_MAP, *FIELD[1:]))
    assert caught.value.reason == "map_elsewhere"
    assert caught.value.code is grpc.StatusCode.FAILED_PRECONDITION


async def test_a_gate_to_a_map_of_another_service_answers_the_destination(
    town_link: WorldLink,
) -> None:
    await town_link.enter(_enter(1, TOWN, *START))
    await town_link.ready(1)
    ack = await town_link.use_gate(1, 1)
    assert ack.elsewhere
    assert (ack.map_id, ack.position.x, ack.position.y) == FIELD
    # Nothing moved: the character is still in town, where a stop is taken.
    assert town_link.stop(1, pos(*START))
    gm = await town_link.teleport_to(1, TOWN, pos(START[0] + 50, START[1]))
    assert not gm.elsewhere and gm.map_id == TOWN


async def test_a_gm_jump_to_another_services_map_is_checked_against_its_bounds_first(
    town_link: WorldLink,
) -> None:
    await town_link.enter(_enter(1, TOWN, *START))
    with pytest.raises(WorldRequestError) as caught:
        await town_link.teleport_to(1, FIELD_MAP, pos(*START))  # not a point of the field
    assert caught.value.reason == "out_of_bounds"
    ack = await town_link.teleport_to(1, FIELD_MAP, pos(531000.0, 531000.0))
    assert ack.elsewhere and (ack.map_id, ack.position.x) == (FIELD_MAP, 531000.0)


# --- a gateway on two shards -------------------------------------------------------------------


class Player:
    """A bot on the map: its world connection and its session."""

    def __init__(self, world: ShardedWorld, name: str, client: Any, object_id: int) -> None:
        self.world, self.name, self.client, self.object_id = world, name, client, object_id

    async def send(self, *packets: Any) -> None:
        await self.client.send(*packets)

    async def expect(self, packet_class: Any, step: str, match: Any = None) -> Any:
        return await self.client.expect(packet_class, step=step, timeout=TIMEOUT, match=match)

    async def sees(self, other: Player) -> None:
        await self.expect(SrvPlayerChar, f"{self.name} sees {other.name}",
                          lambda p: p.name == other.name.encode())

    async def say(self, text: str) -> None:
        """Normal chat, returning once it came back (what the world did before has arrived)."""
        await self.send(CliNormalChat(message=text.encode()))
        await self.expect(SrvNormalChat, "chat", lambda p: p.message == text.encode())

    def got(self, packet_class: Any, match: Callable[[Any], bool]) -> bool:
        return any(isinstance(p, packet_class) and match(p) for p in self.client.unexpected)

    async def take_gate_to_field(self) -> SrvTeleportReply:
        await self.send(CliTeleportReq(id=1, x=START[0], y=START[1]))
        reply: SrvTeleportReply = await self.expect(SrvTeleportReply, "gate 1")
        change: SrvChangeMapReply = await flow.change_map(self.client)
        assert change.object_index == reply.id
        self.object_id = reply.id
        return reply

    @property
    def placement(self) -> tuple[int, float, float]:
        session = self.world.gateway.connections.by_character_name(self.name)
        assert session is not None
        placement = session.records.require(WORLD_PLACEMENT)
        return placement.map_id, placement.position.x, placement.position.y


class ShardedWorld(RunningGateway):
    async def player(self, name: str, *, new: bool = True) -> Player:
        world_leg, _ = await self.join_world(name, new=new)
        change = await flow.change_map(world_leg)
        return Player(self, name, world_leg, change.object_index)

    @property
    def runtime(self) -> WorldRuntime:
        runtime = self.gateway.runtimes.get("world")
        assert isinstance(runtime, WorldRuntime)
        return runtime

    def drops(self, reason: str) -> float:
        return self.sample("gateway_world_drops_total", {"reason": reason})


@contextlib.asynccontextmanager
async def sharded_world(tmp_path: Path) -> AsyncIterator[tuple[ShardedWorld, ServiceProcess,
                                                               ServiceProcess]]:
    """Two world service processes, the town's and the field's (maps 21-99), and a gateway
    on both."""
    with started_services() as towns, started_services() as fields:
        async with anyio.create_task_group() as tg:
            tg.start_soon(start_service_in_thread, towns, "world",
                          {**SERVICE_SETTINGS, "WORLD_SERVICE_MAPS": str(TOWN)}, "127.0.0.1:0")
            tg.start_soon(start_service_in_thread, fields, "world",
                          {**SERVICE_SETTINGS, "WORLD_SERVICE_MAPS": "21-99"}, "127.0.0.1:0")
        (town,), (field,) = towns, fields
        settings = {
            **GATEWAY_TEST_SETTINGS, **SERVICE_SETTINGS,
            "DATA_DIR": str(tmp_path),
            "CHARACTER_START_MAP": TOWN,
            "WORLD_RECONNECT_MAX_DELAY": 0.2,
            # The world calls made for no character go here (see the README).
            "WORLD_SERVICE_ADDR": town.address,
            "WORLD_SHARDS": f"{TOWN}={town.address};21-99={field.address}",
        }
        async with running_gateway(settings, ShardedWorld) as world:
            yield world, town, field


async def test_a_gate_to_the_other_shards_map_hands_the_character_over(tmp_path: Path) -> None:
    async with sharded_world(tmp_path) as (world, _, _):
        alice = await world.player("Alice")
        bob = await world.player("Bob")
        await alice.sees(bob)
        carol = await world.player("Carol")
        await alice.sees(carol)
        await bob.sees(carol)

        # Carol goes first: the field's shard has her, the town's no longer does.
        town_id = carol.object_id
        reply = await carol.take_gate_to_field()
        assert (reply.map, reply.x, reply.y) == FIELD
        assert carol.placement == FIELD
        for player in (alice, bob):
            await player.expect(SrvRemoveObject, "Carol left town", lambda p: p.id == town_id)
        for n in range(3):  # the field's monsters, from the other shard
            await carol.expect(SrvMobChar, f"jelly {n}", lambda p: p.npc_id == JELLY_TYPE)

        # Bob follows: Carol sees him arrive, Alice sees him go.
        bob_town_id = bob.object_id
        await bob.take_gate_to_field()
        await carol.sees(bob)
        await bob.sees(carol)
        await alice.expect(SrvRemoveObject, "Bob left town", lambda p: p.id == bob_town_id)

        # Normal chat follows the speaker's map (and so its shard).
        await bob.say("on the field")
        await carol.expect(SrvNormalChat, "Bob's line", lambda p: p.message == b"on the field")
        await alice.say("in town")
        assert not alice.got(SrvNormalChat, lambda p: p.message == b"on the field")
        assert not carol.got(SrvNormalChat, lambda p: p.message == b"in town")

        # GM lookups ask every shard.
        assert await world.runtime.locate("Bob") == FIELD
        assert await world.runtime.locate("Alice") == (TOWN, *START)
        assert await world.runtime.locate("Nobody") is None
        assert world.drops("world_unavailable") == 0

        # Saved on the field: back there, on the field's shard, after a new login.
        await bob.send(CliLogoutReq())
        await bob.expect(SrvLogoutReply, "logout")
        with anyio.fail_after(TIMEOUT):
            while world.gateway.connections.by_character_name("Bob") is not None:
                await anyio.sleep(0.01)
        again = await world.player("Bob", new=False)
        session = world.gateway.connections.by_character_name("Bob")
        assert session is not None
        selected = session.records.require(SELECTED_CHARACTER)
        assert (selected.map_id, selected.position.x, selected.position.y) == FIELD
        assert again.placement == FIELD
        await carol.sees(again)
        assert world.runtime.link_of(selected.character_id) is world.runtime.link_for_map(22)

        # A GM jump to the other shard's map (/tp, /goto, /summon) is handed over the same way.
        alice_session = world.gateway.connections.by_character_name("Alice")
        assert alice_session is not None
        assert await world.runtime.teleport(alice_session, FIELD_MAP, 530100.0, 530000.0)
        jump = await alice.expect(SrvTeleportReply, "GM jump")
        assert (jump.map, jump.x, jump.y) == (FIELD_MAP, 530100.0, 530000.0)
        await flow.change_map(alice.client)
        await carol.sees(alice)
        assert await world.runtime.locate("Alice") == (FIELD_MAP, 530100.0, 530000.0)
        assert world.drops("world_unavailable") == 0


async def test_a_shard_that_is_down_refuses_its_maps_while_the_other_serves(
    tmp_path: Path,
) -> None:
    async with sharded_world(tmp_path) as (world, _, field):
        alice = await world.player("Alice")
        carol = await world.player("Carol")
        await carol.take_gate_to_field()
        kill_service(field)

        # Carol's requests go to the field's shard: refused, counted, she is told.
        await carol.send(CliNormalChat(message=b"anyone?"))
        with anyio.fail_after(TIMEOUT):
            while world.drops("world_unavailable") < 1:
                await anyio.sleep(0.02)

        # Alice, in town, is still served, and a gate to the field changes nothing.
        await alice.say("still here")
        await alice.send(CliTeleportReq(id=1, x=START[0], y=START[1]))
        with anyio.fail_after(TIMEOUT + 3):
            while world.drops("world_unavailable") < 2:
                await anyio.sleep(0.02)
        assert alice.placement == (TOWN, *START)
        assert not alice.got(SrvTeleportReply, lambda p: True)
        await alice.say("not moved")
        assert world.sample("gateway_world_shard_connected", {"shard": field.address}) == 0
