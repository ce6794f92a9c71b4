"""The gateways watching account events (``WatchAccounts``): who gets told of a ban.

Strategy: like the chat service's delivery streams, each gateway has one bounded queue
(:class:`gateway_core.api.GatewayStream`); an event is ``put_nowait`` on every open stream, and
a stream whose queue is full is ended (RESOURCE_EXHAUSTED) instead of delaying the others: its
gateway reconnects, and its touches still find ended sessions. Everything runs on the
service's event loop, so no lock is needed.
"""

from __future__ import annotations

import asyncio
import time

import grpc
from gateway_protos.v1 import auth_pb2

from gateway_core.api import GatewayStream

#: Events queued per gateway before its stream is dropped.
DEFAULT_WATCH_QUEUE = 256
#: Gateways whose stream ended that are remembered (the oldest are forgotten first).
MAX_ENDED = 10_000

#: One open ``WatchAccounts`` stream of a gateway.
Watcher = GatewayStream[auth_pb2.AccountEvent]


class AccountWatchers:
    """The open ``WatchAccounts`` streams, by gateway id."""

    def __init__(self, queue_limit: int = DEFAULT_WATCH_QUEUE) -> None:
        self.queue_limit = queue_limit
        self._watchers: dict[str, Watcher] = {}
        #: When each gateway id's stream ended (it has none open now), service monotonic time.
        self._ended: dict[str, float] = {}
        #: Ban events queued (one per gateway per ban).
        self.pushed = 0
        #: Streams ended because their queue overflowed.
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._watchers)

    def watch(self, gateway_id: str) -> Watcher:
        """A new stream for ``gateway_id`` (ending an older one), ``watching`` queued first."""
        old = self._watchers.get(gateway_id)
        if old is not None:
            old.close(grpc.StatusCode.ABORTED, f"gateway {gateway_id!r} watches again")
        watcher = Watcher(gateway_id, asyncio.Queue(self.queue_limit + 1))
        self._watchers[gateway_id] = watcher
        self._ended.pop(gateway_id, None)
        watcher.queue.put_nowait(auth_pb2.AccountEvent(
            watching=auth_pb2.AccountWatching(gateway_id=gateway_id)))
        return watcher

    def release(self, watcher: Watcher) -> None:
        """The stream is gone."""
        if self._watchers.get(watcher.gateway_id) is watcher:
            del self._watchers[watcher.gateway_id]
            self._ended[watcher.gateway_id] = time.monotonic()
            while len(self._ended) > MAX_ENDED:
                del self._ended[next(iter(self._ended))]

    def gone(self, gateway_id: str, grace: float) -> bool:
        """Whether ``gateway_id`` is known to be gone: its stream to this process ended more
        than ``grace`` seconds ago and it has not come back. A gateway never seen here (it
        watches another process of the service, or this one just started) is not gone."""
        ended = self._ended.get(gateway_id)
        return (gateway_id not in self._watchers and ended is not None
                and time.monotonic() - ended > grace)

    def banned(self, user_id: int, username: str) -> int:
        """Tell every watching gateway that ``user_id`` was banned; how many were told."""
        event = auth_pb2.AccountEvent(
            banned=auth_pb2.AccountBanned(user_id=user_id, username=username))
        told = 0
        for watcher in list(self._watchers.values()):
            if watcher.offer(event):
                told += 1
            else:
                watcher.close(grpc.StatusCode.RESOURCE_EXHAUSTED,
                              f"account event queue of {self.queue_limit} overflowed")
                self.release(watcher)
                self.dropped += 1
        self.pushed += told
        return told

    def close_all(self, code: grpc.StatusCode, details: str) -> None:
        """End every stream (service shutdown)."""
        for watcher in list(self._watchers.values()):
            watcher.close(code, details)
            self.release(watcher)
        self._ended.clear()  # the service is stopping
