"""Refusals of the reference services: a gRPC status and a message for the caller.

Strategy: a check anywhere below an RPC (argument checks, a transaction, a state machine)
raises :class:`ServiceError`; the servicer method catches it at its edge and answers with
:func:`abort` (a transaction rolls back on the way out), or turns it into an in-band answer
(the world stream's ``rejected`` event). Text arguments are checked in two ways, kept apart on
purpose: :func:`check_text` counts UTF-8 bytes against what fits a packet (chat, world);
:func:`name_error` counts characters and refuses control characters (account and character
names, stored as given).
"""

from __future__ import annotations

import logging
from typing import Any, NoReturn, TypeAlias

import grpc
import grpc.aio

__all__ = [
    "MAX_GATEWAY_ID_BYTES",
    "Context",
    "ServiceError",
    "abort",
    "abort_internal",
    "check_character_id",
    "check_gateway_id",
    "check_text",
    "name_error",
]

#: The servicer context of a grpc.aio RPC.
Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"


class ServiceError(Exception):
    """A request the service refuses: the status ``code`` and ``message`` to answer with."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


async def abort(context: Context, error: ServiceError) -> NoReturn:
    """End the call with the status and message of ``error``."""
    await context.abort(error.code, error.message)


async def abort_internal(
    context: Context, log: logging.Logger, service: str, rpc: str, exc: Exception
) -> NoReturn:
    """Log ``exc`` (with its traceback) as the failure of ``rpc`` and end the call with
    INTERNAL; the caller learns which RPC failed, never the backend's details."""
    log.error("%s %s failed: %s", service, rpc, exc, exc_info=exc)
    await context.abort(grpc.StatusCode.INTERNAL, f"{service} backend error in {rpc}")


def check_text(value: str, field: str, max_bytes: int, *, allow_empty: bool = False) -> str:
    """Return ``value`` when it is at most ``max_bytes`` UTF-8 bytes without NUL (and not
    empty unless ``allow_empty``); else raise INVALID_ARGUMENT naming ``field``."""
    if not value:
        if allow_empty:
            return value
        raise ServiceError(grpc.StatusCode.INVALID_ARGUMENT, f"{field} is empty")
    size = len(value.encode("utf-8"))
    if size > max_bytes:
        raise ServiceError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"{field} is {size} bytes, at most {max_bytes} fit a packet",
        )
    if "\x00" in value:
        raise ServiceError(grpc.StatusCode.INVALID_ARGUMENT, f"{field} contains NUL")
    return value


def name_error(value: str, what: str, limit: int) -> str | None:
    """Why ``value`` is no valid name (empty, longer than ``limit`` characters, control
    characters), or None."""
    if not value:
        return f"{what} is empty"
    if len(value) > limit:
        return f"{what} is longer than {limit} characters"
    if not value.isprintable():
        return f"{what} contains control characters"
    return None


#: Longest gateway id a service accepts on a gateway's stream, in UTF-8 bytes.
MAX_GATEWAY_ID_BYTES = 64


def check_gateway_id(value: str) -> str:
    """A gateway id (the key of a gateway's delivery stream): 1..64 bytes."""
    return check_text(value, "gateway_id", MAX_GATEWAY_ID_BYTES)


def check_character_id(value: int, field: str = "character_id") -> int:
    """A character id: anything but 0."""
    if value == 0:
        raise ServiceError(grpc.StatusCode.INVALID_ARGUMENT, f"{field} is 0")
    return value
