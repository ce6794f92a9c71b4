"""Password hashing of the reference auth service.

The client never sends its plain password: it sends the lowercase hex SHA-256 of it (PROTOCOL.md
§7.2). That 64-character string is what we hash with argon2id; the plain text is never seen and
neither string is stored or logged. argon2 is deliberately slow, so hashing and verification
run in a worker thread and never block the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HEX64 = re.compile(r"[0-9a-f]{64}")


def client_password_hash(plain: str) -> str:
    """What the game client sends for ``plain``: lowercase hex SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(plain.encode("utf-8")).hexdigest()


def normalize_client_hash(value: str) -> str | None:
    """``value`` as lowercase hex if it is a well-formed SHA-256 hex string, else None."""
    lowered = value.lower()
    return lowered if _HEX64.fullmatch(lowered) else None


@dataclass(frozen=True, slots=True)
class Argon2Params:
    """argon2id cost parameters (defaults: argon2-cffi's RFC 9106 low-memory profile)."""

    time_cost: int = 3
    memory_kib: int = 65536
    parallelism: int = 4


class PasswordService:
    """argon2id over the client's SHA-256 hex, off the event loop."""

    def __init__(self, params: Argon2Params) -> None:
        self._hasher = PasswordHasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_kib,
            parallelism=params.parallelism,
            type=Type.ID,
        )

    async def hash(self, client_hash: str) -> str:
        """The argon2id hash to store for ``client_hash``."""
        return await asyncio.to_thread(self._hasher.hash, client_hash)

    async def verify(self, stored: str, client_hash: str) -> bool:
        """Whether ``client_hash`` matches ``stored``; a corrupt stored hash never matches."""
        return await asyncio.to_thread(self._verify, stored, client_hash)

    def _verify(self, stored: str, client_hash: str) -> bool:
        try:
            return self._hasher.verify(stored, client_hash)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        """Whether ``stored`` was made with other parameters than the configured ones."""
        try:
            return self._hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return True
