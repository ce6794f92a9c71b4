"""Batched character saves: the saves pending at one moment reach the service in one
``SaveCharacters`` call, so that thousands of players leaving at a shutdown fit in its deadline.

Strategy: :meth:`SaveBatcher.save` queues a state and waits for its own outcome. A flusher
task collects what is queued during :data:`SAVE_WINDOW` seconds (or up to
:data:`SAVE_BATCH` states), sends it, and goes on while more is queued, with at most
:data:`SAVE_CALLS` calls in flight: while they run, later saves pile up into the next batch,
so a burst of N saves costs about N / SAVE_BATCH calls, and a lone save waits SAVE_WINDOW.
Each entry's outcome is its own: a refused or failed entry raises :class:`SaveRefused` in
its caller only. A service without SaveCharacters (UNIMPLEMENTED, an older deployment) gets
one SaveCharacter per state instead.

Ordering is the caller's: a character's saves hold its connection's lock while they wait
here (:func:`gateway_character.handlers.store`), so one batch never carries two saves of one
character from this gateway, and a later save is queued only after the earlier one's outcome.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Final

import grpc
from gateway_protos.v1 import character_pb2

log = logging.getLogger("gateway.character")

#: Seconds a save waits for others to share its call.
SAVE_WINDOW: Final = 0.005
#: Most states in one SaveCharacters call (the service takes up to 1000).
SAVE_BATCH: Final = 500
#: Most SaveCharacters calls in flight at once.
SAVE_CALLS: Final = 4


class SaveRefused(Exception):
    """The service did not store one entry of a batch: ``code`` and ``details`` are what
    SaveCharacter would have answered."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name} {details}")
        self.code = code
        self.details = details


_CODES: Final = {code.value[0]: code for code in grpc.StatusCode}


@dataclass(slots=True)
class _Entry:
    state: character_pb2.CharacterState
    done: asyncio.Future[None]


@dataclass(slots=True)
class _Queue:
    """The entries waiting for a call to one stub."""

    stub: Any
    entries: list[_Entry] = field(default_factory=list)


class SaveBatcher:
    """Coalesces the saves pending at once into ``SaveCharacters`` calls (see the module)."""

    def __init__(self, *, window: float = SAVE_WINDOW, batch: int = SAVE_BATCH,
                 calls: int = SAVE_CALLS) -> None:
        self.window = window
        self.batch = batch
        self._calls = asyncio.Semaphore(calls)
        self._queues: dict[int, _Queue] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        #: SaveCharacters calls made (for the tests and the log).
        self.calls_made = 0

    @property
    def pending(self) -> int:
        """States queued and not sent yet."""
        return sum(len(queue.entries) for queue in self._queues.values())

    async def save(self, stub: Any, state: character_pb2.CharacterState) -> None:
        """Store ``state`` through ``stub`` in the next batch; raises :class:`SaveRefused` for
        an entry the service refused, or the call's error. Cancelled before its batch is sent,
        the state is not sent at all."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._queues.get(id(stub))
        if queue is None:
            queue = self._queues[id(stub)] = _Queue(stub)
        queue.entries.append(_Entry(state, done))
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(
                self._flush(), name="character save batches")
        await done

    async def _flush(self) -> None:
        try:
            while self._queues:
                if self.pending < self.batch:
                    await asyncio.sleep(self.window)
                await self._calls.acquire()
                key, queue = next(iter(self._queues.items()))
                entries = [e for e in queue.entries[:self.batch] if not e.done.done()]
                del queue.entries[:self.batch]
                if not queue.entries:
                    del self._queues[key]
                if not entries:
                    self._calls.release()
                    continue
                task = asyncio.get_running_loop().create_task(self._call(queue.stub, entries))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
        finally:
            self._flusher = None

    async def _call(self, stub: Any, entries: list[_Entry]) -> None:
        try:
            self.calls_made += 1
            states = [entry.state for entry in entries]
            try:
                reply = await stub.SaveCharacters(
                    character_pb2.SaveCharactersRequest(states=states))
            except grpc.aio.AioRpcError as exc:
                if exc.code() is not grpc.StatusCode.UNIMPLEMENTED:
                    raise
                await asyncio.gather(*(self._one(stub, entry) for entry in entries))
                return
            for entry, outcome in zip(entries, reply.outcomes, strict=False):
                if entry.done.done():
                    continue
                if outcome.code == 0:
                    entry.done.set_result(None)
                else:
                    code = _CODES.get(outcome.code, grpc.StatusCode.UNKNOWN)
                    entry.done.set_exception(SaveRefused(code, outcome.message))
            for entry in entries[len(reply.outcomes):]:  # a reply short of outcomes
                if not entry.done.done():
                    entry.done.set_exception(SaveRefused(grpc.StatusCode.INTERNAL,
                                                         "no outcome in the reply"))
        except BaseException as exc:
            for entry in entries:
                if not entry.done.done():
                    entry.done.set_exception(exc if isinstance(exc, Exception)
                                             else asyncio.CancelledError())
            if not isinstance(exc, Exception):
                raise
        finally:
            self._calls.release()

    @staticmethod
    async def _one(stub: Any, entry: _Entry) -> None:
        try:
            await stub.SaveCharacter(character_pb2.SaveCharacterRequest(state=entry.state))
        except Exception as exc:
            if not entry.done.done():
                entry.done.set_exception(exc)
        else:
            if not entry.done.done():
                entry.done.set_result(None)

    async def aclose(self) -> None:
        """Wait for the calls in flight (the runtime's stop; its saves were awaited first)."""
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)
