"""Every RPC of the reference party service over a real loopback grpc.aio server: invites and
answers, the refusals, leave/kick/leader hand-over, rules, party chat across gateways, member
updates, and members going offline and coming back or expiring after the grace."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import grpc
import pytest
from gateway_protos.v1 import party_pb2

from gateway_core.api import PartyReplyType, PartyReqType

from ..conftest import GRACE, PartyHarness, member

pytestmark = pytest.mark.anyio


async def _status(awaitable: object) -> grpc.aio.AioRpcError:
    try:
        await awaitable  # type: ignore[misc]
    except grpc.aio.AioRpcError as exc:
        return exc
    raise AssertionError("the call succeeded")


def _is(kind: int) -> Callable[[party_pb2.PartyEvent], bool]:
    return lambda event: event.answered.type == kind


async def _pair(party: PartyHarness) -> None:
    """Characters 1 (leader) and 2 in one party."""
    assert (await party.invite(1, 2)).result == party_pb2.INVITE_RESULT_SENT
    reply = await party.reply(2, PartyReplyType.ACCEPT_CREATE)
    assert reply.result == party_pb2.PARTY_RESULT_OK


# -- streams and attaching ---------------------------------------------------------------------


async def test_events_start_with_subscribed_and_bad_gateway_ids_are_refused(
    party: PartyHarness,
) -> None:
    await party.subscribe("gw-a")
    call = party.stub.Events(party_pb2.PartyEventsRequest(gateway_id=""))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call.read()
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_attach_needs_an_open_stream_and_requests_an_attached_character(
    party: PartyHarness,
) -> None:
    exc = await _status(party.attach("gw-none", 1))
    assert exc.code() is grpc.StatusCode.FAILED_PRECONDITION
    exc = await _status(party.invite(1, 2))
    assert exc.code() is grpc.StatusCode.FAILED_PRECONDITION
    await party.subscribe("gw-a")
    exc = await _status(party.stub.Attach(party_pb2.PartyAttachRequest(
        gateway_id="gw-a", member=member(1, name="x" * 33))))
    assert exc.code() is grpc.StatusCode.INVALID_ARGUMENT


# -- invites -----------------------------------------------------------------------------------


async def test_invite_and_accept_create_a_party_led_by_the_inviter(party: PartyHarness) -> None:
    gw = await party.subscribe("gw-a")
    await party.attach("gw-a", 1)
    await party.attach("gw-a", 2)
    sent = await party.invite(1, 2)
    assert sent.result == party_pb2.INVITE_RESULT_SENT and sent.target.character_id == 2
    invited = await gw.next_of("invited")
    assert list(invited.recipient_character_ids) == [2]
    assert invited.invited.type == PartyReqType.CREATE
    assert invited.invited.inviter.name == "c1"
    assert (await party.reply(2, PartyReplyType.ACCEPT_CREATE)).result == party_pb2.PARTY_RESULT_OK
    answered = await gw.next_of("answered")
    assert list(answered.recipient_character_ids) == [1]
    assert answered.answered.type == PartyReplyType.ACCEPT_CREATE
    assert answered.answered.subject.character_id == 2
    # Each is shown the other.
    adds = {(tuple(e.recipient_character_ids), e.member.member.character_id)
            for e in [await gw.next_of("member"), await gw.next_of("member")]}
    assert adds == {((1,), 2), ((2,), 1)}
    state = await party.party(2)
    assert state.party_id and state.leader_id == 1
    assert [m.character_id for m in state.members] == [1, 2]
    assert all(m.online for m in state.members)
    assert (await party.party(3)).party_id == 0


async def test_invite_refusals(party: PartyHarness) -> None:
    await party.subscribe("gw-a")
    for cid in (1, 2, 3, 4):
        await party.attach("gw-a", cid)
    assert (await party.invite(1, 1)).result == party_pb2.INVITE_RESULT_SELF
    assert (await party.invite(1, 99)).result == party_pb2.INVITE_RESULT_NOT_FOUND
    assert (await party.invite(1, 2)).result == party_pb2.INVITE_RESULT_SENT
    # Pending from 1: busy for anyone else, a second invite of 1 is fine.
    assert (await party.invite(3, 2)).result == party_pb2.INVITE_RESULT_BUSY
    assert (await party.invite(1, 2)).result == party_pb2.INVITE_RESULT_SENT
    await party.reply(2, PartyReplyType.ACCEPT_CREATE)
    # In a party: busy; a member who does not lead may not invite.
    assert (await party.invite(3, 2)).result == party_pb2.INVITE_RESULT_BUSY
    assert (await party.invite(2, 3)).result == party_pb2.INVITE_RESULT_NOT_LEADER
    # Full at 3 (the fixture's PARTY_MAX_MEMBERS).
    await party.invite(1, 3)
    await party.reply(3, PartyReplyType.ACCEPT_JOIN)
    assert len((await party.party(1)).members) == 3
    assert (await party.invite(1, 4)).result == party_pb2.INVITE_RESULT_FULL


async def test_replies_without_an_invite_or_with_a_bad_answer(party: PartyHarness) -> None:
    await party.subscribe("gw-a")
    await party.attach("gw-a", 1)
    await party.attach("gw-a", 2)
    assert (await party.reply(2, PartyReplyType.ACCEPT_JOIN)).result == (
        party_pb2.PARTY_RESULT_NO_PARTY)
    exc = await _status(party.reply(2, PartyReplyType.DESTROY))
    assert exc.code() is grpc.StatusCode.INVALID_ARGUMENT
    await party.invite(1, 2)
    await party.reply(2, PartyReplyType.ACCEPT_CREATE)
    # The invite was used up.
    assert (await party.reply(2, PartyReplyType.ACCEPT_CREATE)).result == (
        party_pb2.PARTY_RESULT_NO_PARTY)


async def test_reject_and_busy_answers_reach_the_inviter(party: PartyHarness) -> None:
    gw = await party.subscribe("gw-a")
    await party.attach("gw-a", 1)
    await party.attach("gw-a", 2)
    for answer in (PartyReplyType.REJECT_JOIN, PartyReplyType.BUSY):
        await party.invite(1, 2)
        await party.reply(2, answer)
        event = await gw.next_of("answered")
        assert list(event.recipient_character_ids) == [1]
        assert event.answered.type == answer
    assert (await party.party(1)).party_id == 0


async def test_accept_after_the_inviter_left_changes_nothing(party: PartyHarness) -> None:
    await party.subscribe("gw-a")
    await party.attach("gw-a", 1)
    await party.attach("gw-a", 2)
    await party.invite(1, 2)
    await party.stub.Detach(party_pb2.PartyDetachRequest(gateway_id="gw-a", character_id=1))
    assert (await party.reply(2, PartyReplyType.ACCEPT_CREATE)).result == (
        party_pb2.PARTY_RESULT_GONE)
    assert (await party.party(2)).party_id == 0


# -- leave, kick, leader -----------------------------------------------------------------------


async def test_the_leader_leaving_hands_the_party_to_the_next_member(party: PartyHarness) -> None:
    gw = await party.subscribe("gw-a")
    for cid in (1, 2, 3):
        await party.attach("gw-a", cid)
    await _pair(party)
    await party.invite(1, 3)
    await party.reply(3, PartyReplyType.ACCEPT_JOIN)
    gw.drain()
    await party.stub.Leave(party_pb2.PartyLeaveRequest(character_id=1))
    events = [await gw.next_of("answered", _is(PartyReplyType.DESTROY)),
              await gw.next_of("member", lambda e: not e.member.add),
              await gw.next_of("answered", _is(PartyReplyType.CHANGE_OWNER))]
    assert events[0].answered.type == PartyReplyType.DESTROY
    assert list(events[0].recipient_character_ids) == [1]
    assert not events[1].member.add and events[1].member.member.character_id == 1
    assert sorted(events[1].recipient_character_ids) == [2, 3]
    assert events[2].answered.type == PartyReplyType.CHANGE_OWNER
    assert events[2].answered.subject.character_id == 2
    state = await party.party(3)
    assert state.leader_id == 2 and [m.character_id for m in state.members] == [2, 3]
    assert (await party.party(1)).party_id == 0


async def test_a_party_of_one_left_is_dissolved(party: PartyHarness) -> None:
    gw = await party.subscribe("gw-a")
    await party.attach("gw-a", 1)
    await party.attach("gw-a", 2)
    await _pair(party)
    gw.drain()
    await party.stub.Leave(party_pb2.PartyLeaveRequest(character_id=2))
    destroyed = {cid for _ in range(2) for cid in (
        await gw.next_of("answered", _is(PartyReplyType.DESTROY))).recipient_character_ids}
    assert destroyed == {1, 2}
    assert (await party.party(1)).party_id == 0
    assert (await party.stub.GetStats(party_pb2.PartyStatsRequest())).parties == 0
    leave = await party.stub.Leave(party_pb2.PartyLeaveRequest(character_id=2))
    assert leave.result == party_pb2.PARTY_RESULT_NO_PARTY


async def test_kick_change_leader_and_rule_are_the_leaders(party: PartyHarness) -> None:
    gw = await party.subscribe("gw-a")
    for cid in (1, 2, 3):
        await party.attach("gw-a", cid)
    await _pair(party)
    await party.invite(1, 3)
    await party.reply(3, PartyReplyType.ACCEPT_JOIN)
    stub = party.stub
    not_leader = party_pb2.PARTY_RESULT_NOT_LEADER
    assert (await stub.Kick(party_pb2.PartyKickRequest(
        character_id=2, target_character_id=3))).result == not_leader
    assert (await stub.SetRule(party_pb2.PartySetRuleRequest(
        character_id=2, rule=1))).result == not_leader
    assert (await stub.ChangeLeader(party_pb2.PartyChangeLeaderRequest(
        character_id=2, target_character_id=3))).result == not_leader
    assert (await stub.Kick(party_pb2.PartyKickRequest(
        character_id=1, target_character_id=4))).result == party_pb2.PARTY_RESULT_NOT_MEMBER
    exc = await _status(stub.SetRule(party_pb2.PartySetRuleRequest(character_id=1, rule=2)))
    assert exc.code() is grpc.StatusCode.INVALID_ARGUMENT
    gw.drain()
    assert (await stub.SetRule(party_pb2.PartySetRuleRequest(
        character_id=1, rule=0x81))).result == party_pb2.PARTY_RESULT_OK
    rule = await gw.next_of("rule", lambda e: e.rule == 0x81)
    assert rule.rule == 0x81 and sorted(rule.recipient_character_ids) == [1, 2, 3]
    assert (await party.party(2)).rule == 0x81
    await stub.Kick(party_pb2.PartyKickRequest(character_id=1, target_character_id=3))
    kicked = await gw.next_of("answered", _is(PartyReplyType.DESTROY))
    assert list(kicked.recipient_character_ids) == [3]
    assert kicked.answered.type == PartyReplyType.DESTROY
    await stub.ChangeLeader(party_pb2.PartyChangeLeaderRequest(
        character_id=1, target_character_id=2))
    changed = await gw.next_of("answered", _is(PartyReplyType.CHANGE_OWNER))
    assert changed.answered.type == PartyReplyType.CHANGE_OWNER
    assert changed.answered.subject.character_id == 2
    assert (await party.party(1)).leader_id == 2


# -- chat and updates --------------------------------------------------------------------------


async def test_party_chat_reaches_exactly_the_members_on_every_gateway(
    party: PartyHarness,
) -> None:
    gw_a = await party.subscribe("gw-a")
    gw_b = await party.subscribe("gw-b")
    await party.attach("gw-a", 1)
    await party.attach("gw-b", 2)
    await party.attach("gw-a", 3)
    await _pair(party)
    gw_a.drain()
    gw_b.drain()
    sent = await party.stub.Chat(party_pb2.PartyChatRequest(character_id=1, message="hi"))
    assert sent.recipients == 2
    line_a, line_b = await gw_a.next_of("chat"), await gw_b.next_of("chat")
    assert list(line_a.recipient_character_ids) == [1]
    assert list(line_b.recipient_character_ids) == [2]
    assert line_b.chat.message == "hi" and line_b.chat.sender.character_id == 1
    alone = await party.stub.Chat(party_pb2.PartyChatRequest(character_id=3, message="hm"))
    assert alone.result == party_pb2.PARTY_RESULT_NO_PARTY
    exc = await _status(party.stub.Chat(party_pb2.PartyChatRequest(character_id=1, message="")))
    assert exc.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_member_updates_reach_the_other_members(party: PartyHarness) -> None:
    gw = await party.subscribe("gw-a")
    await party.attach("gw-a", 1)
    await party.attach("gw-a", 2)
    await _pair(party)
    gw.drain()
    reply = await party.stub.UpdateMember(party_pb2.PartyUpdateMemberRequest(
        gateway_id="gw-a", member=member(2, hp=42, level=11)))
    assert reply.recipients == 1
    update = await gw.next_of("member_update")
    assert list(update.recipient_character_ids) == [1]
    assert (update.member_update.hp, update.member_update.level) == (42, 11)
    exc = await _status(party.stub.UpdateMember(party_pb2.PartyUpdateMemberRequest(
        gateway_id="gw-b", member=member(2))))
    assert exc.code() is grpc.StatusCode.FAILED_PRECONDITION


# -- offline and the grace ---------------------------------------------------------------------


async def test_a_detached_member_is_offline_and_back_within_the_grace_gets_its_party(
    party: PartyHarness,
) -> None:
    gw_a = await party.subscribe("gw-a")
    await party.attach("gw-a", 1)
    await party.attach("gw-a", 2)
    await _pair(party)
    gw_a.drain()
    await party.stub.Detach(party_pb2.PartyDetachRequest(gateway_id="gw-a", character_id=2))
    offline = await gw_a.next_of("member_update")
    assert list(offline.recipient_character_ids) == [1] and not offline.member_update.online
    # Back on another gateway before the grace ends: online, and shown its party.
    gw_b = await party.subscribe("gw-b")
    state = await party.attach("gw-b", 2)
    assert state.party_id and [m.online for m in state.members] == [True, True]
    shown = await gw_b.next_of("member")
    assert shown.member.add and shown.member.member.character_id == 1
    assert (await gw_b.next_of("party")).party.leader_id == 1
    online = await gw_a.next_of("member_update")
    assert online.member_update.online
    await asyncio.sleep(GRACE * 2)
    assert len((await party.party(1)).members) == 2


async def test_a_member_gone_past_the_grace_leaves(party: PartyHarness) -> None:
    gw = await party.subscribe("gw-a")
    gw_b = await party.subscribe("gw-b")
    await party.attach("gw-a", 1)
    await party.attach("gw-b", 2)
    await party.attach("gw-a", 3)
    await _pair(party)
    await party.invite(1, 3)
    await party.reply(3, PartyReplyType.ACCEPT_JOIN)
    # Gateway b's stream ends: its character is offline, then removed after the grace.
    await gw_b.aclose()
    offline = await gw.next_of("member_update")
    assert offline.member_update.character_id == 2 and not offline.member_update.online
    removed = await gw.next_of("member")
    assert not removed.member.add and removed.member.member.character_id == 2
    state = await party.party(1)
    assert [m.character_id for m in state.members] == [1, 3]
    stats = await party.stub.GetStats(party_pb2.PartyStatsRequest())
    assert stats.expired_members == 1 and stats.subscribers == 1


async def test_a_leader_gone_past_the_grace_hands_the_party_on(party: PartyHarness) -> None:
    gw = await party.subscribe("gw-a")
    for cid in (1, 2, 3):
        await party.attach("gw-a", cid)
    await _pair(party)
    await party.invite(1, 3)
    await party.reply(3, PartyReplyType.ACCEPT_JOIN)
    await party.stub.Detach(party_pb2.PartyDetachRequest(gateway_id="gw-a", character_id=1))
    owner = await gw.next_of("answered", _is(PartyReplyType.CHANGE_OWNER))
    assert sorted(owner.recipient_character_ids) == [2, 3]
    assert owner.answered.subject.character_id == 2
    state = await party.party(3)
    assert state.leader_id == 2 and [m.character_id for m in state.members] == [2, 3]
