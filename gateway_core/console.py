"""``gateway console``: a live terminal view of a running gateway.

It only reads what the gateway's metrics/admin HTTP port serves (``/admin/connections`` and
``/metrics``), so it works against any gateway it can reach and never touches its state.
"""

from __future__ import annotations

import argparse
import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

__all__ = ["Snapshot", "configure", "fetch_snapshot", "render", "run"]

DEFAULT_PORT = 9102

# Totals shown above the table: label -> metric sample name (summed over labels).
TOTALS: tuple[tuple[str, str], ...] = (
    ("connections", "gateway_active_connections"),
    ("accepted", "gateway_connections_accepted_total"),
    ("limit rejects", "gateway_connection_limit_rejections_total"),
    ("packets in", "gateway_packets_received_total"),
    ("packets out", "gateway_packets_sent_total"),
    ("idle timeouts", "gateway_idle_timeouts_total"),
    ("bytes in", "gateway_received_bytes_total"),
    ("bytes out", "gateway_sent_bytes_total"),
    ("slow clients", "gateway_slow_client_disconnects_total"),
    ("proto errors", "gateway_protocol_errors_total"),
    ("router drops", "gateway_router_drops_total"),
    ("handler errors", "gateway_handler_errors_total"),
    ("buffers used", "gateway_buffer_pool_in_use"),
    ("buffers total", "gateway_buffer_pool_capacity"),
    ("gRPC calls", "gateway_grpc_client_seconds_count"),
)
COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "id"), ("peer", "peer"), ("state", "state"), ("user", "user"),
    ("character", "character"), ("map", "map"), ("in", "packets_in"), ("out", "packets_out"),
    ("idle s", "idle_seconds"),
)


@dataclass
class Snapshot:
    """What one refresh fetched from the gateway."""

    url: str
    connections: list[Mapping[str, Any]] = field(default_factory=list)
    totals: dict[str, float] = field(default_factory=dict)
    grpc_errors: float = 0.0
    error: str | None = None
    taken_at: float = field(default_factory=time.time)


def _get(url: str, timeout: float) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body: bytes = response.read()
        return body


def _totals(text: str) -> tuple[dict[str, float], float]:
    wanted = {name for _, name in TOTALS}
    sums: dict[str, float] = {}
    grpc_errors = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in wanted:
                sums[sample.name] = sums.get(sample.name, 0.0) + sample.value
            if (sample.name == "gateway_grpc_client_seconds_count"
                    and sample.labels.get("status") != "OK"):
                grpc_errors += sample.value
    return sums, grpc_errors


def fetch_snapshot(url: str, timeout: float = 2.0) -> Snapshot:
    """Fetch ``/admin/connections`` and ``/metrics`` from the gateway at ``url``."""
    base = url.rstrip("/")
    snapshot = Snapshot(base)
    try:
        rows = json.loads(_get(f"{base}/admin/connections", timeout))
        if not isinstance(rows, list):
            raise ValueError("/admin/connections did not return a JSON list")
        snapshot.connections = [row for row in rows if isinstance(row, Mapping)]
        snapshot.totals, snapshot.grpc_errors = _totals(
            _get(f"{base}/metrics", timeout).decode("utf-8", "replace"))
    except (OSError, urllib.error.URLError, ValueError) as exc:
        snapshot.error = f"cannot read {base}: {exc}"
    return snapshot


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _number(value: float) -> str:
    return f"{int(value):,}" if value == int(value) else f"{value:,.2f}"


def render(snapshot: Snapshot, limit: int = 50) -> RenderableType:
    """The view of one snapshot: a totals panel and the connections table."""
    stamp = time.strftime("%H:%M:%S", time.localtime(snapshot.taken_at))
    if snapshot.error is not None:
        return Panel(snapshot.error, title=f"gateway console - {stamp}", border_style="red")
    totals = Table.grid(padding=(0, 1))
    for _ in range(3):
        totals.add_column(style="bold")
        totals.add_column(justify="right", min_width=9)
    cells = [(label, _number(snapshot.totals.get(name, 0.0))) for label, name in TOTALS]
    cells.append(("gRPC errors", _number(snapshot.grpc_errors)))
    for start in range(0, len(cells), 3):
        totals.add_row(*(text for cell in cells[start:start + 3] for text in cell))

    table = Table(expand=True)
    for header, _ in COLUMNS:
        table.add_column(header, justify="right" if header in ("in", "out", "idle s", "map")
                         else "left", no_wrap=True)
    rows = sorted(snapshot.connections, key=lambda row: str(row.get("id", "")).zfill(12))
    for row in rows[:limit]:
        table.add_row(*(_cell(row.get(key)) for _, key in COLUMNS))
    if len(rows) > limit:
        table.caption = f"... and {len(rows) - limit} more connections"
    return Group(
        Panel(totals, title=f"gateway {snapshot.url} - {stamp}", border_style="blue"),
        table,
    )


def _default_url() -> str:
    from gateway_core.config import ConfigError, load_settings

    try:
        port = load_settings().PACKET_METRICS_PORT or DEFAULT_PORT
    except ConfigError:
        port = DEFAULT_PORT
    return f"http://127.0.0.1:{port}"


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``gateway console``."""
    parser.add_argument("--url", help="base URL of the gateway's metrics/admin port "
                                      "(default: http://127.0.0.1:$PACKET_METRICS_PORT)")
    parser.add_argument("--once", action="store_true",
                        help="print one snapshot and exit (exit code 1 when unreachable)")
    parser.add_argument("--interval", type=float, default=1.0,
                        help="seconds between refreshes (default 1)")
    parser.add_argument("--limit", type=int, default=50, help="connections shown at most")


def run(args: argparse.Namespace, console: Console | None = None) -> int:
    """Run the console: ``--once`` prints one snapshot, otherwise refresh until Ctrl-C."""
    console = console if console is not None else Console()
    url = args.url or _default_url()
    limit = max(1, int(args.limit))
    if args.once:
        snapshot = fetch_snapshot(url)
        console.print(render(snapshot, limit))
        return 1 if snapshot.error else 0
    interval = max(0.1, float(args.interval))
    try:
        with Live(render(fetch_snapshot(url), limit), console=console,
                  refresh_per_second=4, screen=False) as live:
            while True:
                time.sleep(interval)
                live.update(render(fetch_snapshot(url), limit))
    except KeyboardInterrupt:
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gateway_core.console`` (same as ``gateway console``)."""
    parser = argparse.ArgumentParser(prog="gateway console")
    configure(parser)
    return run(parser.parse_args(argv))
