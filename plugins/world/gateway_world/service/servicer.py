"""The reference world service: a grpc.aio servicer over the in-memory :class:`WorldState`.

Strategy: ``Connect`` runs two halves per gateway. A reader task takes the gateway's request
batches in order and applies each request to the state at once (synchronously, so nothing
interleaves inside one request); a batch that produced answers is flushed to the gateway right
after it, everything else waits for the delivery tick (:meth:`WorldState.flush`). Before each
batch the reader waits while the gateway has half its queue limit of events unwritten: a gateway
that does not read is not read either. The handler itself only writes the gateway's queued event
batches onto the wire and tells the state what was written (which lets the reader go on and
rebuilds the views of dropped events). A bad request becomes a ``rejected`` event and the stream
stays open; only a stream that does not start with ``hello`` is ended. A tick task advances
walking characters.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
from gateway_protos.v1 import world_pb2, world_pb2_grpc

from gateway_core.api import (
    ContentPack,
    ServiceError,
    abort,
    check_character_id,
    check_gateway_id,
    check_text,
)
from gateway_world.service import shard
from gateway_world.service.limits import (
    MAX_MESSAGE_BYTES,
    MAX_NAME_BYTES,
    MAX_PACKET_NAME_BYTES,
    MAX_PAYLOAD_BYTES,
    MAX_U16,
    check_combatant,
    check_look,
    check_position,
    check_range,
)
from gateway_world.service.state import (
    DEFAULT_WANDER_INTERVAL,
    Entity,
    GatewayStream,
    Refused,
    WorldState,
)
from gateway_world.service.trade import Trades
from gateway_world.service.world_items import WorldItems

if TYPE_CHECKING:
    from grpc.aio import ServicerContext

    _Context = ServicerContext[Any, Any]

log = logging.getLogger(__name__)

#: Defaults of the plugin settings WORLD_VIEW_RADIUS, WORLD_SUBSCRIBER_QUEUE, WORLD_TICK_INTERVAL.
DEFAULT_VIEW_RADIUS = 10000.0
DEFAULT_QUEUE_LIMIT = 4096
DEFAULT_TICK_INTERVAL = 0.2
#: Seconds between two event batches to a gateway (the delivery tick): events of one tick share
#: one stream message, and each client gets them in one socket write.
DEFAULT_FLUSH_INTERVAL = 0.02
#: Default of WORLD_POSITION_TOLERANCE: how far (map units) a client's stop point may be from
#: where the service has the character before it is corrected. A client's walk runs a little
#: behind or ahead of the service's (latency, its own frame timing): at the base run speed of
#: 425 units/s, 250 units is over half a second of walking.
DEFAULT_POSITION_TOLERANCE = 250.0
#: Most channels of a world (a channel id is a u8 on the wire).
MAX_CHANNEL_ID = 0xFF

_Handler = Callable[[GatewayStream, Any], Entity | None]
_T = TypeVar("_T")


class WorldServicer(world_pb2_grpc.WorldServicer):
    """Implements every RPC of ``rose.gateway.v1.World``; see world.proto for the contract."""

    def __init__(self, state: WorldState) -> None:
        self.state = state
        #: Ground items, NPC trade range, equipment and consumables.
        self.items = WorldItems(state)
        #: Player trades (PAKCS_TRADE, PAKCS_TRADE_ITEM).
        self.trades = Trades(state)
        self._handlers: dict[str, _Handler] = {
            "enter": self._on_enter,
            "ready": self._on_ready,
            "move": self._on_move,
            "stop": self._on_stop,
            "teleport": self._on_teleport,
            "leave": self._on_leave,
            "chat": self._on_chat,
            "action": self._on_action,
            "gate": self._on_gate,
            "remove_monster": self._on_remove_monster,
            "revive": self._on_revive,
            "adjust": self._on_adjust,
        }

    async def Connect(
        self, request_iterator: AsyncIterator[world_pb2.WorldRequestBatch], context: _Context
    ) -> AsyncIterator[world_pb2.WorldEventBatch]:
        """Register the gateway's stream, apply its requests and yield its event batches."""
        try:
            first = await anext(aiter(request_iterator))
        except StopAsyncIteration:
            return
        if not first.requests or not first.requests[0].HasField("hello"):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "the first request of a stream must be hello"
            )
        try:
            gateway_id = check_gateway_id(first.requests[0].hello.gateway_id)
        except ServiceError as exc:
            await abort(context, exc)
        stream = self.state.connect(gateway_id)
        log.info("world: gateway %r connected", gateway_id)
        if len(first.requests) > 1:
            self.handle_batch(stream, first.requests[1:])
        reader = asyncio.get_running_loop().create_task(self._read(stream, request_iterator))
        state = self.state
        try:
            async for batch in stream.drain(context, log, "world"):
                yield batch
                # Resumed once the batch is written (or buffered within the HTTP/2 window).
                state.written(stream, len(batch.events))
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            self.state.release(stream)

    async def _read(
        self, stream: GatewayStream, requests: AsyncIterator[world_pb2.WorldRequestBatch]
    ) -> None:
        state = self.state
        try:
            async for batch in requests:
                if stream.pending >= state.pace_mark and not stream.closed:
                    # The gateway does not read its events: stop reading its requests, which
                    # makes its link (and so its clients) wait instead of events being dropped.
                    state.paced_streams += 1
                    await stream.wait_room(state.pace_mark)
                if stream.closed:
                    return
                self.handle_batch(stream, batch.requests)
        except grpc.aio.AioRpcError:
            pass  # the call is gone; Connect's own cleanup runs
        # The gateway closed its side (or the call broke): end the stream cleanly.
        if not stream.closed:
            stream.close(grpc.StatusCode.OK, "gateway closed its request stream")

    def handle_batch(
        self, stream: GatewayStream, requests: Iterable[world_pb2.WorldRequest]
    ) -> None:
        """Apply a gateway's requests in order; flush its answers (with the events before
        them) at once."""
        for request in requests:
            self.handle(stream, request)
        if stream.urgent:
            self.state.flush_stream(stream)

    def handle(self, stream: GatewayStream, request: world_pb2.WorldRequest) -> None:
        """Apply one request and answer it (ack when it has an id, rejected on failure)."""
        kind = request.WhichOneof("request")
        character_id = 0
        try:
            if kind is None:
                raise ServiceError(grpc.StatusCode.INVALID_ARGUMENT, "empty request")
            if kind == "hello":
                raise ServiceError(
                    grpc.StatusCode.FAILED_PRECONDITION, "hello was already received"
                )
            body = getattr(request, kind)
            character_id = body.character_id
            entity = self._handlers[kind](stream, body)
            if request.request_id:
                ack = world_pb2.Ack(request_id=request.request_id, character_id=character_id)
                if entity is not None:
                    entity.advance(self.state.clock())
                    ack.map_id = entity.map_id
                    ack.object_id = entity.object_id
                    ack.position.CopyFrom(entity.position())
                self.state.answer(stream, "ack", ack)
        except shard.Elsewhere as exc:
            self._elsewhere(stream, request.request_id, character_id, exc)
        except ServiceError as exc:
            reason = exc.reason if isinstance(exc, Refused) else ""
            self._reject(stream, request.request_id, character_id, exc.code, exc.message, reason)
        except Exception:
            # Our bug, not the gateway's: answer it and keep serving everyone else.
            log.exception("world: request %s failed", kind)
            self._reject(
                stream, request.request_id, character_id, grpc.StatusCode.INTERNAL, "internal error"
            )

    def _reject(
        self,
        stream: GatewayStream,
        request_id: int,
        character_id: int,
        code: grpc.StatusCode,
        message: str,
        reason: str = "",
    ) -> None:
        status_number = code.value[0]
        self.state.answer(
            stream,
            "rejected",
            world_pb2.Rejected(
                request_id=request_id,
                character_id=character_id,
                code=status_number,
                message=message,
                reason=reason,
            ),
        )

    def _elsewhere(self, stream: GatewayStream, request_id: int, character_id: int,
                   exc: shard.Elsewhere) -> None:
        # A warp to another shard's map: the destination, for the gateway to hand over.
        if request_id:
            self.state.answer(stream, "ack", shard.elsewhere_ack(request_id, character_id, exc))
        else:
            self._reject(stream, 0, character_id, exc.code, exc.message, exc.reason)

    # -- one handler per request kind --------------------------------------------------------

    def _on_enter(self, stream: GatewayStream, body: world_pb2.EnterMap) -> Entity:
        check_character_id(body.character_id)
        name = check_text(body.name, "name", MAX_NAME_BYTES)
        map_id = check_range(body.map_id, "map_id", 0, MAX_U16)
        # Not check_position: an impossible stored point lands on the map's spawn point
        # (World.landing) instead of locking the character out.
        check_range(body.position.z, "position.z", 0, MAX_U16)
        check_look(body.look)
        requested = check_range(body.requested_object_id, "requested_object_id", 0, MAX_U16)
        channel_id = check_range(body.channel_id, "channel_id", 0, MAX_CHANNEL_ID) or 1
        return self.state.enter(
            stream,
            character_id=body.character_id,
            name=name,
            map_id=map_id,
            position=body.position,
            look=body.look,
            requested_object_id=requested,
            channel_id=channel_id,
            combatant=check_combatant(body.combatant) if body.HasField("combatant") else None,
        )

    def _on_ready(self, stream: GatewayStream, body: world_pb2.Ready) -> Entity:
        entity = self.state.owned(stream, check_character_id(body.character_id))
        self.state.make_ready(entity)
        return entity

    def _on_move(self, stream: GatewayStream, body: world_pb2.MoveTo) -> Entity:
        check_character_id(body.character_id)
        target = check_range(body.target_object_id, "target_object_id", 0, MAX_U16)
        check_position(body.destination, "destination")
        entity = self.state.owned(stream, body.character_id)
        self.state.move(entity, target, body.destination)
        return entity

    def _on_stop(self, stream: GatewayStream, body: world_pb2.StopMoving) -> Entity:
        check_character_id(body.character_id)
        check_position(body.position, "position")
        entity = self.state.owned(stream, body.character_id)
        self.state.stop(entity, body.position)
        return entity

    def _on_teleport(self, stream: GatewayStream, body: world_pb2.Teleport) -> Entity:
        check_character_id(body.character_id)
        map_id = check_range(body.map_id, "map_id", 0, MAX_U16)
        check_position(body.position, "position")
        entity = self.state.owned(stream, body.character_id)
        self.state.teleport(entity, map_id, body.position, reload=body.reload)
        return entity

    def _on_gate(self, stream: GatewayStream, body: world_pb2.UseGate) -> Entity:
        entity = self.state.owned(stream, check_character_id(body.character_id))
        self.state.use_gate(entity, body.gate_id)
        return entity

    def _on_remove_monster(self, stream: GatewayStream, body: world_pb2.RemoveMonster) -> None:
        channel_id = check_range(body.channel_id, "channel_id", 0, MAX_CHANNEL_ID) or 1
        map_id = check_range(body.map_id, "map_id", 0, MAX_U16)
        object_id = check_range(body.object_id, "object_id", 1, MAX_U16)
        self.state.remove_monster(channel_id, map_id, object_id)

    def _on_revive(self, stream: GatewayStream, body: world_pb2.Revive) -> Entity:
        entity = self.state.owned(stream, check_character_id(body.character_id))
        self.state.combat.revive(entity, check_range(body.revive_type, "revive_type", 0, 0xFF))
        return entity

    def _on_adjust(self, stream: GatewayStream, body: world_pb2.Adjust) -> Entity:
        entity = self.state.owned(stream, check_character_id(body.character_id))
        level = check_range(body.level, "level", 0, 0xFF)
        self.state.combat.adjust(entity, level=level, heal=body.heal)
        return entity

    def _on_leave(self, stream: GatewayStream, body: world_pb2.LeaveMap) -> None:
        entity = self.state.owned(stream, check_character_id(body.character_id))
        self.state.leave(entity)

    def _on_chat(self, stream: GatewayStream, body: world_pb2.NormalChat) -> Entity:
        check_character_id(body.character_id)
        message = check_text(body.message, "message", MAX_MESSAGE_BYTES)
        entity = self.state.owned(stream, body.character_id)
        self.state.say(entity, message)
        return entity

    def _on_action(self, stream: GatewayStream, body: world_pb2.GameAction) -> Entity:
        check_character_id(body.character_id)
        name = check_text(body.packet_name, "packet_name", MAX_PACKET_NAME_BYTES)
        if len(body.payload) > MAX_PAYLOAD_BYTES:
            raise ServiceError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"payload is {len(body.payload)} bytes, at most {MAX_PAYLOAD_BYTES} fit a packet",
            )
        entity = self.state.owned(stream, body.character_id)
        self.state.act(entity, name, body.payload)
        return entity

    # -- unary queries ---------------------------------------------------------------------

    async def GetPresence(
        self, request: world_pb2.GetPresenceRequest, context: _Context
    ) -> world_pb2.Presence:
        """Where a character is."""
        try:
            check_character_id(request.character_id)
            return self.state.presence(request.character_id)
        except ServiceError as exc:
            await abort(context, exc)

    async def FindCharacter(
        self, request: world_pb2.FindCharacterRequest, context: _Context
    ) -> world_pb2.Presence:
        """Where a character is, by name."""
        try:
            return self.state.find(check_text(request.name, "name", MAX_NAME_BYTES))
        except ServiceError as exc:
            await abort(context, exc)

    async def GetStats(
        self, request: world_pb2.WorldStatsRequest, context: _Context
    ) -> world_pb2.WorldStats:
        """The service counters."""
        return self.state.stats()

    # -- items ---------------------------------------------------------------------------------

    async def _item_call(self, context: _Context, call: Callable[[], _T]) -> _T:
        """Run an item operation; a bad request aborts the RPC with its status, and the
        events the operation caused go at the next delivery tick."""
        try:
            reply = call()
        except ServiceError as exc:
            await abort(context, exc)
        self.state.wake()
        return reply

    async def TakeGroundItem(
        self, request: world_pb2.TakeGroundItemRequest, context: _Context
    ) -> world_pb2.TakeGroundItemReply:
        """Take a ground item off the ground for a character."""
        return await self._item_call(context, lambda: self.items.take(
            check_character_id(request.character_id),
            check_range(request.object_id, "object_id", 0, MAX_U16)))

    async def PutBackGroundItem(
        self, request: world_pb2.PutBackGroundItemRequest, context: _Context
    ) -> world_pb2.GroundItemReply:
        """Lay a taken item down again."""
        return await self._item_call(context, lambda: self.items.put_back(request.token))

    async def DropGroundItem(
        self, request: world_pb2.DropGroundItemRequest, context: _Context
    ) -> world_pb2.GroundItemReply:
        """Drop an item or zuly where the character stands."""
        return await self._item_call(context, lambda: self.items.drop(
            check_character_id(request.character_id),
            check_range(request.item_type, "item_type", 0, 31),
            check_range(request.item_number, "item_number", 0, MAX_U16),
            check_range(request.count, "count", 0, 2**31 - 1)))

    async def NearNpc(
        self, request: world_pb2.NearNpcRequest, context: _Context
    ) -> world_pb2.NearNpcReply:
        """How far a character is from an NPC, and its shop."""
        return await self._item_call(context, lambda: self.items.near_npc(
            check_character_id(request.character_id), request.npc_object_id))

    async def SetEquipment(
        self, request: world_pb2.SetEquipmentRequest, context: _Context
    ) -> world_pb2.ItemActionReply:
        """The character's visible equipment changed."""
        def change() -> world_pb2.ItemActionReply:
            check_character_id(request.character_id)
            if len(request.equipment) > 8 or len(request.equipped) > 16:
                raise ServiceError(grpc.StatusCode.INVALID_ARGUMENT,
                                   "at most 8 visible and 16 equipped items")
            check_range(request.slot, "slot", 0, MAX_U16)
            return self.items.set_equipment(request)

        return await self._item_call(context, change)

    async def UseConsumable(
        self, request: world_pb2.UseConsumableRequest, context: _Context
    ) -> world_pb2.ItemActionReply:
        """Use a consumable (or check whether it may be used)."""
        def use() -> world_pb2.ItemActionReply:
            check_character_id(request.character_id)
            return self.items.use(request)

        return await self._item_call(context, use)

    # -- personal shops ------------------------------------------------------------------------

    async def OpenStall(
        self, request: world_pb2.OpenStallRequest, context: _Context
    ) -> world_pb2.StallReply:
        """Open a character's stall."""
        def open_stall() -> world_pb2.StallReply:
            check_character_id(request.character_id)
            return self.state.stalls.open(request)

        return await self._item_call(context, open_stall)

    async def CloseStall(
        self, request: world_pb2.CloseStallRequest, context: _Context
    ) -> world_pb2.StallReply:
        """Close a character's stall."""
        return await self._item_call(context, lambda: self.state.stalls.close(
            world_pb2.CloseStallRequest(character_id=check_character_id(request.character_id))))

    async def ListStall(
        self, request: world_pb2.ListStallRequest, context: _Context
    ) -> world_pb2.ListStallReply:
        """A stall as a customer in range sees it."""
        def list_stall() -> world_pb2.ListStallReply:
            check_character_id(request.character_id)
            check_range(request.object_id, "object_id", 0, MAX_U16)
            return self.state.stalls.list(request)

        return await self._item_call(context, list_stall)

    async def ReserveStall(
        self, request: world_pb2.ReserveStallRequest, context: _Context
    ) -> world_pb2.ReserveStallReply:
        """Hold stall entries for one purchase or sale."""
        def reserve() -> world_pb2.ReserveStallReply:
            check_character_id(request.character_id)
            check_range(request.object_id, "object_id", 0, MAX_U16)
            return self.state.stalls.reserve(request)

        return await self._item_call(context, reserve)

    async def FinishStall(
        self, request: world_pb2.FinishStallRequest, context: _Context
    ) -> world_pb2.FinishStallReply:
        """The outcome of a reservation's Exchange."""
        return await self._item_call(context, lambda: self.state.stalls.finish(request))

    # -- parties -------------------------------------------------------------------------------

    async def FindObject(
        self, request: world_pb2.FindObjectRequest, context: _Context
    ) -> world_pb2.Presence:
        """The player with that object id on the asker's map instance."""
        try:
            check_character_id(request.character_id)
            check_range(request.object_id, "object_id", 0, MAX_U16)
            found = self.state.combat.find_player(request.character_id, request.object_id)
            return self.state.presence(found)
        except ServiceError as exc:
            await abort(context, exc)

    async def SetParty(
        self, request: world_pb2.SetPartyRequest, context: _Context
    ) -> world_pb2.SetPartyReply:
        """A character's party and its rule."""
        try:
            check_character_id(request.character_id)
            check_range(request.rule, "rule", 0, 0xFF)
            members = self.state.combat.set_party(
                request.character_id, request.party_id, request.rule)
        except ServiceError as exc:
            await abort(context, exc)
        return world_pb2.SetPartyReply(members=members)

    # -- player trades -------------------------------------------------------------------------

    async def Trade(
        self, request: world_pb2.TradeRequest, context: _Context
    ) -> world_pb2.TradeReply:
        """One PAKCS_TRADE step of a character."""
        def step() -> world_pb2.TradeReply:
            check_character_id(request.character_id)
            check_range(request.target_object_id, "target_object_id", 0, MAX_U16)
            check_range(request.state, "state", 0, 0xFF)
            return self.trades.trade(request)

        return await self._item_call(context, step)

    async def TradeItem(
        self, request: world_pb2.TradeItemRequest, context: _Context
    ) -> world_pb2.TradeReply:
        """PAKCS_TRADE_ITEM: one slot of a character's offer."""
        def offer() -> world_pb2.TradeReply:
            check_character_id(request.character_id)
            check_range(request.slot, "slot", 0, 0xFF)
            return self.trades.trade_item(request)

        return await self._item_call(context, offer)

    async def TradeFinish(
        self, request: world_pb2.TradeFinishRequest, context: _Context
    ) -> world_pb2.TradeFinishReply:
        """The outcome of an executing trade's exchange."""
        return await self._item_call(context, lambda: self.trades.finish(request))


class WorldReferenceService:
    """The world service as a :class:`gateway_core.service_host.ReferenceService`.

    ``view_radius`` (WORLD_VIEW_RADIUS) is the visibility distance in map units,
    ``queue_limit`` (WORLD_SUBSCRIBER_QUEUE) bounds the events queued per gateway (half of it
    paces the gateway's requests, beyond it events are dropped and views rebuilt),
    ``tick_interval`` (WORLD_TICK_INTERVAL) is how often walking characters are advanced and
    ``flush_interval`` the delivery tick: how long a gateway's events are gathered into one
    batch (answers to requests go at once). ``clock`` drives movement; the delivery tick runs
    on the event loop's clock. Presence is live only (in memory): positions are persisted by the
    character service.

    ``content`` (WORLD_CONTENT) is the pack whose maps, gates, NPCs and monster spawns the maps
    hold (None: bare maps); ``position_tolerance`` (WORLD_POSITION_TOLERANCE) bounds how far a
    client's stop point may be from the service's position; ``wander_interval``
    (WORLD_WANDER_INTERVAL) is the mean pause of a standing monster and ``seed``
    (WORLD_RANDOM_SEED, 0: unseeded) seeds the wander and respawn points. ``maps``
    (WORLD_SERVICE_MAPS, None: all) are the maps this service owns in a world sharded by map
    (:mod:`gateway_world.service.shard`).
    """

    def __init__(
        self,
        *,
        view_radius: float = DEFAULT_VIEW_RADIUS,
        queue_limit: int = DEFAULT_QUEUE_LIMIT,
        tick_interval: float = DEFAULT_TICK_INTERVAL,
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        content: ContentPack | None = None,
        position_tolerance: float = DEFAULT_POSITION_TOLERANCE,
        wander_interval: float = DEFAULT_WANDER_INTERVAL,
        seed: int = 0,
        revive_in_place: bool = False,
        maps: Iterable[int] | None = None,
    ) -> None:
        if not tick_interval > 0:
            raise ValueError("tick_interval must be positive")
        self.state = WorldState(
            view_radius=view_radius,
            queue_limit=queue_limit,
            clock=clock,
            flush_interval=flush_interval,
            content=content,
            position_tolerance=position_tolerance,
            wander_interval=wander_interval,
            rng=random.Random(seed) if seed else random.Random(),
            revive_in_place=revive_in_place,
        )
        self.state.owned_maps = shard.owned_maps(maps)
        self.servicer = WorldServicer(self.state)
        self.tick_interval = tick_interval
        self._ticker: asyncio.Task[None] | None = None

    def add_to_server(self, server: grpc.aio.Server) -> None:
        """Register the servicer on ``server``."""
        world_pb2_grpc.add_WorldServicer_to_server(self.servicer, server)

    @property
    def running(self) -> bool:
        """Between :meth:`start` and :meth:`stop` (what an in-process caller checks, as a
        gRPC one would find the server there or not)."""
        return self._ticker is not None

    async def start(self) -> None:
        """Start advancing walking characters."""
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick_forever())

    async def stop(self) -> None:
        """Stop the ticks and end every gateway stream with UNAVAILABLE."""
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        self.state.close_all(grpc.StatusCode.UNAVAILABLE, "world service shutting down")

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval)
            try:
                self.state.tick()
                self.servicer.trades.check()
            except Exception:
                log.exception("world: tick failed")
