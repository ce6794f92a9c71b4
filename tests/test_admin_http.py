"""Admin HTTP server: recorded metrics scraped over real HTTP, health/readiness and the admin
endpoint."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

import anyio
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway_core.admin_http import MetricsServer
from gateway_core.metrics import GatewayMetrics


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


async def _fetch(url: str) -> tuple[int, str, str]:
    # urllib blocks; run it in a worker thread so the server in this loop can answer.
    return await anyio.to_thread.run_sync(_get, url)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.mark.anyio
async def test_recorded_values_are_scraped_over_http() -> None:
    metrics = GatewayMetrics()
    metrics.connection_opened()
    metrics.connection_opened()
    metrics.connection_closed()
    metrics.received("PAKCS_ACCEPT_REQ", 6)
    metrics.received("PAKCS_LOGIN_REQ", 60)
    metrics.received("PAKCS_LOGIN_REQ", 60)
    metrics.sent("PAKSS_ACCEPT_REPLY", 11)
    metrics.sent("PAKWC_NPC_CHAR", 40, count=3)
    metrics.processed("PAKCS_LOGIN_REQ", 0.002)
    metrics.protocol_error("bad_size")
    metrics.protocol_warning("short_payload")
    metrics.router_drop("wrong_state")
    metrics.handler_error("chat")
    metrics.slow_client_disconnect()
    metrics.connection_rejected()
    metrics.idle_timeout()
    metrics.buffer_pool(3, 1024)
    metrics.buffer_pool_empty()
    metrics.grpc_call("rose.gateway.v1.AuthService/Login", "OK", 0.01)

    async with MetricsServer(metrics, "127.0.0.1", 0) as server:
        assert server.port > 0
        status, ctype, body = await _fetch(f"{server.url}/metrics")
    assert status == 200 and ctype.startswith("text/plain")
    s = _samples(body)
    assert s[("gateway_active_connections", ())] == 1
    assert s[("gateway_connections_accepted_total", ())] == 2
    assert s[("gateway_packets_received_total", (("type", "PAKCS_ACCEPT_REQ"),))] == 1
    assert s[("gateway_packets_received_total", (("type", "PAKCS_LOGIN_REQ"),))] == 2
    assert s[("gateway_packets_sent_total", (("type", "PAKWC_NPC_CHAR"),))] == 3
    assert s[("gateway_received_bytes_total", ())] == 126
    assert s[("gateway_sent_bytes_total", ())] == 131
    assert s[("gateway_packet_processing_seconds_count", (("type", "PAKCS_LOGIN_REQ"),))] == 1
    assert s[("gateway_protocol_errors_total", (("kind", "bad_size"),))] == 1
    assert s[("gateway_protocol_warnings_total", (("kind", "short_payload"),))] == 1
    assert s[("gateway_router_drops_total", (("reason", "wrong_state"),))] == 1
    assert s[("gateway_handler_errors_total", (("plugin", "chat"),))] == 1
    assert s[("gateway_slow_client_disconnects_total", ())] == 1
    assert s[("gateway_connection_limit_rejections_total", ())] == 1
    assert s[("gateway_idle_timeouts_total", ())] == 1
    assert s[("gateway_buffer_pool_in_use", ())] == 3
    assert s[("gateway_buffer_pool_capacity", ())] == 1024
    assert s[("gateway_buffer_pool_exhausted_total", ())] == 1
    assert s[("gateway_grpc_client_seconds_count",
              (("method", "rose.gateway.v1.AuthService/Login"), ("status", "OK")))] == 1
    assert ("process_resident_memory_bytes", ()) in s


@pytest.mark.anyio
async def test_healthz_is_up_and_readyz_follows_the_callback() -> None:
    ready = False

    async def is_ready() -> bool:
        return ready

    async with MetricsServer(GatewayMetrics(), "127.0.0.1", 0, ready=is_ready) as server:
        assert (await _fetch(f"{server.url}/healthz"))[0] == 200
        assert (await _fetch(f"{server.url}/readyz"))[0] == 503
        ready = True
        assert (await _fetch(f"{server.url}/readyz"))[0] == 200
        assert (await _fetch(f"{server.url}/nothing-here"))[0] == 404


@pytest.mark.anyio
async def test_readyz_is_503_when_the_callback_raises() -> None:
    def broken() -> bool:
        raise RuntimeError("backend down")

    async with MetricsServer(GatewayMetrics(), "127.0.0.1", 0, ready=broken) as server:
        status, _, body = await _fetch(f"{server.url}/readyz")
    assert status == 503 and "backend down" in body


@pytest.mark.anyio
async def test_admin_connections_serves_the_callback_rows_as_json() -> None:
    rows = [{"id": 1, "peer": "127.0.0.1:5000", "state": "IN_WORLD", "user": "alice",
             "character": "Alice", "map": 22, "packets_in": 10, "packets_out": 12,
             "idle_seconds": 1.5}]

    def connections() -> Sequence[Mapping[str, Any]]:
        return rows

    async with MetricsServer(GatewayMetrics(), "127.0.0.1", 0, connections=connections) as server:
        status, ctype, body = await _fetch(f"{server.url}/admin/connections")
    assert status == 200 and ctype == "application/json"
    assert json.loads(body) == rows


@pytest.mark.anyio
async def test_garbage_request_gets_400_and_server_keeps_serving() -> None:
    async with MetricsServer(GatewayMetrics(), "127.0.0.1", 0) as server:

        def send_garbage() -> bytes:
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
                sock.sendall(b"\x00\x01garbage\r\n\r\n")
                return sock.recv(1024)

        assert (await anyio.to_thread.run_sync(send_garbage)).startswith(b"HTTP/1.1 400")
        assert (await _fetch(f"{server.url}/healthz"))[0] == 200


@pytest.mark.anyio
async def test_server_releases_its_port_on_exit() -> None:
    async with MetricsServer(GatewayMetrics(), "127.0.0.1", 0) as server:
        port = server.port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # would fail with EADDRINUSE if still listening
