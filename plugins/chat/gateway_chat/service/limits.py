"""Argument checks of the chat service: what fits a packet, what identifies a character.

Texts are counted in UTF-8 bytes. The client's legacy encodings never need more bytes than
UTF-8 for the same text, so a text within these limits always fits the packet it ends up in
(2047 bytes in all, 6 of them header, every string NUL-terminated; the longest chat packet
carries a name and a message).
"""

from __future__ import annotations

import grpc

#: Longest character or announcer name, in UTF-8 bytes.
MAX_NAME_BYTES = 32
#: Longest message, in UTF-8 bytes: 2047 - 6 (header) - 33 (name + NUL) - 1 (NUL) = 2007 would
#: fit; 1900 leaves room for a longer sender name in a later packet variant.
MAX_MESSAGE_BYTES = 1900
#: Longest gateway id, in UTF-8 bytes.
MAX_GATEWAY_ID_BYTES = 64
#: Largest map id and world object id (16-bit on the wire).
MAX_U16 = 0xFFFF


class ChatError(Exception):
    """A request the service refuses: becomes the call's gRPC status and details."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def check_text(value: str, field: str, max_bytes: int) -> str:
    """Return ``value`` when it is 1..``max_bytes`` UTF-8 bytes without NUL, else raise."""
    if not value:
        raise ChatError(grpc.StatusCode.INVALID_ARGUMENT, f"{field} is empty")
    size = len(value.encode("utf-8"))
    if size > max_bytes:
        raise ChatError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"{field} is {size} bytes, at most {max_bytes} fit a packet",
        )
    if "\x00" in value:
        raise ChatError(grpc.StatusCode.INVALID_ARGUMENT, f"{field} contains NUL")
    return value


def check_gateway_id(value: str) -> str:
    """A gateway id: 1..64 bytes."""
    return check_text(value, "gateway_id", MAX_GATEWAY_ID_BYTES)


def check_name(value: str, field: str = "name") -> str:
    """A character or announcer name."""
    return check_text(value, field, MAX_NAME_BYTES)


def check_message(value: str) -> str:
    """A chat message."""
    return check_text(value, "message", MAX_MESSAGE_BYTES)


def check_character_id(value: int, field: str = "character_id") -> int:
    """A character id: anything but 0."""
    if value == 0:
        raise ChatError(grpc.StatusCode.INVALID_ARGUMENT, f"{field} is 0")
    return value


def check_u16(value: int, field: str) -> int:
    """A 16-bit wire value (map id, object id)."""
    if value > MAX_U16:
        raise ChatError(grpc.StatusCode.INVALID_ARGUMENT, f"{field} {value} does not fit 16 bits")
    return value
