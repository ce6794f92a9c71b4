"""Who is hosted where, and the per-gateway delivery queues of the chat service.

Strategy: everything here is synchronous and runs on the service's event loop, so no lock is
needed: a send computes its recipients, groups them by the gateway stream that hosts them and
``put_nowait``s one Delivery per gateway. A queue that is full means that gateway cannot keep
up: its stream is ended (RESOURCE_EXHAUSTED) and its characters unhosted, so one slow gateway
never delays the others. Characters are bound to the stream (``Subscriber``) that announced
them, not just to the gateway id, so a stale stream ending cannot unhost what a reconnected
stream of the same gateway announced.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

import grpc
from gateway_protos.v1 import chat_pb2

from gateway_core.api import GatewayStream, ServiceError

# Index keys: (group kind, group id). Map 0 is a real map id, so every character has a map key;
# the other groups only when their id is non-zero.
_GroupKey = tuple[str, int]


#: One open ``Subscribe`` stream of a gateway.
Subscriber = GatewayStream[chat_pb2.ChatEvent]


@dataclass(slots=True)
class _Hosted:
    character: chat_pb2.HostedCharacter
    subscriber: Subscriber
    keys: tuple[_GroupKey, ...]


def _group_keys(character: chat_pb2.HostedCharacter) -> tuple[_GroupKey, ...]:
    keys: list[_GroupKey] = [("map", character.map_id)]
    if character.party_id:
        keys.append(("party", character.party_id))
    if character.clan_id:
        keys.append(("clan", character.clan_id))
    if character.team_id:
        keys.append(("team", character.team_id))
    return tuple(keys)


_GROUP_OF_KIND: dict[int, str] = {
    chat_pb2.CHAT_KIND_PARTY: "party",
    chat_pb2.CHAT_KIND_CLAN: "clan",
    chat_pb2.CHAT_KIND_ALLIED: "team",
}


class ChatRegistry:
    """Hosted characters, their indexes and the gateway streams, with the service counters."""

    def __init__(self, queue_limit: int) -> None:
        if queue_limit < 1:
            raise ValueError("queue_limit must be at least 1")
        self.queue_limit = queue_limit
        self._subscribers: dict[str, Subscriber] = {}
        self._hosted: dict[int, _Hosted] = {}
        self._by_name: dict[str, int] = {}
        self._groups: dict[_GroupKey, set[int]] = {}
        self.deliveries = 0
        self.dropped_subscribers = 0
        self.replaced_subscribers = 0
        self.kicks = 0

    # -- streams ---------------------------------------------------------------------------

    def subscribe(self, gateway_id: str) -> Subscriber:
        """Register a new stream for ``gateway_id``, replacing (and ending) an older one."""
        old = self._subscribers.get(gateway_id)
        if old is not None:
            old.close(grpc.StatusCode.ABORTED, f"gateway {gateway_id!r} subscribed again")
            self.release(old)
            self.replaced_subscribers += 1
        # +1: the final StreamEnd always fits, even when the subscriber is dropped for being full.
        subscriber = Subscriber(gateway_id, asyncio.Queue(self.queue_limit + 1))
        self._subscribers[gateway_id] = subscriber
        subscriber.queue.put_nowait(
            chat_pb2.ChatEvent(
                subscribed=chat_pb2.Subscribed(gateway_id=gateway_id, queue_limit=self.queue_limit)
            )
        )
        return subscriber

    def release(self, subscriber: Subscriber) -> None:
        """The stream is gone: unregister it and unhost every character it announced."""
        if self._subscribers.get(subscriber.gateway_id) is subscriber:
            del self._subscribers[subscriber.gateway_id]
        for character_id in list(subscriber.characters):
            self._remove(character_id)
        subscriber.characters.clear()

    def close_all(self, code: grpc.StatusCode, details: str) -> None:
        """End every stream (service shutdown)."""
        for subscriber in list(self._subscribers.values()):
            subscriber.close(code, details)
            self.release(subscriber)

    def _drop(self, subscriber: Subscriber) -> None:
        subscriber.close(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"delivery queue of {self.queue_limit} events overflowed; gateway too slow",
        )
        self.release(subscriber)
        self.dropped_subscribers += 1

    # -- hosting ---------------------------------------------------------------------------

    def host(self, gateway_id: str, character: chat_pb2.HostedCharacter) -> bool:
        """Announce or update ``character`` on ``gateway_id``; True when it moved gateways."""
        subscriber = self._subscribers.get(gateway_id)
        if subscriber is None:
            raise ServiceError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"gateway {gateway_id!r} has no open Subscribe stream",
            )
        character_id = character.character_id
        previous = self._hosted.get(character_id)
        moved = previous is not None and previous.subscriber is not subscriber
        if previous is not None:
            self._remove(character_id)
        name_key = character.name.casefold()
        holder = self._by_name.get(name_key)
        if holder is not None:
            # Names are unique among characters, so another id holding it is a stale entry.
            self._remove(holder)
        copy = chat_pb2.HostedCharacter()
        copy.CopyFrom(character)
        hosted = _Hosted(copy, subscriber, _group_keys(copy))
        self._hosted[character_id] = hosted
        self._by_name[name_key] = character_id
        for key in hosted.keys:
            self._groups.setdefault(key, set()).add(character_id)
        subscriber.characters.add(character_id)
        return moved

    def unhost(self, gateway_id: str, character_id: int) -> bool:
        """Retract ``character_id`` if ``gateway_id`` hosts it; True when it did."""
        hosted = self._hosted.get(character_id)
        if hosted is None or hosted.subscriber.gateway_id != gateway_id:
            return False
        self._remove(character_id)
        return True

    def _remove(self, character_id: int) -> None:
        hosted = self._hosted.pop(character_id, None)
        if hosted is None:
            return
        name_key = hosted.character.name.casefold()
        if self._by_name.get(name_key) == character_id:
            del self._by_name[name_key]
        for key in hosted.keys:
            members = self._groups.get(key)
            if members is not None:
                members.discard(character_id)
                if not members:
                    del self._groups[key]
        hosted.subscriber.characters.discard(character_id)

    # -- sending ---------------------------------------------------------------------------

    def sender(self, character_id: int) -> chat_pb2.HostedCharacter:
        """The hosted sender, or NOT_FOUND."""
        hosted = self._hosted.get(character_id)
        if hosted is None:
            raise ServiceError(
                grpc.StatusCode.NOT_FOUND, f"sender character {character_id} is not hosted"
            )
        return hosted.character

    def find_by_name(self, name: str) -> chat_pb2.HostedCharacter | None:
        """The hosted character of that name (case-insensitive), if any."""
        character_id = self._by_name.get(name.casefold())
        return None if character_id is None else self._hosted[character_id].character

    def map_members(self, map_id: int) -> list[int]:
        """Character ids hosted on ``map_id``."""
        return sorted(self._groups.get(("map", map_id), ()))

    def group_members(self, kind: int, sender: chat_pb2.HostedCharacter) -> list[int]:
        """Character ids sharing the sender's party, clan or team (empty without one)."""
        group = _GROUP_OF_KIND.get(kind)
        if group is None:
            raise ServiceError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"kind {kind} is not a group chat (party, clan or allied)",
            )
        group_id = {"party": sender.party_id, "clan": sender.clan_id, "team": sender.team_id}[group]
        if not group_id:
            return []
        return sorted(self._groups.get((group, group_id), ()))

    def everyone(self) -> list[int]:
        """Every hosted character id."""
        return sorted(self._hosted)

    def deliver(
        self,
        recipients: Iterable[int],
        *,
        kind: int,
        message: str,
        sender_name: str,
        sender: chat_pb2.HostedCharacter | None = None,
    ) -> int:
        """Queue one Delivery per gateway hosting some of ``recipients``; return how many
        recipients it was queued for. A gateway whose queue is full is dropped instead."""
        by_subscriber: dict[int, tuple[Subscriber, list[int]]] = {}
        for character_id in recipients:
            hosted = self._hosted.get(character_id)
            if hosted is None:
                continue
            entry = by_subscriber.setdefault(id(hosted.subscriber), (hosted.subscriber, []))
            entry[1].append(character_id)
        reached = 0
        for subscriber, ids in by_subscriber.values():
            delivery = chat_pb2.Delivery(
                kind=kind,  # type: ignore[arg-type]
                recipient_character_ids=ids,
                sender_name=sender_name,
                message=message,
            )
            if sender is not None:
                delivery.sender_character_id = sender.character_id
                delivery.sender_object_id = sender.object_id
                delivery.sender_team_id = sender.team_id
            if subscriber.offer(chat_pb2.ChatEvent(delivery=delivery)):
                self.deliveries += 1
                reached += len(ids)
            else:
                self._drop(subscriber)
        return reached

    def kick(self, name: str, reason: str) -> chat_pb2.HostedCharacter | None:
        """Queue a Kick event for the character of that name on the stream hosting it; the
        character (as announced), or None when nobody of that name is hosted (or its gateway
        was just dropped for being too slow, which closes it anyway)."""
        character_id = self._by_name.get(name.casefold())
        if character_id is None:
            return None
        hosted = self._hosted[character_id]
        event = chat_pb2.ChatEvent(kick=chat_pb2.Kick(character_id=character_id, reason=reason))
        if not hosted.subscriber.offer(event):
            self._drop(hosted.subscriber)
            return None
        self.kicks += 1
        return hosted.character

    def stats(self) -> chat_pb2.ChatStats:
        """The service counters."""
        return chat_pb2.ChatStats(
            subscribers=len(self._subscribers),
            hosted_characters=len(self._hosted),
            deliveries=self.deliveries,
            dropped_subscribers=self.dropped_subscribers,
            replaced_subscribers=self.replaced_subscribers,
            kicks=self.kicks,
        )
