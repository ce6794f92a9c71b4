"""The sans-IO protocol layer imports no async, RPC, metrics or console library, and the
modules of its codec engine import each other one way only."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys

BLOCKED = ("anyio", "grpc", "prometheus_client", "rich")

SCRIPT = f"""
import sys

BLOCKED = {BLOCKED!r}


class Blocker:
    # Refuses the blocked packages (and their submodules) whoever asks for them.
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"protocol layer must not import {{name}}")
        return None


for name in BLOCKED:
    sys.modules.pop(name, None)
sys.meta_path.insert(0, Blocker())

import gateway_core.protocol
import gateway_core.protocol.packets
import gateway_core.protocol.connection
from gateway_core.protocol import ProtocolConnection, Role

conn = ProtocolConnection(Role.SERVER, cipher="rosecrypt")
conn.receive_data(bytes.fromhex("C2 A8 32 92 45 74"))
assert type(conn.next_event()).__name__ == "CliAlive"

loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
assert not loaded, loaded
print("ok")
"""


def test_protocol_layer_imports_without_io_libraries() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_blocker_really_blocks() -> None:
    # Guards the test above: the same blocker makes an import of a blocked package fail.
    script = SCRIPT.replace("import gateway_core.protocol\n", "import rich\n", 1)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "must not import rich" in result.stderr


def _protocol_imports(module: str) -> set[str]:
    """The gateway_core.protocol modules ``module`` imports, type-only imports included."""
    spec = importlib.util.find_spec(f"gateway_core.protocol.{module}")
    assert spec is not None and spec.origin is not None
    with open(spec.origin, encoding="utf-8") as source:
        tree = ast.parse(source.read())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name.rsplit(".", 1)[-1] for name in found if name.startswith("gateway_core.protocol.")}


def test_codec_engine_imports_run_one_way() -> None:
    # declarations -> codegen -> codecs: no cycle, not even through a type-only import.
    assert _protocol_imports("codecs") <= {"errors"}
    assert _protocol_imports("codegen") <= {"codecs", "errors"}
