"""The service host: a unary call whose client cancels it (a deadline, a gateway closing) runs
to its end on the server, and a stopping host waits for such calls before its services stop.

A real grpc.aio server on loopback hosts a small service whose one method records that it
started, sleeps, then records that it finished (a stand-in for a database transaction).
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import grpc.aio
import pytest

from gateway_core.service_host import ServiceHost

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class _SlowServicer:
    """``/test.Slow/Work``: ``started``, 0.3 s of work, ``finished``; ``stop`` notes whether
    the work was done by then."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def add_to_server(self, server: grpc.aio.Server) -> None:
        async def work(request: bytes, context: Any) -> bytes:
            self.events.append("started")
            await asyncio.sleep(0.3)
            self.events.append("finished")
            return b"done"

        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
            "test.Slow", {"Work": grpc.unary_unary_rpc_method_handler(work)}),))

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        self.events.append("stopped")


async def _call_and_cancel(address: str, servicer: _SlowServicer) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        call = channel.unary_unary("/test.Slow/Work")(b"")
        while "started" not in servicer.events:
            await asyncio.sleep(0.01)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call


async def test_a_call_its_client_cancels_still_finishes_on_the_server() -> None:
    servicer = _SlowServicer()
    async with ServiceHost({"slow": servicer}) as host:
        await _call_and_cancel(host.address, servicer)
        assert servicer.events == ["started"]
        for _ in range(100):
            if "finished" in servicer.events:
                break
            await asyncio.sleep(0.01)
        assert servicer.events == ["started", "finished"]


async def test_a_stopping_host_waits_for_cancelled_calls_before_its_services_stop() -> None:
    servicer = _SlowServicer()
    host = ServiceHost({"slow": servicer}, grace=0.0)
    await host.start()
    try:
        await _call_and_cancel(host.address, servicer)
    finally:
        await host.stop()
    assert servicer.events == ["started", "finished", "stopped"]


async def test_an_answered_call_is_unchanged() -> None:
    servicer = _SlowServicer()
    async with ServiceHost({"slow": servicer}) as host:
        async with grpc.aio.insecure_channel(host.address) as channel:
            assert await channel.unary_unary("/test.Slow/Work")(b"") == b"done"
