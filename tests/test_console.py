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
    assert [cell.strip() for cell in row_2.split("│")[1:-1]] == [
        "2", "127.0.0.1:40002", "IN_WORLD", "alice", "Alicia", "22", "120", "340", "0.4"]
    assert [cell.strip() for cell in row_1.split("│")[1:-1]] == [
        "1", "127.0.0.1:40001", "CONNECTED", "-", "-", "-", "-", "-", "12.2"]
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

