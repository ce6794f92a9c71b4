"""Combat through a real gateway (embedded reference services, SQLite under a tmp dir) driven
over TCP by headless clients, on the combat test pack (content/combat.toml): new characters
start on the arena (map 30) 100 units from a training dummy; a biter waits 3000 units east.

Killing a monster for XP, a second player watching the fight, loot on the ground, a level-up
and a stat point, dying to a monster and reviving at the revive point, PvP refused on the
arena and allowed in the pit, skills refused without MP and applied with it, and all of it
still there after a re-login and after a gateway restart.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from gateway_protos.v1 import character_pb2
from gateway_world.service import formulas
from gateway_world.service.combat import DAMAGE_DEAD, ZULY_ITEM_TYPE

from gateway_core.api import SELECTED_CHARACTER
from gateway_core.bot import GameClient
from gateway_core.bot import steps as flow
from gateway_core.protocol.packets import (
    CliAttack,
    CliLogoutReq,
    CliMouseCmd,
    CliNormalChat,
    CliReviveReq,
    CliSkillCastTarget,
    CliSkillLevelReq,
    CliStatAddReq,
    SrvAttack,
    SrvChangeMapReply,
    SrvDamage,
    SrvDropItem,
    SrvLevelup,
    SrvLogoutReply,
    SrvMobChar,
    SrvNormalChat,
    SrvReviveReply,
    SrvSetExp,
    SrvSkillDamage,
    SrvSkillLevelReply,
    SrvStatAddReply,
    SrvTeleportReply,
)
from gateway_core.session import Session
from gateway_core.testing import GATEWAY_TEST_SETTINGS, RunningGateway, running_gateway

pytestmark = pytest.mark.anyio

TIMEOUT = 10.0
PACK = Path(__file__).resolve().parent / "content" / "combat.toml"
DUMMY_TYPE, BITER_TYPE = 2, 9

SETTINGS: dict[str, object] = {
    **GATEWAY_TEST_SETTINGS,
    "WORLD_VIEW_RADIUS": 5000.0,
    "WORLD_TICK_INTERVAL": 0.05,
    "WORLD_CONTENT": str(PACK),
    "CHARACTER_CONTENT": str(PACK),
    "CHARACTER_START_MAP": 30,
    "WORLD_WANDER_INTERVAL": 3600.0,
    "WORLD_RANDOM_SEED": 11,
}


@dataclass
class Fighter:
    """A headless client on the arena."""

    name: str
    client: GameClient
    session: Session
    object_id: int
    change: SrvChangeMapReply

    async def send(self, *packets: Any) -> None:
        await self.client.send(*packets)

    async def expect(self, packet_class: Any, step: str, match: Any = None) -> Any:
        return await self.client.expect(packet_class, step=step, timeout=TIMEOUT, match=match)

    async def say(self, text: str) -> None:
        """Normal chat, returning once it came back: what the world did before it arrived."""
        await self.send(CliNormalChat(message=text.encode()))
        await self.expect(SrvNormalChat, "chat", lambda p: p.message == text.encode())

    @property
    def character_id(self) -> int:
        return self.session.records.require(SELECTED_CHARACTER).character_id


class Arena(RunningGateway):
    async def fighter(self, name: str, *, new: bool = True) -> Fighter:
        world_leg, _ = await self.join_world(name, new=new)
        change = await flow.change_map(world_leg)
        session = self.gateway.connections.by_character_name(name)
        assert session is not None
        return Fighter(name, world_leg, session, change.object_index, change)

    async def dummy(self, fighter: Fighter) -> SrvMobChar:
        return await fighter.expect(SrvMobChar, "dummy", lambda p: p.npc_id == DUMMY_TYPE)

    async def leave(self, fighter: Fighter) -> None:
        await fighter.send(CliLogoutReq())
        await fighter.expect(SrvLogoutReply, "logout")
        with anyio.fail_after(TIMEOUT):
            while self.gateway.connections.by_character_name(fighter.name) is not None:
                await anyio.sleep(0.01)

    async def stored(self, character_id: int) -> character_pb2.CharacterState:
        state: character_pb2.CharacterState = await self.gateway.clients["character"].GetCharacter(
            character_pb2.GetCharacterRequest(character_id=character_id))
        return state

    async def store(self, character_id: int, **values: Any) -> None:
        """Change a stored character through the character service (before it joins)."""
        state = await self.stored(character_id)
        for key, value in values.items():
            if key == "skills":
                del state.skills[:]
                state.skills.extend(value)
            else:
                setattr(state, key, value)
        await self.gateway.clients["character"].SaveCharacter(
            character_pb2.SaveCharacterRequest(state=state))

    def drops(self, reason: str) -> float:
        return self.sample("gateway_world_drops_total", {"reason": reason})


StartArena = Callable[..., contextlib.AbstractAsyncContextManager[Arena]]


@pytest.fixture
def start_arena(tmp_path: Path) -> StartArena:
    def factory(**overrides: object) -> contextlib.AbstractAsyncContextManager[Arena]:
        settings = {**SETTINGS, "DATA_DIR": str(tmp_path / "data"), **overrides}
        return running_gateway(settings, Arena)

    return factory


@pytest.fixture
async def arena(start_arena: StartArena) -> AsyncIterator[Arena]:
    async with start_arena() as running:
        yield running


async def kill(fighter: Fighter, target_id: int) -> list[Any]:
    """Attack ``target_id`` until it dies; the damage packets seen on the way."""
    await fighter.send(CliAttack(target_id=target_id))
    hits = []
    with anyio.fail_after(60):
        while True:
            hit = await fighter.client.expect(SrvDamage, step="hit", timeout=TIMEOUT,
                                              match=lambda p: p.defender_id == target_id)
            hits.append(hit)
            if hit.action & DAMAGE_DEAD:
                return hits


async def test_killing_a_monster_gives_xp_and_loot_and_a_second_player_sees_it(
    arena: Arena,
) -> None:
    alice = await arena.fighter("Alice")
    bob = await arena.fighter("Bob")
    dummy = await arena.dummy(alice)
    await arena.dummy(bob)
    hits = await kill(alice, dummy.id)
    assert all(h.attacker_id in (alice.object_id, dummy.id) for h in hits)
    exp = await alice.expect(SrvSetExp, "xp", lambda p: p.source_id == dummy.id)
    assert exp.exp == 40
    loot = [await alice.expect(SrvDropItem, f"loot {n}") for n in range(2)]
    assert sorted(item.item.header.type for item in loot) == [12, ZULY_ITEM_TYPE]
    assert {item.owner_id for item in loot} == {alice.object_id}

    await bob.expect(SrvAttack, "alice attacks", lambda p: p.attacker_id == alice.object_id)
    await bob.expect(SrvDamage, "the dummy dies",
                     lambda p: p.defender_id == dummy.id and p.action & DAMAGE_DEAD)

    await arena.leave(alice)
    assert (await arena.stored(alice.character_id)).xp == 40
    again = await arena.fighter("Alice", new=False)
    assert again.change.xp == 40


async def test_a_level_up_a_stat_point_and_a_skill_are_stored_at_once_and_after_a_restart(
    start_arena: StartArena,
) -> None:
    need = formulas.xp_to_next(1)
    async with start_arena() as arena:
        alice = await arena.fighter("Alice")
        character_id = alice.character_id
        await arena.leave(alice)
        await arena.store(character_id, xp=need - 10)
        alice = await arena.fighter("Alice", new=False)
        dummy = await arena.dummy(alice)
        await kill(alice, dummy.id)
        levelup = await alice.expect(SrvLevelup, "level 2")
        assert (levelup.id, levelup.level, levelup.exp) == (alice.object_id, 2, 30)
        with anyio.fail_after(TIMEOUT):  # the level-up is saved while she plays
            while (await arena.stored(character_id)).level != 2:
                await anyio.sleep(0.05)
        strength = (await arena.stored(character_id)).stats.str
        await alice.send(CliStatAddReq(stat=0))
        reply = await alice.expect(SrvStatAddReply, "stat")
        assert (reply.stat, reply.value) == (0, strength + 1)
        await alice.send(CliSkillLevelReq(slot=0, next_index=12))  # a skill point: Patch Up
        learnt = await alice.expect(SrvSkillLevelReply, "learn")
        assert (learnt.result, learnt.slot, learnt.id) == (0, 0, 12)
        await arena.leave(alice)
    async with start_arena() as arena:
        stored = await arena.stored(character_id)
        assert (stored.level, stored.xp, stored.stats.str) == (2, 30, strength + 1)
        assert list(stored.skills)[:1] == [12] and stored.skill_points == learnt.points
        assert stored.stat_points == levelup.stat_points - formulas.stat_point_cost(strength)
        alice = await arena.fighter("Alice", new=False)
        assert alice.change.xp == 30


async def test_dying_to_a_monster_and_reviving_at_the_revive_point(arena: Arena) -> None:
    alice = await arena.fighter("Alice")
    await alice.send(CliMouseCmd(target_id=0, x=522600.0, y=520000.0, z=0))
    biter = await alice.expect(SrvMobChar, "biter", lambda p: p.npc_id == BITER_TYPE)
    with anyio.fail_after(30):
        await alice.client.expect(SrvDamage, step="death", timeout=30, match=lambda p: (
            p.defender_id == alice.object_id and p.action & DAMAGE_DEAD))
    await alice.send(CliAttack(target_id=biter.id))  # the dead do not fight: refused
    await alice.send(CliReviveReq(revive_type=1))
    revive = await alice.expect(SrvReviveReply, "revive")
    teleport = await alice.expect(SrvTeleportReply, "to the revive point")
    assert (revive.map_id, teleport.x, teleport.y) == (30, 519000.0, 520000.0)
    change = await flow.change_map(alice.client)
    assert 0 < change.hp
    assert arena.drops("dead") == 1
    await alice.send(CliReviveReq(revive_type=1))  # alive again: refused
    await alice.say("back")
    assert arena.drops("alive") == 1
    await arena.leave(alice)
    stored = await arena.stored(alice.character_id)
    assert stored.hp == change.hp and stored.penalty_xp >= 0


async def test_pvp_is_refused_on_the_arena_and_allowed_in_the_pit(arena: Arena) -> None:
    alice = await arena.fighter("Alice")
    bob = await arena.fighter("Bob")
    await alice.send(CliAttack(target_id=bob.object_id))
    await alice.say("no fighting here")
    assert arena.drops("no_pvp") == 1
    assert not any(isinstance(p, SrvAttack) for p in bob.client.unexpected)

    runtime = arena.gateway.runtimes["world"]
    for fighter in (alice, bob):
        assert await runtime.teleport(fighter.session, 31, 520000.0, 520000.0)
        teleport = await fighter.expect(SrvTeleportReply, "to the pit")
        fighter.object_id = teleport.id
        await flow.change_map(fighter.client)
    await alice.send(CliAttack(target_id=bob.object_id))
    await bob.expect(SrvAttack, "alice attacks", lambda p: p.attacker_id == alice.object_id)
    await bob.expect(SrvDamage, "a hit", lambda p: p.defender_id == bob.object_id)


async def test_a_skill_without_mp_is_refused_and_with_mp_applied(arena: Arena) -> None:
    alice = await arena.fighter("Alice")
    character_id = alice.character_id
    await arena.leave(alice)
    await arena.store(character_id, mp=0, skills=[11])
    alice = await arena.fighter("Alice", new=False)
    dummy = await arena.dummy(alice)
    await alice.send(CliSkillCastTarget(target=dummy.id, slot=0))
    await alice.say("no mana")
    assert arena.drops("no_mp") == 1
    assert not any(isinstance(p, SrvSkillDamage) for p in alice.client.unexpected)

    await arena.leave(alice)
    await arena.store(character_id, mp=20)
    alice = await arena.fighter("Alice", new=False)
    dummy = await arena.dummy(alice)
    await alice.send(CliSkillCastTarget(target=dummy.id, slot=0))
    hit = await alice.expect(SrvSkillDamage, "jab")
    assert (hit.source, hit.target, hit.id) == (alice.object_id, dummy.id, 11)
    await arena.leave(alice)
    assert (await arena.stored(character_id)).mp < 20  # 10 spent (regeneration may add some)
