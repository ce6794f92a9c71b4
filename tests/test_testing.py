"""gateway_core.testing, the helpers plugin test suites build their fixtures from."""

from __future__ import annotations

import socket
from pathlib import Path

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc  # type: ignore[import-untyped]

from gateway_core.records import SELECTED_CHARACTER, WORLD_PLACEMENT
from gateway_core.session import SessionState
from gateway_core.testing import (
    GATEWAY_TEST_SETTINGS,
    ManualClock,
    RunningGateway,
    free_port,
    running_gateway,
    serve_on_loopback,
    service_process,
    start_service,
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class _Service:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def add_to_server(self, server: grpc.aio.Server) -> None:
        self.calls.append("add")

    async def start(self) -> None:
        self.calls.append("start")

    async def stop(self) -> None:
        self.calls.append("stop")


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(10.0)
    assert clock() == 10.0
    clock.advance(2.5)
    assert clock() == clock.now == 12.5


def test_free_port_can_be_bound() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


@pytest.mark.skipif(not Path("/proc/sys/net/ipv4/ip_local_port_range").exists(),
                    reason="the kernel's ephemeral port range is read from Linux's /proc")
def test_free_ports_lie_below_the_ephemeral_range_and_never_repeat() -> None:
    """An ephemeral port could become some outgoing connection's source port before the
    subprocess binds it."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    assert all(1024 <= port < low for port in ports)


@pytest.mark.anyio
async def test_serve_on_loopback_serves_the_service_and_stops_it() -> None:
    service = _Service()
    async with serve_on_loopback(service, "demo") as host:
        assert host.address.startswith("127.0.0.1:")
        async with grpc.aio.insecure_channel(host.address) as channel:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="demo"), timeout=5
            )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    assert service.calls == ["start", "add", "stop"]


@pytest.mark.anyio
async def test_running_gateway_listens_on_loopback_and_closes_the_clients() -> None:
    closed: list[str] = []

    class Client:
        async def aclose(self) -> None:
            closed.append("client")

    class Handle:
        def __init__(self, gateway: object, host: str, port: int) -> None:
            self.address = (host, port)
            self.clients = [Client()]

    settings = {"LISTEN_ADDR": "127.0.0.1", "SERVICE_PORT": 0, "PACKET_METRICS_PORT": 0,
                "GATEWAY_LOAD_PLUGINS": ()}
    async with running_gateway(settings, Handle) as handle:
        with socket.create_connection(handle.address, timeout=5):
            pass
    assert closed == ["client"]


@pytest.mark.anyio
async def test_running_gateway_join_world_brings_a_new_character_into_the_world(
    tmp_path: Path,
) -> None:
    settings = {**GATEWAY_TEST_SETTINGS, "DATA_DIR": str(tmp_path)}
    async with running_gateway(settings, RunningGateway) as running:
        client, object_id = await running.join_world("Mira")
        assert object_id != 0
        [session] = running.gateway.connections.in_state(SessionState.IN_WORLD)
        character = session.records.require(SELECTED_CHARACTER)
        assert (character.name, session.username) == ("Mira", "mira")
        assert session.records.require(WORLD_PLACEMENT).object_id == object_id
        assert running.clients[-1] is client
        # The world leg's initial data went out once: the character data of the join.
        sent = running.sample("gateway_packets_sent_total", {"type": "PAKWC_SELECT_CHAR_REPLY"})
        assert sent == 1.0


@pytest.mark.anyio
async def test_service_process_runs_the_cli_service_until_stopped() -> None:
    with service_process("chat", {"CHAT_SUBSCRIBER_QUEUE": 8}) as service:
        assert service.address.startswith("127.0.0.1:")
        async with grpc.aio.insecure_channel(service.address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            reply = await health.Check(health_pb2.HealthCheckRequest(service="chat"), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
    assert service.process.returncode == 0  # SIGTERM is a graceful stop
    service.stop()  # a second stop does nothing


def test_start_service_reports_a_service_that_does_not_start() -> None:
    with pytest.raises(RuntimeError, match="gateway service nosuch did not start"):
        start_service("nosuch")
