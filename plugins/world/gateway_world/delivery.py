"""Gateway side of the world service: one ``Connect`` stream, requests and their answers, and
the delivery of the events to the clients.

Strategy: :class:`WorldLink` keeps the gateway's single bidirectional stream open. Outgoing
requests go through a bounded queue (the outbox) feeding the stream; whatever is in it when the
stream can take more leaves as one ``WorldRequestBatch``. A request that needs an answer gets a
request id and a future, resolved by the matching ``ack`` or failed by ``rejected`` (or by the
stream breaking). When the outbox is full, :meth:`WorldLink.submit` (and ``amove``, ``astop``,
``asay``, ``aact``) wait up to ``outbox_wait`` seconds for room: the packet handler awaiting it
suspends, which pauses the reading of that client's socket, so the clients that cause the load
are slowed by TCP before anything is dropped; only what still finds no room is dropped and
counted (:attr:`WorldLink.dropped_requests`). The service does the same one step further: it
stops reading a gateway that does not read its events.

The service sends one ``WorldEventBatch`` per delivery tick. The link resolves the answers in
it and hands every other event of the batch (spawns, removals, movement, chat, game actions,
rejections of fire-and-forget requests), in order, to one synchronous call of the batch
callback (or, without one, to the per-event callback); an exception there is logged and
counted, never allowed to end the stream. :class:`Delivery` is that batch callback for a
gateway: each event, one packet for all its recipients, encoded once and queued to every
recipient's connection without an await in between, so that every connection is written once
per batch; packets that repeat (removals of one object, the same spawn, a game action's type)
are converted once. Reconnecting with exponential backoff is
:class:`gateway_core.streams.ReconnectingStream`'s. The link remembers where each of its
characters is, so after a reconnect (the service restarted and forgot everyone) it enters them
again, asking for their old object ids, and marks them ready again, before it reports itself
connected. The stream is a ``grpc.aio`` call, or, to the embedded service, the same handler
called in-process (:mod:`gateway_world.local`, WORLD_IN_PROCESS): this module is the same for both.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import anyio
import grpc
from gateway_protos.v1 import world_pb2
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from gateway_core.api import (
    TEXT_ENCODING,
    EquippedItem,
    Item,
    ItemHeader,
    NumberingProfile,
    Packet,
    RawFrame,
    ReconnectingStream,
    SrvDropItem,
    SrvMobChar,
    SrvMouseCmd,
    SrvNormalChat,
    SrvNpcChar,
    SrvPlayerChar,
    SrvRemoveObject,
    SrvSetPosition,
    SrvStopMoving,
)

if TYPE_CHECKING:
    from gateway_protos.v1.world_pb2_grpc import WorldAsyncStub

    from gateway_core.api import Session

log = logging.getLogger(__name__)


class WorldCall(Protocol):
    """An open ``Connect`` call: its event batches, and cancel."""

    def __aiter__(self) -> AsyncIterator[world_pb2.WorldEventBatch]: ...

    def cancel(self) -> bool: ...


class ConnectStub(Protocol):
    """What :class:`WorldLink` needs of a world stub: ``WorldStub`` on a ``grpc.aio``
    channel, or :class:`gateway_world.local.LocalWorldStub` for the service in this process."""

    def Connect(
        self, request_iterator: AsyncIterator[world_pb2.WorldRequestBatch], /
    ) -> WorldCall: ...


EventCallback = Callable[[world_pb2.WorldEvent], Awaitable[None] | None]
#: Gets the delivery events of one batch, in order; must not await (one write per connection).
BatchCallback = Callable[[Sequence[world_pb2.WorldEvent]], None]

#: Most requests sent in one stream message.
MAX_REQUEST_BATCH = 512


class WorldRequestError(Exception):
    """The world service rejected a request, or the stream was not there to carry it;
    ``reason`` is the service's short reason of a refusal (``Rejected.reason``, may be empty)."""

    def __init__(self, code: grpc.StatusCode, message: str, reason: str = "") -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.reason = reason


_STATUS_BY_NUMBER = {status.value[0]: status for status in grpc.StatusCode}


@dataclass(slots=True)
class _Presence:
    """What the link must replay to put a character back after a reconnect."""

    enter: world_pb2.EnterMap
    object_id: int = 0
    ready: bool = False


class WorldLink(ReconnectingStream):
    """Keeps a gateway connected to the world service.

    ``stub`` is a ``WorldStub`` on a ``grpc.aio`` channel (or any :class:`ConnectStub`);
    ``on_event`` receives every event for this gateway's characters, unless ``on_batch`` is
    given: then that receives the events of each batch at once. ``outbox_limit`` bounds the
    requests waiting for the stream and ``outbox_wait`` is how long :meth:`submit` waits for
    room (default ``request_timeout``).
    Start it with :meth:`start` (or run :meth:`run` in a task group) and end it with
    :meth:`aclose`; the reconnect loop is :class:`gateway_core.streams.ReconnectingStream`'s.
    """

    def __init__(
        self,
        stub: ConnectStub | WorldAsyncStub,
        gateway_id: str,
        on_event: EventCallback,
        *,
        initial_backoff: float = 0.1,
        max_backoff: float = 5.0,
        request_timeout: float = 5.0,
        outbox_limit: int = 4096,
        outbox_wait: float | None = None,
        on_batch: BatchCallback | None = None,
    ) -> None:
        super().__init__(
            label="world: stream",
            callback_label="world: event",
            task_name=f"world-link-{gateway_id}",
            logger=log,
            initial_backoff=initial_backoff,
            max_backoff=max_backoff,
        )
        self._stub = stub
        self.gateway_id = gateway_id
        self._on_event = on_event
        self._on_batch = on_batch
        self._request_timeout = request_timeout
        self._outbox_limit = outbox_limit
        self._outbox_wait = request_timeout if outbox_wait is None else outbox_wait
        self._outbox: asyncio.Queue[world_pb2.WorldRequest | None] | None = None
        self._pending: dict[int, asyncio.Future[world_pb2.Ack]] = {}
        self._ids = itertools.count(1)
        self._present: dict[int, _Presence] = {}
        self.view_radius = 0.0
        #: Fire-and-forget requests dropped (no stream, or its outbox still full after the
        #: bounded wait).
        self.dropped_requests = 0
        #: Requests that found the outbox full and waited for room.
        self.paced_requests = 0
        #: Event batches received.
        self.batches = 0

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def events(self) -> int:
        """Events handed to the callback."""
        return self.dispatched

    @property
    def outbox_size(self) -> int:
        """Requests waiting in the outbox."""
        return 0 if self._outbox is None else self._outbox.qsize()

    def stream_lost(self) -> None:
        """Close the outbox and fail the requests waiting for an answer."""
        super().stream_lost()
        outbox, self._outbox = self._outbox, None
        if outbox is not None:
            # Nothing reads it any more: empty it, which wakes the requests waiting for room
            # (they see the stream gone), and end the request iterator.
            while not outbox.empty():
                outbox.get_nowait()
            with contextlib.suppress(asyncio.QueueFull):
                outbox.put_nowait(None)
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(
                    WorldRequestError(grpc.StatusCode.UNAVAILABLE, "world stream lost")
                )

    async def stream_once(self) -> None:
        """One ``Connect`` stream: hello, then after ``welcome`` the replay of the characters;
        acks and rejections resolve their requests, every other event goes to the callback."""
        outbox: asyncio.Queue[world_pb2.WorldRequest | None] = asyncio.Queue(self._outbox_limit)
        outbox.put_nowait(world_pb2.WorldRequest(hello=world_pb2.Hello(gateway_id=self.gateway_id)))

        async def requests() -> AsyncIterator[world_pb2.WorldRequestBatch]:
            # Everything queued since the last message leaves as one message.
            while (item := await outbox.get()) is not None:
                # One turn of the loop first: the other connections' packets read in the same
                # round queue their requests too, and leave in this message, not in their own.
                await asyncio.sleep(0)
                batch = [item]
                while len(batch) < MAX_REQUEST_BATCH and not outbox.empty():
                    item = outbox.get_nowait()
                    if item is None:
                        yield world_pb2.WorldRequestBatch(requests=batch)
                        return
                    batch.append(item)
                yield world_pb2.WorldRequestBatch(requests=batch)

        call = self._stub.Connect(requests())
        async with anyio.create_task_group() as tg:
            try:
                async for batch in call:
                    self.batches += 1
                    deliveries: list[world_pb2.WorldEvent] = []
                    for event in batch.events:
                        kind = event.WhichOneof("event")
                        if kind == "welcome":
                            self.connections += 1
                            self.view_radius = event.welcome.view_radius
                            self._outbox = outbox
                            # Replay while the events keep flowing (acks resolve the replay).
                            tg.start_soon(self._replay)
                        elif kind == "ack":
                            self._answered(event.ack.request_id, event.ack, None)
                        elif kind == "rejected" and event.rejected.request_id in self._pending:
                            rejected = event.rejected
                            code = _STATUS_BY_NUMBER.get(rejected.code, grpc.StatusCode.UNKNOWN)
                            self._answered(
                                rejected.request_id,
                                None,
                                WorldRequestError(code, rejected.message, rejected.reason),
                            )
                        else:
                            deliveries.append(event)
                    if not deliveries:
                        continue
                    if self._on_batch is not None:
                        self._deliver_batch(self._on_batch, deliveries)
                    else:
                        for event in deliveries:
                            await self.dispatch(self._on_event, event)
            finally:
                tg.cancel_scope.cancel()
                call.cancel()

    def _answered(
        self, request_id: int, ack: world_pb2.Ack | None, error: WorldRequestError | None
    ) -> None:
        future = self._pending.pop(request_id, None)
        if future is None or future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(ack if ack is not None else world_pb2.Ack())

    def _deliver_batch(
        self, callback: BatchCallback, events: Sequence[world_pb2.WorldEvent]
    ) -> None:
        self.dispatched += len(events)
        try:
            callback(events)
        except Exception:
            self.callback_errors += 1
            log.exception("world: event batch callback failed")

    async def _replay(self) -> None:
        for character_id, presence in list(self._present.items()):
            enter = world_pb2.EnterMap()
            enter.CopyFrom(presence.enter)
            enter.requested_object_id = presence.object_id
            try:
                ack = await self.request(world_pb2.WorldRequest(enter=enter), _replaying=True)
                if presence.object_id and ack.object_id != presence.object_id:
                    log.warning(
                        "world: character %d came back as object %d (was %d)",
                        character_id,
                        ack.object_id,
                        presence.object_id,
                    )
                if presence.ready:
                    await self.request(
                        world_pb2.WorldRequest(ready=world_pb2.Ready(character_id=character_id)),
                        _replaying=True,
                    )
            except WorldRequestError as exc:
                log.warning("world: putting character %d back failed: %s", character_id, exc)
        self._ready.set()

    # -- requests --------------------------------------------------------------------------

    async def request(
        self, request: world_pb2.WorldRequest, *, _replaying: bool = False
    ) -> world_pb2.Ack:
        """Send ``request`` and wait for its ack; raises :class:`WorldRequestError`."""
        if not _replaying:
            await self._wait_ready_briefly()
        outbox = self._outbox
        if outbox is None:
            raise WorldRequestError(grpc.StatusCode.UNAVAILABLE, "not connected to the world")
        request_id = next(self._ids)
        request.request_id = request_id
        future: asyncio.Future[world_pb2.Ack] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        if not await self._put(outbox, request):
            self._pending.pop(request_id, None)
            if self._outbox is not outbox:
                raise WorldRequestError(grpc.StatusCode.UNAVAILABLE, "world stream lost")
            raise WorldRequestError(grpc.StatusCode.RESOURCE_EXHAUSTED, "world outbox full")
        try:
            with anyio.fail_after(self._request_timeout):
                return await future
        except TimeoutError:
            raise WorldRequestError(
                grpc.StatusCode.DEADLINE_EXCEEDED, "no answer from the world service"
            ) from None
        finally:
            self._pending.pop(request_id, None)

    async def _wait_ready_briefly(self) -> None:
        # A request during a reconnect waits for the replay rather than failing at once.
        with anyio.move_on_after(self._request_timeout):
            await self._ready.wait()

    async def _put(
        self, outbox: asyncio.Queue[world_pb2.WorldRequest | None], request: world_pb2.WorldRequest
    ) -> bool:
        """Queue ``request``, waiting up to ``outbox_wait`` for room; False when there was none
        (or the stream went away meanwhile)."""
        try:
            outbox.put_nowait(request)
            return True
        except asyncio.QueueFull:
            pass
        self.paced_requests += 1
        with anyio.move_on_after(self._outbox_wait):
            await outbox.put(request)
            # Room came from a stream that was lost (its outbox emptied): not sent.
            return self._outbox is outbox
        return False

    def send(self, request: world_pb2.WorldRequest) -> bool:
        """Send a fire-and-forget request without waiting; False (and counted) when it had to
        be dropped (no stream, or the outbox full).

        Its rejection, if any, arrives at the event callback as a ``rejected`` event.
        """
        outbox = self._outbox
        if outbox is None or not self._ready.is_set():
            self.dropped_requests += 1
            return False
        try:
            outbox.put_nowait(request)
        except asyncio.QueueFull:
            self.dropped_requests += 1
            return False
        return True

    async def submit(self, request: world_pb2.WorldRequest) -> bool:
        """Send a fire-and-forget request; when the outbox is full, wait up to ``outbox_wait``
        seconds for room (the caller, a packet handler, is suspended meanwhile, which slows
        its client). False (and counted) when it was dropped: no stream, or still no room.

        Returns without suspending whenever there is room.
        """
        outbox = self._outbox
        if outbox is None or not self._ready.is_set():
            self.dropped_requests += 1
            return False
        if await self._put(outbox, request):
            return True
        self.dropped_requests += 1
        return False

    # -- convenience for the packet handlers -------------------------------------------------

    async def enter(self, enter: world_pb2.EnterMap) -> world_pb2.Ack:
        """Put a character on a map; the ack carries its object id."""
        ack = await self.request(world_pb2.WorldRequest(enter=enter))
        copy = world_pb2.EnterMap()
        copy.CopyFrom(enter)
        self._present[enter.character_id] = _Presence(copy, ack.object_id)
        return ack

    async def ready(self, character_id: int) -> world_pb2.Ack:
        """The client loaded the map (send PAKWC_CHANGE_MAP_REPLY first: spawns follow)."""
        ack = await self.request(
            world_pb2.WorldRequest(ready=world_pb2.Ready(character_id=character_id))
        )
        presence = self._present.get(character_id)
        if presence is not None:
            presence.ready = True
        return ack

    async def teleport(
        self, character_id: int, map_id: int, position: world_pb2.Position
    ) -> world_pb2.Ack:
        """Jump to a point (another map: new object id, ``ready`` again afterwards)."""
        ack = await self.request(
            world_pb2.WorldRequest(
                teleport=world_pb2.Teleport(
                    character_id=character_id, map_id=map_id, position=position
                )
            )
        )
        presence = self._present.get(character_id)
        if presence is not None:
            presence.enter.map_id = ack.map_id
            presence.enter.position.CopyFrom(ack.position)
            if presence.object_id != ack.object_id:
                presence.ready = False
            presence.object_id = ack.object_id
        return ack

    async def use_gate(self, character_id: int, gate_id: int) -> world_pb2.Ack:
        """Take a warp gate (PAKCS_TELEPORT_REQ); the ack says where the character landed (it
        reloads the map: ``ready`` again afterwards). A refusal raises
        :class:`WorldRequestError` with the service's reason in :attr:`WorldRequestError.reason`.
        """
        ack = await self.request(
            world_pb2.WorldRequest(
                gate=world_pb2.UseGate(character_id=character_id, gate_id=gate_id)
            )
        )
        self._landed(character_id, ack)
        return ack

    async def teleport_to(
        self, character_id: int, map_id: int, position: world_pb2.Position
    ) -> world_pb2.Ack:
        """Jump to a point of any map, reloading it (the client was sent
        PAKWC_TELEPORT_REPLY): ``ready`` again afterwards."""
        ack = await self.request(
            world_pb2.WorldRequest(
                teleport=world_pb2.Teleport(
                    character_id=character_id, map_id=map_id, position=position, reload=True
                )
            )
        )
        self._landed(character_id, ack)
        return ack

    async def revive(self, character_id: int, revive_type: int) -> world_pb2.Ack:
        """Bring a dead character back (PAKCS_REVIVE_REQ): the ack says where; it reloads the
        map (``ready`` again afterwards). A living one is refused (reason ``alive``)."""
        ack = await self.request(
            world_pb2.WorldRequest(
                revive=world_pb2.Revive(character_id=character_id, revive_type=revive_type)
            )
        )
        self._landed(character_id, ack)
        return ack

    async def adjust(self, character_id: int, *, level: int = 0, heal: bool = False
                     ) -> world_pb2.Ack:
        """A GM's change of the character's level and/or vitals (the progress comes first)."""
        return await self.request(
            world_pb2.WorldRequest(
                adjust=world_pb2.Adjust(character_id=character_id, level=level, heal=heal)
            )
        )

    def progressed(self, character_id: int, combatant: world_pb2.Combatant) -> None:
        """Keep the character's latest growth and vitals for a replay after a reconnect (the
        service must not put it back with what it had at the first enter)."""
        presence = self._present.get(character_id)
        if presence is not None:
            presence.enter.combatant.CopyFrom(combatant)

    def _landed(self, character_id: int, ack: world_pb2.Ack) -> None:
        if ack.elsewhere:
            return  # another shard's map: the character stays here until it is handed over
        presence = self._present.get(character_id)
        if presence is not None:
            presence.enter.map_id = ack.map_id
            presence.enter.position.CopyFrom(ack.position)
            presence.ready = False
            presence.object_id = ack.object_id

    async def remove_monster(self, channel_id: int, map_id: int, object_id: int) -> None:
        """Remove (kill) a monster; it respawns after its spawn's respawn time."""
        await self.request(
            world_pb2.WorldRequest(
                remove_monster=world_pb2.RemoveMonster(
                    channel_id=channel_id, map_id=map_id, object_id=object_id
                )
            )
        )

    async def leave(self, character_id: int) -> None:
        """Take a character off its map; forgotten locally even if the service is away."""
        if self._present.pop(character_id, None) is None:
            return
        with contextlib.suppress(WorldRequestError):
            await self.request(
                world_pb2.WorldRequest(leave=world_pb2.LeaveMap(character_id=character_id))
            )

    def _move_request(
        self, character_id: int, target_object_id: int, destination: world_pb2.Position
    ) -> world_pb2.WorldRequest:
        presence = self._present.get(character_id)
        if presence is not None:
            presence.enter.position.CopyFrom(destination)
        # Filled in place: a nested constructor copies each sub-message once more (2-3x the
        # cost, on the path of every move).
        request = world_pb2.WorldRequest()
        move = request.move
        move.character_id = character_id
        move.target_object_id = target_object_id
        move.destination.CopyFrom(destination)
        return request

    def _stop_request(
        self, character_id: int, position: world_pb2.Position
    ) -> world_pb2.WorldRequest:
        presence = self._present.get(character_id)
        if presence is not None:
            presence.enter.position.CopyFrom(position)
        request = world_pb2.WorldRequest()
        stop = request.stop
        stop.character_id = character_id
        stop.position.CopyFrom(position)
        return request

    @staticmethod
    def _chat_request(character_id: int, message: str) -> world_pb2.WorldRequest:
        request = world_pb2.WorldRequest()
        chat = request.chat
        chat.character_id = character_id
        chat.message = message
        return request

    @staticmethod
    def _action_request(
        character_id: int, packet_name: str, payload: bytes
    ) -> world_pb2.WorldRequest:
        return world_pb2.WorldRequest(
            action=world_pb2.GameAction(
                character_id=character_id, packet_name=packet_name, payload=payload
            )
        )

    def move(
        self, character_id: int, target_object_id: int, destination: world_pb2.Position
    ) -> bool:
        """PAKCS_MOUSE_CMD (fire and forget, dropped at once when the outbox is full)."""
        return self.send(self._move_request(character_id, target_object_id, destination))

    def stop(self, character_id: int, position: world_pb2.Position) -> bool:
        """PAKCS_STOP_MOVING (fire and forget, dropped at once when the outbox is full)."""
        return self.send(self._stop_request(character_id, position))

    def say(self, character_id: int, message: str) -> bool:
        """PAKCS_NORMAL_CHAT (fire and forget, dropped at once when the outbox is full)."""
        return self.send(self._chat_request(character_id, message))

    def act(self, character_id: int, packet_name: str, payload: bytes) -> bool:
        """Route a game packet to the world (fire and forget, dropped at once when the outbox
        is full)."""
        return self.send(self._action_request(character_id, packet_name, payload))

    async def amove(
        self, character_id: int, target_object_id: int, destination: world_pb2.Position
    ) -> bool:
        """PAKCS_MOUSE_CMD; waits (bounded) for room in a full outbox (:meth:`submit`)."""
        return await self.submit(self._move_request(character_id, target_object_id, destination))

    async def astop(self, character_id: int, position: world_pb2.Position) -> bool:
        """PAKCS_STOP_MOVING; waits (bounded) for room in a full outbox (:meth:`submit`)."""
        return await self.submit(self._stop_request(character_id, position))

    async def asay(self, character_id: int, message: str) -> bool:
        """PAKCS_NORMAL_CHAT; waits (bounded) for room in a full outbox (:meth:`submit`)."""
        return await self.submit(self._chat_request(character_id, message))

    async def aact(self, character_id: int, packet_name: str, payload: bytes) -> bool:
        """A routed game packet; waits (bounded) for room in a full outbox (:meth:`submit`)."""
        return await self.submit(self._action_request(character_id, packet_name, payload))


def _spawn_packet(spawn: world_pb2.PlayerSpawn) -> SrvPlayerChar:
    look = spawn.look
    equipment = [*look.equipment, *([0] * (8 - len(look.equipment)))][:8]
    bullets = [*look.bullets, *([0] * (3 - len(look.bullets)))][:3]
    riding = [*look.riding_items, *([0] * (5 - len(look.riding_items)))][:5]
    return SrvPlayerChar(
        id=spawn.object_id,
        x=spawn.position.x,
        y=spawn.position.y,
        dest_x=spawn.destination.x,
        dest_y=spawn.destination.y,
        command=COMMAND_MOVE if spawn.moving else COMMAND_STOP,
        target_id=spawn.target_object_id,
        move_mode=look.move_mode,
        hp=look.hp,
        team_id=look.team_id,
        status_flag=look.status_flag,
        race=look.race,
        run_speed=look.run_speed,
        atk_speed=look.atk_speed,
        weight_rate=look.weight_rate,
        face=look.face,
        hair=look.hair,
        inventory=tuple(EquippedItem(data=value) for value in equipment),
        bullets=tuple(ItemHeader(header=value) for value in bullets),
        job=look.job,
        level=look.level,
        riding_items=tuple(EquippedItem(data=value) for value in riding),
        # The spawn's height is signed on the wire; the client sends it unsigned.
        z=spawn.position.z - 0x10000 if spawn.position.z > 0x7FFF else spawn.position.z,
        sub_flag=look.sub_flag,
        name=spawn.name.encode(TEXT_ENCODING, "replace"),
        other_name=look.other_name.encode(TEXT_ENCODING, "replace"),
    )


#: PAKWC_PLAYER_CHAR ``command`` values: standing, walking.
COMMAND_STOP = 0
COMMAND_MOVE = 1
#: Team id of NPCs and monsters (the world does not model sides yet; docs/protocol.md §10.11).
CONTENT_TEAM = 0


def _signed_z(z: int) -> int:
    # Heights are signed on the wire in the server's packets; the client sends them unsigned.
    return z - 0x10000 if z > 0x7FFF else z


def _npc_packet(npc: world_pb2.NpcSpawn) -> SrvNpcChar:
    return SrvNpcChar(
        id=npc.object_id,
        x=npc.position.x,
        y=npc.position.y,
        dest_x=npc.position.x,
        dest_y=npc.position.y,
        command=COMMAND_STOP,
        target_id=0,
        move_mode=0,
        hp=npc.hp,
        team_id=CONTENT_TEAM,
        status_flag=0,
        npc_id=npc.npc_type,
        quest_id=0,
        angle=npc.direction,
        event_status=0,
    )


def _monster_packet(monster: world_pb2.MonsterSpawn) -> SrvMobChar:
    return SrvMobChar(
        id=monster.object_id,
        x=monster.position.x,
        y=monster.position.y,
        dest_x=monster.destination.x,
        dest_y=monster.destination.y,
        command=COMMAND_MOVE if monster.moving else COMMAND_STOP,
        target_id=monster.target_object_id,
        move_mode=0,
        hp=monster.hp,
        team_id=CONTENT_TEAM,
        status_flag=0,
        npc_id=monster.monster_type,
        quest_id=0,
    )


def _ground_item_packet(ground: world_pb2.GroundItem) -> SrvDropItem:
    # Zuly (type 31) and other stackables carry their count in the data word; equipment
    # lies on the ground as a fresh item.
    if ground.item_type in STACKED_GROUND_TYPES:
        item = Item.stack(ground.item_type, ground.item_number & 0x3FF, ground.count)
    else:
        item = Item.equipment(ground.item_type, ground.item_number & 0x3FF)
    return SrvDropItem(
        x=ground.position.x,
        y=ground.position.y,
        item=item,
        id=ground.object_id,
        owner_id=ground.owner_object_id,
        time_to_live=min(ground.seconds_left, 0xFFFF),
    )


#: Item types whose data word is a count on the ground: consumables, gems, materials, quest
#: items, and zuly (31).
STACKED_GROUND_TYPES = frozenset({10, 11, 12, 13, 31})


def event_packet(
    event: world_pb2.WorldEvent, profile: NumberingProfile
) -> Packet | RawFrame | None:
    """The packet a delivery event becomes; None for the gateway's own events (welcome, ack,
    rejected). A game action whose packet name the numbering ``profile`` does not know raises
    ``KeyError``."""
    kind = event.WhichOneof("event")
    if kind == "spawn":
        return _spawn_packet(event.spawn)
    if kind == "npc_spawn":
        return _npc_packet(event.npc_spawn)
    if kind == "monster_spawn":
        return _monster_packet(event.monster_spawn)
    if kind == "placed":
        placed = event.placed
        if not placed.corrected:
            return None  # only the gateway's own record
        return SrvSetPosition(
            char_id=placed.object_id,
            x=placed.position.x,
            y=placed.position.y,
            z=_signed_z(placed.position.z),
        )
    if kind == "ground_item":
        return _ground_item_packet(event.ground_item)
    if kind == "removed":
        return SrvRemoveObject(id=event.removed.object_id)
    if kind == "moved":
        moved = event.moved
        return SrvMouseCmd(
            id=moved.object_id,
            target_id=moved.target_object_id,
            distance=moved.distance,
            x=moved.destination.x,
            y=moved.destination.y,
            z=moved.destination.z,
        )
    if kind == "stopped":
        stopped = event.stopped
        z = stopped.position.z
        return SrvStopMoving(
            char_id=stopped.object_id,
            x=stopped.position.x,
            y=stopped.position.y,
            z=z - 0x10000 if z > 0x7FFF else z,
        )
    if kind == "said":
        return SrvNormalChat(
            char_id=event.said.object_id,
            message=event.said.message.encode(TEXT_ENCODING, "replace"),
        )
    if kind == "action":
        info = profile.by_name(event.action.packet_name)
        return RawFrame(info.value, info.name, bytes(event.action.payload))
    return None


#: Finds the session of a character hosted by this gateway.
SessionLookup = Callable[[int], "Session | None"]
#: Encodes a packet once and queues it to every session (``ConnectionRegistry.broadcast``).
Broadcast = Callable[[Iterable["Session"], "Packet | RawFrame"], int]
#: Told of the service's position of a recipient's own character (``placed`` events).
PlacedCallback = Callable[["Session", world_pb2.Placed], None]
#: Told of the rejection of a fire-and-forget request.
RejectedCallback = Callable[[world_pb2.Rejected], None]
#: Told of a recipient's own character's growth and vitals (``progress`` events).
ProgressCallback = Callable[["Session", world_pb2.Progress], None]
#: Told that the world moved a recipient's own character (``teleported`` events).
TeleportedCallback = Callable[["Session", world_pb2.Ack], None]


class Delivery:
    """Turns the world's delivery events into packets for this gateway's clients.

    ``lookup`` finds the session of a recipient character (None: not here any more),
    ``broadcast`` encodes a packet once and queues the bytes to every given session
    (:meth:`gateway_core.session.ConnectionRegistry.broadcast`), ``profile`` numbers the game
    actions' packets. :meth:`deliver_batch` is the :class:`WorldLink`'s batch callback: it runs
    through a batch without awaiting, so each connection's packets of the batch are written
    together (the server flushes a connection once, after the batch). Spawns and removals
    repeat (the same object shown to, or removed from, several characters in one tick); their
    conversion is kept, payload encoded, for up to ``cache_size`` distinct packets each.
    A bad event (a game action the profile does not know) is logged and counted in
    :attr:`failed`; the rest of the batch goes on. ``on_placed`` is told of each ``placed``
    event (the service's position of a recipient's own character) before its packet, if any
    (a correction), is sent; ``on_rejected`` of each rejected fire-and-forget request.
    """

    def __init__(
        self,
        lookup: SessionLookup,
        broadcast: Broadcast,
        profile: NumberingProfile,
        *,
        cache_size: int = 4096,
        on_placed: PlacedCallback | None = None,
        on_rejected: RejectedCallback | None = None,
        on_progress: ProgressCallback | None = None,
        on_teleported: TeleportedCallback | None = None,
    ) -> None:
        self._lookup = lookup
        self._on_progress = on_progress
        self._on_teleported = on_teleported
        self._broadcast = broadcast
        self._profile = profile
        self._on_placed = on_placed
        self._on_rejected = on_rejected
        self._cache_size = cache_size
        self._removals: dict[int, RawFrame] = {}
        self._spawns: dict[bytes, RawFrame] = {}
        self._types: dict[str, tuple[int, str]] = {}
        #: Delivery events handled (rejections included).
        self.events = 0
        #: Packets queued to clients (one per recipient).
        self.packets = 0
        #: Packets built from events (conversions not served from the cache).
        self.converted = 0
        #: Rejections of fire-and-forget requests (logged).
        self.rejected = 0
        #: Events that could not become a packet.
        self.failed = 0

    def deliver_batch(self, events: Sequence[world_pb2.WorldEvent]) -> None:
        """Deliver every event of a batch, in order, without awaiting."""
        deliver = self.deliver
        for event in events:
            deliver(event)

    def deliver(self, event: world_pb2.WorldEvent) -> None:
        """Send an event's packet to the recipients it lists that are still here (encoded
        once); log a rejection."""
        self.events += 1
        kind = event.WhichOneof("event")
        if kind == "rejected":
            self.rejected += 1
            log.info("world: request rejected: %s", event.rejected.message)
            if self._on_rejected is not None:
                self._on_rejected(event.rejected)
            return
        lookup = self._lookup
        sessions = [s for cid in event.recipient_character_ids if (s := lookup(cid)) is not None]
        if not sessions:
            return
        if kind == "progress":
            if self._on_progress is not None:
                for session in sessions:
                    self._on_progress(session, event.progress)
            return
        if kind == "teleported":
            if self._on_teleported is not None:
                for session in sessions:
                    self._on_teleported(session, event.teleported)
            return
        if kind == "placed":
            if self._on_placed is not None:
                for session in sessions:
                    self._on_placed(session, event.placed)
            if not event.placed.corrected:
                return
        # Backend data: an event that cannot become a packet, or whose packet cannot be
        # encoded (too large for the wire), is counted and skipped, and the batch goes on.
        try:
            packet = self.packet(event, kind)
            if packet is not None:
                self.packets += self._broadcast(sessions, packet)
        except Exception:
            self.failed += 1
            log.exception("world: event %s could not become a packet", kind)

    def packet(
        self, event: world_pb2.WorldEvent, kind: str | None = None
    ) -> Packet | RawFrame | None:
        """The packet of ``event`` (:func:`event_packet`), from the cache where it repeats."""
        if kind is None:
            kind = event.WhichOneof("event")
        if kind == "removed":
            object_id = event.removed.object_id
            frame = self._removals.get(object_id)
            if frame is None:
                frame = self._removals[object_id] = self._frame(SrvRemoveObject(id=object_id))
            return frame
        if kind in ("spawn", "npc_spawn", "monster_spawn", "ground_item"):
            body = getattr(event, kind)
            key = kind.encode() + body.SerializeToString()
            frame = self._spawns.get(key)
            if frame is None:
                if len(self._spawns) >= self._cache_size:
                    self._spawns.clear()
                built = event_packet(event, self._profile)
                assert isinstance(built, Packet)
                frame = self._spawns[key] = self._frame(built)
            return frame
        if kind == "action":
            name = event.action.packet_name
            numbered = self._types.get(name)
            if numbered is None:
                info = self._profile.by_name(name)
                if len(self._types) >= self._cache_size:
                    self._types.clear()
                numbered = self._types[name] = (info.value, info.name)
            self.converted += 1
            return RawFrame(numbered[0], numbered[1], bytes(event.action.payload))
        packet = event_packet(event, self._profile)
        if packet is not None:
            self.converted += 1
        return packet

    def _frame(self, packet: Packet) -> RawFrame:
        """``packet`` with its payload encoded once (broadcasting it only adds the header)."""
        self.converted += 1
        info = self._profile.by_name(packet.NAME)
        return RawFrame(info.value, info.name, packet.encode_payload())


class WorldMetrics:
    """The world link's and the delivery's counters as Prometheus metrics (a collector for
    the gateway's registry): ``gateway_world_event_batches_total``,
    ``gateway_world_events_total``, ``gateway_world_packets_total``,
    ``gateway_world_paced_requests_total``, ``gateway_world_dropped_requests_total`` and the
    gauge ``gateway_world_outbox_requests``."""

    def __init__(self, link: WorldLink, delivery: Delivery) -> None:
        self._link = link
        self._delivery = delivery

    def describe(self) -> list[Metric]:
        """Nothing to describe ahead (no registry-time collection)."""
        return []

    def collect(self) -> list[Metric]:
        """The current values."""
        link, delivery = self._link, self._delivery
        counters = (
            (
                "gateway_world_event_batches",
                "Event batches received from the world service.",
                link.batches,
            ),
            ("gateway_world_events", "World events delivered to this gateway.", delivery.events),
            (
                "gateway_world_packets",
                "Packets queued to clients from world events.",
                delivery.packets,
            ),
            (
                "gateway_world_paced_requests",
                "World requests that found the outbox full and waited for room (their client "
                "was slowed).",
                link.paced_requests,
            ),
            (
                "gateway_world_dropped_requests",
                "Fire-and-forget world requests dropped: no stream, or no room after the wait.",
                link.dropped_requests,
            ),
        )
        metrics: list[Metric] = [
            CounterMetricFamily(name, doc, value=value) for name, doc, value in counters
        ]
        metrics.append(
            GaugeMetricFamily(
                "gateway_world_outbox_requests",
                "World requests waiting in the outbox for the stream.",
                value=link.outbox_size,
            )
        )
        return metrics
