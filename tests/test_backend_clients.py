"""gRPC runtime: a real grpc.aio ServiceHost on loopback and GrpcClients calling it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import grpc
import grpc.aio
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway_core.backend_clients import (
    CallContext,
    GrpcClients,
    call_context,
    check_health,
    client_at,
)
from gateway_core.config import ConfigError, Settings, load_settings
from gateway_core.metrics import GatewayMetrics
from gateway_core.service_host import ReferenceService, ServiceConfig, ServiceHost, build_services


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class EchoService:
    """A tiny reference service over generic handlers (raw bytes, no generated code)."""

    def __init__(self) -> None:
        self.metadata: list[dict[str, str]] = []
        self.events: list[str] = []

    async def _echo(self, request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        self.metadata.append({k: str(v) for k, v in context.invocation_metadata() or ()})
        return request

    async def _slow(self, request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        await asyncio.sleep(float(request.decode()))
        return b"late"

    async def _count(
        self, request: bytes, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[bytes]:
        self.metadata.append({k: str(v) for k, v in context.invocation_metadata() or ()})
        for index in range(int(request.decode())):
            await asyncio.sleep(0.1)
            yield str(index).encode()

    def add_to_server(self, server: grpc.aio.Server) -> None:
        handler = grpc.method_handlers_generic_handler("test.Echo", {
            "Echo": grpc.unary_unary_rpc_method_handler(self._echo),
            "Slow": grpc.unary_unary_rpc_method_handler(self._slow),
            "Count": grpc.unary_stream_rpc_method_handler(self._count),
        })
        server.add_generic_rpc_handlers((handler,))
        self.events.append("added")

    async def start(self) -> None:
        self.events.append("started")

    async def stop(self) -> None:
        self.events.append("stopped")


class EchoStub:
    """Shaped like a generated stub: takes a channel, exposes multicallables."""

    def __init__(self, channel: Any) -> None:
        self.Echo = channel.unary_unary("/test.Echo/Echo")
        self.Slow = channel.unary_unary("/test.Echo/Slow")
        self.Count = channel.unary_stream("/test.Echo/Count")


@dataclass(frozen=True)
class Registration:
    plugin: str
    service: str
    stub_class: Any
    deadline: float | None = None


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    return load_settings({"DATA_DIR": str(tmp_path), **overrides}, environ={})


def _grpc_samples(metrics: GatewayMetrics) -> dict[tuple[str, str], float]:
    counts: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            if sample.name == "gateway_grpc_client_seconds_count":
                counts[(sample.labels["method"], sample.labels["status"])] = sample.value
    return counts


def test_echo_service_satisfies_reference_service_protocol() -> None:
    assert isinstance(EchoService(), ReferenceService)


@pytest.mark.anyio
async def test_service_host_binds_loopback_and_reports_serving(tmp_path: Path) -> None:
    service = EchoService()
    async with ServiceHost({"echo": service}) as host:
        assert host.address.startswith("127.0.0.1:")
        assert host.port > 0
        assert service.events == ["started", "added"]
        async with grpc.aio.insecure_channel(host.address) as channel:
            assert await check_health(channel, "echo") == "SERVING"
            assert await check_health(channel, "") == "SERVING"
    assert service.events[-1] == "stopped"


@pytest.mark.anyio
async def test_clients_send_request_and_session_metadata(tmp_path: Path) -> None:
    service = EchoService()
    metrics = GatewayMetrics(process_metrics=False)
    async with ServiceHost({"echo": service}) as host:
        clients = GrpcClients([Registration("p", "echo", EchoStub)], _settings(tmp_path),
                              embedded={"echo": host.address}, metrics=metrics,
                              gateway_id="gw-1")
        async with clients:
            with call_context(CallContext(session_id="s-42", user_id=7, character_id=9,
                                          connection_id=3)):
                assert await clients["echo"].Echo(b"hi") == b"hi"
            assert await clients["echo"].Echo(b"plain") == b"plain"
    with_context, without_context = service.metadata
    assert len(with_context["x-request-id"]) == 32
    assert with_context["x-session-id"] == "s-42"
    assert with_context["x-user-id"] == "7"
    assert with_context["x-character-id"] == "9"
    assert with_context["x-connection-id"] == "3"
    assert with_context["x-gateway-id"] == "gw-1"
    assert "x-session-id" not in without_context
    assert without_context["x-request-id"] != with_context["x-request-id"]
    assert _grpc_samples(metrics)[("test.Echo/Echo", "OK")] == 2


@pytest.mark.anyio
async def test_default_deadline_surfaces_deadline_exceeded_and_is_counted(
    tmp_path: Path,
) -> None:
    metrics = GatewayMetrics(process_metrics=False)
    async with ServiceHost({"echo": EchoService()}) as host:
        clients = GrpcClients([Registration("p", "echo", EchoStub)],
                              _settings(tmp_path, GRPC_DEADLINE=0.2),
                              embedded={"echo": host.address}, metrics=metrics)
        async with clients:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await clients["echo"].Slow(b"3")
    assert caught.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    assert _grpc_samples(metrics)[("test.Echo/Slow", "DEADLINE_EXCEEDED")] == 1


@pytest.mark.anyio
async def test_registration_deadline_overrides_the_default(tmp_path: Path) -> None:
    async with ServiceHost({"echo": EchoService()}) as host:
        clients = GrpcClients(
            [Registration("fast", "echo", EchoStub, deadline=0.1),
             Registration("patient", "echo", EchoStub)],
            _settings(tmp_path, GRPC_DEADLINE=10.0), embedded={"echo": host.address})
        async with clients:
            assert len(clients) == 1  # one service, one channel, shared
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await clients.for_plugin("fast")["echo"].Slow(b"3")
            assert caught.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
            assert await clients.for_plugin("patient")["echo"].Slow(b"0.3") == b"late"


@pytest.mark.anyio
async def test_a_service_deadline_setting_beats_the_registrations_and_the_default(
    tmp_path: Path,
) -> None:
    """``<SERVICE>_GRPC_DEADLINE`` is the operator's word on one service: every plugin's
    calls to it, on its own address and on any other (``at``), get it."""
    async with ServiceHost({"echo": EchoService()}) as host, \
            ServiceHost({"echo": EchoService()}) as other:
        clients = GrpcClients(
            [Registration("fast", "echo", EchoStub, deadline=0.1),
             Registration("patient", "echo", EchoStub)],
            _settings(tmp_path, GRPC_DEADLINE=0.1, ECHO_GRPC_DEADLINE=10.0),
            embedded={"echo": host.address})
        async with clients:
            assert await clients.for_plugin("fast")["echo"].Slow(b"0.3") == b"late"
            assert await clients.for_plugin("patient")["echo"].Slow(b"0.3") == b"late"
            assert await clients.at("echo", other.address, "fast").Slow(b"0.3") == b"late"
        clients = GrpcClients([Registration("p", "echo", EchoStub)],
                              _settings(tmp_path, GRPC_DEADLINE=10.0, ECHO_GRPC_DEADLINE=0.1),
                              embedded={"echo": host.address})
        async with clients:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await clients["echo"].Slow(b"3")
            assert caught.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED


@pytest.mark.anyio
async def test_another_address_of_a_service_gets_a_channel_of_its_own_with_the_same_chain(
    tmp_path: Path,
) -> None:
    """``at``: one process of several of a service (a world shard): its own channel, opened
    once, with the metadata, deadline and metrics of every backend channel; ctx.clients has
    it with the plugin's own registration; ``client_at`` with no address is the usual stub."""
    main, other = EchoService(), EchoService()
    metrics = GatewayMetrics(process_metrics=False)
    async with ServiceHost({"echo": main}) as host, ServiceHost({"echo": other}) as second:
        clients = GrpcClients(
            [Registration("p", "echo", EchoStub), Registration("fast", "echo", EchoStub, 0.1)],
            _settings(tmp_path, GRPC_DEADLINE=10.0), embedded={"echo": host.address},
            metrics=metrics, gateway_id="gw-1")
        async with clients:
            stub = clients.at("echo", second.address)
            assert clients.at("echo", second.address) is stub  # one channel and stub
            assert clients.at("echo", host.address) is clients["echo"]
            assert client_at(clients, "echo", "") is clients["echo"]
            with call_context(CallContext(session_id="s-1")):
                assert await stub.Echo(b"there") == b"there"
            fast = clients.for_plugin("fast")
            assert client_at(fast, "echo", second.address) is not stub
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await client_at(fast, "echo", second.address).Slow(b"3")
            assert caught.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
            assert client_at({"echo": "plain"}, "echo", second.address) == "plain"
            with pytest.raises(KeyError):
                clients.at("nothing", second.address)
        with pytest.raises(grpc.aio.UsageError):  # closed with the others
            await stub.Echo(b"after")
    assert main.metadata == []
    (seen,) = other.metadata
    assert (seen["x-gateway-id"], seen["x-session-id"]) == ("gw-1", "s-1")
    assert _grpc_samples(metrics)[("test.Echo/Echo", "OK")] == 1


@pytest.mark.anyio
async def test_service_addr_setting_wins_over_embedded_address(tmp_path: Path) -> None:
    async with ServiceHost({"echo": EchoService()}) as host:
        settings = _settings(tmp_path, ECHO_SERVICE_ADDR=host.address)
        async with GrpcClients([Registration("p", "echo", EchoStub)], settings,
                               embedded={"echo": "127.0.0.1:1"}) as clients:
            assert clients.addresses == {"echo": host.address}
            assert await clients.ready()


@pytest.mark.anyio
async def test_ready_is_false_when_backend_is_down(tmp_path: Path) -> None:
    async with ServiceHost({}) as host:
        dead_address = host.address
    async with GrpcClients([Registration("p", "echo", EchoStub)], _settings(tmp_path),
                           embedded={"echo": dead_address}) as clients:
        assert await clients.health(timeout=0.3) == {"echo": "UNAVAILABLE"}
        assert not await clients.ready(timeout=0.3)


@pytest.mark.anyio
async def test_missing_address_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        GrpcClients([Registration("chatty", "chat", EchoStub)], _settings(tmp_path))
    assert caught.value.setting == "CHAT_SERVICE_ADDR"
    assert "chatty" in str(caught.value)


def test_service_config_defaults_to_sqlite_file_per_service(tmp_path: Path) -> None:
    config = ServiceConfig.from_settings("auth", _settings(tmp_path / "data"))
    assert config.data_dir == (tmp_path / "data").resolve()
    assert config.data_dir.is_dir()
    assert config.database_url == f"sqlite+aiosqlite:///{tmp_path.resolve()}/data/auth.sqlite3"
    explicit = ServiceConfig.from_settings(
        "auth", _settings(tmp_path, DATABASE_URL="postgresql+asyncpg://db/gw"))
    assert explicit.database_url == "postgresql+asyncpg://db/gw"


def test_build_services_skips_services_with_a_remote_address(tmp_path: Path) -> None:
    @dataclass(frozen=True)
    class ServiceReg:
        plugin: str
        factory: Any

    made: list[str] = []

    def factory(config: ServiceConfig) -> EchoService:
        made.append(config.service)
        return EchoService()

    regs = {"auth": ServiceReg("a", factory), "chat": ServiceReg("c", factory)}
    services = build_services(regs, _settings(tmp_path, CHAT_SERVICE_ADDR="10.0.0.5:50051"))
    assert list(services) == ["auth"]
    assert made == ["auth"]


@pytest.mark.anyio
async def test_service_host_bind_failure_is_an_oserror_and_stops_services() -> None:
    async with ServiceHost({}) as first:
        service = EchoService()
        with pytest.raises(OSError, match="cannot bind"):
            await ServiceHost({"echo": service}, first.address).start()
        assert service.events[-1] == "stopped"


@pytest.mark.anyio
async def test_response_streams_get_no_default_deadline_and_are_counted_when_done(
    tmp_path: Path,
) -> None:
    metrics = GatewayMetrics(process_metrics=False)
    service = EchoService()
    async with ServiceHost({"echo": service}) as host:
        clients = GrpcClients([Registration("p", "echo", EchoStub, deadline=0.15)],
                              _settings(tmp_path, GRPC_DEADLINE=0.15),
                              embedded={"echo": host.address}, metrics=metrics)
        async with clients:
            # Five items 0.1 s apart outlive both deadlines: a subscription must not expire.
            with call_context(CallContext(session_id="s-7")):
                items = [item async for item in clients["echo"].Count(b"5")]
            assert items == [b"0", b"1", b"2", b"3", b"4"]
            with anyio.fail_after(5):
                while ("test.Echo/Count", "OK") not in _grpc_samples(metrics):
                    await anyio.sleep(0.01)
    (metadata,) = service.metadata
    assert metadata["x-session-id"] == "s-7" and len(metadata["x-request-id"]) == 32
