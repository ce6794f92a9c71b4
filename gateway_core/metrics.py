"""Prometheus metrics of one gateway (served over HTTP by :mod:`gateway_core.admin_http`).

Strategy: every :class:`GatewayMetrics` has its own ``CollectorRegistry`` (several gateways can
live in one test process). Labelled children are created once and cached in dicts, so counting a
packet on the hot path is a dict lookup plus ``inc()``. Label values coming from clients (packet
type names, error kinds) are capped per metric: past the cap, new values are counted as "other"
so a hostile client cannot grow the registry without bound.

The per-packet metrics (packets received and sent by type, processing time by type, bytes) are
updated several times per packet, where a prometheus-client ``inc()`` (a lock and a few calls)
cost more than decoding the packet. They are collectors of their own (:class:`_HotCounter`,
:class:`_HotHistogram`): plain Python lists updated in place on the hot path, turned into the
same exposition as a ``Counter`` / ``Histogram`` when the registry is collected, so a scrape
always sees every packet counted so far. They are only updated from the event loop's thread.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client import metrics as _prometheus_metrics
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

__all__ = ["GatewayMetrics"]

PROCESSING_BUCKETS: Final = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5,
)
GRPC_BUCKETS: Final = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)
MAX_LABEL_VALUES: Final = 512  # per metric; beyond it new label values count as "other"
OTHER_LABEL: Final = "other"


class _Children(dict[str, Any]):
    """Labelled children of one single-label metric, created on first use and then cached."""

    __slots__ = ("_limit", "_metric")

    def __init__(self, metric: Counter | Histogram, limit: int = MAX_LABEL_VALUES) -> None:
        super().__init__()
        self._metric = metric
        self._limit = limit

    def __missing__(self, label: str) -> Any:
        if len(self) >= self._limit:
            if OTHER_LABEL not in self:
                dict.__setitem__(self, OTHER_LABEL, self._metric.labels(OTHER_LABEL))
            return dict.__getitem__(self, OTHER_LABEL)
        child = self._metric.labels(label)
        self[label] = child
        return child


def _created_series() -> bool:
    # prometheus_client.disable_created_metrics() turns the *_created samples off globally.
    return bool(getattr(_prometheus_metrics, "_use_created", True))


class _Cells(dict[str, list[float]]):
    """label value -> mutable cell, created on first use; past ``limit`` values, "other"."""

    __slots__ = ("_limit", "_make")

    def __init__(self, make: Callable[[], list[float]], limit: int) -> None:
        super().__init__()
        self._make = make
        self._limit = limit

    def __missing__(self, label: str) -> list[float]:
        if len(self) >= self._limit:
            label = OTHER_LABEL
            if label in self:
                return dict.__getitem__(self, label)
        cell = self[label] = self._make()
        return cell


class _HotCounter:
    """A counter with one label (or none) kept in plain lists: ``cells[label][0] += n``.

    Exposed exactly like a prometheus-client ``Counter`` of the same name (``<name>_total`` and
    ``<name>_created`` per label value). Cells are ``[value, created]``.
    """

    def __init__(self, name: str, documentation: str, label: str | None,
                 registry: CollectorRegistry, limit: int = MAX_LABEL_VALUES) -> None:
        self.name = name
        self.documentation = documentation
        self.label = label
        self.cells = _Cells(lambda: [0, time.time()], limit)
        #: The cell of the unlabelled form.
        self.total = self.cells[""] if label is None else [0.0, time.time()]
        registry.register(self)

    def inc(self, amount: float = 1, label: str = "") -> None:
        """Add ``amount`` (>= 0) to the value of ``label`` (the unlabelled form: no label)."""
        if amount < 0:
            raise ValueError("counters can only be incremented by non-negative amounts")
        self.cells[label][0] += amount

    def value(self, label: str = "") -> float:
        """The current value of ``label`` (0 when never counted)."""
        cell = self.cells.get(label)
        return 0.0 if cell is None else cell[0]

    def describe(self) -> list[Metric]:
        return [CounterMetricFamily(self.name, self.documentation,
                                    labels=[self.label] if self.label else None)]

    def collect(self) -> Iterator[Metric]:
        created = _created_series()
        if self.label is None:
            value, ts = self.total
            yield CounterMetricFamily(self.name, self.documentation, value=value,
                                      created=ts if created else None)
            return
        family = CounterMetricFamily(self.name, self.documentation, labels=[self.label])
        for label, (value, ts) in list(self.cells.items()):
            family.add_metric([label], value, created=ts if created else None)
        yield family


class _HotHistogram:
    """A histogram with one label kept in plain lists, exposed like a prometheus-client
    ``Histogram``. A cell is ``[count in bucket 0, ..., count in +Inf, sum, created]``: an
    observation adds 1 to the first bucket whose bound is >= the value (not cumulative; the
    exposition sums them up)."""

    def __init__(self, name: str, documentation: str, label: str,
                 buckets: Sequence[float], registry: CollectorRegistry,
                 limit: int = MAX_LABEL_VALUES) -> None:
        self.name = name
        self.documentation = documentation
        self.label = label
        self.bounds = tuple(float(b) for b in buckets)
        if list(self.bounds) != sorted(self.bounds):
            raise ValueError("histogram buckets must be in increasing order")
        self._les = [floatToGoString(b) for b in self.bounds] + ["+Inf"]  # type: ignore[no-untyped-call]
        n = len(self.bounds) + 1
        self.sum_index = n
        self.cells = _Cells(lambda: [0] * n + [0.0, time.time()], limit)
        registry.register(self)

    def observe(self, amount: float, label: str) -> None:
        """Record one observation of ``amount`` for ``label``."""
        cell = self.cells[label]
        cell[bisect_left(self.bounds, amount)] += 1
        cell[self.sum_index] += amount

    def describe(self) -> list[Metric]:
        return [HistogramMetricFamily(self.name, self.documentation, labels=[self.label])]

    def collect(self) -> Iterator[Metric]:
        created = _created_series()
        family = HistogramMetricFamily(self.name, self.documentation, labels=[self.label])
        les = self._les
        for label, cell in list(self.cells.items()):
            cumulative = 0.0
            buckets = []
            for le, count in zip(les, cell, strict=False):
                cumulative += count
                buckets.append((le, cumulative))
            family.add_metric([label], buckets, cell[self.sum_index])
            if created:
                family.samples.append(
                    Sample(self.name + "_created", {self.label: label}, cell[-1]))
        yield family


class GatewayMetrics:
    """The gateway's Prometheus metrics (all named ``gateway_*``) and cheap recording methods.

    ``registry`` defaults to a fresh ``CollectorRegistry`` owned by this instance. With
    ``process_metrics`` the standard ``process_*`` metrics (memory, CPU, fds) are added to it.
    """

    def __init__(
        self, registry: CollectorRegistry | None = None, *, process_metrics: bool = True
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        if process_metrics:
            ProcessCollector(registry=r)

        self.active_connections = Gauge(
            "gateway_active_connections", "Client connections currently open.", registry=r)
        self.connections_accepted = Counter(
            "gateway_connections_accepted", "Client connections accepted.", registry=r)
        self.packets_received = _HotCounter(
            "gateway_packets_received", "Packets received from clients, by packet type.",
            "type", r)
        self.packets_sent = _HotCounter(
            "gateway_packets_sent", "Packets sent to clients, by packet type.", "type", r)
        self.packet_processing = _HotHistogram(
            "gateway_packet_processing_seconds",
            "Time from a decoded packet to its handler's return, by packet type.",
            "type", PROCESSING_BUCKETS, r)
        self.bytes_received = _HotCounter(
            "gateway_received_bytes", "Bytes received from clients.", None, r)
        self.bytes_sent = _HotCounter("gateway_sent_bytes", "Bytes sent to clients.", None, r)
        self.protocol_errors = Counter(
            "gateway_protocol_errors", "Connections closed for a protocol error, by kind.",
            ["kind"], registry=r)
        self.protocol_warnings = Counter(
            "gateway_protocol_warnings",
            "Lenient-decode warnings (short payload, extra bytes, unknown type), by kind.",
            ["kind"], registry=r)
        self.router_drops = Counter(
            "gateway_router_drops", "Packets the router dropped, by reason.",
            ["reason"], registry=r)
        self.handler_errors = Counter(
            "gateway_handler_errors", "Exceptions raised by packet handlers, by plugin.",
            ["plugin"], registry=r)
        self.slow_client_disconnects = Counter(
            "gateway_slow_client_disconnects",
            "Clients disconnected because their send queue was full.", registry=r)
        self.flood_disconnects = Counter(
            "gateway_flood_disconnects",
            "Clients disconnected for sending packets over MAX_PACKETS_PER_SECOND / "
            "MAX_PACKETS_BURST.", registry=r)
        self.connection_limit_rejections = Counter(
            "gateway_connection_limit_rejections",
            "Connections refused at MAX_CONCURRENT_CONNECTIONS or the open-file headroom.",
            registry=r)
        self.connections_refused = Counter(
            "gateway_connections_refused",
            "Connections refused at accept time, by reason (per_ip, rate, fd_headroom, "
            "max_connections, proxy_header, proxy_timeout, proxy_untrusted).",
            ["reason"], registry=r)
        self.idle_timeouts = Counter(
            "gateway_idle_timeouts", "Connections closed after IDLE_TIMEOUT.", registry=r)
        self.buffer_pool_in_use = Gauge(
            "gateway_buffer_pool_in_use", "Pooled receive buffers in use.", registry=r)
        self.buffer_pool_capacity = Gauge(
            "gateway_buffer_pool_capacity", "Pooled receive buffers in the pool.", registry=r)
        # Buffers change hands twice per received chunk: keep the numbers in plain ints and let
        # the gauges read them when collected.
        self._pool_in_use = 0
        self._pool_capacity = 0
        self.buffer_pool_in_use.set_function(lambda: self._pool_in_use)
        self.buffer_pool_capacity.set_function(lambda: self._pool_capacity)
        self.buffer_pool_exhausted = Counter(
            "gateway_buffer_pool_exhausted",
            "Times a receive buffer was needed while the pool was empty.", registry=r)
        self.grpc_client_latency = Histogram(
            "gateway_grpc_client_seconds",
            "Backend gRPC call latency, by method and final status code.",
            ["method", "status"], buckets=GRPC_BUCKETS, registry=r)

        self._rx = self.packets_received.cells
        self._tx = self.packets_sent.cells
        self._processing = self.packet_processing.cells
        self._processing_bounds = self.packet_processing.bounds
        self._processing_sum = self.packet_processing.sum_index
        self._bytes_in = self.bytes_received.total
        self._bytes_out = self.bytes_sent.total
        self._protocol_errors = _Children(self.protocol_errors)
        self._protocol_warnings = _Children(self.protocol_warnings)
        self._router_drops = _Children(self.router_drops)
        self._handler_errors = _Children(self.handler_errors)
        self._grpc: dict[tuple[str, str], Any] = {}

    # -- connections -------------------------------------------------------------------------

    def connection_opened(self) -> None:
        """A client connection was accepted."""
        self.connections_accepted.inc()
        self.active_connections.inc()

    def connection_closed(self) -> None:
        """A client connection is gone (whatever the reason)."""
        self.active_connections.dec()

    def connection_rejected(self) -> None:
        """A connection was refused because MAX_CONCURRENT_CONNECTIONS is reached."""
        self.connection_limit_rejections.inc()

    def connection_refused(self, reason: str) -> None:
        """A connection was refused at accept time for ``reason`` (a fixed set, never from
        the client)."""
        self.connections_refused.labels(reason).inc()

    def idle_timeout(self) -> None:
        """A connection was closed after IDLE_TIMEOUT without traffic."""
        self.idle_timeouts.inc()

    def slow_client_disconnect(self) -> None:
        """A client was dropped because its send queue exceeded SEND_QUEUE_LIMIT."""
        self.slow_client_disconnects.inc()

    def flood_disconnect(self) -> None:
        """A client was dropped for sending packets faster than its rate limit."""
        self.flood_disconnects.inc()

    # -- packets (hot path) ------------------------------------------------------------------

    def received(self, type_name: str, nbytes: int = 0) -> None:
        """One packet of ``type_name`` (``nbytes`` on the wire, header included) came in.

        Pass ``nbytes=0`` when bytes are counted per socket read with :meth:`received_bytes`.
        """
        self._rx[type_name][0] += 1
        if nbytes:
            self._bytes_in[0] += nbytes

    def sent(self, type_name: str, nbytes: int = 0, count: int = 1) -> None:
        """``count`` packets of ``type_name`` went out (``nbytes`` wire bytes each)."""
        self._tx[type_name][0] += count
        if nbytes:
            self._bytes_out[0] += nbytes * count

    def received_bytes(self, nbytes: int) -> None:
        """``nbytes`` were read from a client socket."""
        self._bytes_in[0] += nbytes

    def sent_bytes(self, nbytes: int) -> None:
        """``nbytes`` were written to a client socket."""
        self._bytes_out[0] += nbytes

    def processed(self, type_name: str, seconds: float) -> None:
        """A packet of ``type_name`` took ``seconds`` from decode to handler return."""
        cell = self._processing[type_name]
        cell[bisect_left(self._processing_bounds, seconds)] += 1
        cell[self._processing_sum] += seconds

    # -- errors ------------------------------------------------------------------------------

    def protocol_error(self, kind: str) -> None:
        """A connection hit a protocol error of ``kind`` (RemoteProtocolError.kind)."""
        self._protocol_errors[kind].inc()

    def protocol_warning(self, kind: str) -> None:
        """A lenient-decode warning of ``kind`` (short_payload, extra_bytes, unknown_type)."""
        self._protocol_warnings[kind].inc()

    def router_drop(self, reason: str) -> None:
        """The router dropped a packet (e.g. ``unknown_type``, ``wrong_state``)."""
        self._router_drops[reason].inc()

    def handler_error(self, plugin: str) -> None:
        """A handler of ``plugin`` raised."""
        self._handler_errors[plugin].inc()

    # -- buffer pool -------------------------------------------------------------------------

    def buffer_pool(self, in_use: int, capacity: int) -> None:
        """Current buffer pool usage."""
        self._pool_in_use = in_use
        self._pool_capacity = capacity

    def buffer_pool_empty(self) -> None:
        """A buffer was requested while the pool was exhausted."""
        self.buffer_pool_exhausted.inc()

    # -- gRPC --------------------------------------------------------------------------------

    def grpc_call(self, method: str, status: str, seconds: float) -> None:
        """A backend call to ``method`` ended with ``status`` (a grpc.StatusCode name)."""
        key = (method, status)
        try:
            child = self._grpc[key]
        except KeyError:
            child = self._grpc[key] = self.grpc_client_latency.labels(method, status)
        child.observe(seconds)

    # -- exposition --------------------------------------------------------------------------

    def render(self) -> bytes:
        """The Prometheus text exposition of this registry."""
        return generate_latest(self.registry)
