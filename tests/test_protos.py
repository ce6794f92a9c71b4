"""The checked-in gRPC stubs are what `python protos/generate.py` makes of the .proto files."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

PROTOS = Path(__file__).resolve().parents[1] / "protos"
V1 = PROTOS / "gateway_protos" / "v1"
SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("protos_generate", PROTOS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("protos_generate", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("stubs")
    _generator().generate(out)
    return out / "gateway_protos" / "v1"


def test_every_contract_is_in_the_v1_package() -> None:
    names = {path.stem for path in V1.glob("*.proto")}
    assert {"auth", "character"} <= names


@pytest.mark.parametrize("proto", sorted(p.name for p in V1.glob("*.proto")))
def test_checked_in_stubs_match_a_fresh_generation(regenerated: Path, proto: str) -> None:
    stem = proto.removesuffix(".proto")
    for suffix in SUFFIXES:
        name = stem + suffix
        checked_in = V1 / name
        assert checked_in.is_file(), f"{name} is missing: run python protos/generate.py"
        assert checked_in.read_bytes() == (regenerated / name).read_bytes(), (
            f"{name} is stale: run python protos/generate.py"
        )


def test_no_stub_is_left_without_its_contract() -> None:
    contracts = {path.stem for path in V1.glob("*.proto")}
    for path in V1.iterdir():
        for suffix in SUFFIXES:
            if path.name.endswith(suffix):
                assert path.name.removesuffix(suffix) in contracts, f"orphan stub {path.name}"


def test_every_rpc_and_field_carries_a_comment() -> None:
    """Each rpc, and the first declaration of each top-level field, has a // line above it."""
    from google.protobuf import descriptor_pb2

    for proto in sorted(V1.glob("*.proto")):
        module = importlib.import_module(f"gateway_protos.v1.{proto.stem}_pb2")
        file_proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(file_proto)
        text = proto.read_text(encoding="utf-8").splitlines()
        for service in file_proto.service:
            for method in service.method:
                _assert_commented(text, f"rpc {method.name}(", proto.name)
        for message in file_proto.message_type:
            for field in message.field:
                _assert_commented(text, f" {field.name} = {field.number};", proto.name)


def _assert_commented(lines: list[str], needle: str, where: str) -> None:
    for index, line in enumerate(lines):
        if needle in line:
            previous = lines[index - 1].strip() if index else ""
            assert previous.startswith("//"), f"{where}: no comment above {line.strip()!r}"
            return
    raise AssertionError(f"{where}: {needle!r} not found")
