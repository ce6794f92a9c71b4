"""Admission of client connections: per-address limits, file-descriptor headroom, refusal logs.

Strategy: everything here is decided once per accepted connection, never per packet, and
without a socket (the clock is injected), so :mod:`gateway_core.server` only asks
:meth:`ConnectionLimiter.admit` and reports :meth:`ConnectionLimiter.release`:

* an address is a client's IP; IPv6 addresses count by their /64 (one subscriber's prefix),
  IPv4-mapped IPv6 addresses as the IPv4 address;
* each address may hold MAX_CONNECTIONS_PER_IP connections and open new ones at
  CONNECT_RATE_PER_IP per second on average, CONNECT_BURST_PER_IP at once (a token bucket);
  the addresses of CONNECTION_LIMIT_ALLOW are exempt;
* the per-address tables hold only addresses with connections open or a bucket not full yet
  (:meth:`ConnectionLimiter.prune` drops the rest), so their size is bounded by the
  connections and the connect rate, not by how many addresses ever connected;
* :func:`raise_open_file_limit` lifts the soft RLIMIT_NOFILE to the hard limit at start-up, and
  :func:`connection_capacity` keeps a reserve of descriptors for everything that is not a
  client (backends, files, the admin port), so connections are refused, counted and logged
  before the process runs out, instead of the event loop failing ``accept()`` in silence.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = [
    "AddressSet",
    "ConnectionLimiter",
    "FileLimit",
    "RefusalLog",
    "connection_capacity",
    "fd_reserve",
    "limit_key",
    "open_descriptors",
    "raise_open_file_limit",
    "report_file_limit",
]

log = logging.getLogger("gateway.server")

#: Descriptors kept for everything that is not a client connection: at least this many ...
FD_RESERVE_MIN = 64
#: ... or this fraction of the limit, whichever is more ...
FD_RESERVE_FRACTION = 0.10
#: ... and at least this many more than were open at start-up.
FD_GROWTH = 32

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def limit_key(host: str) -> str:
    """The key an address is limited under: the IP itself, an IPv6 address's /64, an
    IPv4-mapped IPv6 address as IPv4; a string that is no IP stays itself."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class AddressSet:
    """Addresses and networks (``"10.0.0.0/8,::1"``): ``host in addresses``."""

    def __init__(self, entries: Iterable[str]) -> None:
        networks: list[_Network] = []
        for entry in entries:
            entry = entry.strip()
            if entry:
                networks.append(ipaddress.ip_network(entry, strict=False))
        self.networks = tuple(networks)

    @classmethod
    def parse(cls, text: str) -> AddressSet:
        """From a comma-separated list; raises ``ValueError`` naming a bad entry."""
        entries = [part.strip() for part in text.split(",") if part.strip()]
        for entry in entries:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network") from None
        return cls(entries)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def __contains__(self, host: object) -> bool:
        if not self.networks or not isinstance(host, str):
            return False
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)


class ConnectionLimiter:
    """Per-address concurrent connections and connect rate (see the module's Strategy).

    ``max_per_address`` 0 = no cap; ``rate`` 0 = no rate limit.
    """

    def __init__(
        self,
        *,
        max_per_address: int,
        rate: float,
        burst: int,
        allow: AddressSet | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_per_address = max_per_address
        self.rate = rate
        self.burst = float(max(1, burst))
        self.allow = allow if allow is not None else AddressSet(())
        self.clock = clock
        #: Open connections per address key (only keys with at least one).
        self.open: dict[str, int] = {}
        #: Connect token bucket per address key: [tokens, last refill].
        self.buckets: dict[str, list[float]] = {}

    def admit(self, host: str) -> tuple[str | None, str]:
        """Decide on a new connection from ``host``: ``(None, key)`` when admitted (then
        :meth:`release` ``key`` when it ends), ``(reason, key)`` when refused (``"per_ip"``
        or ``"rate"``). An exempt address is admitted with the key ``""``."""
        if host in self.allow:
            return None, ""
        key = limit_key(host)
        if self.max_per_address and self.open.get(key, 0) >= self.max_per_address:
            return "per_ip", key
        if self.rate:
            now = self.clock()
            bucket = self.buckets.get(key)
            if bucket is None:
                bucket = self.buckets[key] = [self.burst, now]
            else:
                bucket[0] = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
                bucket[1] = now
            if bucket[0] < 1.0:
                return "rate", key
            bucket[0] -= 1.0
        self.open[key] = self.open.get(key, 0) + 1
        return None, key

    def release(self, key: str) -> None:
        """A connection admitted under ``key`` ended."""
        if not key:
            return
        left = self.open.get(key, 0) - 1
        if left > 0:
            self.open[key] = left
        else:
            self.open.pop(key, None)

    def prune(self) -> None:
        """Forget the buckets that are full again (as good as never seen)."""
        if not self.rate:
            self.buckets.clear()
            return
        now = self.clock()
        full_after = self.burst / self.rate
        for key, (tokens, stamp) in list(self.buckets.items()):
            if now - stamp >= full_after or tokens + (now - stamp) * self.rate >= self.burst:
                del self.buckets[key]


class RefusalLog:
    """Rate-limited log lines of refused connections: at most one per address key per
    ``interval`` seconds (with how many were not logged since), and at most ``overall`` lines
    per interval in all, so a flood from many addresses cannot flood the log either."""

    def __init__(self, *, interval: float = 10.0, overall: int = 20,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.overall = overall
        self.clock = clock
        self._last: dict[str, list[float]] = {}  # key -> [last logged, suppressed since]
        self._window = -float("inf")
        self._in_window = 0
        self.suppressed = 0  # refusals not logged at all since the last line

    def should_log(self, key: str) -> int | None:
        """``None``: do not log this refusal; otherwise the number of refusals of ``key``
        that were not logged since its last line."""
        now = self.clock()
        entry = self._last.get(key)
        if entry is not None and now - entry[0] < self.interval:
            entry[1] += 1
            return None
        if now - self._window >= self.interval:
            self._window, self._in_window = now, 0
        if self._in_window >= self.overall:
            if entry is not None:
                entry[1] += 1
            return None
        self._in_window += 1
        skipped = 0 if entry is None else int(entry[1])
        self._last[key] = [now, 0.0]
        return skipped

    def prune(self) -> None:
        """Forget the keys whose last line is older than the interval."""
        now = self.clock()
        for key, (stamp, _) in list(self._last.items()):
            if now - stamp >= self.interval:
                del self._last[key]


# -- file descriptors ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileLimit:
    """RLIMIT_NOFILE at start-up: ``before`` and ``soft`` (after raising) and ``hard``
    (``None`` values where the platform has no such limit); ``error`` when raising failed."""

    before: int | None
    soft: int | None
    hard: int | None
    error: str = ""


def raise_open_file_limit() -> FileLimit:
    """Raise the soft open-file limit as far as the hard limit allows (on macOS also
    ``OPEN_MAX``); returns the limits before and after."""
    try:
        import resource
    except ImportError:  # not a Unix
        return FileLimit(None, None, None)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    infinity = resource.RLIM_INFINITY
    target = hard
    if target == infinity or target < 0:
        target = 1 << 20  # "unlimited" hard limit: ask for a large, finite soft one
    if soft != infinity and soft >= 0 and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            return FileLimit(soft, soft, None if hard == infinity else hard, str(exc))
    new_soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return FileLimit(
        None if soft == infinity else soft,
        None if new_soft == infinity else new_soft,
        None if hard == infinity else hard,
    )


def open_descriptors() -> int:
    """File descriptors this process has open now (0 where that cannot be seen)."""
    for directory in ("/proc/self/fd", "/dev/fd"):
        try:
            return max(0, len(os.listdir(directory)) - 1)  # listdir's own descriptor
        except OSError:
            continue
    return 0


def fd_reserve(limit: int, in_use: int = 0) -> int:
    """Descriptors kept for what is not a client connection under an open-file ``limit``:
    64 or 10 % of it, whichever is more, and at least ``in_use`` (those open at start-up:
    services, channels, files) plus 32."""
    return max(FD_RESERVE_MIN, int(limit * FD_RESERVE_FRACTION), in_use + FD_GROWTH)


def connection_capacity(max_connections: int, limit: int | None, in_use: int = 0) -> int:
    """Client connections the gateway may hold: MAX_CONCURRENT_CONNECTIONS, or fewer when the
    open-file ``limit`` (``None``: none) minus the reserve is lower (at least 1)."""
    if limit is None:
        return max_connections
    return max(1, min(max_connections, limit - fd_reserve(limit, in_use)))


def report_file_limit(limit: FileLimit, max_connections: int, in_use: int = 0) -> int:
    """Log the open-file limit at start-up and return the connection capacity; warn when the
    limit is lower than MAX_CONCURRENT_CONNECTIONS needs."""
    capacity = connection_capacity(max_connections, limit.soft, in_use)
    if limit.soft is None:
        log.info("open-file limit: none")
        return capacity
    if limit.error:
        log.warning("could not raise the open-file limit from %d (hard %s): %s",
                    limit.soft, limit.hard, limit.error)
    elif limit.before is not None and limit.soft > limit.before:
        log.info("raised the open-file limit from %d to %d (the hard limit)",
                 limit.before, limit.soft)
    else:
        log.info("open-file limit %d (hard %s)", limit.soft,
                 "unlimited" if limit.hard is None else limit.hard)
    if capacity < max_connections:
        log.warning(
            "the open-file limit %d (hard %s) allows %d client connections, fewer than "
            "MAX_CONCURRENT_CONNECTIONS=%d needs (%d plus %d kept for backends and files): "
            "connections beyond %d are refused; raise the hard limit (ulimit -Hn, "
            "LimitNOFILE=, docker --ulimit nofile=) or lower MAX_CONCURRENT_CONNECTIONS",
            limit.soft, "unlimited" if limit.hard is None else limit.hard, capacity,
            max_connections, max_connections, fd_reserve(limit.soft, in_use), capacity)
    return capacity
