"""Argument checks of the chat service: what fits a packet (gateway and character ids:
:mod:`gateway_core.service_errors`).

Texts are counted in UTF-8 bytes. The client's legacy encodings never need more bytes than
UTF-8 for the same text, so a text within these limits always fits the packet it ends up in
(2047 bytes in all, 6 of them header, every string NUL-terminated; the longest chat packet
carries a name and a message).
"""

from __future__ import annotations

import grpc

from gateway_core.api import ServiceError, check_text

#: Longest character or announcer name, in UTF-8 bytes.
MAX_NAME_BYTES = 32
#: Longest message, in UTF-8 bytes: 2047 - 6 (header) - 33 (name + NUL) - 1 (NUL) = 2007 would
#: fit; 1900 leaves room for a longer sender name in a later packet variant.
MAX_MESSAGE_BYTES = 1900
#: Largest map id and world object id (16-bit on the wire).
MAX_U16 = 0xFFFF


def check_name(value: str, field: str = "name") -> str:
    """A character or announcer name."""
    return check_text(value, field, MAX_NAME_BYTES)


def check_message(value: str) -> str:
    """A chat message."""
    return check_text(value, "message", MAX_MESSAGE_BYTES)


def check_u16(value: int, field: str) -> int:
    """A 16-bit wire value (map id, object id)."""
    if value > MAX_U16:
        raise ServiceError(
            grpc.StatusCode.INVALID_ARGUMENT, f"{field} {value} does not fit 16 bits"
        )
    return value
