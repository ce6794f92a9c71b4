"""The deployment files: Dockerfile, deploy/gateway.sh (the image's install and start steps),
deploy/compose.yaml, deploy/k8s/, the Prometheus alert rules and the Grafana dashboard.

No container engine runs here, so the image's steps are run by their script directly: the
install step prints its commands (DRY_RUN) and the start step really starts ``gateway serve``
on free ports, which becomes ready, serves the metrics the dashboard and the rules name, and
drains on the Kubernetes preStop command. The compose file and the manifests are parsed: ports,
probes, and every environment variable they give the gateway or a service is a real setting."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from gateway_core.config import CORE_SETTINGS
from gateway_core.plugins import GatewayPluginManager
from gateway_core.testing import GATEWAY_TEST_ENV, free_port

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
SCRIPT = DEPLOY / "gateway.sh"
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
K8S = DEPLOY / "k8s"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "gateway.json"
BUILT_IN = ("auth", "character", "chat", "world", "items", "party")
#: Containers of the compose file that are not the gateway's image.
THIRD_PARTY_IMAGES = ("postgres", "prometheus", "grafana")


@pytest.fixture(scope="module")
def plugins() -> GatewayPluginManager:
    pm = GatewayPluginManager()
    pm.load_plugins(load=BUILT_IN)
    pm.collect_settings()
    pm.collect_registrations()
    return pm


@pytest.fixture(scope="module")
def setting_names(plugins: GatewayPluginManager) -> set[str]:
    """Every name the gateway reads: core and plugin settings, <SERVICE>_SERVICE_ADDR."""
    names = {s.name for s in CORE_SETTINGS} | {s.name for s in plugins.plugin_settings}
    return names | {f"{service.upper()}_SERVICE_ADDR" for service in plugins.services}


def _script(*args: str, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHON": sys.executable,
                                                **(env or {})})


# --- Dockerfile and the script's steps ----------------------------------------------------


def test_the_dockerfile_is_multi_stage_non_root_and_checks_readyz(setting_names: set[str]) -> None:
    text = DOCKERFILE.read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2
    assert "COPY --from=build" in text
    (user,) = re.findall(r"^USER (\S+)", text, re.M)
    assert user not in ("root", "0")
    (check,) = re.findall(r"^HEALTHCHECK .*(?:\n\s+.*)*", text, re.M)
    assert "/readyz" in check and "9102" in check
    assert set(re.findall(r"^EXPOSE (.*)", text, re.M)[0].split()) == {"29000", "9102"}
    # The install and start steps are the script's.
    assert "RUN gateway.sh wheels" in text and "RUN gateway.sh install" in text
    assert 'ENTRYPOINT ["gateway.sh"]' in text and 'CMD ["start", "serve"]' in text
    env_block = re.search(r"^ENV (.*?)(?=^\S)", text, re.M | re.S)
    assert env_block is not None
    names = set(re.findall(r"([A-Z][A-Z0-9_]*)=", env_block.group(1))) - {
        "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"}
    assert names and names <= setting_names, names - setting_names


def test_the_install_step_builds_the_core_and_every_plugin() -> None:
    wheels = _script("wheels", str(ROOT), "/wheels", env={"DRY_RUN": "1"})
    assert wheels.returncode == 0, wheels.stderr
    (command,) = wheels.stdout.splitlines()
    assert command.startswith(f"+ {sys.executable} -m pip wheel ")
    built = command.split("--wheel-dir /wheels ", 1)[1].split()
    plugin_dirs = sorted(str(p.parent) for p in (ROOT / "plugins").glob("*/pyproject.toml"))
    assert built == [str(ROOT), *plugin_dirs]
    assert {Path(d).name for d in plugin_dirs} >= set(BUILT_IN)
    install = _script("install", "/wheels", env={"DRY_RUN": "1"})
    assert install.stdout.strip() == (f"+ {sys.executable} -m pip install --no-cache-dir "
                                      "--disable-pip-version-check /wheels/*.whl")
    start = _script("start", env={"DRY_RUN": "1", "DATA_DIR": "/data"})
    assert start.stdout.splitlines() == ["+ mkdir -p /data",
                                         f"+ exec {sys.executable} -m gateway_core serve"]
    assert _script("frobnicate").returncode == 2


def _metric_names(text: str) -> set[str]:
    """The series names a scrape offers (also of labelled metrics with no sample yet)."""
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}
        names |= {family.name + s for s in suffixes.get(family.type, ("",))}
    return names


def _named_metrics(text: str) -> set[str]:
    return set(re.findall(r"\b(gateway_[a-z_]+)\b", text))


def _wait_ready(url: str, process: subprocess.Popen[str], timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert process.poll() is None, f"gateway exited: {process.communicate()}"
        if _script("healthcheck", url, timeout=15).returncode == 0:
            return
        time.sleep(0.3)
    raise AssertionError(f"{url} did not become ready in {timeout}s")


@pytest.fixture
def started(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    """``gateway.sh start serve`` as the image runs it, on free loopback ports."""
    env = {**os.environ, **GATEWAY_TEST_ENV, "PYTHON": sys.executable,
           "DATA_DIR": str(tmp_path / "data"), "SERVICE_PORT": str(free_port()),
           "ADMIN_HOST": "127.0.0.1", "PACKET_METRICS_PORT": str(free_port()),
           "METRICS_ADDR": f"127.0.0.1:{free_port()}", "DRAIN_NOTICE_SECONDS": "0",
           "SHUTDOWN_DEADLINE": "5"}
    process = subprocess.Popen(["sh", str(SCRIPT), "start", "serve"], env=env, text=True,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    try:
        yield process, env
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        process.communicate()


@pytest.mark.slow
def test_the_start_step_serves_ready_metrics_and_drains(
    started: tuple[subprocess.Popen[str], dict[str, str]], tmp_path: Path
) -> None:
    process, env = started
    metrics = f"http://{env['METRICS_ADDR']}"
    _wait_ready(f"{metrics}/readyz", process)
    assert (tmp_path / "data").is_dir()
    with urllib.request.urlopen(f"{metrics}/metrics", timeout=5) as response:
        served = _metric_names(response.read().decode())
    for path in (ALERTS, DASHBOARD):
        named = _named_metrics(path.read_text())
        assert named and named <= served, f"{path.name} names unknown metrics: {named - served}"
    # The Kubernetes preStop command: a drain through the admin port, back once stopped.
    drained = subprocess.run(["sh", str(SCRIPT), "drain"], env={**env, "DRAIN_TIMEOUT": "30"},
                             capture_output=True, text=True, timeout=60)
    assert drained.returncode == 0, drained.stdout + drained.stderr
    assert process.wait(30) == 0


@pytest.mark.slow
def test_the_start_step_runs_a_service_that_answers_its_health_check(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    env = {**os.environ, **GATEWAY_TEST_ENV, "PYTHON": sys.executable,
           "DATA_DIR": str(tmp_path)}
    process = subprocess.Popen(["sh", str(SCRIPT), "start", "service", "chat", "--listen",
                                address], env=env, text=True, stdout=subprocess.PIPE,
                               stdin=subprocess.DEVNULL)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == f"service chat listening on {address}"
        assert _script("grpc-health", address, "chat").returncode == 0
        assert _script("grpc-health", address, "nosuch").returncode == 1
    finally:
        process.terminate()
        assert process.wait(15) == 0
        process.communicate()


# --- compose -------------------------------------------------------------------------------


def _compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def _listen_port(command: list[str]) -> int:
    return int(command[command.index("--listen") + 1].rpartition(":")[2])


def test_compose_runs_the_gateway_each_service_and_the_monitoring(
    plugins: GatewayPluginManager, setting_names: set[str]
) -> None:
    services = _compose()["services"]
    assert {"gateway", "postgres", "prometheus", "grafana"} <= set(services)
    gateway = services["gateway"]
    assert {"29000:29000", "9102:9102"} <= set(gateway["ports"])
    assert "/readyz" in " ".join(gateway["healthcheck"]["test"])
    env = gateway["environment"]
    assert {name: dep["condition"] for name, dep in gateway["depends_on"].items()} == dict.fromkeys(
        plugins.services, "service_healthy")
    for name in plugins.services:  # every reference service in a container of its own
        container = services[name]
        assert container["image"] == gateway["image"] == "packet-service"
        assert container["command"][:3] == ["start", "service", name]
        port = _listen_port(container["command"])
        assert env[f"{name.upper()}_SERVICE_ADDR"] == f"{name}:{port}"
        assert container["healthcheck"]["test"][1:] == [
            "gateway.sh", "grpc-health", f"127.0.0.1:{port}", name]
        assert "DATABASE_URL" in container["environment"]
    for name, container in services.items():
        if name in THIRD_PARTY_IMAGES:
            continue
        unknown = set(container.get("environment", {})) - setting_names
        assert not unknown, f"compose service {name} sets unknown settings {unknown}"
    assert (DEPLOY / "prometheus" / "prometheus.yml").exists()
    mounts = " ".join(services["grafana"]["volumes"])
    assert "./grafana/provisioning" in mounts and "./grafana/dashboards" in mounts


def test_grafana_is_provisioned_with_the_dashboard() -> None:
    provider = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/dashboards/dashboards.yaml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    source = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/prometheus.yaml").read_text())
    (datasource,) = source["datasources"]
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "rose-gateway" and dashboard["panels"]
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == datasource["uid"]
        assert panel["targets"] and all(_named_metrics(t["expr"]) for t in panel["targets"])
    queried = _named_metrics(DASHBOARD.read_text())
    for wanted in ("gateway_active_connections", "gateway_packets_received_total",
                   "gateway_protocol_errors_total", "gateway_router_drops_total",
                   "gateway_slow_client_disconnects_total", "gateway_grpc_client_seconds_bucket"):
        assert wanted in queried


# --- Kubernetes -------------------------------------------------------------------------------


def _manifests() -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    for path in sorted(K8S.glob("*.yaml")):
        documents += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return documents


def _find(documents: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def _env_names(container: dict[str, Any], documents: list[dict[str, Any]]) -> set[str]:
    names = {item["name"] for item in container.get("env", ())}
    for source in container.get("envFrom", ()):
        for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            if key in source:
                document = _find(documents, kind, source[key]["name"])
                names |= set(document.get("data") or document.get("stringData") or {})
    return names


def test_the_gateway_deployment_has_probes_a_drain_and_a_game_service(
    setting_names: set[str],
) -> None:
    documents = _manifests()
    deployment = _find(documents, "Deployment", "rose-gateway")
    spec = deployment["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"game": 29000, "metrics": 9102}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["lifecycle"]["preStop"]["exec"]["command"] == ["gateway.sh", "drain"]
    config = _find(documents, "ConfigMap", "rose-gateway")["data"]
    assert config["METRICS_ADDR"].endswith(":9102") and config["SERVICE_PORT"] == "29000"
    deadline = float(config["DRAIN_NOTICE_SECONDS"]) + float(config["SHUTDOWN_DEADLINE"])
    assert spec["terminationGracePeriodSeconds"] > deadline
    assert spec["securityContext"]["runAsNonRoot"] is True
    unknown = _env_names(container, documents) - setting_names
    assert not unknown, f"the gateway Deployment sets unknown settings {unknown}"
    game = _find(documents, "Service", "rose-gateway")
    assert game["spec"]["ports"] == [{"name": "game", "port": 29000, "targetPort": "game",
                                      "protocol": "TCP"}]


def test_every_reference_service_has_a_deployment_and_a_service(
    plugins: GatewayPluginManager, setting_names: set[str]
) -> None:
    documents = _manifests()
    config = _find(documents, "ConfigMap", "rose-gateway")["data"]
    for name in plugins.services:
        deployment = _find(documents, "Deployment", f"rose-{name}")
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["args"][:3] == ["start", "service", name]
        port = _listen_port(container["args"])
        assert container["readinessProbe"]["grpc"] == {"port": port, "service": name}
        assert container["livenessProbe"]["grpc"]["port"] == port
        service = _find(documents, "Service", f"rose-{name}")
        assert service["spec"]["ports"][0]["port"] == port
        assert config[f"{name.upper()}_SERVICE_ADDR"] == f"rose-{name}:{port}"
        unknown = _env_names(container, documents) - setting_names
        assert not unknown, f"rose-{name} sets unknown settings {unknown}"


# --- alert rules --------------------------------------------------------------------------------


def test_the_alert_rules_cover_what_operators_watch() -> None:
    rules = [r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]]
    names = {r["alert"] for r in rules}
    assert len(names) == len(rules)
    assert all(r["expr"] and r["labels"]["severity"] and r["annotations"]["summary"]
               for r in rules)
    named = _named_metrics(ALERTS.read_text())
    for wanted in ("gateway_active_connections", "gateway_packets_received_total",
                   "gateway_protocol_errors_total", "gateway_handler_errors_total",
                   "gateway_router_drops_total", "gateway_slow_client_disconnects_total",
                   "gateway_grpc_client_seconds_bucket", "gateway_grpc_client_seconds_count"):
        assert wanted in named


def test_promtool_accepts_the_alert_rules() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (apt-get install prometheus): rules not checked")
    result = subprocess.run([promtool, "check", "rules", str(ALERTS)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
