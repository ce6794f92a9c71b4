"""The admin port's access rules: loopback by default, a token for anything else, ``/admin/*``
behind the token for every client (loopback included), ``/metrics`` and the probes open, and
the /metrics-only listener of METRICS_ADDR."""

from __future__ import annotations

import argparse
import io
import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import anyio
import pytest
from rich.console import Console

from gateway_core.admin_http import MetricsServer
from gateway_core.app import Gateway
from gateway_core.config import ConfigError, is_loopback_host
from gateway_core.console import configure, run
from gateway_core.metrics import GatewayMetrics
from gateway_core.testing import GATEWAY_TEST_SETTINGS, RunningGateway, free_port, running_gateway

TOKEN = "s3cret-token"
ROWS = [{"id": 1, "peer": "10.1.2.3:5000", "state": "IN_WORLD", "user": "alice"}]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _get(url: str, token: str | None = None, method: str = "GET") -> tuple[int, str]:
    request = urllib.request.Request(url, method=method,
                                     data=b"" if method == "POST" else None)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


async def _fetch(url: str, token: str | None = None, method: str = "GET") -> tuple[int, str]:
    return await anyio.to_thread.run_sync(lambda: _get(url, token, method))


def _own_address() -> str | None:
    """A non-loopback IPv4 address of this machine (None when it has none)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent
            address = str(sock.getsockname()[0])
        except OSError:
            return None
    return None if is_loopback_host(address) or address == "0.0.0.0" else address


def test_loopback_hosts_are_recognised() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"):
        assert is_loopback_host(host), host
    for host in ("0.0.0.0", "::", "10.0.0.5", "gateway.example.net"):
        assert not is_loopback_host(host), host


def test_a_non_loopback_admin_host_without_a_token_refuses_to_start() -> None:
    with pytest.raises(ConfigError) as caught:
        Gateway(overrides={**GATEWAY_TEST_SETTINGS, "PACKET_METRICS_PORT": 9, "ADMIN_HOST":
                           "0.0.0.0", "GATEWAY_LOAD_PLUGINS": ""}, environ={})
    assert caught.value.setting == "ADMIN_HOST" and "ADMIN_TOKEN" in str(caught.value)
    # With a token, or with the admin port off, the same host is fine.
    Gateway(overrides={**GATEWAY_TEST_SETTINGS, "PACKET_METRICS_PORT": 9, "ADMIN_HOST":
                       "0.0.0.0", "ADMIN_TOKEN": TOKEN, "GATEWAY_LOAD_PLUGINS": ""}, environ={})
    Gateway(overrides={**GATEWAY_TEST_SETTINGS, "PACKET_METRICS_PORT": 0, "ADMIN_HOST":
                       "0.0.0.0", "GATEWAY_LOAD_PLUGINS": ""}, environ={})


def test_gateway_serve_says_which_setting_is_missing(tmp_path: object) -> None:
    env = {"PATH": "/usr/bin:/bin", "ADMIN_HOST": "0.0.0.0", "GATEWAY_LOAD_PLUGINS": "",
           "SERVICE_PORT": "0", "PACKET_METRICS_PORT": str(free_port()), "DATA_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "gateway_core", "serve"], env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "invalid setting ADMIN_HOST='0.0.0.0'" in result.stderr
    assert "set ADMIN_TOKEN" in result.stderr


@pytest.mark.anyio
async def test_admin_needs_the_token_from_every_client_and_metrics_stay_open() -> None:
    own = _own_address()
    async with MetricsServer(GatewayMetrics(), "0.0.0.0", 0, connections=lambda: ROWS,
                             ready=lambda: True, token=TOKEN) as server:
        hosts = ["127.0.0.1", *([own] if own else [])]
        for host in hosts:
            base = f"http://{host}:{server.port}"
            status, body = await _fetch(f"{base}/admin/connections")
            assert status == 401 and "ADMIN_TOKEN" in body, (host, status)
            assert (await _fetch(f"{base}/admin/connections", "wrong"))[0] == 401
            status, body = await _fetch(f"{base}/admin/connections", TOKEN)
            assert status == 200 and json.loads(body) == ROWS, host
            assert (await _fetch(f"{base}/metrics"))[0] == 200
            assert (await _fetch(f"{base}/readyz"))[0] == 200
            assert (await _fetch(f"{base}/healthz"))[0] == 200
    if own is None:
        pytest.skip("no non-loopback address on this machine: checked from loopback only")


@pytest.mark.anyio
async def test_the_metrics_only_listener_has_no_admin() -> None:
    async with MetricsServer(GatewayMetrics(), "127.0.0.1", 0, connections=lambda: ROWS,
                             admin=False) as server:
        assert (await _fetch(f"{server.url}/metrics"))[0] == 200
        assert (await _fetch(f"{server.url}/readyz"))[0] == 200
        assert (await _fetch(f"{server.url}/admin/connections"))[0] == 404


@pytest.mark.anyio
async def test_a_gateway_with_a_token_serves_the_console_and_drain_only_with_it(
        tmp_path: object) -> None:
    admin, metrics_port = free_port(), free_port()
    settings = {**GATEWAY_TEST_SETTINGS, "DATA_DIR": str(tmp_path), "GATEWAY_LOAD_PLUGINS": "",
                "PACKET_METRICS_PORT": admin, "ADMIN_HOST": "0.0.0.0", "ADMIN_TOKEN": TOKEN,
                "METRICS_ADDR": f"127.0.0.1:{metrics_port}", "DRAIN_NOTICE_SECONDS": 0}
    async with running_gateway(settings, RunningGateway) as running:
        gateway = running.gateway
        assert gateway.metrics_server is not None
        assert gateway.metrics_server.bound_url == f"http://0.0.0.0:{admin}"
        base = gateway.metrics_server.url

        def console(token_settings: object) -> tuple[int, str]:
            parser = argparse.ArgumentParser()
            configure(parser)
            out = io.StringIO()
            code = run(parser.parse_args(["--url", base, "--once"]),
                       Console(file=out, width=120, color_system=None), settings=token_settings)
            return code, out.getvalue()

        code, text = await anyio.to_thread.run_sync(lambda: console(gateway.settings))
        assert code == 0 and "READY" in text, text
        code, text = await anyio.to_thread.run_sync(lambda: console(None))
        assert code == 1 and "401" in text and "ADMIN_TOKEN" in text, text

        public = f"http://127.0.0.1:{metrics_port}"
        assert (await _fetch(f"{public}/metrics"))[0] == 200
        assert (await _fetch(f"{public}/admin/status", TOKEN))[0] == 404

        assert (await _fetch(f"{base}/admin/drain", method="POST"))[0] == 401
        assert (await _fetch(f"{base}/admin/drain?notice=x", TOKEN, "POST"))[0] == 400
        assert not gateway.draining
        status, body = await _fetch(f"{base}/admin/drain", TOKEN, "POST")
        assert status == 202 and json.loads(body)["draining"] is True
        assert gateway.draining  # (/readyz during a drain: tests/e2e/test_drain.py)
