"""Metrics: the collectors, their registries and their exposition (the HTTP server that serves
them: tests/test_admin_http.py)."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from gateway_core.metrics import MAX_LABEL_VALUES, GatewayMetrics


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_two_instances_keep_separate_registries() -> None:
    first, second = GatewayMetrics(), GatewayMetrics()
    first.received("PAKCS_ACCEPT_REQ")
    assert _samples(first.render().decode())[
        ("gateway_packets_received_total", (("type", "PAKCS_ACCEPT_REQ"),))] == 1
    assert ("gateway_packets_received_total", (("type", "PAKCS_ACCEPT_REQ"),)) not in _samples(
        second.render().decode())


def test_label_values_from_clients_are_capped() -> None:
    metrics = GatewayMetrics(process_metrics=False)
    for value in range(MAX_LABEL_VALUES + 50):
        metrics.received(f"0x{value:04x}")
    s = _samples(metrics.render().decode())
    types = [labels for name, labels in s if name == "gateway_packets_received_total"]
    assert len(types) == MAX_LABEL_VALUES + 1
    assert s[("gateway_packets_received_total", (("type", "other"),))] == 50


def _without_created_values(text: str) -> list[str]:
    # *_created samples carry creation times; keep the series, drop the value.
    return sorted(line.rsplit(" ", 1)[0] if "_created{" in line or "_created " in line
                  else line for line in text.splitlines())


def test_per_packet_metrics_are_exposed_exactly_like_prometheus_client_metrics() -> None:
    # The hot-path collectors must be indistinguishable from a Counter / Histogram fed the same
    # values (reference: prometheus-client's own classes in a registry of their own).
    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

    from gateway_core.metrics import PROCESSING_BUCKETS

    metrics = GatewayMetrics(process_metrics=False)
    ref = CollectorRegistry()
    rx = Counter("gateway_packets_received", "Packets received from clients, by packet type.",
                 ["type"], registry=ref)
    tx = Counter("gateway_packets_sent", "Packets sent to clients, by packet type.", ["type"],
                 registry=ref)
    hist = Histogram("gateway_packet_processing_seconds",
                     "Time from a decoded packet to its handler's return, by packet type.",
                     ["type"], buckets=PROCESSING_BUCKETS, registry=ref)
    bytes_in = Counter("gateway_received_bytes", "Bytes received from clients.", registry=ref)
    bytes_out = Counter("gateway_sent_bytes", "Bytes sent to clients.", registry=ref)
    # Values on and around bucket bounds land where prometheus-client puts them (le is <=).
    for seconds in (0.0, 0.00005, 0.00005001, 0.0003, 0.0003, 0.1, 2.5, 7.0):
        metrics.processed("PAKCS_LOGIN_REQ", seconds)
        hist.labels("PAKCS_LOGIN_REQ").observe(seconds)
    metrics.processed("PAKCS_ALIVE", 0.001)
    hist.labels("PAKCS_ALIVE").observe(0.001)
    for name in ("PAKCS_ALIVE", "PAKCS_ALIVE", "PAKCS_LOGIN_REQ"):
        metrics.received(name, 6)
        rx.labels(name).inc()
        bytes_in.inc(6)
    metrics.sent("PAKWC_NPC_CHAR", 40, count=3)
    tx.labels("PAKWC_NPC_CHAR").inc(3)
    bytes_out.inc(120)
    metrics.received_bytes(7)
    bytes_in.inc(7)
    metrics.sent_bytes(9)
    bytes_out.inc(9)

    mine = [line for line in _without_created_values(metrics.render().decode())
            if any(n in line for n in ("packets_received", "packets_sent", "processing_seconds",
                                       "received_bytes", "sent_bytes"))]
    assert mine == _without_created_values(generate_latest(ref).decode())
