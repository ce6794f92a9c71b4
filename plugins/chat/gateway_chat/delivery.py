"""Gateway side of the chat service: keep the ``Subscribe`` stream open, hand deliveries over.

Strategy: :class:`ChatDelivery` owns the gateway's list of hosted characters. It keeps one
``Subscribe`` stream open and, after every ``subscribed`` event (first connect, or reconnect
after the service restarted or dropped us), announces every hosted character again: the
service forgets them when a stream ends. ``Host`` and ``Unhost`` calls go through one lock so
they reach the service in the order they were made, replay included. Reconnects back off
exponentially. Deliveries are passed to a callback; an exception in it is logged and counted,
never allowed to end the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import anyio
import grpc
from gateway_protos.v1 import chat_pb2

from gateway_core.protocol.packets import (
    TEXT_ENCODING,
    Packet,
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


class ChatDelivery:
    """Keeps a gateway subscribed to the chat service and forwards its deliveries.

    ``stub`` is a ``ChatStub`` on a ``grpc.aio`` channel; ``on_delivery`` receives every
    :class:`~gateway_protos.v1.chat_pb2.Delivery` for this gateway's characters. Start it with
    :meth:`start` (or run :meth:`run` in a task group) and end it with :meth:`aclose`.
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
    ) -> None:
        self._stub = stub
        self.gateway_id = gateway_id
        self._on_delivery = on_delivery
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._call_timeout = call_timeout
        self.hosted: dict[int, chat_pb2.HostedCharacter] = {}
        self._lock = anyio.Lock()
        self._subscribed = False  # the current stream has said `subscribed`
        self._ready = asyncio.Event()  # subscribed and every hosted character replayed
        self._task: asyncio.Task[None] | None = None
        #: Number of streams opened successfully (1 + reconnects).
        self.connections = 0
        #: Deliveries handed to the callback.
        self.deliveries = 0
        #: Deliveries whose callback raised.
        self.callback_errors = 0

    @property
    def connected(self) -> bool:
        """True while subscribed with every hosted character announced."""
        return self._ready.is_set()

    async def wait_connected(self) -> None:
        """Wait until subscribed and every hosted character is announced."""
        await self._ready.wait()

    def start(self) -> None:
        """Run :meth:`run` as a background task of the current event loop."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self.run(), name=f"chat-delivery-{self.gateway_id}"
            )

    async def aclose(self) -> None:
        """Stop the background task started by :meth:`start` (closes the stream)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run(self) -> None:
        """Keep the stream open until cancelled, reconnecting with exponential backoff."""
        backoff = self._initial_backoff
        while True:
            try:
                await self._stream_once()
                log.warning("chat: delivery stream ended by the service; reconnecting")
            except grpc.aio.AioRpcError as exc:
                log.warning(
                    "chat: delivery stream failed (%s: %s); retry in %.2fs",
                    exc.code().name,
                    exc.details(),
                    backoff,
                )
            except Exception:
                # Never let an unexpected error end the subscription for good.
                log.exception("chat: delivery stream crashed; retry in %.2fs", backoff)
            if self.connections and self._ready.is_set():
                backoff = self._initial_backoff
            self._subscribed = False
            self._ready.clear()
            await anyio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff)

    async def _stream_once(self) -> None:
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
                        await self._dispatch(event.delivery)
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

    async def _dispatch(self, delivery: chat_pb2.Delivery) -> None:
        self.deliveries += 1
        try:
            result = self._on_delivery(delivery)
            if inspect.isawaitable(result):
                await result
        except Exception:
            self.callback_errors += 1
            log.exception("chat: delivery callback failed")

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
        """Retract a character (logout, disconnect). Never raises for transport errors."""
        if self.hosted.pop(character_id, None) is None:
            return
        async with self._lock:
            if not self._subscribed:
                return
            try:
                await self._stub.Unhost(
                    chat_pb2.UnhostRequest(gateway_id=self.gateway_id, character_id=character_id),
                    timeout=self._call_timeout,
                )
            except grpc.aio.AioRpcError as exc:
                # A lost stream unhosts everything anyway.
                log.info("chat: unhost %d failed: %s", character_id, exc.details())


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
    """The whisper telling a sender that ``target_name`` is unknown or offline (DESIGN.md)."""
    return SrvWhisperChat(
        sender=SERVER_SENDER.encode(TEXT_ENCODING),
        message=f"{target_name} is not online.".encode(TEXT_ENCODING, "replace"),
    )
