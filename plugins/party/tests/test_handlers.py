"""The party plugin's packet handlers and their refusals, through a real gateway: invites of
objects that are no player, of oneself, of players in a party or with a pending invite; replies
to no invite; a full party; kicks, leader changes and rules by a member who does not lead;
unknown request types and bad lines; and a party service that is gone. Each is a protocol reply
or a counted drop, and nothing changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from gateway_party.service import PartyReferenceService

from gateway_core.protocol.packets import (
    CliPartyChat,
    CliPartyReply,
    CliPartyReq,
    CliPartyRule,
    PartyReplyType,
    PartyReqType,
    SrvMobChar,
    SrvPartyReply,
    SrvPartyReq,
    SrvWhisperChat,
)
from gateway_core.testing import running_gateway, serve_on_loopback

from .conftest import DUMMY_TYPE, SETTINGS, Arena

pytestmark = pytest.mark.anyio


async def test_an_invite_of_an_object_that_is_no_player_is_not_found(arena: Arena) -> None:
    alice = await arena.player("Alice")
    for target in (999, 0):
        await alice.send(CliPartyReq(type=PartyReqType.CREATE, target=target))
        reply = await alice.expect(SrvPartyReply, "not found")
        assert (reply.type, reply.source) == (PartyReplyType.NOT_FOUND, target)
    assert (await arena.party_of(alice)).party_id == 0


async def test_an_invite_of_a_monster_is_not_found(arena: Arena) -> None:
    alice = await arena.player("Alice")
    dummy = await alice.expect(SrvMobChar, "dummy", lambda p: p.npc_id == DUMMY_TYPE)
    await alice.send(CliPartyReq(type=PartyReqType.CREATE, target=dummy.id))
    reply = await alice.expect(SrvPartyReply, "not found")
    assert (reply.type, reply.source) == (PartyReplyType.NOT_FOUND, dummy.id)


async def test_a_self_invite_is_dropped_and_counted(arena: Arena) -> None:
    alice = await arena.player("Alice")
    await alice.send(CliPartyReq(type=PartyReqType.CREATE, target=alice.object_id))
    await alice.settle()
    assert arena.drops("self_invite") == 1
    assert not alice.received(SrvPartyReq) and not alice.received(SrvPartyReply)


async def test_inviting_a_player_in_a_party_or_with_a_pending_invite_is_busy(
    arena: Arena,
) -> None:
    alice = await arena.player("Alice")
    bob = await arena.player("Bob")
    carol = await arena.player("Carol")
    await alice.send(CliPartyReq(type=PartyReqType.CREATE, target=bob.object_id))
    await bob.expect(SrvPartyReq, "invite")
    # Bob has Alice's invite pending: Carol's is busy.
    await carol.send(CliPartyReq(type=PartyReqType.CREATE, target=bob.object_id))
    busy = await carol.expect(SrvPartyReply, "busy")
    assert (busy.type, busy.source) == (PartyReplyType.BUSY, bob.object_id)
    await arena.form_accept(alice, bob)
    # Now Bob is in a party: still busy.
    await carol.send(CliPartyReq(type=PartyReqType.CREATE, target=bob.object_id))
    busy = await carol.expect(SrvPartyReply, "busy again")
    assert busy.type == PartyReplyType.BUSY
    await bob.settle()
    assert len(bob.received(SrvPartyReq)) == 0


async def test_a_reply_to_no_invite_and_a_bad_reply_type_are_dropped(arena: Arena) -> None:
    alice = await arena.player("Alice")
    await alice.send(
        CliPartyReply(type=PartyReplyType.ACCEPT_CREATE, target=1),
        CliPartyReply(type=PartyReplyType.DESTROY, target=1),
        CliPartyReq(type=7, target=1),
    )
    await alice.settle()
    assert arena.drops("no_invite") == 1
    assert arena.drops("bad_request") == 2
    assert (await arena.party_of(alice)).party_id == 0


async def test_a_full_party_refuses_the_invite(tmp_path: Path) -> None:
    settings = {**SETTINGS, "DATA_DIR": str(tmp_path / "data"), "PARTY_MAX_MEMBERS": 2}
    async with running_gateway(settings, Arena) as arena:
        alice = await arena.player("Alice")
        bob = await arena.player("Bob")
        carol = await arena.player("Carol")
        await arena.form(alice, bob)
        await alice.send(CliPartyReq(type=PartyReqType.JOIN, target=carol.object_id))
        full = await alice.expect(SrvPartyReply, "full")
        assert (full.type, full.source) == (PartyReplyType.FULL, carol.object_id)
        await carol.settle()
        assert not carol.received(SrvPartyReq)


async def test_only_the_leader_kicks_hands_on_sets_the_rule_and_invites(arena: Arena) -> None:
    alice = await arena.player("Alice")
    bob = await arena.player("Bob")
    carol = await arena.player("Carol")
    await arena.form(alice, bob)
    await bob.send(
        CliPartyReq(type=PartyReqType.BAN, target=alice.object_id),
        CliPartyReq(type=PartyReqType.CHANGE_OWNER, target=alice.object_id),
        CliPartyRule(rule=1),
        CliPartyReq(type=PartyReqType.JOIN, target=carol.object_id),
    )
    await bob.settle()
    assert arena.drops("not_leader") == 4
    # The leader kicking someone outside the party, or an unknown object: not a member.
    await alice.send(
        CliPartyReq(type=PartyReqType.BAN, target=carol.object_id),
        CliPartyReq(type=PartyReqType.BAN, target=999),
        CliPartyRule(rule=0x02),
    )
    await alice.settle()
    assert arena.drops("not_member") == 2
    assert arena.drops("bad_request") == 1
    state = await arena.party_of(alice)
    assert state.leader_id == alice.character_id and state.rule == 0
    assert [m.name for m in state.members] == ["Alice", "Bob"]


async def test_leave_and_rule_without_a_party_and_bad_chat_lines_are_dropped(
    arena: Arena,
) -> None:
    alice = await arena.player("Alice")
    await alice.send(
        CliPartyReq(type=PartyReqType.LEAVE, target=0),
        CliPartyRule(rule=1),
        CliPartyChat(message=b"nobody here"),
        CliPartyChat(message=b""),
        CliPartyChat(message=b"x" * 1901),
    )
    await alice.settle()
    assert arena.drops("no_party") == 3
    # The empty line stops at the core's chat guard (nothing to relay), the oversize one here.
    assert arena.drops("bad_message") == 1
    assert arena.sample("gateway_chat_refused_total", {"kind": "party", "reason": "empty"}) == 1


async def test_a_party_service_that_is_gone_is_answered_and_counted(tmp_path: Path) -> None:
    async with serve_on_loopback(PartyReferenceService(), "party") as host:
        settings = {**SETTINGS, "DATA_DIR": str(tmp_path / "data"),
                    "PARTY_SERVICE_ADDR": host.address}
        async with running_gateway(settings, Arena) as arena:
            alice = await arena.player("Alice")
            await host.stop()
            await alice.send(CliPartyChat(message=b"hello?"))
            notice = await alice.expect(SrvWhisperChat, "unavailable",
                                        lambda p: p.sender == b"server msg")
            assert b"unavailable" in notice.message
            assert arena.drops("party_unavailable") == 1
