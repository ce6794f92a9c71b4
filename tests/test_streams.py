"""gateway_core.streams: the reconnecting client stream (against a real grpc.aio server on
loopback, and a loopback port nobody listens on) and the service-side gateway stream queue."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
import grpc
import grpc.aio
import pytest

from gateway_core.streams import GatewayStream, ReconnectingStream, StreamEnd, rpc_failure
from gateway_core.testing import free_port

METHOD = "/demo.Demo/Watch"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class DemoStream(ReconnectingStream):
    """Reads ``METHOD`` at ``address`` inside a task group, as the chat and world links do:
    the first message means "accepted", the others go to the callback."""

    def __init__(self, address: str, on_item: Any, **backoff: float) -> None:
        super().__init__(label="demo: stream", callback_label="demo: item", task_name="demo",
                         logger=logging.getLogger("test.streams"), **backoff)
        self.address = address
        self.on_item = on_item
        self.crash: Exception | None = None

    async def stream_once(self) -> None:
        if self.crash is not None:
            raise self.crash
        async with grpc.aio.insecure_channel(self.address) as channel:
            call = channel.unary_stream(METHOD)(b"")
            async with anyio.create_task_group() as tg:
                try:
                    async for message in call:
                        if message == b"hello":
                            self.connections += 1
                            self._ready.set()
                        else:
                            await self.dispatch(self.on_item, message)
                finally:
                    tg.cancel_scope.cancel()
                    call.cancel()


async def _wait(condition: Any) -> None:
    with anyio.fail_after(5):
        while not condition():
            await anyio.sleep(0.01)


def _rpc_error(code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), "gone")


def test_rpc_failure_finds_grpc_errors_also_inside_exception_groups() -> None:
    error = _rpc_error(grpc.StatusCode.UNAVAILABLE)
    assert rpc_failure(error) is error
    assert rpc_failure(ExceptionGroup("tg", [error])) is error
    assert rpc_failure(ExceptionGroup("outer", [ExceptionGroup("inner", [error])])) is error
    assert rpc_failure(ExceptionGroup("mixed", [error, ValueError()])) is None
    assert rpc_failure(ValueError()) is None


@pytest.mark.anyio
async def test_an_unreachable_service_is_one_warning_line_per_attempt_with_growing_backoff(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stream = DemoStream(f"127.0.0.1:{free_port()}", print, initial_backoff=0.01,
                        max_backoff=0.04)
    with caplog.at_level(logging.DEBUG, logger="test.streams"):
        stream.start()
        await _wait(lambda: len(caplog.records) >= 4)
        await stream.aclose()
    records = [r for r in caplog.records if r.name == "test.streams"]
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in records)
    assert all(r.getMessage().startswith("demo: stream failed (UNAVAILABLE: ") for r in records)
    waits = [r.getMessage().rsplit(" ", 1)[1] for r in records[:4]]
    assert waits == ["0.01s", "0.02s", "0.04s", "0.04s"]
    assert not stream.connected and stream.connections == 0


@pytest.mark.anyio
async def test_an_unexpected_error_is_logged_with_its_traceback_and_the_loop_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stream = DemoStream("127.0.0.1:1", print, initial_backoff=0.01)
    stream.crash = RuntimeError("bug")
    with caplog.at_level(logging.ERROR, logger="test.streams"):
        stream.start()
        await _wait(lambda: len(caplog.records) >= 2)
        await stream.aclose()
    assert caplog.records[0].getMessage() == "demo: stream crashed; retry in 0.01s"
    assert caplog.records[0].exc_info is not None


@pytest.fixture
async def service() -> AsyncIterator[str]:
    """A loopback grpc.aio server whose ``Watch`` says hello, sends two items and ends."""

    async def watch(request: bytes, context: Any) -> AsyncIterator[bytes]:
        for message in (b"hello", b"one", b"two"):
            yield message

    server = grpc.aio.server()
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
        "demo.Demo", {"Watch": grpc.unary_stream_rpc_method_handler(watch)})])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(None)


@pytest.mark.anyio
async def test_a_stream_the_service_ends_is_reopened_and_items_reach_the_callback(
    service: str, caplog: pytest.LogCaptureFixture
) -> None:
    items: list[bytes] = []

    async def on_item(item: bytes) -> None:
        items.append(item)
        if item == b"two":
            raise ValueError("callback bug")

    stream = DemoStream(service, on_item, initial_backoff=0.01)
    with caplog.at_level(logging.WARNING, logger="test.streams"):
        stream.start()
        await _wait(lambda: stream.connections >= 3)
        await stream.aclose()
    assert items[:4] == [b"one", b"two", b"one", b"two"]
    assert stream.dispatched >= 4 and stream.callback_errors >= 2
    messages = [r.getMessage() for r in caplog.records]
    assert "demo: stream ended by the service; reconnecting" in messages
    assert "demo: item callback failed" in messages


@pytest.mark.anyio
async def test_gateway_stream_bounds_its_queue_and_ends_with_a_final_status() -> None:
    stream: GatewayStream[str] = GatewayStream("gw-1", asyncio.Queue(3))
    assert stream.offer("a") and stream.offer("b")
    stream.close(grpc.StatusCode.RESOURCE_EXHAUSTED, "too slow")
    assert not stream.offer("c")
    assert stream.queue.get_nowait() == StreamEnd(grpc.StatusCode.RESOURCE_EXHAUSTED, "too slow")
    stream.close(grpc.StatusCode.OK, "again")  # a second close changes nothing
    assert stream.queue.empty()


@pytest.mark.anyio
async def test_gateway_stream_drain_yields_events_then_sets_the_final_status() -> None:
    class Context:
        code: grpc.StatusCode | None = None
        details: str | None = None

        def set_code(self, code: grpc.StatusCode) -> None:
            self.code = code

        def set_details(self, details: str) -> None:
            self.details = details

    stream: GatewayStream[str] = GatewayStream("gw-1", asyncio.Queue(3))
    stream.offer("a")
    stream.offer("b")
    stream.queue.put_nowait(StreamEnd(grpc.StatusCode.ABORTED, "replaced"))
    context = Context()
    got = [e async for e in stream.drain(context, logging.getLogger("test"), "demo")]  # type: ignore[arg-type]
    assert got == ["a", "b"]
    assert (context.code, context.details) == (grpc.StatusCode.ABORTED, "replaced")
