"""The reference services' refusals: argument checks and the status a call ends with (over a
real grpc.aio server on loopback)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
import grpc.aio
import pytest

from gateway_core.service_errors import (
    MAX_GATEWAY_ID_BYTES,
    Context,
    ServiceError,
    abort,
    abort_internal,
    check_character_id,
    check_gateway_id,
    check_text,
    name_error,
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _refusal(call: Callable[[], object]) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(ServiceError) as caught:
        call()
    return caught.value.code, caught.value.message


def test_check_text_accepts_text_up_to_the_byte_limit() -> None:
    assert check_text("héllo", "name", 6) == "héllo"
    assert check_text("", "line", 5, allow_empty=True) == ""


def test_check_text_counts_utf8_bytes_and_refuses_empty_and_nul() -> None:
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    assert _refusal(lambda: check_text("héllo", "name", 5)) == (
        invalid,
        "name is 6 bytes, at most 5 fit a packet",
    )
    assert _refusal(lambda: check_text("", "message", 5)) == (invalid, "message is empty")
    assert _refusal(lambda: check_text("a\x00b", "message", 5)) == (invalid, "message contains NUL")


def test_check_gateway_id_and_character_id_refuse_what_identifies_nothing() -> None:
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    assert check_gateway_id("g" * MAX_GATEWAY_ID_BYTES) == "g" * 64
    assert _refusal(lambda: check_gateway_id("g" * 65)) == (
        invalid,
        "gateway_id is 65 bytes, at most 64 fit a packet",
    )
    assert check_character_id(7) == 7
    assert _refusal(lambda: check_character_id(0, "sender_character_id")) == (
        invalid,
        "sender_character_id is 0",
    )


def test_name_error_counts_characters_and_refuses_control_characters() -> None:
    assert name_error("Alice", "name", 5) is None
    assert name_error("", "username", 5) == "username is empty"
    assert name_error("Alicia", "name", 5) == "name is longer than 5 characters"
    assert name_error("Al\tce", "name", 5) == "name contains control characters"


_Handler = Callable[[bytes, Context], Awaitable[bytes]]


@pytest.fixture
async def call() -> AsyncIterator[Callable[[_Handler], Awaitable[grpc.aio.AioRpcError]]]:
    """Serve one raw unary method on loopback; ``await call(handler)`` runs it and returns
    the error the client got."""
    handlers: list[_Handler] = []

    async def method(request: bytes, context: Context) -> bytes:
        return await handlers[-1](request, context)

    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "test.Refusals", {"Call": grpc.unary_unary_rpc_method_handler(method)}
            ),
        )
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")

    async def run(handler: _Handler) -> grpc.aio.AioRpcError:
        handlers.append(handler)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await channel.unary_unary("/test.Refusals/Call")(b"", timeout=5.0)
        return caught.value

    try:
        yield run
    finally:
        await channel.close()
        await server.stop(0)


@pytest.mark.anyio
async def test_abort_ends_the_call_with_the_refusal_status_and_message(
    call: Callable[[_Handler], Awaitable[grpc.aio.AioRpcError]],
) -> None:
    async def refuse(request: bytes, context: Context) -> bytes:
        try:
            raise ServiceError(grpc.StatusCode.NOT_FOUND, "no character 9")
        except ServiceError as refused:
            await abort(context, refused)

    error = await call(refuse)
    assert (error.code(), error.details()) == (grpc.StatusCode.NOT_FOUND, "no character 9")


@pytest.mark.anyio
async def test_abort_internal_logs_the_failure_and_tells_only_the_rpc(
    call: Callable[[_Handler], Awaitable[grpc.aio.AioRpcError]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = logging.getLogger("gateway.service.test")

    async def fail(request: bytes, context: Context) -> bytes:
        await abort_internal(context, log, "inventory", "Take", RuntimeError("disk on fire"))

    with caplog.at_level(logging.ERROR, logger="gateway.service.test"):
        error = await call(fail)
    assert error.code() is grpc.StatusCode.INTERNAL
    assert error.details() == "inventory backend error in Take"
    assert "disk on fire" not in (error.details() or "")
    [record] = caplog.records
    assert record.getMessage() == "inventory Take failed: disk on fire"
    assert record.exc_info is not None
