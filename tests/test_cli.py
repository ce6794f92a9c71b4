"""The ``gateway`` command line, run as real subprocesses.

A third-party plugin ("echo") is installed for these tests the way pip would leave it: a module
and a ``*.dist-info`` with a ``gateway.plugins`` entry point, on PYTHONPATH. It provides a
reference service, a setting and a command, so ``service``, ``plugins`` and plugin commands run
end to end without depending on the built-in plugins.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway_core.backend_clients import check_health
from gateway_core.cli import CliContext, build_parser
from gateway_core.config import load_settings
from gateway_core.hookspecs import hookimpl
from gateway_core.plugins import GatewayPluginManager, PluginError
from gateway_core.protocol.connection import NEED_DATA, ProtocolConnection, Role
from gateway_core.protocol.packets import CliAcceptReq, SrvAcceptReply
from gateway_core.registry import CommandRegistrar, Registry
from gateway_core.service_host import ServiceHost
from gateway_core.testing import free_port

pytestmark = pytest.mark.slow

ECHO_PLUGIN = textwrap.dedent('''
    """A third-party gateway plugin used by the CLI tests."""
    from __future__ import annotations

    import grpc

    from gateway_core.hookspecs import hookimpl


    class EchoService:
        def __init__(self, config):
            self.config = config

        def add_to_server(self, server):
            async def echo(request, context):
                return b"echo:" + request

            handler = grpc.method_handlers_generic_handler(
                "test.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)})
            server.add_generic_rpc_handlers((handler,))

        async def start(self):
            (self.config.data_dir / "echo-started").write_text(self.config.database_url)

        async def stop(self):
            pass


    @hookimpl
    def gateway_register_services(register):
        register("echo", EchoService)


    @hookimpl
    def gateway_register_settings(register):
        register("ECHO_TIMES", 1, validate=lambda v: None if v > 0 else "must be positive",
                 doc="How often echo-ping pings.")


    def _configure(parser):
        parser.add_argument("text")


    async def _run(args, cli):
        async with cli.service_channel("echo") as channel:
            for _ in range(cli.settings.ECHO_TIMES):
                reply = await channel.unary_unary("/test.Echo/Echo")(args.text.encode())
                print(reply.decode(), flush=True)
        return 0


    @hookimpl
    def gateway_register_commands(register):
        register("echo-ping", help="ping the echo service", configure=_configure, run=_run)
''')


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """Environment of a gateway subprocess: the echo plugin installed, data in tmp_path."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "gateway_echo_test.py").write_text(ECHO_PLUGIN)
    dist = site / "gateway_echo_test-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: gateway-echo-test\n"
                                   "Version: 0.1\n")
    (dist / "entry_points.txt").write_text("[gateway.plugins]\necho = gateway_echo_test\n")
    environ = {k: v for k, v in os.environ.items()
               if not k.endswith("_SERVICE_ADDR") and k not in ("SERVICE_PORT", "SETTINGS_FILE")}
    environ.update({
        "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
        "DATA_DIR": str(tmp_path / "data"),
        "GATEWAY_LOAD_PLUGINS": "echo",
        "LISTEN_ADDR": "127.0.0.1",
        "LOG_LEVEL": "warning",
    })
    return environ


def _gateway(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[
        str]:
    return subprocess.run([sys.executable, "-m", "gateway_core", *args], env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


@contextlib.contextmanager
def _running(*args: str, env: dict[str, str], ready_line: str) -> Iterator[
        tuple[subprocess.Popen[str], str]]:
    """Start ``gateway <args>``, wait for a stdout line containing ``ready_line``, yield
    (process, that line); SIGTERM and reap it in any case."""
    proc = subprocess.Popen([sys.executable, "-m", "gateway_core", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = ""
        deadline = time.monotonic() + 30
        while ready_line not in line:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                raise AssertionError(f"exited {proc.returncode}: {proc.stderr.read()}")  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "no ready line within 30 s"
        yield proc, line.strip()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


# --- help and errors ------------------------------------------------------------------------


def test_help_lists_builtin_and_plugin_commands(env: dict[str, str]) -> None:
    result = _gateway("--help", env=env)
    assert result.returncode == 0
    commands = ("serve", "plugins", "service", "console", "bot", "echo-ping")
    for command in commands:
        assert command in result.stdout
    for command in commands:
        assert _gateway(command, "--help", env=env).returncode == 0


def test_console_script_is_installed(env: dict[str, str]) -> None:
    import shutil

    script = shutil.which("gateway")
    assert script is not None
    result = subprocess.run([script, "--version"], env=env, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0 and "rose-gateway" in result.stdout


def test_serve_with_bad_port_exits_2_naming_setting_and_value(env: dict[str, str]) -> None:
    result = _gateway("serve", env={**env, "SERVICE_PORT": "abc"})
    assert result.returncode == 2
    assert "SERVICE_PORT" in result.stderr and "'abc'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_plugin_setting_fails_its_command_with_exit_2(env: dict[str, str]) -> None:
    result = _gateway("echo-ping", "x", env={**env, "ECHO_TIMES": "0"})
    assert result.returncode == 2
    assert "ECHO_TIMES" in result.stderr and "'0'" in result.stderr


def test_bad_settings_file_is_reported(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('CIPHER = "rot13"\n')
    result = _gateway("--settings", str(bad), "plugins", env=env)
    assert result.returncode == 2
    assert "CIPHER" in result.stderr and "rot13" in result.stderr


def test_settings_may_follow_the_command(env: dict[str, str], tmp_path: Path) -> None:
    settings = tmp_path / "echo.toml"
    settings.write_text("ECHO_TIMES = 3\n")
    result = _gateway("plugins", "--settings", str(settings), env=env)
    assert result.returncode == 0, result.stderr
    # ... and the values in effect are shown, with the default where they differ.
    assert "setting ECHO_TIMES = 3  (default 1)" in result.stdout


def test_a_port_in_use_names_the_port_and_its_setting(env: dict[str, str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _gateway("serve", env={**env, "SERVICE_PORT": str(port),
                                        "PACKET_METRICS_PORT": "0"})
    assert result.returncode == 1
    assert f"port {port} (set by SERVICE_PORT={port}) is already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_ctrl_c_while_starting_exits_130_without_a_traceback(env: dict[str, str]) -> None:
    # -X importtime reports each import on stderr as it completes. The signal goes once the
    # entry point is in: the first import after gateway_core.entry is the CLI's, inside the
    # entry's guard (a Ctrl-C before the interpreter runs any of the gateway's code gets
    # Python's own answer, which is not the gateway's to change).
    proc = subprocess.Popen([sys.executable, "-X", "importtime", "-m", "gateway_core", "serve"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    seen: list[str] = []
    entered = False
    for line in proc.stderr:
        seen.append(line)
        if entered:
            break
        entered = line.rstrip().endswith("| gateway_core.entry")
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=30)
    err = "".join(seen) + rest
    assert proc.returncode in (130, 0), err
    assert "Traceback" not in err


# --- plugins --------------------------------------------------------------------------------


def test_plugins_json_describes_each_plugin(env: dict[str, str]) -> None:
    result = _gateway("plugins", "--json", env=env)
    assert result.returncode == 0, result.stderr
    plugins = {row["name"]: row for row in json.loads(result.stdout)}
    assert set(plugins) == {"core", "echo"}
    echo = plugins["echo"]
    assert echo["version"] == "0.1" and echo["distribution"] == "gateway-echo-test"
    assert echo["services"] == ["echo"]
    assert echo["commands"] == ["echo-ping"]
    assert echo["settings"] == [{"name": "ECHO_TIMES", "default": 1, "value": 1,
                                 "doc": "How often echo-ping pings."}]
    accept = next(p for p in plugins["core"]["packets"] if p["type"] == "PAKCS_ACCEPT_REQ")
    assert "CONNECTED" in accept["states"] and "CLOSING" not in accept["states"]
    text = _gateway("plugins", env=env)
    assert text.returncode == 0 and "service echo" in text.stdout


def test_plugins_json_lists_every_installed_plugin(env: dict[str, str]) -> None:
    from importlib.metadata import entry_points

    installed = {ep.name for ep in entry_points(group="gateway.plugins")} | {"echo"}
    environ = {k: v for k, v in env.items() if k != "GATEWAY_LOAD_PLUGINS"}
    result = _gateway("plugins", "--json", env=environ)
    assert result.returncode == 0, result.stderr
    assert {row["name"] for row in json.loads(result.stdout)} == installed | {"core"}


def test_plugins_shows_secrets_masked(env: dict[str, str]) -> None:
    result = _gateway("plugins", "--json", env={
        **env, "ADMIN_TOKEN": "hunter2-admin", "DATABASE_URL":
        "postgresql+asyncpg://rose:hunter2-db@db.example.net/rose"})
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout
    core = next(row for row in json.loads(result.stdout) if row["name"] == "core")
    values = {s["name"]: s["value"] for s in core["settings"]}
    assert values["ADMIN_TOKEN"] == "***"
    assert values["DATABASE_URL"] == "postgresql+asyncpg://rose:***@db.example.net/rose"


@pytest.mark.parametrize(("name", "value", "shown"), [
    ("AUTH_BINDING_KEY", "k" * 32, "***"),
    ("ADMIN_TOKEN", "", ""),
    ("GRPC_TLS_KEY_FILE", "/etc/rose/gw1-key.pem", "/etc/rose/gw1-key.pem"),
    ("AUTH_DATABASE_URL", "postgresql://u:p@h/d", "postgresql://u:***@h/d"),
    ("DATABASE_URL", "sqlite+aiosqlite:///data/auth.sqlite3", "sqlite+aiosqlite:///data/auth.sqlite3"),
    ("MAX_CONNECTIONS_PER_IP", 32, 32),
])
def test_masked_hides_secret_settings_and_url_passwords(name: str, value: object,
                                                         shown: object) -> None:
    from gateway_core.cli import masked

    assert masked(name, value) == shown


# --- plugin commands and services ---------------------------------------------------------


def test_plugin_command_uses_embedded_reference_service(env: dict[str, str],
                                                        tmp_path: Path) -> None:
    result = _gateway("echo-ping", "hello", env={**env, "ECHO_TIMES": "2"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["echo:hello", "echo:hello"]
    started = (tmp_path / "data" / "echo-started").read_text()
    assert started == f"sqlite+aiosqlite:///{(tmp_path / 'data').resolve()}/echo.sqlite3"


def test_service_command_serves_until_sigterm_and_commands_use_it(env: dict[str, str],
                                                                  tmp_path: Path) -> None:
    with _running("service", "echo", "--listen", "127.0.0.1:0", env=env,
                  ready_line="listening on") as (proc, line):
        address = line.rsplit(" ", 1)[1]
        assert address.startswith("127.0.0.1:")

        async def health() -> str:
            async with grpc.aio.insecure_channel(address) as channel:
                return await check_health(channel, "echo")

        import anyio

        assert anyio.run(health) == "SERVING"
        (tmp_path / "data" / "echo-started").unlink()
        # The command goes to the remote service: no reference service starts in-process.
        result = _gateway("echo-ping", "remote", env={**env, "ECHO_SERVICE_ADDR": address})
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "echo:remote"
        assert not (tmp_path / "data" / "echo-started").exists()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def test_service_command_unknown_service_exits_2(env: dict[str, str]) -> None:
    result = _gateway("service", "nope", env=env)
    assert result.returncode == 2 and "nope" in result.stderr and "echo" in result.stderr


# --- serve ----------------------------------------------------------------------------------


def test_serve_answers_accept_req_counts_it_and_exits_0_on_sigterm(env: dict[str, str]) -> None:
    game_port, metrics_port = free_port(), free_port()
    environ = {**env, "SERVICE_PORT": str(game_port), "PACKET_METRICS_PORT": str(metrics_port)}
    with _running("serve", env=environ, ready_line="listening on") as (proc, line):
        assert f"127.0.0.1:{game_port}" in line
        client = ProtocolConnection(Role.CLIENT)
        with socket.create_connection(("127.0.0.1", game_port), timeout=10) as sock:
            sock.sendall(client.send(CliAcceptReq()))
            event: Any = NEED_DATA
            while event is NEED_DATA:
                client.receive_data(sock.recv(4096))
                event = client.next_event()
            assert isinstance(event, SrvAcceptReply)
            metrics = _scrape(metrics_port)
            assert metrics[("gateway_active_connections", ())] == 1
            assert metrics[("gateway_packets_received_total",
                            (("type", "PAKCS_ACCEPT_REQ"),))] == 1
            assert metrics[("gateway_packets_sent_total", (("type", "PAKSS_ACCEPT_REPLY"),))] == 1
            assert metrics[("gateway_received_bytes_total", ())] == 6
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/readyz", timeout=5) as r:
            assert r.status == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert proc.stdout is not None and "gateway stopped" in proc.stdout.read()


# --- in-process: registrar and context --------------------------------------------------------


def test_command_registrar_rejects_builtin_and_duplicate_names() -> None:
    registry = Registry()
    commands = registry.commands

    def configure(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--flag")

    CommandRegistrar(registry, "one")("thing", help="h", configure=configure,
                                      run=lambda a, c: 0)
    with pytest.raises(PluginError, match="'one' and 'two'"):
        CommandRegistrar(registry, "two")("thing", help="h", configure=configure,
                                          run=lambda a, c: 0)
    with pytest.raises(PluginError, match="built-in"):
        CommandRegistrar(registry, "two")("serve", help="h", configure=configure,
                                          run=lambda a, c: 0)
    args = build_parser(commands).parse_args(["thing", "--flag", "x"])
    assert args.command == "thing" and args.flag == "x"


class _EchoServicer:
    def __init__(self, config: Any) -> None:
        self.config = config

    def add_to_server(self, server: grpc.aio.Server) -> None:
        async def echo(request: bytes, context: Any) -> bytes:
            return dict(context.invocation_metadata())["x-request-id"].encode()

        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
            "test.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)}),))

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass


class _EchoProvider:
    @hookimpl
    def gateway_register_services(self, register: Any) -> None:
        register("echo", _EchoServicer)


@pytest.mark.anyio
async def test_service_channel_embedded_and_remote_share_the_client_path(
    tmp_path: Path,
) -> None:
    pm = GatewayPluginManager()
    pm.register(_EchoProvider(), "echo-provider")
    try:
        pm.collect_registrations()
        ctx = CliContext(load_settings({"DATA_DIR": str(tmp_path)}, environ={}), pm)
        async with ctx.service_channel("echo") as channel:
            request_id = await channel.unary_unary("/test.Echo/Echo")(b"")
            assert len(request_id) == 32  # the interceptor chain is on the embedded path too
        async with ServiceHost({"echo": _EchoServicer(None)}) as host:
            remote = CliContext(load_settings({"DATA_DIR": str(tmp_path),
                                                   "ECHO_SERVICE_ADDR": host.address},
                                                  environ={}), GatewayPluginManager())
            async with remote.service_channel("echo") as channel:
                assert len(await channel.unary_unary("/test.Echo/Echo")(b"")) == 32
    finally:
        pm.unregister(name="echo-provider")


def test_serve_with_every_installed_plugin_starts_embedded_services_and_is_ready(
    env: dict[str, str],
) -> None:
    from importlib.metadata import entry_points

    provided = {ep.name for ep in entry_points(group="gateway.plugins")}
    metrics_port = free_port()
    environ = {k: v for k, v in env.items() if k != "GATEWAY_LOAD_PLUGINS"}
    environ.update({"SERVICE_PORT": "0", "PACKET_METRICS_PORT": str(metrics_port)})
    with _running("serve", env=environ, ready_line="listening on") as (proc, _):
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(2)]
        embedded = next(line for line in lines if line.startswith("embedded services"))
        assert "echo" in embedded
        assert all(name in embedded for name in provided & {"auth", "character", "chat",
                                                             "world"})
        deadline = time.monotonic() + 10
        while True:  # readiness follows the backends' health checks
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/readyz",
                                            timeout=5) as response:
                    assert response.status == 200
                    break
            except urllib.error.HTTPError:
                assert time.monotonic() < deadline, "never ready"
                time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def test_logging_is_logfmt_at_the_configured_level() -> None:
    import io
    import logging

    from gateway_core.logs import configure_logging

    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging("warning", stream)
        logging.getLogger("gateway.test").info("hidden")
        logging.getLogger("gateway.test").warning("peer %s closed", "1.2.3.4:5",
                                                  extra={"connection": 7})
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    (line,) = stream.getvalue().splitlines()
    assert " level=warning logger=gateway.test msg=\"peer 1.2.3.4:5 closed\" connection=7" in line
    assert line.startswith("ts=")


def test_service_listen_address_defaults_to_listen_addr_at_the_service_port() -> None:
    from gateway_core.cli import default_service_listen

    def listen(**environ: str) -> str:
        return default_service_listen("auth", load_settings(environ=environ))

    assert listen() == "0.0.0.0:0"
    assert listen(AUTH_SERVICE_ADDR="auth.internal:50051") == "0.0.0.0:50051"
    assert listen(AUTH_SERVICE_ADDR="10.0.0.5:50051", LISTEN_ADDR="::") == "[::]:50051"
    assert listen(AUTH_SERVICE_ADDR="unix:/run/auth.sock") == "unix:/run/auth.sock"
