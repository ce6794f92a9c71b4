"""Password hashing of the reference auth service, and the cheap session binding of joins.

The client never sends its plain password: it sends its lowercase hex SHA-256 (docs/protocol.md
§7.2). That 64-character string is what we hash with argon2id; the plain text is never seen and
neither string is stored or logged.

Strategy: argon2 is deliberately slow and memory-hungry, so it runs in a small thread pool of
its own, at most AUTH_HASH_CONCURRENCY operations at a time (default: one per CPU); further
callers queue instead of thrashing the CPUs and the memory, fairly between source addresses
(:class:`FairSlots`: one address flooding logins waits its turn with every other address) and
at most AUTH_LOGIN_PENDING_PER_SOURCE of them per address. A caller passes the
deadline of its gRPC call: when no slot frees up early enough to finish the work before that
deadline (judged with a running estimate of one operation's duration), :class:`HashBusy` is
raised at once, so the service answers FAILED in time instead of hashing for a client that has
given up. A cancelled caller keeps its slot until its thread has finished (the thread cannot be
stopped), so the bound holds. Each operation's working memory (AUTH_ARGON2_MEMORY_KIB) is
mapped and unmapped on its own (:func:`~gateway_core.memory.fix_mmap_threshold`): otherwise
glibc keeps it in each hashing thread's malloc arena, and RSS stays up after a login flood.

Joins do not run argon2 again (:class:`SessionBinder`): the login proved the client hash with
argon2, and the session row keeps ``HMAC-SHA256(key, account id, stored argon2 hash, client
hash)`` under a key that is never stored: the one derived from AUTH_BINDING_KEY, which every
replica of the service is given alike (a session bound by one is checked by the others without
argon2), or without it a random one that lives only in the service process's memory. A join
recomputes
the MAC from the hash it presents and compares in constant time (``hmac.compare_digest``). The
stored value reveals nothing usable: without the key it cannot be brute-forced offline (unlike
a plain SHA-256 of the client hash), and it cannot be replayed, because a join must present the
client hash itself. A binding made under another key (the service restarted, or another
process of it issued the session) or none at all (a session from before the binding existed)
is checked with argon2 once and re-bound under the current key (replicas without a shared key
stay correct, at the price of that argon2 when a session's joins move between them). The key
is deliberately not kept in the database: with it, a copy of the database would let anyone
test guesses of a logged-in player's password at HMAC speed instead of argon2's. Binding the
stored argon2 hash
too means that a password change outdates every binding made with the old one.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import re
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from gateway_core.api import fix_mmap_threshold

_HEX64 = re.compile(r"[0-9a-f]{64}")

#: Time kept free before a caller's deadline for the rest of its work and its reply, seconds.
REPLY_MARGIN = 0.05
#: Weight of the newest measurement in the running estimate of one argon2 operation.
_ESTIMATE_WEIGHT = 0.2

T = TypeVar("T")


def client_password_hash(plain: str) -> str:
    """What the game client sends for ``plain``: lowercase hex SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(plain.encode("utf-8")).hexdigest()


def normalize_client_hash(value: str) -> str | None:
    """``value`` as lowercase hex if it is a well-formed SHA-256 hex string, else None."""
    lowered = value.lower()
    return lowered if _HEX64.fullmatch(lowered) else None


def default_hash_concurrency() -> int:
    """Argon2 operations run at once when AUTH_HASH_CONCURRENCY is 0: the number of CPUs."""
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class Argon2Params:
    """argon2id cost parameters. Defaults: OWASP's Password Storage Cheat Sheet
    recommendation for argon2id (m = 19 MiB, t = 2, p = 1)."""

    time_cost: int = 2
    memory_kib: int = 19456
    parallelism: int = 1


class HashBusy(Exception):
    """No argon2 slot became free early enough to finish before the caller's deadline."""


class FairSlots:
    """``slots`` units of work at a time, handed out in turn between sources.

    Waiters queue per source (a source address; ``""`` for callers without one); a freed slot
    goes to the oldest waiter of the next source in rotation, so one source with a hundred
    waiters gets one slot in turn with every other source, not a hundred first. At most
    ``max_pending`` waiters per client address (0: no cap); more are refused at once. Callers
    without one (``""``: operator tools creating accounts, a test or bench entering thousands
    of players through one channel) are not capped: the cap stops one client address from
    holding the queue, and an internal caller is none.
    """

    def __init__(self, slots: int, max_pending: int = 0) -> None:
        self.free = slots
        self.max_pending = max_pending
        self._queues: OrderedDict[str, deque[asyncio.Future[None]]] = OrderedDict()

    def pending(self, source: str) -> int:
        return len(self._queues.get(source, ()))

    async def acquire(self, source: str, timeout: float | None) -> None:
        """Take a slot; :class:`HashBusy` when the source has too many waiters or none freed
        up within ``timeout`` seconds."""
        if self.free > 0 and not self._queues:
            self.free -= 1
            return
        if source and self.max_pending and self.pending(source) >= self.max_pending:
            raise HashBusy(f"too many logins waiting from {source or 'one source'}")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queues.setdefault(source, deque()).append(future)
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
        except BaseException as exc:
            if future.done() and not future.cancelled():
                self.release()  # granted just as the caller gave up: pass it on
            else:
                future.cancel()
                self._forget(source, future)
            if isinstance(exc, TimeoutError):
                raise HashBusy("all password hashing slots stayed busy") from None
            raise

    def _forget(self, source: str, future: asyncio.Future[None]) -> None:
        queue = self._queues.get(source)
        if queue is None:
            return
        with contextlib.suppress(ValueError):
            queue.remove(future)
        if not queue:
            del self._queues[source]

    def release(self) -> None:
        """Give the slot to the next source's oldest waiter (or keep it free)."""
        while self._queues:
            source, queue = next(iter(self._queues.items()))
            future = queue.popleft()
            if queue:
                self._queues.move_to_end(source)  # this source waits for its next turn
            else:
                del self._queues[source]
            if not future.done():
                future.set_result(None)
                return
        self.free += 1


class PasswordService:
    """argon2id over the client's SHA-256 hex, off the event loop and bounded in concurrency.

    ``deadline`` arguments are :func:`time.monotonic` instants (None: no deadline).
    """

    def __init__(self, params: Argon2Params, *, concurrency: int = 0,
                 pending_per_source: int = 0) -> None:
        self._hasher = PasswordHasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_kib,
            parallelism=params.parallelism,
            type=Type.ID,
        )
        self.concurrency = concurrency if concurrency > 0 else default_hash_concurrency()
        fix_mmap_threshold()  # argon2's buffers go back to the OS after each operation
        self._slots = FairSlots(self.concurrency, pending_per_source)
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()
        #: Running estimate of one operation's duration, seconds (0 until measured).
        self.estimate = 0.0
        #: argon2 operations finished so far (hashes and verifications).
        self.operations = 0

    # -- the bounded worker ------------------------------------------------------------------

    def _pool(self) -> ThreadPoolExecutor:
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.concurrency, thread_name_prefix="argon2"
                )
            return self._executor

    async def _run(self, deadline: float | None, work: Callable[[], T], source: str = "") -> T:
        if deadline is None:
            await self._slots.acquire(source, None)
        else:
            budget = deadline - time.monotonic() - self.estimate - REPLY_MARGIN
            if budget <= 0:
                raise HashBusy("no time left for password hashing")
            await self._slots.acquire(source, budget)
        started = time.monotonic()

        def done(_future: object) -> None:
            elapsed = time.monotonic() - started
            self.estimate += _ESTIMATE_WEIGHT * (elapsed - self.estimate)
            self.operations += 1
            self._slots.release()

        try:
            future = asyncio.get_running_loop().run_in_executor(self._pool(), work)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(done)
        # shield: a cancelled caller must not release the slot while the thread still runs.
        return await asyncio.shield(future)

    def close(self) -> None:
        """Let the worker threads end once their current work is done (a later call starts
        new ones)."""
        with self._executor_lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)

    # -- argon2 ------------------------------------------------------------------------------

    async def hash(self, client_hash: str, *, deadline: float | None = None,
                   source: str = "") -> str:
        """The argon2id hash to store for ``client_hash``; :class:`HashBusy` when it cannot
        be made before ``deadline``."""
        return await self._run(deadline, lambda: self._hasher.hash(client_hash), source)

    async def verify(
        self, stored: str, client_hash: str, *, deadline: float | None = None, source: str = ""
    ) -> bool:
        """Whether ``client_hash`` matches ``stored`` (whatever argon2 parameters made it); a
        corrupt stored hash never matches. :class:`HashBusy` when it cannot be checked before
        ``deadline``. ``source`` (the client's address) queues it fairly among sources."""
        return await self._run(deadline, lambda: self._verify(stored, client_hash), source)

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


class SessionBinder:
    """Binds a session to the client hash its login proved, checked without argon2.

    A binding is ``"<key id>$<hex HMAC-SHA256>"``. With a ``secret`` (AUTH_BINDING_KEY) the
    key and its id are derived from it, so every instance given the same secret (every replica)
    makes and accepts the same bindings; without one both are random per instance (per service
    process). The key is never stored; the id reveals nothing of it.
    """

    def __init__(self, secret: str | None = None) -> None:
        if secret is None:
            self._key = secrets.token_bytes(32)
            self.key_id = secrets.token_hex(8)
        else:
            self._key = hashlib.sha256(b"gateway-auth-binding-key\0" + secret.encode()).digest()
            self.key_id = hmac.new(self._key, b"key id", hashlib.sha256).hexdigest()[:16]

    def _mac(self, account_id: int, stored_hash: str, client_hash: str) -> str:
        message = f"{account_id}\0{stored_hash}\0{client_hash}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def bind(self, account_id: int, stored_hash: str, client_hash: str) -> str:
        """The binding to keep in the session row after a login verified ``client_hash``."""
        return f"{self.key_id}${self._mac(account_id, stored_hash, client_hash)}"

    def check(
        self, binding: str, account_id: int, stored_hash: str, client_hash: str
    ) -> bool | None:
        """True/False when ``binding`` was made under this key and does/does not match; None
        when it was not (another key, or no binding): the caller checks with argon2 then."""
        key_id, sep, mac = binding.partition("$")
        if not sep or not hmac.compare_digest(key_id, self.key_id):
            return None
        return hmac.compare_digest(mac, self._mac(account_id, stored_hash, client_hash))
