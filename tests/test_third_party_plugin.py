"""A third party's plugin, examples/gateway-hello: built and installed by pip like any
distribution (into a temporary directory put on the import path, so the test environment is
left as it was), found through its entry point, routed in a real gateway, tested by its own
suite on the core's pytest fixtures, and gone once uninstalled."""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway_core import packet_docs
from gateway_core.api import PacketRegistrar, RawFrame, SessionState, get_profile, hookimpl
from gateway_core.config import ConfigError, load_settings
from gateway_core.hookspecs import ENTRY_POINT_GROUP
from gateway_core.plugins import GatewayPluginManager, PluginError
from gateway_core.protocol.packets import CliChatroomMessage, SrvChatroomMessage
from gateway_core.testing import GATEWAY_TEST_SETTINGS, RunningGateway, running_gateway

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "gateway-hello"
PACKETS_DOC = ROOT / "docs" / "packets.md"
PLUGINS_DOC = ROOT / "docs" / "plugins.md"

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _pip_install(source: Path, target: Path) -> None:
    """``pip install`` of the example into ``target``: a real build (setuptools, no network)."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--no-build-isolation", "--disable-pip-version-check", "--target", str(target),
         str(source)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _uninstall(target: Path) -> None:
    """Take the installed distribution away again: off the import path, modules forgotten."""
    while str(target) in sys.path:
        sys.path.remove(str(target))
    for name in [m for m in sys.modules if m == "gateway_hello" or m.startswith("gateway_hello.")]:
        del sys.modules[name]
    importlib.invalidate_caches()
    shutil.rmtree(target, ignore_errors=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """gateway-hello as ``pip install --target`` lays it out (built once for the module, from a
    copy: a build writes into its source tree)."""
    work = tmp_path_factory.mktemp("hello-build")
    source = work / "gateway-hello"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns(
        "build", "*.egg-info", "__pycache__"))
    _pip_install(source, work / "site")
    return work / "site"


@pytest.fixture
def installed(built: Path, tmp_path: Path) -> Iterator[Path]:
    """gateway-hello installed in a directory on ``sys.path`` (its distribution metadata and
    entry point discoverable); uninstalled afterwards whatever happens."""
    target = tmp_path / "site"
    shutil.copytree(built, target)
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    try:
        yield target
    finally:
        _uninstall(target)


def _load(load: list[str]) -> GatewayPluginManager:
    pm = GatewayPluginManager()
    pm.load_plugins(load=load)
    pm.collect_registrations()
    return pm


def test_the_plugin_guide_lists_the_unowned_packet_types_of_today() -> None:
    guide = PLUGINS_DOC.read_text()
    assert "- `PAKCS_CHATROOM_MESSAGE` (0x05C6, chat, `CliChatroomMessage`)" in guide
    assert packet_docs.with_unowned_list(guide) == guide, (
        f"the list in docs/plugins.md is stale; regenerate it with: {packet_docs.REGENERATE}")


def test_the_example_claims_a_packet_type_no_built_in_plugin_handles() -> None:
    unowned = PACKETS_DOC.read_text().split("## Client packets no plugin handles", 1)[1]
    assert "`PAKCS_CHATROOM_MESSAGE`" in unowned
    built_ins = _load(["auth", "character", "chat", "world", "items", "party"])
    assert CliChatroomMessage.NAME not in built_ins.packet_handlers


async def test_installed_it_is_found_routed_and_answers(installed: Path, tmp_path: Path) -> None:
    pm = _load(["hello"])
    (info,) = [i for i in pm.plugin_infos() if i.name == "hello"]
    assert (info.dist_name, info.version) == ("gateway-hello", "0.1.0")
    assert pm.packet_handlers[CliChatroomMessage.NAME].plugin == "hello"
    (setting,) = [s for s in pm.plugin_settings if s.plugin == "hello"]
    assert (setting.name, setting.default) == ("HELLO_GREETING", "Hello")
    bad = {"HELLO_GREETING": "x" * 65}
    with pytest.raises(ConfigError, match="HELLO_GREETING"):
        load_settings(bad, plugin_settings=pm.plugin_settings, environ={})

    # A real gateway that loads it from its entry point (and the built-in plugins), set from
    # the environment like a deployment would; a headless client in the world asks.
    settings = {**GATEWAY_TEST_SETTINGS, "DATA_DIR": str(tmp_path / "data"),
                "GATEWAY_LOAD_PLUGINS": f"{GATEWAY_TEST_SETTINGS['GATEWAY_LOAD_PLUGINS']},hello"}
    async with running_gateway(settings, RunningGateway,
                               environ={"HELLO_GREETING": "Welcome"}) as running:
        world, _ = await running.join_world("Hallo")
        await world.send(CliChatroomMessage(message=b"is anyone there?"))
        reply = await world.expect(SrvChatroomMessage, step="hello", timeout=5)
    assert reply == SrvChatroomMessage(target=0,
                                       message=b"Welcome, hallo! You said: is anyone there?")


def test_its_own_tests_pass_on_the_core_pytest_fixtures(installed: Path, tmp_path: Path) -> None:
    # Run from a copy outside the source tree, with the installed distribution on the path:
    # exactly what the plugin's author runs. `-p` names the core's pytest plugin as its
    # pytest11 entry point does (harmless when the entry point is installed too).
    tests = tmp_path / "hello-tests"
    shutil.copytree(EXAMPLE, tests, ignore=shutil.ignore_patterns(
        "gateway_hello", "build", "*.egg-info", "__pycache__"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(installed), *filter(None, [os.environ.get("PYTHONPATH")])])}
    result = subprocess.run(
        # Bounded inside (each test 60 s) and outside, below this test's own timeout, so that
        # a hang reports which test of the plugin hung.
        [sys.executable, "-m", "pytest", "-q", "-p", "gateway_core.pytest_plugin",
         "-o", "timeout=60", str(tests / "tests")],
        cwd=tests, env=env, capture_output=True, text=True, timeout=100,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "3 passed" in result.stdout


def test_uninstalled_it_is_gone(installed: Path) -> None:
    assert "hello" in _load(["hello"]).packet_handlers[CliChatroomMessage.NAME].plugin
    _uninstall(installed)
    with pytest.raises(PluginError, match="not installed: hello"):
        _load(["hello"])
    found = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    assert "hello" not in {ep.name for ep in found}


async def test_the_raw_frame_example_of_the_guide_answers(tmp_path: Path) -> None:
    # The handler of docs/plugins.md "RawFrame" section, verbatim, for a raw-frame type.
    section = PLUGINS_DOC.read_text().split("declared payload: `RawFrame`", 1)[1]
    source = section.split("```python\n", 1)[1].split("```", 1)[0]
    module = types.ModuleType("gateway_rawecho")
    exec("from gateway_core.api import PacketContext, RawFrame, get_profile\n" + source,
         module.__dict__)

    @hookimpl
    def gateway_register_packets(register: PacketRegistrar) -> None:
        register("PAKCS_CHAR_INFO_REQ", module.on_char_info_req, states={SessionState.CONNECTED})

    module.gateway_register_packets = gateway_register_packets  # type: ignore[attr-defined]
    profile = get_profile("2026")
    settings = {**GATEWAY_TEST_SETTINGS, "DATA_DIR": str(tmp_path), "GATEWAY_LOAD_PLUGINS": ""}
    async with running_gateway(settings, RunningGateway,
                               plugins=[(module, "rawecho")]) as running:
        client = await running.connect()
        request = profile.by_name("PAKCS_CHAR_INFO_REQ")
        await client.send(RawFrame(request.value, request.name, b"\x01\x02abc"))
        reply = await client.receive(step="raw", timeout=5)
    assert reply == RawFrame(profile.by_name("PAKWC_CHAR_INFO_REPLY").value,
                             "PAKWC_CHAR_INFO_REPLY", b"\x01\x02abc")
