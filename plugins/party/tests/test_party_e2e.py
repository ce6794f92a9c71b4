"""Parties through a real gateway (embedded reference services, SQLite under a tmp dir) driven
over TCP by headless clients, on the party test pack (content/party.toml: the arena and its
dummy): invite and accept, the member lists on both sides, party chat reaching exactly the
members, HP updates, a kill's XP shared by the rule, leave with the leader handed on, and a
disconnected member shown offline and gone after the grace."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import anyio
import pytest

from gateway_core.api import CHARACTER_PROGRESS, CharacterProgress
from gateway_core.protocol.packets import (
    CliPartyChat,
    CliPartyReq,
    CliPartyRule,
    PartyMemberAction,
    PartyReplyType,
    PartyReqType,
    SrvPartyChat,
    SrvPartyMember,
    SrvPartyMemberUpdate,
    SrvPartyReply,
    SrvPartyRule,
    SrvSetExp,
)
from gateway_core.testing import running_gateway

from .conftest import SETTINGS, TIMEOUT, Arena, kill_dummy

pytestmark = pytest.mark.anyio


async def test_a_party_forms_and_its_chat_reaches_exactly_the_members(arena: Arena) -> None:
    alice = await arena.player("Alice")
    bob = await arena.player("Bob")
    carol = await arena.player("Carol")
    await arena.form(alice, bob)
    state = await arena.party_of(bob)
    assert [m.name for m in state.members] == ["Alice", "Bob"]
    assert state.leader_id == alice.character_id
    await alice.send(CliPartyChat(message=b"hello party"))
    for player in (alice, bob):
        line = await player.expect(SrvPartyChat, "party chat")
        assert (line.char_id, line.message) == (alice.object_id, b"hello party")
    await carol.settle()
    assert not carol.received(SrvPartyChat)
    # Carol has no party: her line is dropped and counted.
    await carol.send(CliPartyChat(message=b"anyone?"))
    await carol.settle()
    assert arena.drops("no_party") == 1
    assert not alice.received(SrvPartyChat) and not bob.received(SrvPartyChat)


async def test_party_chat_reaches_the_members_without_control_characters(
        arena: Arena) -> None:
    alice = await arena.player("Alice")
    bob = await arena.player("Bob")
    await arena.form(alice, bob)
    await alice.send(CliPartyChat(message=b"\r\n\x1b[1m[GM]\x1b[0m\x08\x08 Admin> hi\r\n"),
                     CliPartyChat(message=b"\x1b\x7f\x9b"))  # nothing left: not relayed
    await alice.send(CliPartyChat(message=b"after"))
    line = await bob.expect(SrvPartyChat, "forged party chat")
    assert line.message == b"[1m[GM][0m Admin> hi"
    line = await bob.expect(SrvPartyChat, "next party chat")
    assert line.message == b"after"
    assert arena.sample("gateway_chat_refused_total", {"kind": "party", "reason": "empty"}) == 1


async def test_a_members_hp_reaches_the_others_and_a_kill_shares_the_xp(arena: Arena) -> None:
    alice = await arena.player("Alice")
    bob = await arena.player("Bob")
    await arena.form(alice, bob)
    await alice.send(CliPartyRule(rule=1))  # EXP_PER_PLAYER: equal parts
    for player in (alice, bob):
        await player.expect(SrvPartyRule, "rule", lambda p: p.rule == 1)
    dummy_id = await kill_dummy(alice)
    # The dummy's 40 XP, split between the two level 1 members in range.
    for player in (alice, bob):
        gained = await player.expect(SrvSetExp, "xp", lambda p: p.source_id == dummy_id)
        assert gained.exp == 20
    with anyio.fail_after(TIMEOUT):
        while (progress := bob.session.records.get(CHARACTER_PROGRESS)) is None or (
                progress.xp != 20):
            await anyio.sleep(0.01)
    # The dummy hit back: Alice's HP reached Bob as a member update.
    update = await bob.expect(SrvPartyMemberUpdate, "hp update",
                              lambda p: p.member.tag == alice.tag)
    assert update.member.id == alice.object_id
    assert 0 < update.member.hp <= update.member.max_hp


async def test_leaving_hands_the_party_to_the_next_member(arena: Arena) -> None:
    alice = await arena.player("Alice")
    bob = await arena.player("Bob")
    carol = await arena.player("Carol")
    await arena.form(alice, bob, carol)
    await alice.send(CliPartyReq(type=PartyReqType.LEAVE, target=0))
    assert (await alice.expect(SrvPartyReply, "left")).type == PartyReplyType.DESTROY
    for player in (bob, carol):
        removed = await player.expect(SrvPartyMember, "removed",
                                      lambda p: p.action == PartyMemberAction.REMOVE)
        assert removed.member.tag == alice.tag
        owner = await player.expect(SrvPartyReply, "new leader")
        assert (owner.type, owner.source) == (PartyReplyType.CHANGE_OWNER, bob.tag)
    state = await arena.party_of(carol)
    assert state.leader_id == bob.character_id
    assert [m.name for m in state.members] == ["Bob", "Carol"]
    # Bob leads now: he may remove Carol, which leaves him alone and the party gone.
    await bob.send(CliPartyReq(type=PartyReqType.BAN, target=carol.object_id))
    assert (await carol.expect(SrvPartyReply, "kicked")).type == PartyReplyType.DESTROY
    assert (await bob.expect(SrvPartyReply, "dissolved")).type == PartyReplyType.DESTROY
    assert (await arena.party_of(bob)).party_id == 0


async def test_a_disconnected_member_is_offline_then_leaves_after_the_grace(
    tmp_path: Path,
) -> None:
    settings = {**SETTINGS, "DATA_DIR": str(tmp_path / "data"), "PARTY_OFFLINE_GRACE": 0.5}
    async with running_gateway(settings, Arena) as arena:
        alice = await arena.player("Alice")
        bob = await arena.player("Bob")
        carol = await arena.player("Carol")
        await arena.form(alice, bob, carol)
        await bob.client.aclose()
        offline = await alice.expect(SrvPartyMemberUpdate, "offline",
                                     lambda p: p.member.tag == bob.tag)
        assert (offline.member.id, offline.member.hp) == (0, 0)
        removed = await alice.expect(SrvPartyMember, "gone after the grace",
                                     lambda p: p.action == PartyMemberAction.REMOVE)
        assert removed.member.tag == bob.tag
        state = await arena.party_of(alice)
        assert [m.name for m in state.members] == ["Alice", "Carol"]


async def test_member_updates_are_throttled_and_coalesced(tmp_path: Path) -> None:
    """A burst of twenty vitals changes (written as the world plugin writes them: the boundary
    this test stands in for) reaches the other member as at most two updates, the last with the
    latest values: one at once (or when the interval since the previous update ends), one when
    the interval ends."""
    settings = {**SETTINGS, "DATA_DIR": str(tmp_path / "data"), "PARTY_UPDATE_INTERVAL": 0.4}
    async with running_gateway(settings, Arena) as arena:
        alice = await arena.player("Alice")
        bob = await arena.player("Bob")
        await arena.form(alice, bob)
        session = alice.session
        progress = session.records.get(CHARACTER_PROGRESS)
        if progress is None:
            progress = CharacterProgress(level=1, xp=0, hp=60, mp=30,
                                         stats=(15, 15, 15, 15, 15, 15), stat_points=0,
                                         skill_points=0, penalty_xp=0, skills=(),
                                         max_hp=60, max_mp=30)
        world = arena.gateway.record_writer("world")
        before = arena.runtime.updates
        for hp in range(50, 30, -1):
            world.set(session, CHARACTER_PROGRESS, dataclasses.replace(progress, hp=hp))
        assert arena.runtime.updates - before <= 1
        last = await bob.expect(SrvPartyMemberUpdate, "coalesced update",
                                lambda p: p.member.tag == alice.tag and p.member.hp == 31)
        assert last.member.max_hp == progress.max_hp
        assert arena.runtime.updates - before <= 2
        burst = [p for p in bob.received(SrvPartyMemberUpdate)
                 if p.member.tag == alice.tag and 31 < p.member.hp <= 50]
        assert len(burst) <= 1
