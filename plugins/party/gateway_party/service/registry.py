"""Parties, the characters attached to gateways, and the per-gateway event queues.

Strategy: everything here is synchronous and runs on the service's event loop, so no lock is
needed and every request is applied whole before the next one. A request changes the state,
then queues what each affected character must be told as one :class:`PartyEvent` per gateway
(listing the recipients that gateway hosts), ``put_nowait``; a full queue drops that gateway
(its stream ends with RESOURCE_EXHAUSTED and its characters are detached), so a slow gateway
never delays the others. Members are kept in join order and the first one leads, so a leader
who goes hands the party to the next member by construction. A detached member stays in its
party, offline, until the offline grace ends (one timer per member on the loop); attached
again before that, it is online again.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import grpc
from gateway_protos.v1 import party_pb2

from gateway_core.api import (
    GatewayStream,
    PartyReplyType,
    PartyReqType,
    PartyRule,
    ServiceError,
)

#: One open ``Events`` stream of a gateway.
Subscriber = GatewayStream[party_pb2.PartyEvent]

#: Default of PARTY_MAX_MEMBERS: the client's party window lists up to four others besides
#: the player (osIROSE's party size too).
DEFAULT_MAX_MEMBERS = 5
#: Default of PARTY_OFFLINE_GRACE (seconds).
DEFAULT_OFFLINE_GRACE = 60.0
#: Default bound of each gateway's event queue (PARTY_SUBSCRIBER_QUEUE).
DEFAULT_QUEUE_LIMIT = 1024
#: Seconds an invite waits for its answer; after that it is as if never sent.
INVITE_SECONDS = 60.0
#: The rule of a new party: XP by level, items to the party.
DEFAULT_RULE = 0
#: Every bit a rule may have.
RULE_BITS = PartyRule.EXP_PER_PLAYER | PartyRule.ITEM_IN_ORDER

#: The answers ``Reply`` takes.
ANSWERS = frozenset(
    {
        PartyReplyType.ACCEPT_CREATE,
        PartyReplyType.ACCEPT_JOIN,
        PartyReplyType.REJECT_JOIN,
        PartyReplyType.BUSY,
    }
)


@dataclass(eq=False, slots=True)
class _Party:
    party_id: int
    #: Character ids in join order; the first leads.
    members: list[int]
    rule: int = DEFAULT_RULE

    @property
    def leader(self) -> int:
        return self.members[0]


@dataclass(slots=True)
class _Invite:
    inviter_id: int
    expires: float


@dataclass(eq=False, slots=True)
class _Character:
    #: Latest values (name, place, vitals); ``online`` mirrors ``subscriber``.
    member: party_pb2.PartyMember
    subscriber: Subscriber | None = None
    party: _Party | None = None
    #: The pending invite *to* this character.
    invite: _Invite | None = None
    grace: asyncio.TimerHandle | None = None


def _refuse(code: grpc.StatusCode, message: str) -> ServiceError:
    return ServiceError(code, message)


class PartyRegistry:
    """Every party and attached character, the gateway streams, and the service counters.

    ``max_members`` is PARTY_MAX_MEMBERS, ``offline_grace`` PARTY_OFFLINE_GRACE (seconds);
    ``clock`` gives monotonic seconds (invite expiry).
    """

    def __init__(
        self,
        *,
        queue_limit: int = DEFAULT_QUEUE_LIMIT,
        max_members: int = DEFAULT_MAX_MEMBERS,
        offline_grace: float = DEFAULT_OFFLINE_GRACE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if queue_limit < 1:
            raise ValueError("queue_limit must be at least 1")
        if max_members < 2:
            raise ValueError("max_members must be at least 2")
        if offline_grace < 0:
            raise ValueError("offline_grace must not be negative")
        self.queue_limit = queue_limit
        self.max_members = max_members
        self.offline_grace = offline_grace
        self.clock = clock
        self._subscribers: dict[str, Subscriber] = {}
        self._characters: dict[int, _Character] = {}
        self._parties: dict[int, _Party] = {}
        self._party_ids = itertools.count(1)
        self.events = 0
        self.expired_members = 0
        self.dropped_subscribers = 0

    # -- streams ---------------------------------------------------------------------------

    def subscribe(self, gateway_id: str) -> Subscriber:
        """Register a new stream for ``gateway_id``, replacing (and ending) an older one."""
        old = self._subscribers.get(gateway_id)
        if old is not None:
            old.close(grpc.StatusCode.ABORTED, f"gateway {gateway_id!r} subscribed again")
            self.release(old)
        subscriber = Subscriber(gateway_id, asyncio.Queue(self.queue_limit + 1))
        self._subscribers[gateway_id] = subscriber
        subscriber.queue.put_nowait(
            party_pb2.PartyEvent(subscribed=party_pb2.PartySubscribed(gateway_id=gateway_id))
        )
        return subscriber

    def release(self, subscriber: Subscriber) -> None:
        """The stream is gone: unregister it and detach every character it attached."""
        if self._subscribers.get(subscriber.gateway_id) is subscriber:
            del self._subscribers[subscriber.gateway_id]
        for character_id in list(subscriber.characters):
            self._detach(character_id)
        subscriber.characters.clear()

    def close_all(self, code: grpc.StatusCode, details: str) -> None:
        """End every stream and cancel the grace timers (service shutdown)."""
        for subscriber in list(self._subscribers.values()):
            subscriber.close(code, details)
            self.release(subscriber)
        for character in self._characters.values():
            if character.grace is not None:
                character.grace.cancel()
                character.grace = None

    def _drop(self, subscriber: Subscriber) -> None:
        subscriber.close(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"event queue of {self.queue_limit} events overflowed; gateway too slow",
        )
        self.release(subscriber)
        self.dropped_subscribers += 1

    # -- sending ---------------------------------------------------------------------------

    def _send(self, recipients: Iterable[int], make: Callable[[], party_pb2.PartyEvent]) -> int:
        """Queue ``make()`` (with its recipients set) to every gateway hosting some of
        ``recipients``; return how many recipients it was queued for."""
        groups: dict[int, tuple[Subscriber, list[int]]] = {}
        for character_id in recipients:
            character = self._characters.get(character_id)
            if character is None or character.subscriber is None:
                continue
            subscriber = character.subscriber
            groups.setdefault(id(subscriber), (subscriber, []))[1].append(character_id)
        reached = 0
        dropped: list[Subscriber] = []
        for subscriber, ids in groups.values():
            event = make()
            event.recipient_character_ids.extend(ids)
            if subscriber.offer(event):
                self.events += 1
                reached += len(ids)
            else:
                dropped.append(subscriber)
        for subscriber in dropped:
            self._drop(subscriber)
        return reached

    def _member(self, character_id: int) -> party_pb2.PartyMember:
        return self._characters[character_id].member

    def state_of(self, party: _Party | None) -> party_pb2.PartyState:
        """The ``PartyState`` of ``party`` (the empty one for None)."""
        if party is None:
            return party_pb2.PartyState()
        return party_pb2.PartyState(
            party_id=party.party_id,
            leader_id=party.leader,
            rule=party.rule,
            members=[self._member(cid) for cid in party.members],
        )

    def _send_state(self, recipients: Iterable[int], party: _Party | None) -> None:
        state = self.state_of(party)
        self._send(recipients, lambda: party_pb2.PartyEvent(party=state))

    def _send_member(self, recipients: Iterable[int], party: _Party, subject: int, *,
                     add: bool) -> None:
        change = party_pb2.PartyMemberChange(add=add, rule=party.rule,
                                             member=self._member(subject))
        self._send(recipients, lambda: party_pb2.PartyEvent(member=change))

    def _send_answer(self, recipients: Iterable[int], kind: int,
                     subject: int | None = None) -> None:
        answered = party_pb2.PartyAnswered(type=kind)
        if subject is not None:
            answered.subject.CopyFrom(self._member(subject))
        self._send(recipients, lambda: party_pb2.PartyEvent(answered=answered))

    def _send_update(self, party: _Party, subject: int) -> None:
        member = self._member(subject)
        others = [cid for cid in party.members if cid != subject]
        self._send(others, lambda: party_pb2.PartyEvent(member_update=member))

    def _send_party_to(self, character_id: int, party: _Party) -> None:
        """Everything a member coming (back) online must be shown: each other member, the
        rule and the party's state."""
        for other in party.members:
            if other != character_id:
                self._send_member([character_id], party, other, add=True)
        rule = party.rule
        self._send([character_id], lambda: party_pb2.PartyEvent(rule=rule))
        self._send_state([character_id], party)

    # -- attaching -------------------------------------------------------------------------

    def attach(self, gateway_id: str, member: party_pb2.PartyMember) -> party_pb2.PartyState:
        """Attach or update a character hosted by ``gateway_id``."""
        subscriber = self._subscribers.get(gateway_id)
        if subscriber is None:
            raise _refuse(grpc.StatusCode.FAILED_PRECONDITION,
                          f"gateway {gateway_id!r} has no open Events stream")
        character_id = member.character_id
        character = self._characters.get(character_id)
        if character is None:
            character = _Character(member=party_pb2.PartyMember())
            self._characters[character_id] = character
        fresh = character.subscriber is not subscriber
        if fresh and character.subscriber is not None:
            character.subscriber.characters.discard(character_id)
        character.subscriber = subscriber
        subscriber.characters.add(character_id)
        if character.grace is not None:
            character.grace.cancel()
            character.grace = None
        self._store(character, member)
        party = character.party
        if party is not None:
            self._send_update(party, character_id)
            if fresh:
                self._send_party_to(character_id, party)
        return self.state_of(party)

    @staticmethod
    def _store(character: _Character, member: party_pb2.PartyMember) -> None:
        """Keep a member record as sent; vitals it does not know (``max_hp`` 0: the gateway
        has not heard from the world yet) stay the last known."""
        known = character.member
        if member.max_hp == 0 and known.max_hp != 0:
            merged = party_pb2.PartyMember()
            merged.CopyFrom(member)
            for name in ("level", "hp", "max_hp", "mp", "max_mp", "con"):
                setattr(merged, name, getattr(known, name))
            member = merged
        known.CopyFrom(member)
        known.online = True

    def detach(self, gateway_id: str, character_id: int) -> bool:
        """Detach ``character_id`` if ``gateway_id`` hosts it; True when it did."""
        character = self._characters.get(character_id)
        if (character is None or character.subscriber is None
                or character.subscriber.gateway_id != gateway_id):
            return False
        character.subscriber.characters.discard(character_id)
        self._detach(character_id)
        return True

    def _detach(self, character_id: int) -> None:
        character = self._characters.get(character_id)
        if character is None:
            return
        character.subscriber = None
        character.member.online = False
        character.member.object_id = 0
        character.invite = None
        party = character.party
        if party is None:
            self._forget(character_id)
            return
        self._send_update(party, character_id)
        if character.grace is not None:
            character.grace.cancel()
        character.grace = asyncio.get_running_loop().call_later(
            self.offline_grace, self._expire, character_id
        )

    def _expire(self, character_id: int) -> None:
        character = self._characters.get(character_id)
        if character is None:
            return
        character.grace = None
        if character.subscriber is None and character.party is not None:
            self.expired_members += 1
            self._remove(character.party, character_id)

    def _forget(self, character_id: int) -> None:
        """Drop a character that is neither attached nor in a party."""
        character = self._characters.get(character_id)
        if character is not None and character.subscriber is None and character.party is None:
            if character.grace is not None:
                character.grace.cancel()
            del self._characters[character_id]

    def _attached(self, character_id: int) -> _Character:
        character = self._characters.get(character_id)
        if character is None or character.subscriber is None:
            raise _refuse(grpc.StatusCode.FAILED_PRECONDITION,
                          f"character {character_id} is not attached")
        return character

    def _pending(self, character: _Character) -> _Invite | None:
        invite = character.invite
        if invite is not None and invite.expires <= self.clock():
            character.invite = invite = None
        return invite

    # -- requests --------------------------------------------------------------------------

    def invite(self, inviter_id: int, target_id: int) -> party_pb2.PartyInviteReply:
        """Invite ``target_id`` into the inviter's party."""
        inviter = self._attached(inviter_id)

        def result(code: party_pb2.InviteResult) -> party_pb2.PartyInviteReply:
            reply = party_pb2.PartyInviteReply(result=code)
            if target is not None and target.subscriber is not None:
                reply.target.CopyFrom(target.member)
            return reply

        target = self._characters.get(target_id)
        if target_id == inviter_id:
            return result(party_pb2.INVITE_RESULT_SELF)
        if target is None or target.subscriber is None:
            return result(party_pb2.INVITE_RESULT_NOT_FOUND)
        party = inviter.party
        if party is not None and party.leader != inviter_id:
            return result(party_pb2.INVITE_RESULT_NOT_LEADER)
        if party is not None and len(party.members) >= self.max_members:
            return result(party_pb2.INVITE_RESULT_FULL)
        pending = self._pending(target)
        if target.party is not None or (pending is not None and pending.inviter_id != inviter_id):
            return result(party_pb2.INVITE_RESULT_BUSY)
        target.invite = _Invite(inviter_id, self.clock() + INVITE_SECONDS)
        kind = PartyReqType.JOIN if party is not None else PartyReqType.CREATE
        invited = party_pb2.PartyInvited(type=kind, inviter=inviter.member)
        self._send([target_id], lambda: party_pb2.PartyEvent(invited=invited))
        return result(party_pb2.INVITE_RESULT_SENT)

    def reply(self, character_id: int, answer: int) -> party_pb2.PartyReply:
        """The invited character answers its pending invite."""
        if answer not in ANSWERS:
            raise _refuse(grpc.StatusCode.INVALID_ARGUMENT,
                          f"answer {answer} is not accept, reject or busy")
        character = self._attached(character_id)
        invite = self._pending(character)
        if invite is None:
            return party_pb2.PartyReply(result=party_pb2.PARTY_RESULT_NO_PARTY)
        character.invite = None
        inviter_id = invite.inviter_id
        inviter = self._characters.get(inviter_id)
        if inviter is None or inviter.subscriber is None:
            return party_pb2.PartyReply(result=party_pb2.PARTY_RESULT_GONE)
        if answer in (PartyReplyType.REJECT_JOIN, PartyReplyType.BUSY):
            self._send_answer([inviter_id], answer, character_id)
            return party_pb2.PartyReply(result=party_pb2.PARTY_RESULT_OK, recipients=1)
        party = inviter.party
        if character.party is not None or (party is not None and party.leader != inviter_id):
            self._send_answer([inviter_id], PartyReplyType.BUSY, character_id)
            return party_pb2.PartyReply(result=party_pb2.PARTY_RESULT_GONE)
        if party is not None and len(party.members) >= self.max_members:
            self._send_answer([inviter_id], PartyReplyType.FULL, character_id)
            return party_pb2.PartyReply(result=party_pb2.PARTY_RESULT_FULL)
        created = party is None
        if party is None:
            party = _Party(next(self._party_ids), [inviter_id])
            self._parties[party.party_id] = party
            inviter.party = party
        existing = list(party.members)
        party.members.append(character_id)
        character.party = party
        accepted = PartyReplyType.ACCEPT_CREATE if created else PartyReplyType.ACCEPT_JOIN
        self._send_answer([inviter_id], accepted, character_id)
        self._send_member(existing, party, character_id, add=True)
        self._send_party_to(character_id, party)
        self._send_state(existing, party)
        return party_pb2.PartyReply(result=party_pb2.PARTY_RESULT_OK,
                                    recipients=len(party.members))

    def leave(self, character_id: int) -> party_pb2.PartyReply:
        """The character leaves its party."""
        party = self._attached(character_id).party
        if party is None:
            return party_pb2.PartyReply(result=party_pb2.PARTY_RESULT_NO_PARTY)
        self._remove(party, character_id)
        return party_pb2.PartyReply(result=party_pb2.PARTY_RESULT_OK)

    def _led(self, character_id: int) -> tuple[_Party | None, party_pb2.PartyResult]:
        party = self._attached(character_id).party
        if party is None:
            return None, party_pb2.PARTY_RESULT_NO_PARTY
        if party.leader != character_id:
            return None, party_pb2.PARTY_RESULT_NOT_LEADER
        return party, party_pb2.PARTY_RESULT_OK

    def kick(self, leader_id: int, target_id: int) -> party_pb2.PartyReply:
        """The leader removes a member."""
        party, result = self._led(leader_id)
        if party is None:
            return party_pb2.PartyReply(result=result)
        if target_id == leader_id or target_id not in party.members:
            return party_pb2.PartyReply(result=party_pb2.PARTY_RESULT_NOT_MEMBER)
        self._remove(party, target_id)
        return party_pb2.PartyReply(result=party_pb2.PARTY_RESULT_OK)

    def change_leader(self, leader_id: int, target_id: int) -> party_pb2.PartyReply:
        """The leader hands the party to another member."""
        party, result = self._led(leader_id)
        if party is None:
            return party_pb2.PartyReply(result=result)
        if target_id == leader_id or target_id not in party.members:
            return party_pb2.PartyReply(result=party_pb2.PARTY_RESULT_NOT_MEMBER)
        party.members.remove(target_id)
        party.members.insert(0, target_id)
        self._send_answer(party.members, PartyReplyType.CHANGE_OWNER, target_id)
        self._send_state(party.members, party)
        return party_pb2.PartyReply(result=party_pb2.PARTY_RESULT_OK,
                                    recipients=len(party.members))

    def set_rule(self, leader_id: int, rule: int) -> party_pb2.PartyReply:
        """The leader sets the rule."""
        if rule & ~RULE_BITS:
            raise _refuse(grpc.StatusCode.INVALID_ARGUMENT,
                          f"rule {rule:#x} has bits other than 0x01 and 0x80")
        party, result = self._led(leader_id)
        if party is None:
            return party_pb2.PartyReply(result=result)
        party.rule = rule
        reached = self._send(party.members, lambda: party_pb2.PartyEvent(rule=rule))
        self._send_state(party.members, party)
        return party_pb2.PartyReply(result=party_pb2.PARTY_RESULT_OK, recipients=reached)

    def chat(self, character_id: int, message: str) -> party_pb2.PartyReply:
        """A line of party chat to every online member, the sender included."""
        character = self._attached(character_id)
        party = character.party
        if party is None:
            return party_pb2.PartyReply(result=party_pb2.PARTY_RESULT_NO_PARTY)
        line = party_pb2.PartyChatLine(sender=character.member, message=message)
        reached = self._send(party.members, lambda: party_pb2.PartyEvent(chat=line))
        return party_pb2.PartyReply(result=party_pb2.PARTY_RESULT_OK, recipients=reached)

    def update(self, gateway_id: str, member: party_pb2.PartyMember) -> party_pb2.PartyReply:
        """New vitals or place of an attached character."""
        character = self._attached(member.character_id)
        assert character.subscriber is not None
        if character.subscriber.gateway_id != gateway_id:
            raise _refuse(grpc.StatusCode.FAILED_PRECONDITION,
                          f"character {member.character_id} is not attached by {gateway_id!r}")
        self._store(character, member)
        party = character.party
        if party is None:
            return party_pb2.PartyReply(result=party_pb2.PARTY_RESULT_NO_PARTY)
        self._send_update(party, member.character_id)
        return party_pb2.PartyReply(result=party_pb2.PARTY_RESULT_OK,
                                    recipients=len(party.members) - 1)

    def party_of(self, character_id: int) -> party_pb2.PartyState:
        """The party of a character (empty without one)."""
        character = self._characters.get(character_id)
        return self.state_of(character.party if character is not None else None)

    # -- removing --------------------------------------------------------------------------

    def _remove(self, party: _Party, character_id: int) -> None:
        """Take a member out: it is told its party ended; the others see it go, and a new
        leader when it led; a party of one left is dissolved."""
        was_leader = party.leader == character_id
        party.members.remove(character_id)
        self._characters[character_id].party = None
        self._send_answer([character_id], PartyReplyType.DESTROY)
        self._send_state([character_id], None)
        if len(party.members) == 1:
            (last,) = party.members
            self._characters[last].party = None
            party.members.clear()
            del self._parties[party.party_id]
            self._send_answer([last], PartyReplyType.DESTROY)
            self._send_state([last], None)
            self._forget(last)
        else:
            self._send_member(party.members, party, character_id, add=False)
            if was_leader:
                self._send_answer(party.members, PartyReplyType.CHANGE_OWNER, party.leader)
            self._send_state(party.members, party)
        self._forget(character_id)

    def stats(self) -> party_pb2.PartyStats:
        """The service counters."""
        return party_pb2.PartyStats(
            subscribers=len(self._subscribers),
            attached=sum(1 for c in self._characters.values() if c.subscriber is not None),
            parties=len(self._parties),
            events=self.events,
            expired_members=self.expired_members,
            dropped_subscribers=self.dropped_subscribers,
        )
