"""Fixtures of the content tests: the shipped pack as parsed TOML, and writing packs to disk."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gateway_core.content import PACK_FILE, default_pack_path

Documents = list[tuple[str, dict[str, Any]]]


def read_default_documents() -> Documents:
    """The default pack as ``build_pack`` takes it: (file name, parsed TOML), root first."""
    root = default_pack_path()
    pack = tomllib.loads((root / PACK_FILE).read_text())
    return [(PACK_FILE, pack)] + [
        (name, tomllib.loads((root / name).read_text())) for name in pack["include"]
    ]


@pytest.fixture(scope="session")
def default_documents() -> Documents:
    return read_default_documents()


@pytest.fixture
def write_pack(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    """Write ``{file name: TOML text}`` into a fresh directory; returns the directory."""

    def write(files: dict[str, str]) -> Path:
        for name, text in files.items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return tmp_path

    return write
