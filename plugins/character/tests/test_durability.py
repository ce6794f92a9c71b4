"""A created character survives the service process being killed right after the reply."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
from gateway_protos.v1 import character_pb2, character_pb2_grpc

from gateway_core.testing import free_port

pytestmark = pytest.mark.slow


@contextmanager
def character_service(data_dir: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """``gateway service character`` as its own process on ``port``; killed on exit."""
    env = {**os.environ, "DATA_DIR": str(data_dir), "GATEWAY_LOAD_PLUGINS": "character"}
    env.pop("CHARACTER_SERVICE_ADDR", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway_core",
            "service",
            "character",
            "--listen",
            f"127.0.0.1:{port}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


def _wait_ready(channel: grpc.Channel, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "the service exited early"
        try:
            grpc.channel_ready_future(channel).result(timeout=0.5)
            return
        except grpc.FutureTimeoutError:
            continue
    raise AssertionError("the service did not come up")


def test_created_character_survives_sigkill_right_after_the_reply(tmp_path: Path) -> None:
    port = free_port()
    address = f"127.0.0.1:{port}"
    with character_service(tmp_path, port) as process, grpc.insecure_channel(address) as channel:
        _wait_ready(channel, process)
        stub = character_pb2_grpc.CharacterStub(channel)
        reply = stub.CreateCharacter(
            character_pb2.CreateCharacterRequest(account_id=1, name="Durable"), timeout=10
        )
        os.kill(process.pid, signal.SIGKILL)  # no chance to flush anything after the reply
        process.wait(timeout=10)
    assert reply.result == character_pb2.CREATE_CHAR_RESULT_OK
    with character_service(tmp_path, port) as process, grpc.insecure_channel(address) as channel:
        _wait_ready(channel, process)
        stub = character_pb2_grpc.CharacterStub(channel)
        listed = stub.ListCharacters(character_pb2.ListCharactersRequest(account_id=1), timeout=10)
    assert [c.name for c in listed.characters] == ["Durable"]
    assert listed.characters[0].id == reply.character.id
