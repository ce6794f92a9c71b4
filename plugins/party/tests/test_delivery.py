"""The gateway side of the party service: the packet each event becomes (a table, both ways
through the codec), and the event stream attaching its characters again after the service
dropped it."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from gateway_party.delivery import PartyEvents, event_packet, wire_member
from gateway_protos.v1 import party_pb2, party_pb2_grpc

from gateway_core.api import (
    Packet,
    PartyMember,
    PartyMemberAction,
    PartyReplyType,
    PartyReqType,
    SrvPartyChat,
    SrvPartyMember,
    SrvPartyMemberUpdate,
    SrvPartyReply,
    SrvPartyReq,
    SrvPartyRule,
)

from .conftest import EVENT_TIMEOUT, PartyHarness, member

pytestmark = pytest.mark.anyio

ALICE = member(0x1_0000_0007, "Alice", object_id=12, hp=90)
ALICE.online = True
WIRE_ALICE = PartyMember(tag=7, id=12, max_hp=200, hp=90, status=0, con=12, hp_recovery=0,
                         mp_recovery=0, stamina=0, name=b"Alice")


def _event(**body: object) -> party_pb2.PartyEvent:
    return party_pb2.PartyEvent(recipient_character_ids=[1], **body)  # type: ignore[arg-type]


CASES: list[tuple[party_pb2.PartyEvent, Packet | None]] = [
    (_event(invited=party_pb2.PartyInvited(type=PartyReqType.CREATE, inviter=ALICE)),
     SrvPartyReq(type=PartyReqType.CREATE, source=12, name=b"Alice")),
    (_event(answered=party_pb2.PartyAnswered(type=PartyReplyType.ACCEPT_JOIN, subject=ALICE)),
     SrvPartyReply(type=PartyReplyType.ACCEPT_JOIN, source=12)),
    (_event(answered=party_pb2.PartyAnswered(type=PartyReplyType.CHANGE_OWNER, subject=ALICE)),
     SrvPartyReply(type=PartyReplyType.CHANGE_OWNER, source=7)),
    (_event(answered=party_pb2.PartyAnswered(type=PartyReplyType.DESTROY)),
     SrvPartyReply(type=PartyReplyType.DESTROY, source=0)),
    (_event(member=party_pb2.PartyMemberChange(add=True, rule=0x81, member=ALICE)),
     SrvPartyMember(rule=0x81, action=PartyMemberAction.ADD, member=WIRE_ALICE)),
    (_event(member=party_pb2.PartyMemberChange(add=False, rule=0, member=ALICE)),
     SrvPartyMember(rule=0, action=PartyMemberAction.REMOVE, member=WIRE_ALICE)),
    (_event(member_update=ALICE), SrvPartyMemberUpdate(member=WIRE_ALICE)),
    (_event(rule=1), SrvPartyRule(rule=1)),
    (_event(chat=party_pb2.PartyChatLine(sender=ALICE, message="hi")),
     SrvPartyChat(char_id=12, message=b"hi")),
    (_event(party=party_pb2.PartyState(party_id=3)), None),
]


@pytest.mark.parametrize(("event", "packet"), CASES)
def test_each_event_becomes_its_packet(event: party_pb2.PartyEvent, packet: Packet | None) -> None:
    made = event_packet(event)
    assert made == packet
    if made is not None:
        assert type(made).decode_payload(made.encode_payload()).packet == made


def test_an_offline_member_has_no_object_id_or_hp() -> None:
    offline = party_pb2.PartyMember()
    offline.CopyFrom(ALICE)
    offline.online = False
    wire = wire_member(offline)
    assert (wire.id, wire.hp, wire.max_hp, wire.tag) == (0, 0, 200, 7)


async def test_the_stream_attaches_its_characters_again_after_it_was_dropped(
    party: PartyHarness,
) -> None:
    received: asyncio.Queue[party_pb2.PartyEvent] = asyncio.Queue()
    states: list[tuple[int, int]] = []
    async with grpc.aio.insecure_channel(party.address) as channel:
        stub: party_pb2_grpc.PartyAsyncStub = party_pb2_grpc.PartyStub(channel)
        events = PartyEvents(stub, "gw-x", received.put_nowait, initial_backoff=0.05,
                             on_attached=lambda cid, s: states.append((cid, s.party_id)))
        events.start()
        try:
            await asyncio.wait_for(events.wait_connected(), EVENT_TIMEOUT)
            await events.attach(member(1))
            await events.attach(member(2))
            assert (await party.stub.GetStats(party_pb2.PartyStatsRequest())).attached == 2
            # Another stream with the same gateway id replaces (ends) this one: its characters
            # are detached, and the reconnect attaches them again.
            rival = await party.subscribe("gw-x")
            await rival.aclose()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + EVENT_TIMEOUT
            while events.connections < 2 or not events.connected:
                assert loop.time() < deadline
                await asyncio.sleep(0.01)
            stats = await party.stub.GetStats(party_pb2.PartyStatsRequest())
            assert stats.attached == 2
            assert sorted(cid for cid, _ in states) == [1, 1, 2, 2]
            await events.detach(1)
            stats = await party.stub.GetStats(party_pb2.PartyStatsRequest())
            assert stats.attached == 1
        finally:
            await events.aclose()
