"""The world stream without gRPC, for a gateway whose world service is the embedded one.

Strategy: :class:`LocalWorldStub` has the one method of ``WorldStub`` that :class:`~gateway_world.
delivery.WorldLink` calls, ``Connect``, and answers it by running the servicer's own ``Connect``
handler in the link's task: the request batches the link yields are the servicer's request
iterator, the event batches the handler yields are the link's responses, the same message
objects on both sides (neither side changes a message once handed over, so nothing is copied,
serialized or parsed), and everything else (the hello and welcome, acks, pacing, the delivery
tick, the end of a stream with its status) is the servicer's and the link's gRPC code unchanged.
What gRPC would report is reported alike: a stream the service ends with a status other than OK,
or an abort, raises ``grpc.aio.AioRpcError`` with that status; a service that is not running
(before its start, after its stop) is UNAVAILABLE. ``WORLD_IN_PROCESS=false`` keeps the gRPC
path (the plugin's tests run both).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, cast

import grpc
import grpc.aio
from gateway_protos.v1 import world_pb2

if TYPE_CHECKING:
    from gateway_world.service import WorldReferenceService

__all__ = ["LocalConnectCall", "LocalWorldStub"]


def _rpc_error(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


class _Context:
    """The part of ``grpc.aio.ServicerContext`` the world servicer's ``Connect`` uses."""

    def __init__(self) -> None:
        self.status = grpc.StatusCode.OK
        self.message = ""

    def set_code(self, code: grpc.StatusCode) -> None:
        self.status = code

    def set_details(self, details: str) -> None:
        self.message = details

    async def abort(self, code: grpc.StatusCode, details: str = "") -> NoReturn:
        raise _rpc_error(code, details)


class LocalConnectCall:
    """One in-process ``Connect``: iterate it for the event batches; :meth:`cancel` ends it
    (the servicer's handler runs its cleanup, as when a gRPC client cancels)."""

    #: Handlers being closed after a cancel (kept referenced until their cleanup ran).
    _closing: ClassVar[set[asyncio.Task[None]]] = set()

    def __init__(
        self,
        service: WorldReferenceService,
        requests: AsyncIterator[world_pb2.WorldRequestBatch],
    ) -> None:
        self._service = service
        self._requests = requests
        self._context = _Context()
        self._responses: AsyncGenerator[world_pb2.WorldEventBatch, None] | None = None
        self._done = False

    def __aiter__(self) -> LocalConnectCall:
        return self

    async def __anext__(self) -> world_pb2.WorldEventBatch:
        if self._done:
            raise StopAsyncIteration
        responses = self._responses
        if responses is None:
            if not self._service.running:
                self._done = True
                raise _rpc_error(grpc.StatusCode.UNAVAILABLE, "the world service is not running")
            # (The handler is an async generator; a context of our own, duck-typed.)
            responses = self._responses = cast(
                AsyncGenerator[world_pb2.WorldEventBatch, None],
                self._service.servicer.Connect(self._requests, cast(Any, self._context)),
            )
        try:
            return await anext(responses)
        except StopAsyncIteration:
            self._done = True
            context = self._context
            if context.status is not grpc.StatusCode.OK:
                raise _rpc_error(context.status, context.message) from None
            raise
        except BaseException:
            self._done = True
            raise

    def cancel(self) -> bool:
        """End the call; False when it had ended already."""
        if self._done:
            return False
        self._done = True
        if self._responses is not None:
            # The handler is suspended at a yield (nobody is reading it): closing it runs its
            # cleanup (the reader stops, the service forgets this gateway's characters).
            task = asyncio.get_running_loop().create_task(self._close(self._responses))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        return True

    @staticmethod
    async def _close(responses: AsyncGenerator[world_pb2.WorldEventBatch, None]) -> None:
        with contextlib.suppress(Exception):
            await responses.aclose()


class LocalWorldStub:
    """``WorldStub.Connect`` served by the world service object of this process."""

    def __init__(self, service: WorldReferenceService) -> None:
        self.service = service

    def Connect(
        self, request_iterator: AsyncIterator[world_pb2.WorldRequestBatch]
    ) -> LocalConnectCall:
        """Open the stream (UNAVAILABLE at the first read when the service is not running)."""
        return LocalConnectCall(self.service, request_iterator)
