"""Gateway side of the world service: one ``Connect`` stream, requests and their answers.

Strategy: :class:`WorldLink` keeps the gateway's single bidirectional stream open. Outgoing
requests go through a bounded queue feeding the stream; a request that needs an answer gets a
request id and a future, resolved by the matching ``ack`` or failed by ``rejected`` (or by the
stream breaking). Every other event (spawns, removals, movement, chat, game actions, rejections
of fire-and-forget requests) goes to a callback; an exception there is logged and counted, never
allowed to end the stream. That, and reconnecting with exponential backoff, are
:class:`gateway_core.streams.ReconnectingStream`'s. The link remembers where each of its
characters is, so after a reconnect (the service restarted and forgot everyone) it enters them
again, asking for their old object ids, and marks them ready again, before it reports itself
connected.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
import grpc
from gateway_protos.v1 import world_pb2

from gateway_core.protocol.connection import RawFrame
from gateway_core.protocol.numbering import NumberingProfile
from gateway_core.protocol.packets import (
    TEXT_ENCODING,
    EquippedItem,
    ItemHeader,
    Packet,
    SrvMouseCmd,
    SrvNormalChat,
    SrvPlayerChar,
    SrvRemoveObject,
    SrvStopMoving,
)
from gateway_core.streams import ReconnectingStream

if TYPE_CHECKING:
    from gateway_protos.v1.world_pb2_grpc import WorldAsyncStub

log = logging.getLogger(__name__)

EventCallback = Callable[[world_pb2.WorldEvent], Awaitable[None] | None]


class WorldRequestError(Exception):
    """The world service rejected a request, or the stream was not there to carry it."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message


_STATUS_BY_NUMBER = {status.value[0]: status for status in grpc.StatusCode}


@dataclass(slots=True)
class _Presence:
    """What the link must replay to put a character back after a reconnect."""

    enter: world_pb2.EnterMap
    object_id: int = 0
    ready: bool = False


class WorldLink(ReconnectingStream):
    """Keeps a gateway connected to the world service.

    ``stub`` is a ``WorldStub`` on a ``grpc.aio`` channel; ``on_event`` receives every event
    for this gateway's characters. Start it with :meth:`start` (or run :meth:`run` in a task
    group) and end it with :meth:`aclose`; the reconnect loop is
    :class:`gateway_core.streams.ReconnectingStream`'s.
    """

    def __init__(
        self,
        stub: WorldAsyncStub,
        gateway_id: str,
        on_event: EventCallback,
        *,
        initial_backoff: float = 0.1,
        max_backoff: float = 5.0,
        request_timeout: float = 5.0,
        outbox_limit: int = 4096,
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
        self._request_timeout = request_timeout
        self._outbox_limit = outbox_limit
        self._outbox: asyncio.Queue[world_pb2.WorldRequest | None] | None = None
        self._pending: dict[int, asyncio.Future[world_pb2.Ack]] = {}
        self._ids = itertools.count(1)
        self._present: dict[int, _Presence] = {}
        self.view_radius = 0.0
        #: Fire-and-forget requests dropped (no stream, or its outbox full).
        self.dropped_requests = 0

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def events(self) -> int:
        """Events handed to the callback."""
        return self.dispatched

    def stream_lost(self) -> None:
        """Close the outbox and fail the requests waiting for an answer."""
        super().stream_lost()
        if self._outbox is not None:
            with contextlib.suppress(asyncio.QueueFull):
                self._outbox.put_nowait(None)
        self._outbox = None
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

        async def requests() -> AsyncIterator[world_pb2.WorldRequest]:
            while (item := await outbox.get()) is not None:
                yield item

        call = self._stub.Connect(requests())
        async with anyio.create_task_group() as tg:
            try:
                async for event in call:
                    kind = event.WhichOneof("event")
                    if kind == "welcome":
                        self.connections += 1
                        self.view_radius = event.welcome.view_radius
                        self._outbox = outbox
                        # Replay while the events keep flowing (acks resolve the replay).
                        tg.start_soon(self._replay)
                    elif kind == "ack" and event.ack.request_id in self._pending:
                        future = self._pending.pop(event.ack.request_id)
                        if not future.done():
                            future.set_result(event.ack)
                    elif kind == "rejected" and event.rejected.request_id in self._pending:
                        future = self._pending.pop(event.rejected.request_id)
                        code = _STATUS_BY_NUMBER.get(event.rejected.code, grpc.StatusCode.UNKNOWN)
                        if not future.done():
                            future.set_exception(WorldRequestError(code, event.rejected.message))
                    else:
                        await self.dispatch(self._on_event, event)
            finally:
                tg.cancel_scope.cancel()
                call.cancel()

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
        try:
            outbox.put_nowait(request)
        except asyncio.QueueFull:
            self._pending.pop(request_id, None)
            raise WorldRequestError(
                grpc.StatusCode.RESOURCE_EXHAUSTED, "world outbox full"
            ) from None
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

    def send(self, request: world_pb2.WorldRequest) -> bool:
        """Send a fire-and-forget request; False (and counted) when it had to be dropped.

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

    async def leave(self, character_id: int) -> None:
        """Take a character off its map; forgotten locally even if the service is away."""
        if self._present.pop(character_id, None) is None:
            return
        with contextlib.suppress(WorldRequestError):
            await self.request(
                world_pb2.WorldRequest(leave=world_pb2.LeaveMap(character_id=character_id))
            )

    def move(
        self, character_id: int, target_object_id: int, destination: world_pb2.Position
    ) -> bool:
        """PAKCS_MOUSE_CMD (fire and forget)."""
        presence = self._present.get(character_id)
        if presence is not None:
            presence.enter.position.CopyFrom(destination)
        return self.send(
            world_pb2.WorldRequest(
                move=world_pb2.MoveTo(
                    character_id=character_id,
                    target_object_id=target_object_id,
                    destination=destination,
                )
            )
        )

    def stop(self, character_id: int, position: world_pb2.Position) -> bool:
        """PAKCS_STOP_MOVING (fire and forget)."""
        presence = self._present.get(character_id)
        if presence is not None:
            presence.enter.position.CopyFrom(position)
        return self.send(
            world_pb2.WorldRequest(
                stop=world_pb2.StopMoving(character_id=character_id, position=position)
            )
        )

    def say(self, character_id: int, message: str) -> bool:
        """PAKCS_NORMAL_CHAT (fire and forget)."""
        return self.send(
            world_pb2.WorldRequest(
                chat=world_pb2.NormalChat(character_id=character_id, message=message)
            )
        )

    def act(self, character_id: int, packet_name: str, payload: bytes) -> bool:
        """Route a game packet to the world (fire and forget)."""
        return self.send(
            world_pb2.WorldRequest(
                action=world_pb2.GameAction(
                    character_id=character_id, packet_name=packet_name, payload=payload
                )
            )
        )


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


def event_packet(
    event: world_pb2.WorldEvent, profile: NumberingProfile
) -> Packet | RawFrame | None:
    """The packet a delivery event becomes; None for the gateway's own events (welcome, ack,
    rejected). A game action whose packet name the numbering ``profile`` does not know raises
    ``KeyError``."""
    kind = event.WhichOneof("event")
    if kind == "spawn":
        return _spawn_packet(event.spawn)
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
