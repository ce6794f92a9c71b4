"""Throttling of failed logins, per account and source address, and per source address.

Strategy: every failed login (a wrong password, or a name no account has) is recorded twice:
for the pair (account name, source address) and for the source address alone. A record's
first :attr:`ThrottlePolicy.free_failures` failures cost nothing; each further one closes the
record for a delay that doubles with every failure (``base_delay`` up to ``max_delay``), and
from ``lock_failures`` on the record stays closed for ``lock_seconds``. A login that arrives
while either of its records is closed is refused at once, before any password hashing: the
attacker's guesses get slow and cost the server nothing, and nobody waits in a sleeping
coroutine. A successful login clears its pair's record.

Keying on the pair (not the account alone) is what keeps the owner in: a stranger guessing from
one address closes only the stranger's pair and address, and the owner logging in from another
address is not affected. The address record (with its own, larger thresholds) slows one address
guessing many accounts. A record forgets its failures after ``forget_seconds`` without one.

Records live in the service process's memory, at most ``max_records`` of them (the oldest go
first), so an address flood cannot grow it without bound. Several auth processes (replicas)
count separately: a guesser whose logins are spread over N replicas gets N times the tries
before it is slowed (the README's "A real database" says so). The database is not involved on
purpose: a failed login writes nothing, so a flood of them cannot load the database.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("gateway.service.auth")

__all__ = ["LoginAttempts", "LoginThrottle", "ThrottlePolicy"]


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """The thresholds of one kind of record."""

    free_failures: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0
    lock_failures: int = 20
    lock_seconds: float = 900.0
    forget_seconds: float = 3600.0

    def closed_for(self, failures: int) -> float:
        """Seconds a record stays closed after its ``failures``-th failure."""
        if failures >= self.lock_failures:
            return self.lock_seconds
        if failures <= self.free_failures:
            return 0.0
        doublings = failures - self.free_failures - 1
        return float(min(self.max_delay, self.base_delay * 2**doublings))


@dataclass(slots=True)
class _Record:
    failures: int = 0
    last_failure: float = 0.0
    closed_until: float = 0.0
    logged: bool = False


class LoginThrottle:
    """Failed-login records of one auth service process."""

    def __init__(
        self,
        pair: ThrottlePolicy,
        source: ThrottlePolicy,
        *,
        max_records: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._policies = {"pair": pair, "source": source}
        self._records: OrderedDict[tuple[str, str, str], _Record] = OrderedDict()
        self._max = max_records
        self._clock = clock
        #: Logins refused because a record was closed, and failures recorded.
        self.refused = 0
        self.failures = 0

    @staticmethod
    def _keys(username: str, source: str) -> tuple[tuple[str, str, str], tuple[str, str, str]]:
        return ("pair", username.lower(), source), ("source", "", source)

    def _get(self, key: tuple[str, str, str], now: float) -> _Record | None:
        record = self._records.get(key)
        if record is None:
            return None
        if now - record.last_failure > self._policies[key[0]].forget_seconds:
            del self._records[key]
            return None
        return record

    def retry_after(self, username: str, source: str) -> float:
        """Seconds until a login of ``username`` from ``source`` may be tried; 0 when it may
        be tried now."""
        now = self._clock()
        wait = 0.0
        for key in self._keys(username, source):
            record = self._get(key, now)
            if record is not None:
                wait = max(wait, record.closed_until - now)
        if wait > 0:
            self.refused += 1
        return wait

    def failed(self, username: str, source: str) -> None:
        """Record a failed login."""
        now = self._clock()
        self.failures += 1
        for key in self._keys(username, source):
            record = self._get(key, now)
            if record is None:
                record = self._records[key] = _Record()
                while len(self._records) > self._max:
                    self._records.popitem(last=False)
            else:
                self._records.move_to_end(key)
            record.failures += 1
            record.last_failure = now
            closed = self._policies[key[0]].closed_for(record.failures)
            if closed > 0:
                record.closed_until = max(record.closed_until, now + closed)
                if not record.logged:  # once per record, and never with a password
                    record.logged = True
                    what = f"account {key[1]!r} from {source}" if key[0] == "pair" else source
                    log.warning("auth: failed logins of %s are throttled (%d failures)",
                                what or "an unknown address", record.failures)

    def succeeded(self, username: str, source: str) -> None:
        """A login of ``username`` from ``source`` succeeded: its pair is forgiven."""
        self._records.pop(self._keys(username, source)[0], None)

    def __len__(self) -> int:
        return len(self._records)


class LoginAttempts:
    """The gateways' login attempts of the last :attr:`keep_seconds`, by attempt id: the
    session each one opened, or that its gateway abandoned it first.

    A gateway that answered its client FAILED (its call failed or timed out) abandons the
    attempt; a login that then finishes must not leave its session behind, and one that
    finished already must have its session ended. Bounded: at most ``max_attempts`` are kept
    (the oldest go first).
    """

    def __init__(self, *, keep_seconds: float = 300.0, max_attempts: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.keep_seconds = keep_seconds
        self._max = max_attempts
        self._clock = clock
        #: attempt id -> (session id, or None when abandoned first; when recorded).
        self._attempts: OrderedDict[str, tuple[int | None, float]] = OrderedDict()

    def _expire(self, now: float) -> None:
        while self._attempts:
            _, (_, at) = next(iter(self._attempts.items()))
            if now - at <= self.keep_seconds and len(self._attempts) <= self._max:
                return
            self._attempts.popitem(last=False)

    def opened(self, attempt_id: str, session_id: int) -> bool:
        """Record that ``attempt_id`` opened ``session_id``; False when it was abandoned
        already (the caller ends the session)."""
        now = self._clock()
        self._expire(now)
        known = self._attempts.get(attempt_id)
        if known is not None and known[0] is None:
            del self._attempts[attempt_id]
            return False
        self._attempts[attempt_id] = (session_id, now)
        return True

    def abandon(self, attempt_id: str) -> int | None:
        """The session ``attempt_id`` opened (to be ended), else None (and it is remembered
        as abandoned, for a login still under way)."""
        now = self._clock()
        self._expire(now)
        known = self._attempts.pop(attempt_id, None)
        if known is not None and known[0] is not None:
            return known[0]
        self._attempts[attempt_id] = (None, now)
        return None
