"""``gateway console --once`` against a real metrics/admin HTTP server."""

from __future__ import annotations

import argparse
import io
import re
from collections.abc import Mapping, Sequence
from typing import Any

import anyio
import pytest
from rich.console import Console

from gateway_core.admin_http import MetricsServer
from gateway_core.console import configure, run
from gateway_core.metrics import GatewayMetrics


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


ROWS = [
    {"id": 2, "peer": "127.0.0.1:40002", "state": "IN_WORLD", "user": "alice",
     "character": "Alicia", "map": 22, "packets_in": 120, "packets_out": 340,
     "idle_seconds": 0.4},
    {"id": 1, "peer": "127.0.0.1:40001", "state": "CONNECTED", "user": None,
     "character": None, "map": None, "idle_seconds": 12.25},
]


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    configure(parser)
    return parser.parse_args(list(argv))


def _run_once(url: str, *extra: str) -> tuple[int, str]:
    out = io.StringIO()
    console = Console(file=out, width=160, color_system=None, force_terminal=False)
    code = run(_args("--url", url, "--once", *extra), console=console)
    return code, out.getvalue()


@pytest.mark.anyio
async def test_once_renders_connections_and_totals_from_a_live_server() -> None:
    metrics = GatewayMetrics(process_metrics=False)
    for _ in range(2):
        metrics.connection_opened()
    for _ in range(7):
        metrics.received("PAKCS_ALIVE", 6)
    metrics.received("PAKCS_LOGIN_REQ", 60)
    metrics.sent("PAKSS_ACCEPT_REPLY", 11, count=3)
    metrics.grpc_call("rose.gateway.v1.AuthService/Login", "UNAVAILABLE", 0.1)

    def connections() -> Sequence[Mapping[str, Any]]:
        return ROWS

    async with MetricsServer(metrics, "127.0.0.1", 0, connections=connections) as server:
        code, text = await anyio.to_thread.run_sync(_run_once, server.url)
    assert code == 0
    lines = text.splitlines()
    row_1 = next(line for line in lines if "127.0.0.1:40001" in line)
    row_2 = next(line for line in lines if "127.0.0.1:40002" in line)
    assert lines.index(row_1) < lines.index(row_2)  # sorted by connection id
    # id, peer, user, character, state, map, in, out, bytes, queue, idle, last packet
    assert row_2.split() == [
        "2", "127.0.0.1:40002", "alice", "Alicia", "IN_WORLD", "22", "120", "340", "-", "-",
        "0.4", "-"]
    assert row_1.split() == [
        "1", "127.0.0.1:40001", "-", "-", "CONNECTED", "-", "-", "-", "-", "-", "12.2", "-"]
    for label, value in (("connections", "2"), ("packets in", "8"), ("packets out", "3"),
                         ("bytes in", "102"), ("gRPC errors", "1"), ("proto errors", "0")):
        assert re.search(rf"{label}\s+{value}\b", text), (label, text)


@pytest.mark.anyio
async def test_once_caps_the_table_and_says_how_many_more() -> None:
    rows = [{"id": i, "peer": f"10.0.0.1:{i}"} for i in range(1, 6)]
    async with MetricsServer(GatewayMetrics(), "127.0.0.1", 0, connections=lambda: rows) as server:
        code, text = await anyio.to_thread.run_sync(_run_once, server.url, "--limit", "2")
    assert code == 0
    assert "10.0.0.1:2" in text and "10.0.0.1:3" not in text
    assert "and 3 more connections" in text


def test_once_against_nothing_listening_exits_1_with_the_reason() -> None:
    async def free_port() -> int:
        async with MetricsServer(GatewayMetrics(), "127.0.0.1", 0) as server:
            return server.port

    port = anyio.run(free_port)
    code, text = _run_once(f"http://127.0.0.1:{port}")
    assert code == 1
    assert "cannot read" in text



def test_narrow_terminal_drops_columns_by_priority_and_never_cuts_a_cell() -> None:
    from gateway_core.console import Snapshot, View, render

    rows: list[Mapping[str, Any]] = [{
             "id": 31337, "peer": "192.168.100.200:65000", "state": "CHARACTER_SELECT",
             "user": "botaccount-1234", "character": "Longcharname16ch", "map": 1,
             "packets_in": 123456, "packets_out": 654321, "bytes_in": 10**7, "bytes_out": 10**8,
             "send_queue": 4096, "last_packet": "PAKCS_JOIN_SERVER_REQ", "idle_seconds": 3.5}]
    for width, hidden in ((80, True), (200, False)):
        out = io.StringIO()
        console = Console(file=out, width=width, color_system=None, force_terminal=False)
        console.print(render(Snapshot("http://x", connections=rows), view=View(), width=width))
        text = out.getvalue()
        assert "…" not in text, text
        for cell in ("31337", "botaccount-1234", "CHARACTER_SELECT", "123456", "654321"):
            assert cell in text, (width, cell, text)
        assert ("hidden (narrow terminal)" in text) is hidden, text
        assert ("192.168.100.200:65000" in text) is not hidden
        assert max(len(line) for line in text.splitlines()) <= width


def test_view_sorts_and_filters_rows() -> None:
    from gateway_core.console import View

    rows = [{"id": 1, "user": "zed", "state": "IN_WORLD", "map": 2, "packets_in": 5},
            {"id": 2, "user": "amy", "state": "CHARACTER_SELECT", "map": None},
            {"id": 3, "user": "bob", "state": "IN_WORLD", "map": 1, "packets_in": 9}]
    view = View()
    assert [r["id"] for r in view.rows(rows)] == [1, 2, 3]
    assert view.key("s") and view.sort == "user"
    assert [r["user"] for r in view.rows(rows)] == ["amy", "bob", "zed"]
    assert view.key("r") and [r["user"] for r in view.rows(rows)] == ["zed", "bob", "amy"]
    for char in "tworld\r":
        assert view.key(char)
    assert [r["id"] for r in view.rows(rows)] == [1, 3]  # zed, bob: by user, reversed
    for char in "m2\r":
        view.key(char)
    assert [r["id"] for r in view.rows(rows)] == [1]
    view.key("c")
    assert len(view.rows(rows)) == 3
    assert not view.key("q")
