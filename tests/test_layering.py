"""The import structure: the core is layered one way, plugins never import each other and no
module imports itself back through others, type-only imports included (import-linter contracts
in pyproject.toml); plugins import the core only through ``gateway_core.api``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_PACKAGES = (
    "gateway_auth", "gateway_character", "gateway_chat", "gateway_world", "gateway_items",
    "gateway_party",
)
LAYERED_CONTRACT = "The core is layered one way"


def _lint_imports(cwd: Path, extra_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(extra_path), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command as m; m()",
         "--no-cache"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def _graph() -> grimp.ImportGraph:
    return grimp.build_graph("gateway_core", *PLUGIN_PACKAGES, cache_dir=None)


def test_the_import_contracts_hold() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


@pytest.mark.slow
def test_an_import_cycle_breaks_the_acyclic_contract(tmp_path: Path) -> None:
    # A copy of the world plugin whose runtime imports the plugin module that imports it.
    shutil.copytree(ROOT / "plugins" / "world" / "gateway_world", tmp_path / "gateway_world",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    runtime = tmp_path / "gateway_world" / "runtime.py"
    runtime.write_text(runtime.read_text() + "\nfrom gateway_world import plugin as _p  # noqa\n")
    result = _lint_imports(tmp_path, extra_path=tmp_path)
    assert result.returncode != 0
    assert "acyclic) BROKEN" in result.stdout and ".runtime -> .plugin" in result.stdout


@pytest.mark.slow
def test_an_upward_import_breaks_the_layering(tmp_path: Path) -> None:
    # A copy of the core where the session layer reaches up to the gateway: the contract must
    # catch it (so the test above is not vacuous).
    shutil.copytree(ROOT / "gateway_core", tmp_path / "gateway_core",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    session = tmp_path / "gateway_core" / "session.py"
    session.write_text(session.read_text() + "\nfrom gateway_core import app as _app  # noqa\n")
    result = _lint_imports(tmp_path, extra_path=tmp_path)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and LAYERED_CONTRACT in result.stdout
    assert "gateway_core.session -> gateway_core.app" in result.stdout


def test_plugins_import_the_core_only_through_the_api() -> None:
    graph = _graph()
    wrong = sorted(
        f"{module} -> {imported}"
        for package in PLUGIN_PACKAGES
        for module in graph.find_descendants(package) | {package}
        for imported in graph.find_modules_directly_imported_by(module)
        if imported.startswith("gateway_core") and imported != "gateway_core.api"
        and imported != "gateway_core"
    )
    assert not wrong, "plugins must import from gateway_core.api only:\n" + "\n".join(wrong)
