"""``gateway console``: a live terminal view of a running gateway.

It only reads what the gateway's metrics/admin HTTP port serves (``/admin/status``,
``/admin/connections`` and ``/metrics``, with ``ADMIN_TOKEN`` when set), so it works against any
gateway it can reach and never touches its state.

Strategy: one refresh fetches a :class:`Snapshot`; the rates (packets/s, errors/s) are the
difference of two snapshots' counters. The table never cuts a cell: each column is as wide as
its widest cell, and columns are dropped by priority (:data:`COLUMNS`) until the rest fits the
terminal's width. Keys are read from the terminal in cbreak mode without echo (restored on
exit), between refreshes, so a key acts at once.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from gateway_core.admin_client import AdminError, admin_json, admin_request, default_admin_url

__all__ = [
    "Column",
    "Snapshot",
    "View",
    "configure",
    "fetch_snapshot",
    "log_to_file",
    "render",
    "run",
    "run_beside",
]

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
#: What "errors/s" counts: protocol errors and handler errors (plus failed gRPC calls).
ERROR_TOTALS = ("gateway_protocol_errors_total", "gateway_handler_errors_total")


def _humanize(value: float) -> str:
    for unit in ("", "K", "M", "G"):
        if abs(value) < 1000 or unit == "G":
            return f"{value:.0f}{unit}" if unit == "" or value >= 100 else f"{value:.1f}{unit}"
        value /= 1000
    return f"{value:.0f}"  # pragma: no cover


def _bytes(row: Mapping[str, Any]) -> str:
    if row.get("bytes_in") is None and row.get("bytes_out") is None:
        return "-"
    return f"{_humanize(float(row.get('bytes_in') or 0))}/" \
           f"{_humanize(float(row.get('bytes_out') or 0))}"


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


@dataclass(frozen=True)
class Column:
    """One column of the connections table: its header, how a row shows in it, how rows
    sort by it, and its priority (lower stays longer when the terminal is narrow)."""

    key: str
    header: str
    priority: int
    right: bool = False
    show: Callable[[Mapping[str, Any]], str] | None = None

    def text(self, row: Mapping[str, Any]) -> str:
        return self.show(row) if self.show is not None else _cell(row.get(self.key))


#: In display order; ``priority`` decides what goes first on a narrow terminal.
COLUMNS: tuple[Column, ...] = (
    Column("id", "id", 0, right=True),
    Column("peer", "peer", 10),
    Column("user", "user", 1),
    Column("character", "character", 5),
    Column("state", "state", 2),
    Column("map", "map", 6, right=True),
    Column("packets_in", "in", 3, right=True),
    Column("packets_out", "out", 4, right=True),
    Column("bytes", "bytes in/out", 11, right=True, show=_bytes),
    Column("send_queue", "queue", 8, right=True),
    Column("idle_seconds", "idle s", 7, right=True),
    Column("last_packet", "last packet", 9),
)
#: Sort keys, in the order ``s`` cycles through them.
SORT_KEYS: tuple[str, ...] = ("id", "user", "state", "map", "packets_in", "packets_out",
                              "bytes", "send_queue", "idle_seconds")
#: Filters: key that opens the prompt -> the row field it matches.
FILTER_KEYS: Mapping[str, str] = {"u": "user", "t": "state", "m": "map"}


@dataclass
class Snapshot:
    """What one refresh fetched from the gateway."""

    url: str
    connections: list[Mapping[str, Any]] = field(default_factory=list)
    totals: dict[str, float] = field(default_factory=dict)
    grpc_errors: float = 0.0
    status: Mapping[str, Any] | None = None
    error: str | None = None
    taken_at: float = field(default_factory=time.time)
    monotonic: float = field(default_factory=time.monotonic)
    #: packets_in, packets_out, errors per second since the previous snapshot (None: first).
    rates: dict[str, float] | None = None


@dataclass
class View:
    """What the keys change: the sort, the filters and a filter being typed."""

    sort: str = "id"
    reverse: bool = False
    filters: dict[str, str] = field(default_factory=dict)
    prompt: str | None = None  # the field a filter is being typed for
    typed: str = ""

    def key(self, char: str) -> bool:
        """Apply one key; False when it quits."""
        if self.prompt is not None:
            if char in ("\r", "\n"):
                if self.typed.strip():
                    self.filters[self.prompt] = self.typed.strip()
                else:
                    self.filters.pop(self.prompt, None)
                self.prompt, self.typed = None, ""
            elif char == "\x1b":
                self.prompt, self.typed = None, ""
            elif char in ("\x7f", "\x08"):
                self.typed = self.typed[:-1]
            elif char.isprintable():
                self.typed += char
            return True
        if char in ("q", "Q", "\x03", "\x04"):
            return False
        if char == "s":
            index = SORT_KEYS.index(self.sort) if self.sort in SORT_KEYS else -1
            self.sort = SORT_KEYS[(index + 1) % len(SORT_KEYS)]
        elif char in ("r", "S"):
            self.reverse = not self.reverse
        elif char in FILTER_KEYS:
            self.prompt = FILTER_KEYS[char]
            self.typed = self.filters.get(self.prompt, "")
        elif char == "c":
            self.filters.clear()
        return True

    def rows(self, rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """``rows`` filtered and sorted as the view says."""
        kept = [row for row in rows if all(_matches(row, name, text)
                                           for name, text in self.filters.items())]
        present = [row for row in kept if _sort_value(row, self.sort) is not None]
        absent = [row for row in kept if _sort_value(row, self.sort) is None]
        present.sort(key=lambda row: _sort_value(row, self.sort), reverse=self.reverse)
        return present + absent


def _matches(row: Mapping[str, Any], name: str, text: str) -> bool:
    value = row.get(name)
    if value is None:
        return False
    if name == "map":
        return str(value) == text.strip()
    return text.lower() in str(value).lower()


def _sort_value(row: Mapping[str, Any], key: str) -> Any:
    if key == "bytes":
        if row.get("bytes_in") is None and row.get("bytes_out") is None:
            return None
        return (0, float(row.get("bytes_in") or 0) + float(row.get("bytes_out") or 0), "")
    value = row.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, float(value), "")
    text = str(value)
    return (0, float(text), "") if text.isdigit() else (1, 0.0, text.lower())


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


def fetch_snapshot(url: str, timeout: float = 2.0, *, token: str | None = None,
                   previous: Snapshot | None = None) -> Snapshot:
    """Fetch ``/admin/status``, ``/admin/connections`` and ``/metrics`` from the gateway at
    ``url`` (``token``: ADMIN_TOKEN); rates against ``previous`` when given."""
    base = url.rstrip("/")
    snapshot = Snapshot(base)
    try:
        rows = admin_json(base, "/admin/connections", token=token, timeout=timeout)
        if not isinstance(rows, list):
            raise AdminError("/admin/connections did not return a JSON list")
        snapshot.connections = [row for row in rows if isinstance(row, Mapping)]
        try:
            status = admin_json(base, "/admin/status", token=token, timeout=timeout)
            snapshot.status = status if isinstance(status, Mapping) else None
        except AdminError as exc:
            if exc.status != 404:  # an older gateway has no /admin/status
                raise
        snapshot.totals, snapshot.grpc_errors = _totals(
            admin_request(base, "/metrics", timeout=timeout).decode("utf-8", "replace"))
    except (AdminError, ValueError) as exc:
        snapshot.error = f"cannot read {base}: {exc}"
    if previous is not None and previous.error is None and snapshot.error is None:
        snapshot.rates = _rates(previous, snapshot)
    return snapshot


def _errors(snapshot: Snapshot) -> float:
    return sum(snapshot.totals.get(name, 0.0) for name in ERROR_TOTALS) + snapshot.grpc_errors


def _rates(before: Snapshot, after: Snapshot) -> dict[str, float]:
    elapsed = max(after.monotonic - before.monotonic, 1e-3)

    def rate(name: str) -> float:
        return max(0.0, after.totals.get(name, 0.0) - before.totals.get(name, 0.0)) / elapsed

    return {"packets_in": rate("gateway_packets_received_total"),
            "packets_out": rate("gateway_packets_sent_total"),
            "errors": max(0.0, _errors(after) - _errors(before)) / elapsed}


def _number(value: float) -> str:
    return f"{int(value):,}" if value == int(value) else f"{value:,.2f}"


def _uptime(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "-"
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h{minutes:02d}m"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s"


def _header(snapshot: Snapshot) -> Text:
    status = snapshot.status or {}
    text = Text()
    state = ("DRAINING", "bold yellow") if status.get("draining") else \
        ("READY", "bold green") if status.get("ready") else \
        ("NOT READY", "bold red") if status else ("?", "dim")
    text.append(state[0], style=state[1])
    text.append(f"  up {_uptime(status.get('uptime_seconds'))}")
    text.append(f"  listen {status.get('listen') or '-'}")
    connections = status.get("connections", snapshot.totals.get("gateway_active_connections"))
    text.append(f"  connections {_cell(connections)}")
    if "in_world" in status:
        text.append(f" ({status['in_world']} in world)")
    text.append("\n")
    rates = snapshot.rates
    if rates is None:
        text.append("packets/s in -  out -  errors/s -")
    else:
        text.append(f"packets/s in {rates['packets_in']:.1f}  out {rates['packets_out']:.1f}  ")
        text.append(f"errors/s {rates['errors']:.1f}",
                    style="bold red" if rates["errors"] else "")
    backends = status.get("backends")
    if isinstance(backends, Mapping) and backends:
        text.append("\nbackends:")
        for name, health in sorted(backends.items()):
            text.append(f" {name} ")
            text.append(str(health), style="green" if health == "SERVING" else "bold red")
    plugins = status.get("plugins")
    if isinstance(plugins, list) and plugins:
        text.append("\nplugins: " + ", ".join(str(p) for p in plugins))
    return text


def _fit(rows: Sequence[Mapping[str, Any]], width: int) -> list[Column]:
    """The columns that fit ``width`` without cutting a cell, in display order."""
    widths = {column.key: max([len(column.header), *(len(column.text(r)) for r in rows)])
              for column in COLUMNS}
    chosen: set[str] = set()
    used = 0
    for column in sorted(COLUMNS, key=lambda c: c.priority):
        cost = widths[column.key] + (3 if chosen else 2)  # padding, and a separator
        if used + cost > width and chosen:
            continue
        chosen.add(column.key)
        used += cost
    return [column for column in COLUMNS if column.key in chosen]


def render(snapshot: Snapshot, limit: int = 50, *, view: View | None = None,
           width: int = 160) -> RenderableType:
    """The view of one snapshot at ``width`` columns: a header, the totals and the
    connections table (then the keys, when ``view`` is interactive)."""
    view = view if view is not None else View()
    stamp = time.strftime("%H:%M:%S", time.localtime(snapshot.taken_at))
    title = f"gateway {snapshot.url} - {stamp}"
    status = snapshot.status or {}
    if status.get("gateway_id"):
        title = f"gateway {status['gateway_id']} {snapshot.url} - {stamp}"
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

    rows = view.rows(snapshot.connections)
    shown = rows[:limit]
    columns = _fit(shown, width)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=False)
    for column in columns:
        table.add_column(column.header, justify="right" if column.right else "left",
                         no_wrap=True,
                         min_width=max([len(column.header), *(len(column.text(r)) for r in shown)]))
    for row in shown:
        table.add_row(*(column.text(row) for column in columns))
    notes = []
    if len(rows) > limit:
        notes.append(f"... and {len(rows) - limit} more connections")
    hidden = len(COLUMNS) - len(columns)
    if hidden:
        notes.append(f"{hidden} column{'s' if hidden > 1 else ''} hidden (narrow terminal)")
    if len(rows) != len(snapshot.connections):
        notes.append(f"{len(rows)} of {len(snapshot.connections)} connections match")
    if notes:
        table.caption = "; ".join(notes)
    parts: list[RenderableType] = [
        Panel(Group(_header(snapshot), Text(""), totals), title=title, border_style="blue"),
        table,
    ]
    parts.append(_footer(view))
    return Group(*parts)


def _footer(view: View) -> Text:
    text = Text()
    direction = "desc" if view.reverse else "asc"
    if view.filters:
        text.append("filter " + " ".join(f"{k}={v}" for k, v in sorted(view.filters.items()))
                    + "  ", style="bold")
    text.append(f"sort {view.sort} {direction}", style="bold")
    if view.prompt is not None:
        text.append(f"\nfilter {view.prompt}: {view.typed}_  (Enter applies, Esc cancels)",
                    style="bold yellow")
    else:
        text.append("\nkeys: s sort  r reverse  u/t/m filter user/state/map  c clear  q quit",
                    style="dim")
    return text


class _Keys:
    """The terminal's keys in cbreak mode without echo (restored on exit); no keys when
    stdin is not a terminal."""

    def __init__(self) -> None:
        self._fd: int | None = None
        self._saved: Any = None

    def __enter__(self) -> _Keys:
        try:
            fd = sys.stdin.fileno()
        except (AttributeError, OSError, ValueError):
            return self
        if not os.isatty(fd):
            return self
        import termios
        import tty

        self._saved = termios.tcgetattr(fd)
        tty.setcbreak(fd, termios.TCSANOW)  # no line buffering, no echo; Ctrl-C still signals
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            import termios

            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)
            self._fd = None

    def read(self, timeout: float) -> str:
        """The keys typed within ``timeout`` seconds ("" when none); escape sequences
        (arrows...) are dropped."""
        if self._fd is None:
            time.sleep(max(0.0, timeout))
            return ""
        ready, _, _ = select.select([self._fd], [], [], max(0.0, timeout))
        if not ready:
            return ""
        data = os.read(self._fd, 64).decode("utf-8", "replace")
        if data.startswith("\x1b") and len(data) > 1:
            return ""
        return data


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``gateway console``."""
    parser.add_argument("--url", help="base URL of the gateway's metrics/admin port "
                                      "(default: http://$ADMIN_HOST:$PACKET_METRICS_PORT)")
    parser.add_argument("--once", action="store_true",
                        help="print one snapshot and exit (exit code 1 when unreachable)")
    parser.add_argument("--interval", type=float, default=1.0,
                        help="seconds between refreshes (default 1)")
    parser.add_argument("--limit", type=int, default=50, help="connections shown at most")
    parser.add_argument("--sort", choices=SORT_KEYS, default="id",
                        help="sort column (default id; key s cycles, r reverses)")
    parser.add_argument("--user", help="only connections whose user contains this (key u)")
    parser.add_argument("--state", help="only connections whose state contains this (key t)")
    parser.add_argument("--map", help="only connections on this map id (key m)")


def _settings() -> Any:
    from gateway_core.config import ConfigError, load_settings

    try:
        return load_settings()
    except ConfigError:
        return None


def run(args: argparse.Namespace, console: Console | None = None, *,
        settings: Any = None, stop: threading.Event | None = None) -> int:
    """Run the console: ``--once`` prints one snapshot, otherwise refresh until ``q``,
    Ctrl-C or ``stop`` (set by ``gateway serve --console`` when the gateway ends)."""
    console = console if console is not None else Console()
    settings = settings if settings is not None else _settings()
    url = args.url or default_admin_url(settings)
    token = getattr(settings, "ADMIN_TOKEN", None) if settings is not None else None
    limit = max(1, int(args.limit))
    view = View(sort=args.sort)
    for name in ("user", "state", "map"):
        if getattr(args, name, None):
            view.filters[name] = str(getattr(args, name))
    if args.once:
        snapshot = fetch_snapshot(url, token=token)
        console.print(render(snapshot, limit, view=view, width=console.width))
        return 1 if snapshot.error else 0
    interval = max(0.1, float(args.interval))
    with contextlib.suppress(KeyboardInterrupt):
        _live(console, url, token, limit, view, interval, stop)
    return 0


def _live(console: Console, url: str, token: str | None, limit: int, view: View,
          interval: float, stop: threading.Event | None) -> None:
    with _Keys() as keys, Live(console=console, screen=True, auto_refresh=False) as live:
        snapshot: Snapshot | None = None
        due = 0.0
        while stop is None or not stop.is_set():
            now = time.monotonic()
            if now >= due:
                snapshot = fetch_snapshot(url, token=token, previous=snapshot)
                due = now + interval
            assert snapshot is not None
            live.update(render(snapshot, limit, view=view, width=console.width), refresh=True)
            for char in _chars(keys.read(min(0.25, max(0.0, due - time.monotonic())))):
                if not view.key(char):
                    return


def _chars(data: str) -> Iterator[str]:
    yield from data


def run_beside(url: str, settings: Any, stop: threading.Event) -> int:
    """The live console of ``gateway serve --console`` (in a worker thread): until ``q`` or
    Ctrl-C, or until ``stop`` is set because the gateway ended."""
    parser = argparse.ArgumentParser()
    configure(parser)
    return run(parser.parse_args(["--url", url]), settings=settings, stop=stop)


def log_to_file(settings: Any) -> str:
    """Send the process's logs to ``DATA_DIR/gateway.log`` (the console owns the terminal);
    returns the path."""
    import logging
    from pathlib import Path

    path = Path(str(settings.DATA_DIR)) / "gateway.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    handler = logging.FileHandler(path, encoding="utf-8")
    for old in list(root.handlers):
        if isinstance(old, logging.StreamHandler) and not isinstance(old,
                                                                     logging.FileHandler):
            handler.setFormatter(old.formatter)
            root.removeHandler(old)
    root.addHandler(handler)
    return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gateway_core.console`` (same as ``gateway console``)."""
    parser = argparse.ArgumentParser(prog="gateway console")
    configure(parser)
    return run(parser.parse_args(argv))
