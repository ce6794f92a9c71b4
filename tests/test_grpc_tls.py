"""TLS between the gateway and its backend services (GRPC_TLS_* settings), with certificates
made at test time: a TLS service refuses plaintext clients and client certificates of an
unknown CA, and the whole flow works over mutual TLS with the right ones (a real grpc.aio
server on 127.0.0.1, the gateway's real channels, a headless client over TCP)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
import trustme
from gateway_protos.v1 import auth_pb2, auth_pb2_grpc

from gateway_core.backend_clients import GrpcClients, check_health, open_channel
from gateway_core.config import ConfigError, Settings, load_settings
from gateway_core.plugins import GatewayPluginManager
from gateway_core.service_host import ServiceHost, build_services
from gateway_core.testing import (
    GATEWAY_TEST_ENV,
    GATEWAY_TEST_SETTINGS,
    RunningGateway,
    running_gateway,
    service_process,
)
from gateway_core.tls import client_tls, server_credentials

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass(frozen=True)
class Pki:
    """PEM files of a test PKI: the services' CA and certificate (127.0.0.1, localhost), the
    CA of the gateways' client certificates and one gateway certificate, and a rogue CA's
    client certificate that no service trusts."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_ca: Path
    client_cert: Path
    client_key: Path
    rogue_cert: Path
    rogue_key: Path

    def service_settings(self, mutual: bool = True) -> dict[str, str]:
        """The server side of ``gateway service``."""
        settings = {"GRPC_TLS_CERT_FILE": str(self.server_cert),
                    "GRPC_TLS_KEY_FILE": str(self.server_key)}
        if mutual:
            settings["GRPC_TLS_CLIENT_CA_FILE"] = str(self.client_ca)
        return settings

    def gateway_settings(self, *, cert: str = "right") -> dict[str, str]:
        """The client side of ``gateway serve``: ``cert`` is ``right``, ``rogue`` or ``none``."""
        settings = {"GRPC_TLS_CA_FILE": str(self.ca)}
        if cert == "right":
            settings |= {"GRPC_TLS_CLIENT_CERT_FILE": str(self.client_cert),
                         "GRPC_TLS_CLIENT_KEY_FILE": str(self.client_key)}
        elif cert == "rogue":
            settings |= {"GRPC_TLS_CLIENT_CERT_FILE": str(self.rogue_cert),
                         "GRPC_TLS_CLIENT_KEY_FILE": str(self.rogue_key)}
        return settings


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    service_ca, client_ca, rogue_ca = trustme.CA(), trustme.CA(), trustme.CA()
    server = service_ca.issue_cert("127.0.0.1", "localhost")
    client = client_ca.issue_cert("gateway-1.internal")
    rogue = rogue_ca.issue_cert("gateway-1.internal")
    files = {
        "ca": service_ca.cert_pem, "client_ca": client_ca.cert_pem,
        "server_key": server.private_key_pem, "client_key": client.private_key_pem,
        "rogue_key": rogue.private_key_pem,
    }
    paths: dict[str, Path] = {}
    for name, blob in files.items():
        paths[name] = directory / f"{name}.pem"
        blob.write_to_path(str(paths[name]))
    for name, cert in (("server_cert", server), ("client_cert", client), ("rogue_cert", rogue)):
        paths[name] = directory / f"{name}.pem"
        for index, pem in enumerate(cert.cert_chain_pems):
            pem.write_to_path(str(paths[name]), append=index > 0)
    return Pki(**paths)


def _settings(tmp_path: Path, values: Mapping[str, object], pm: Any = None) -> Settings:
    plugin_settings = pm.collect_settings() if pm is not None else ()
    return load_settings({**GATEWAY_TEST_SETTINGS, "DATA_DIR": str(tmp_path), **values},
                         plugin_settings=plugin_settings, environ={})


@pytest.fixture
def auth_plugins() -> GatewayPluginManager:
    pm = GatewayPluginManager()
    pm.load_plugins(load=["auth"])
    pm.collect_settings()
    pm.collect_registrations()
    return pm


@pytest.fixture
async def tls_auth(tmp_path: Path, pki: Pki,
                   auth_plugins: GatewayPluginManager) -> AsyncIterator[str]:
    """The reference auth service on 127.0.0.1 over mutual TLS; yields its address."""
    settings = _settings(tmp_path / "auth", pki.service_settings(), auth_plugins)
    services = build_services(auth_plugins.services, settings, ["auth"])
    async with ServiceHost(services, "127.0.0.1:0", grace=0,
                           credentials=server_credentials(settings)) as host:
        yield host.address


@dataclass(frozen=True)
class _AuthClient:
    plugin: str = "auth"
    service: str = "auth"
    stub_class: Any = auth_pb2_grpc.AuthStub
    deadline: float | None = None


async def _health(tmp_path: Path, address: str, values: Mapping[str, object]) -> str:
    """What a gateway's auth channel (GrpcClients, the gateway's own code) gets from a health
    check of the service at ``address`` with the client settings ``values``."""
    settings = _settings(tmp_path, {"AUTH_SERVICE_ADDR": address, **values})
    async with GrpcClients([_AuthClient()], settings) as clients:
        return (await clients.health(timeout=2.0))["auth"]


# --- settings ---------------------------------------------------------------------------------


def test_tls_settings_are_off_by_default(tmp_path: Path) -> None:
    settings = _settings(tmp_path, {})
    assert client_tls(settings) is None
    assert server_credentials(settings) is None


@pytest.mark.parametrize(("values", "named"), [
    ({"GRPC_TLS_CERT_FILE": "server_cert"}, "GRPC_TLS_KEY_FILE"),
    ({"GRPC_TLS_KEY_FILE": "server_key"}, "GRPC_TLS_CERT_FILE"),
    ({"GRPC_TLS_CLIENT_CA_FILE": "client_ca"}, "GRPC_TLS_CERT_FILE"),
    ({"GRPC_TLS_CA_FILE": "ca", "GRPC_TLS_CLIENT_CERT_FILE": "client_cert"},
     "GRPC_TLS_CLIENT_KEY_FILE"),
    ({"GRPC_TLS_CLIENT_CERT_FILE": "client_cert", "GRPC_TLS_CLIENT_KEY_FILE": "client_key"},
     "GRPC_TLS_CA_FILE"),
])
def test_half_configured_tls_names_the_missing_setting(
    tmp_path: Path, pki: Pki, values: dict[str, str], named: str
) -> None:
    settings = _settings(tmp_path, {k: str(getattr(pki, v)) for k, v in values.items()})
    with pytest.raises(ConfigError) as error:
        client_tls(settings)
        server_credentials(settings)
    assert error.value.setting == named


def test_a_missing_certificate_file_fails_loading(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"GRPC_TLS_CA_FILE.*no such file"):
        _settings(tmp_path, {"GRPC_TLS_CA_FILE": str(tmp_path / "nope.pem")})


# --- a TLS service refuses plaintext and unknown clients ---------------------------------------


async def test_a_tls_service_refuses_a_plaintext_gateway(tmp_path: Path, tls_auth: str) -> None:
    assert await _health(tmp_path, tls_auth, {}) == "UNAVAILABLE"


async def test_a_mutual_tls_service_refuses_unknown_client_certificates(
    tmp_path: Path, pki: Pki, tls_auth: str
) -> None:
    assert await _health(tmp_path, tls_auth, pki.gateway_settings(cert="none")) == "UNAVAILABLE"
    assert await _health(tmp_path, tls_auth, pki.gateway_settings(cert="rogue")) == "UNAVAILABLE"
    assert await _health(tmp_path, tls_auth, pki.gateway_settings(cert="right")) == "SERVING"


async def test_a_gateway_refuses_a_service_certificate_of_another_ca(
    tmp_path: Path, pki: Pki, tls_auth: str
) -> None:
    wrong_ca = {**pki.gateway_settings(), "GRPC_TLS_CA_FILE": str(pki.client_ca)}
    assert await _health(tmp_path, tls_auth, wrong_ca) == "UNAVAILABLE"


async def test_the_server_name_override_checks_the_certificate_name(
    tmp_path: Path, pki: Pki, tls_auth: str
) -> None:
    named = {**pki.gateway_settings(), "GRPC_TLS_SERVER_NAME": "localhost"}
    assert await _health(tmp_path, tls_auth, named) == "SERVING"
    other = {**pki.gateway_settings(), "GRPC_TLS_SERVER_NAME": "auth.example.net"}
    assert await _health(tmp_path, tls_auth, other) == "UNAVAILABLE"


# --- the flow over mutual TLS -----------------------------------------------------------------


async def test_the_whole_flow_works_over_mutual_tls(
    tmp_path: Path, pki: Pki, tls_auth: str
) -> None:
    settings = {**GATEWAY_TEST_SETTINGS, "DATA_DIR": str(tmp_path / "gateway"),
                "AUTH_SERVICE_ADDR": tls_auth, **pki.gateway_settings()}
    async with running_gateway(settings, RunningGateway) as running:
        assert running.gateway.backends is not None
        assert (await running.gateway.backends.health(timeout=2.0))["auth"] == "SERVING"
        world, object_id = await running.join_world("Tess")  # login over TLS, then the world
        assert object_id > 0 and not world.closed


async def test_a_gateway_with_an_unknown_certificate_cannot_log_anyone_in(
    tmp_path: Path, pki: Pki, tls_auth: str
) -> None:
    settings = {**GATEWAY_TEST_SETTINGS, "DATA_DIR": str(tmp_path / "gateway"),
                "AUTH_SERVICE_ADDR": tls_auth, **pki.gateway_settings(cert="rogue")}
    async with running_gateway(settings, RunningGateway) as running:
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await running.account("mallory", "pw")
        assert error.value.code() is grpc.StatusCode.UNAVAILABLE


# --- `gateway service` serves what its settings say -------------------------------------------


@pytest.fixture
def auth_process(tmp_path: Path, pki: Pki) -> Iterator[str]:
    env = {**GATEWAY_TEST_ENV, "DATA_DIR": str(tmp_path / "service"), **pki.service_settings()}
    with service_process("auth", env) as service:
        yield service.address


@pytest.mark.slow
async def test_gateway_service_serves_mutual_tls_from_its_settings(
    tmp_path: Path, pki: Pki, auth_process: str
) -> None:
    plain = open_channel(auth_process, service="auth")
    try:
        assert await check_health(plain, "auth", timeout=2.0) == "UNAVAILABLE"
    finally:
        await plain.close()
    tls = client_tls(_settings(tmp_path, pki.gateway_settings()))
    async with open_channel(auth_process, service="auth", tls=tls) as channel:
        assert await check_health(channel, "auth", timeout=2.0) == "SERVING"
        stub = auth_pb2_grpc.AuthStub(channel)
        created = await stub.CreateAccount(
            auth_pb2.CreateAccountRequest(username="tls", password_hash="0" * 64), timeout=5)
        assert created.username == "tls"


def test_gateway_service_with_half_a_certificate_pair_exits_2(tmp_path: Path, pki: Pki) -> None:
    env = {**GATEWAY_TEST_ENV, "DATA_DIR": str(tmp_path),
           "GRPC_TLS_CERT_FILE": str(pki.server_cert)}
    result = subprocess.run(
        [sys.executable, "-m", "gateway_core", "service", "auth", "--listen", "127.0.0.1:0"],
        env={**_base_env(), **env}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "GRPC_TLS_KEY_FILE" in result.stderr


def _base_env() -> dict[str, str]:
    import os

    return dict(os.environ)
