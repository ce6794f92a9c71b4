"""The README is part of the product: its set-up commands are the ones CI runs, and it documents
every setting of the core and of the built-in plugins."""

from __future__ import annotations

import re
from pathlib import Path

from gateway_core import hookspecs
from gateway_core.config import CORE_SETTINGS
from gateway_core.plugins import GatewayPluginManager

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()
BUILT_IN = ("auth", "character", "chat", "world", "items", "party")


def _shell_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", README, flags=re.S)


def test_readme_test_command_is_the_one_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    test_commands = [
        b.strip() for b in _shell_blocks() if b.startswith("pip install") and "pytest" in b
    ]
    assert len(test_commands) == 1
    assert test_commands[0] in ci


def test_readme_install_command_installs_every_built_in_plugin_and_serves() -> None:
    (serve,) = [b.strip() for b in _shell_blocks() if b.startswith("pip install") and "serve" in b]
    for name in BUILT_IN:
        assert f"./plugins/{name}" in serve


def test_readme_documents_every_core_setting() -> None:
    missing = [s.name for s in CORE_SETTINGS if f"`{s.name}`" not in README]
    assert not missing, f"README lacks the settings {missing}"


def test_readme_documents_every_built_in_plugin_setting() -> None:
    pm = GatewayPluginManager()
    pm.load_plugins(load=BUILT_IN)
    names = [s.name for s in pm.collect_settings()]
    assert len(names) > 10
    missing = [n for n in names if f"`{n}`" not in README]
    assert not missing, f"README lacks the plugin settings {missing}"


def test_readme_lists_every_hook() -> None:
    names = [n for n in vars(hookspecs) if n.startswith("gateway_")]
    assert len(names) == 12
    missing = [h for h in names if f"`{h}(" not in README]
    assert not missing, f"README lacks the hooks {missing}"
