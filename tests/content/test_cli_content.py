"""``gateway content check``: the summary and exit 0 for a good pack, every problem and exit 1
for a broken one, whatever the gateway's settings."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gateway_core.cli import EXIT_FAILURE, EXIT_OK, main
from gateway_core.content import default_pack_path


def _broken_copy(tmp_path: Path) -> Path:
    pack = tmp_path / "pack"
    shutil.copytree(default_pack_path(), pack)
    maps = pack / "maps.toml"
    text = maps.read_text()
    assert "destination = { map = 22," in text
    maps.write_text(text.replace("destination = { map = 22,", "destination = { map = 23,"))
    monsters = pack / "monsters.toml"
    monsters.write_text(monsters.read_text().replace("level = 6\n", "level = 0\n"))
    return pack


def test_check_without_path_checks_the_shipped_pack(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["content", "check"]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.startswith("content pack ") and "Adventurer's Plains" in out


def test_check_a_broken_pack_prints_each_problem_and_exits_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pack = _broken_copy(tmp_path)
    assert main(["content", "check", str(pack)]) == EXIT_FAILURE
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "maps.toml: gate[0] (id=1): destination.map: unknown map 23",
        "monsters.toml: monster[2] (id=hill_hopper): level: Input should be greater than or "
        "equal to 1 (got 0)",
        f"{pack}: 2 problems",
    ]


@pytest.mark.slow
def test_the_console_script_checks_packs_even_with_broken_settings(tmp_path: Path) -> None:
    # Content does not depend on the gateway's configuration: a bad settings file (which fails
    # `serve` with exit 2) does not stop a pack from being checked.
    bad = tmp_path / "settings.toml"
    bad.write_text('CIPHER = "rot13"\n')
    env = {**os.environ, "SETTINGS_FILE": str(bad)}
    result = subprocess.run(
        [sys.executable, "-m", "gateway_core", "content", "check", str(_broken_copy(tmp_path))],
        env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == EXIT_FAILURE, result.stderr
    assert "maps.toml: gate[0] (id=1): destination.map: unknown map 23" in result.stdout
    assert result.stderr == ""
