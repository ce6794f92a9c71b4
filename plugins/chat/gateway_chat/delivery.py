"""Gateway side of the chat service: keep the ``Subscribe`` stream open, hand deliveries over.

Strategy: :class:`ChatDelivery` owns the gateway's list of hosted characters. It keeps one
``Subscribe`` stream open and, after every ``subscribed`` event (first connect, or reconnect
after the service restarted or dropped us), announces every hosted character again: the
service forgets them when a stream ends. ``Host`` and ``Unhost`` calls go through one lock so
they reach the service in the order they were made, replay included. Reconnecting with
exponential backoff, and passing deliveries to a callback whose exceptions are logged and
counted, never allowed to end the stream, are :class:`gateway_core.streams.ReconnectingStream`'s.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import anyio
import grpc
from gateway_protos.v1 import chat_pb2

from gateway_core.api import (
    TEXT_ENCODING,
    Packet,
    ReconnectingStream,
    SrvAlliedChat,
    SrvAnnounceChat,
    SrvClanChat,
    SrvPartyChat,
    SrvShoutChat,
    SrvWhisperChat,
)

if TYPE_CHECKING:
    from gateway_protos.v1.chat_pb2_grpc import ChatAsyncStub

log = logging.getLogger(__name__)

DeliveryCallback = Callable[[chat_pb2.Delivery], Awaitable[None] | None]
KickCallback = Callable[[chat_pb2.Kick], Awaitable[None] | None]


class ChatDelivery(ReconnectingStream):
    """Keeps a gateway subscribed to the chat service and forwards its deliveries.

    ``stub`` is a ``ChatStub`` on a ``grpc.aio`` channel; ``on_delivery`` receives every
    :class:`~gateway_protos.v1.chat_pb2.Delivery` for this gateway's characters, ``on_kick``
    every :class:`~gateway_protos.v1.chat_pb2.Kick` (a character's connection must close).
    Start it with :meth:`start` (or run :meth:`run` in a task group) and end it with
    :meth:`aclose`; the reconnect loop is :class:`gateway_core.streams.ReconnectingStream`'s.
    """

    def __init__(
        self,
        stub: ChatAsyncStub,
        gateway_id: str,
        on_delivery: DeliveryCallback,
        *,
        initial_backoff: float = 0.1,
        max_backoff: float = 5.0,
        call_timeout: float = 5.0,
        on_kick: KickCallback | None = None,
    ) -> None:
        super().__init__(
            label="chat: delivery stream",
            callback_label="chat: delivery",
            task_name=f"chat-delivery-{gateway_id}",
            logger=log,
            initial_backoff=initial_backoff,
            max_backoff=max_backoff,
        )
        self._stub = stub
        self.gateway_id = gateway_id
        self._on_delivery = on_delivery
        self._on_kick = on_kick
        self._call_timeout = call_timeout
        self.hosted: dict[int, chat_pb2.HostedCharacter] = {}
        #: Whether the gateway is closing its connections for a shutdown (Unhost skipped).
        self.stopping: Callable[[], bool] = lambda: False
        self._lock = anyio.Lock()
        self._subscribed = False  # the current stream has said `subscribed`

    @property
    def deliveries(self) -> int:
        """Deliveries handed to the callback."""
        return self.dispatched

    def stream_lost(self) -> None:
        """Host and Unhost wait for the next stream (whose replay announces everyone)."""
        self._subscribed = False
        super().stream_lost()

    async def stream_once(self) -> None:
        """One ``Subscribe`` stream: replay the hosted characters after ``subscribed``, hand
        the deliveries over."""
        call = self._stub.Subscribe(chat_pb2.SubscribeRequest(gateway_id=self.gateway_id))
        async with anyio.create_task_group() as tg:
            try:
                async for event in call:
                    if event.HasField("subscribed"):
                        self.connections += 1
                        self._subscribed = True
                        # Replay outside the read loop so deliveries keep flowing meanwhile.
                        tg.start_soon(self._replay)
                    elif event.HasField("delivery"):
                        await self.dispatch(self._on_delivery, event.delivery)
                    elif event.HasField("kick") and self._on_kick is not None:
                        await self.dispatch(self._on_kick, event.kick)
            finally:
                tg.cancel_scope.cancel()
                call.cancel()

    async def _replay(self) -> None:
        for character_id in list(self.hosted):
            async with self._lock:
                character = self.hosted.get(character_id)
                if character is None:
                    continue
                try:
                    await self._stub.Host(
                        chat_pb2.HostRequest(gateway_id=self.gateway_id, character=character),
                        timeout=self._call_timeout,
                    )
                except grpc.aio.AioRpcError as exc:
                    log.warning(
                        "chat: re-announcing character %d failed: %s", character_id, exc.details()
                    )
        self._ready.set()

    async def host(self, character: chat_pb2.HostedCharacter) -> None:
        """Announce (or update) a character this gateway hosts.

        Remembered locally first, so a reconnect announces it again. While disconnected the
        call returns at once; invalid arguments raise the service's ``AioRpcError``.
        """
        copy = chat_pb2.HostedCharacter()
        copy.CopyFrom(character)
        self.hosted[character.character_id] = copy
        async with self._lock:
            if not self._subscribed or self.hosted.get(character.character_id) is not copy:
                return
            try:
                await self._stub.Host(
                    chat_pb2.HostRequest(gateway_id=self.gateway_id, character=copy),
                    timeout=self._call_timeout,
                )
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
                    self.hosted.pop(character.character_id, None)
                    raise
                # Stream gone meanwhile: the replay after reconnecting announces it.
                log.info("chat: host %d deferred: %s", character.character_id, exc.details())

    async def unhost(self, character_id: int) -> None:
        """Retract a character (logout, disconnect). Never raises for transport errors. Only
        forgotten here once :attr:`stopping` says so (asked when its turn comes): the stream
        is about to end, and the service forgets everything a stream that ended hosted."""
        if self.hosted.pop(character_id, None) is None:
            return
        async with self._lock:
            if not self._subscribed or self.stopping():
                return
            try:
                await self._stub.Unhost(
                    chat_pb2.UnhostRequest(gateway_id=self.gateway_id, character_id=character_id),
                    timeout=self._call_timeout,
                )
            except grpc.aio.AioRpcError as exc:
                # A lost stream unhosts everything anyway.
                log.info("chat: unhost %d failed: %s", character_id, exc.details())
            except grpc.aio.UsageError as exc:
                # The channel closed under us (the gateway is stopping): the stream, and with
                # it everything this gateway hosted, is gone too.
                log.info("chat: unhost %d skipped: %s", character_id, exc)


def delivery_packet(delivery: chat_pb2.Delivery) -> Packet:
    """The packet a delivery becomes (texts encoded as the protocol layer's TEXT_ENCODING;
    characters it cannot carry become ``?``)."""
    sender = delivery.sender_name.encode(TEXT_ENCODING, "replace")
    message = delivery.message.encode(TEXT_ENCODING, "replace")
    kind = delivery.kind
    if kind == chat_pb2.CHAT_KIND_WHISPER:
        return SrvWhisperChat(sender=sender, message=message)
    if kind == chat_pb2.CHAT_KIND_SHOUT:
        return SrvShoutChat(sender=sender, message=message)
    if kind == chat_pb2.CHAT_KIND_PARTY:
        return SrvPartyChat(char_id=delivery.sender_object_id & 0xFFFF, message=message)
    if kind == chat_pb2.CHAT_KIND_CLAN:
        return SrvClanChat(sender=sender, message=message)
    if kind == chat_pb2.CHAT_KIND_ALLIED:
        return SrvAlliedChat(team=delivery.sender_team_id, message=message)
    if kind == chat_pb2.CHAT_KIND_ANNOUNCE:
        return SrvAnnounceChat(message=message, name=sender)
    raise ValueError(f"unknown chat kind {kind}")


#: Sender name of the whisper a gateway sends back when a whisper target is offline.
SERVER_SENDER = "server msg"


def not_found_packet(target_name: str) -> Packet:
    """The whisper saying that ``target_name`` is unknown or offline (docs/protocol.md §10.7)."""
    return SrvWhisperChat(
        sender=SERVER_SENDER.encode(TEXT_ENCODING),
        message=f"{target_name} is not online.".encode(TEXT_ENCODING, "replace"),
    )
