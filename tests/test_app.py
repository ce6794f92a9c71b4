"""The Gateway composition root: start-up validation, lifecycle order, embedded services and
clients, the metrics HTTP server, and SIGTERM handling in a real subprocess."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from gateway_core.app import Gateway
from gateway_core.core_packets import ANY_STATE
from gateway_core.hookspecs import hookimpl
from gateway_core.plugins import GatewayPluginManager, PluginError
from gateway_core.protocol.connection import ProtocolConnection, Role
from gateway_core.protocol.packets import (
    CliAcceptReq,
    CliNormalChat,
    SrvAcceptReply,
    SrvNormalChat,
)
from gateway_core.router import PacketContext
from gateway_core.testing import free_port

FIXTURES = Path(__file__).parent / "fixtures"
TEST_SETTINGS: dict[str, object] = {
    "LISTEN_ADDR": "127.0.0.1", "SERVICE_PORT": 0, "PACKET_METRICS_PORT": 0,
    "GATEWAY_LOAD_PLUGINS": (),
}


class Recorder:
    """Test plugin: records lifecycle events in order; provides a service and uses it."""

    def __init__(self, events: list[str]) -> None:
        self.events = events

    @hookimpl
    def gateway_register_settings(self, register: Any) -> None:
        register("RECORDER_GREETING", "hello")

    @hookimpl
    def gateway_register_packets(self, register: Any) -> None:
        register("PAKCS_NORMAL_CHAT", self.greet, states=ANY_STATE)

    @hookimpl
    def gateway_register_services(self, register: Any) -> None:
        register("recorder", lambda config: RecorderService(self.events, config))

    @hookimpl
    def gateway_register_grpc_clients(self, register: Any) -> None:
        register("recorder", lambda channel: ("stub", channel))

    @hookimpl
    async def gateway_startup(self, app: Gateway) -> None:
        listening = app.server.address is not None
        self.events.append(f"startup listening={listening}")

    @hookimpl
    def gateway_session_closed(self, session: Any) -> None:
        self.events.append("session closed")

    @hookimpl
    async def gateway_shutdown(self, app: Gateway) -> None:
        self.events.append("shutdown hook")

    async def greet(self, ctx: PacketContext, packet: CliNormalChat) -> None:
        stub = ctx.clients["recorder"]
        assert stub[0] == "stub"
        greeting = str(ctx.settings.RECORDER_GREETING).encode()
        ctx.reply(SrvNormalChat(char_id=0, message=greeting + b" " + packet.message))


class RecorderService:
    def __init__(self, events: list[str], config: Any) -> None:
        self.events = events
        self.config = config

    def add_to_server(self, server: Any) -> None:
        self.events.append("service added")

    async def start(self) -> None:
        self.events.append("service start")

    async def stop(self) -> None:
        self.events.append("service stop")


@pytest.mark.anyio
async def test_gateway_lifecycle_runs_in_order_with_embedded_service_and_settings(
    connect: Any, tmp_path: Path
) -> None:
    events: list[str] = []
    pm = GatewayPluginManager()
    pm.register(Recorder(events), "recorder")
    try:
        gw = Gateway(overrides={**TEST_SETTINGS, "DATA_DIR": str(tmp_path)},
                     environ={"RECORDER_GREETING": "hey"}, pm=pm)
        async with anyio.create_task_group() as tg:
            await tg.start(lambda task_status: gw.run(handle_signals=False,
                                                       task_status=task_status))
            async with connect(gw) as client:
                await client.send(CliAcceptReq(), CliNormalChat(message=b"you"))
                accept, reply = await client.receive(2)
                assert isinstance(accept, SrvAcceptReply)
                assert reply.message == b"hey you"
                gw.stop()
                await client.closed_by_server()
        assert events == ["service start", "service added", "startup listening=False",
                          "session closed", "shutdown hook", "service stop"]
    finally:
        pm.unregister(name="recorder")


def test_duplicate_packet_type_fails_start_up_naming_both_plugins() -> None:
    class Claims:
        @hookimpl
        def gateway_register_packets(self, register: Any) -> None:
            register("PAKCS_ACCEPT_REQ", self.handle, states=ANY_STATE)

        async def handle(self, ctx: Any, packet: Any) -> None:
            pass

    pm = GatewayPluginManager()
    pm.register(Claims(), "usurper")
    with pytest.raises(PluginError, match=r"PAKCS_ACCEPT_REQ is claimed by two plugins: "
                                          r"'usurper' and 'core'|'core' and 'usurper'"):
        Gateway(overrides=TEST_SETTINGS, environ={}, pm=pm)


def test_unknown_packet_name_fails_start_up() -> None:
    class Typo:
        @hookimpl
        def gateway_register_packets(self, register: Any) -> None:
            register("PAKCS_NO_SUCH_THING", self.handle, states=ANY_STATE)

        async def handle(self, ctx: Any, packet: Any) -> None:
            pass

    pm = GatewayPluginManager()
    pm.register(Typo(), "typo")
    with pytest.raises(PluginError, match="'typo' registered PAKCS_NO_SUCH_THING"):
        Gateway(overrides=TEST_SETTINGS, environ={}, pm=pm)


def test_start_up_reports_settings_and_disabled_plugins_nothing_uses(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings_file = tmp_path / "gateway.toml"
    settings_file.write_text('SERVICE_PORT = 0\nSERVCE_PORT = 1\nMAX_PACKETS_PER_SECND = 5\n')
    with caplog.at_level(logging.WARNING, logger="gateway"):
        Gateway(overrides={**TEST_SETTINGS, "GATEWAY_DISABLE_PLUGINS": "nosuchplugin"},
                settings_file=str(settings_file), environ={})
    messages = [r.getMessage() for r in caplog.records]
    assert f"settings file {settings_file} has settings no core setting or plugin declares " \
           "(ignored): MAX_PACKETS_PER_SECND, SERVCE_PORT" in messages
    assert "GATEWAY_DISABLE_PLUGINS names plugins that are not installed: nosuchplugin" \
           in messages


def test_a_plugins_setting_in_the_settings_file_is_not_reported_as_unknown(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class Declares:
        @hookimpl
        def gateway_register_settings(self, register: Any) -> None:
            register("DEMO_LIMIT", 3)

    settings_file = tmp_path / "gateway.toml"
    settings_file.write_text("DEMO_LIMIT = 7\n")
    pm = GatewayPluginManager()
    pm.register(Declares(), "demo")
    with caplog.at_level(logging.WARNING, logger="gateway"):
        gateway = Gateway(overrides=TEST_SETTINGS, settings_file=str(settings_file),
                          environ={}, pm=pm)
    assert gateway.settings.DEMO_LIMIT == 7
    assert not [r for r in caplog.records if "settings file" in r.getMessage()]


async def _http_get(port: int, path: str) -> tuple[str, bytes]:
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        await stream.send(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data = b""
        with anyio.fail_after(3):
            while True:
                try:
                    data += await stream.receive()
                except anyio.EndOfStream:
                    break
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), body


@pytest.mark.anyio
async def test_metrics_server_reports_live_connections(gateway: Any, connect: Any) -> None:
    port = free_port()
    async with gateway(PACKET_METRICS_PORT=port) as gw, connect(gw) as client:
        await client.send(CliAcceptReq())
        await client.receive()
        status, body = await _http_get(port, "/metrics")
        assert status.endswith("200 OK")
        assert b"gateway_active_connections 1.0" in body
        assert b'gateway_packets_sent_total{type="PAKSS_ACCEPT_REPLY"} 1.0' in body
        status, body = await _http_get(port, "/admin/connections")
        [row] = json.loads(body)
        assert row["state"] == "CONNECTED" and row["peer"].startswith("127.0.0.1:")
        status, _ = await _http_get(port, "/readyz")
        assert status.endswith("200 OK")


@pytest.mark.slow
def test_sigterm_drains_connections_and_exits_zero() -> None:
    env = {**os.environ, "SHUTDOWN_DEADLINE": "3", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, str(FIXTURES / "serve_gateway.py")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("PORT "), (line, proc.stderr.read() if proc.stderr else "")
        port = int(line.split()[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(ProtocolConnection(Role.CLIENT).send(CliAcceptReq()))
            reply = sock.recv(64)
            assert len(reply) >= 6  # the accept reply
            proc.send_signal(signal.SIGTERM)
            sock.settimeout(5)
            assert sock.recv(64) == b""  # drained and closed by the server
            out, err = proc.communicate(timeout=5)
        assert proc.returncode == 0, err
        lines = out.splitlines()
        assert lines == ["SESSION_CLOSED 1", "SHUTDOWN_HOOK", "EXITED"], (out, err)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
