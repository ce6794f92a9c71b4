#!/usr/bin/env python3
"""Regenerate the Python gRPC stubs of every backend contract.

Usage (from anywhere)::

    python protos/generate.py            # rewrite the checked-in stubs beside the .proto files
    python protos/generate.py --out DIR  # write them under DIR instead (used by the freshness test)

Every ``protos/gateway_protos/v1/*.proto`` is compiled with ``grpc_tools.protoc`` using ``protos/``
as the include root, so the generated modules import each other as ``gateway_protos.v1.<name>_pb2``
(the package ships in the core distribution). For each ``<name>.proto`` three files are written:
``<name>_pb2.py`` (messages) with ``<name>_pb2.pyi`` (their type hints, protoc's ``--pyi_out``),
and ``<name>_pb2_grpc.py`` (stubs, servicers) with ``<name>_pb2_grpc.pyi`` (their type hints, from
mypy-protobuf's ``protoc-gen-mypy_grpc``; grpc_tools writes the grpc module untyped). Needs
``grpcio-tools`` and ``mypy-protobuf``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from importlib import resources
from pathlib import Path

PROTOS_ROOT = Path(__file__).resolve().parent
PROTO_PACKAGE_DIR = PROTOS_ROOT / "gateway_protos" / "v1"


def proto_files(root: Path = PROTOS_ROOT) -> list[Path]:
    """Every contract under ``root/gateway_protos/v1``, sorted so runs are reproducible."""
    return sorted((root / "gateway_protos" / "v1").glob("*.proto"))


def generate(out_dir: Path | None = None, *, root: Path = PROTOS_ROOT) -> list[Path]:
    """Compile every contract; return the generated files.

    ``out_dir`` defaults to ``root`` (the stubs land beside their .proto files). Raises
    ``RuntimeError`` with protoc's exit status when compilation fails.
    """
    # Imported here so `--help` works without grpcio-tools; grpc_tools ships no type hints.
    from grpc_tools import protoc  # type: ignore[import-untyped]

    out = (out_dir or root).resolve()
    files = proto_files(root)
    if not files:
        raise RuntimeError(f"no .proto files under {root / 'gateway_protos' / 'v1'}")
    # The well-known types (google/protobuf/*.proto) ship inside grpc_tools.
    well_known = str(resources.files("grpc_tools") / "_proto")
    # protoc's own --pyi_out types the messages; mypy-protobuf types the grpc stubs/servicers
    # (grpc_tools emits them untyped), which mypy --strict on the plugins needs.
    mypy_grpc = shutil.which("protoc-gen-mypy_grpc")
    if mypy_grpc is None:
        raise RuntimeError("protoc-gen-mypy_grpc not found: pip install mypy-protobuf")
    relative = [str(path.relative_to(root)) for path in files]
    args = [
        "grpc_tools.protoc",
        f"-I{root}",
        f"-I{well_known}",
        f"--plugin=protoc-gen-mypy_grpc={mypy_grpc}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--pyi_out={out}",
        f"--mypy_grpc_out={out}",
        *relative,
    ]
    (out / "gateway_protos" / "v1").mkdir(parents=True, exist_ok=True)
    status = protoc.main(args)
    if status != 0:
        raise RuntimeError(f"protoc failed with exit status {status}")
    generated: list[Path] = []
    for path in files:
        stem = path.stem
        target = out / "gateway_protos" / "v1"
        generated += [
            target / f"{stem}_pb2.py",
            target / f"{stem}_pb2.pyi",
            target / f"{stem}_pb2_grpc.py",
            target / f"{stem}_pb2_grpc.pyi",
        ]
    return generated


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output root (default: protos/, beside the .proto files)",
    )
    args = parser.parse_args(argv)
    try:
        generated = generate(args.out)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in generated:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
