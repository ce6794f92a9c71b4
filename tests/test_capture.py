"""Packet capture and replay against real gateways: real TCP on loopback, the real admin HTTP
port, the ``gateway capture`` / ``gateway replay`` command functions, the capture files."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import logging
import struct
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from gateway_core.bot import steps as flow
from gateway_core.bot.journey import FlowOptions, run_flow
from gateway_core.capture import (
    CaptureEvent,
    PacketRecord,
    decode_frame,
    mask_packet,
    read_capture,
)
from gateway_core.capture_cli import configure_capture, configure_replay, run_capture, run_replay
from gateway_core.core_packets import ANY_STATE
from gateway_core.hookspecs import hookimpl
from gateway_core.protocol.packets import (
    CliBankListReq,
    CliJoinServerReq,
    CliLoginReq,
    LoginResult,
)
from gateway_core.testing import (
    GATEWAY_TEST_SETTINGS,
    RunningGateway,
    free_port,
    running_gateway,
)

PASSWORD = "s3cret-Pa55"
HASH = hashlib.sha256(PASSWORD.encode()).hexdigest()

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _settings(data_dir: Path, **extra: object) -> dict[str, object]:
    return {**GATEWAY_TEST_SETTINGS, "DATA_DIR": str(data_dir), **extra}


def _capture_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    configure_capture(parser)
    return parser.parse_args(argv)


def _replay_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    configure_replay(parser)
    return parser.parse_args(argv)


async def _cli(fn: Any, *args: Any) -> tuple[int, str]:
    out = io.StringIO()
    code = await anyio.to_thread.run_sync(lambda: fn(*args, out=out))
    return int(code), out.getvalue()


def _assert_no_password(path: Path) -> None:
    data = path.read_bytes()
    for secret in (PASSWORD.encode(), HASH.encode(), HASH.encode().hex().encode(),
                   PASSWORD.encode().hex().encode()):
        assert secret not in data, f"{path} holds the password ({secret[:12]!r}...)"


def test_masking_keeps_lengths_and_decodes() -> None:
    login = CliLoginReq(password=HASH.encode(), username=b"alice")
    masked = mask_packet(login)
    assert isinstance(masked, CliLoginReq)
    assert masked.password == b"*" * 64 and masked.username == b"alice"
    join = mask_packet(CliJoinServerReq(session_id=7, password=HASH.encode()))
    assert isinstance(join, CliJoinServerReq) and join.session_id == 7
    assert join.password == b"*" * 64
    bank = mask_packet(CliBankListReq(request=0, password=b"1234"))
    assert isinstance(bank, CliBankListReq) and bank.password == b"****"


async def test_capture_a_full_flow_and_replay_it_on_a_fresh_gateway(tmp_path: Path) -> None:
    admin_port = free_port()
    captures = tmp_path / "captures"
    async with running_gateway(_settings(tmp_path / "a", PACKET_METRICS_PORT=admin_port,
                                         CAPTURE_DIR=str(captures)),
                               RunningGateway) as gw:
        await gw.account("alice", PASSWORD)
        url = f"http://127.0.0.1:{admin_port}"
        code, text = await _cli(run_capture, _capture_args("--user", "alice", "--url", url),
                                None)
        assert code == 0, text
        assert "capture 1 of user alice started" in text
        options = FlowOptions(host=gw.host, port=gw.port, username="alice", password=PASSWORD,
                              character="Alice", create=True, chat="hello there", timeout=5)
        result = await run_flow(options)
        assert result.ok, result.error
        code, text = await _cli(run_capture, _capture_args("--list", "--url", url), None)
        assert code == 0 and "capture 1 of user alice" in text
        code, text = await _cli(run_capture, _capture_args("--stop", "--url", url), None)
        assert code == 0 and "capture 1 stopped" in text, text
    (path,) = captures.glob("capture-*.jsonl")
    _assert_no_password(path)
    header, records = read_capture(path)
    assert header["user"] == "alice" and header["profile"] == "2026"
    packets = [r for r in records if isinstance(r, PacketRecord)]
    names = [r.name for r in packets]
    for name in ("PAKCS_LOGIN_REQ", "PAKLC_SRV_SELECT_REPLY", "PAKCS_CREATE_CHAR_REQ",
                 "PAKCC_SWITCH_SERVER", "PAKWC_SELECT_CHAR_REPLY", "PAKCS_NORMAL_CHAT",
                 "PAKWC_NORMAL_CHAT", "PAKWC_LOGOUT_REPLY"):
        assert name in names
    assert len({r.connection for r in packets}) == 3  # login, character and world legs
    login = decode_frame(next(r for r in packets if r.name == "PAKCS_LOGIN_REQ").frame,
                         "c2s", "2026")
    assert isinstance(login, CliLoginReq) and login.password == b"*" * 64
    assert {e.event for e in records if isinstance(e, CaptureEvent)} >= {"open", "close"}

    # A fresh gateway (own data directory): the same replies except the per-run fields.
    async with running_gateway(_settings(tmp_path / "b"), RunningGateway) as fresh:
        await fresh.account("alice", PASSWORD)
        code, text = await _cli(run_replay, _replay_args(
            str(path), "--to", f"{fresh.host}:{fresh.port}", "--password", PASSWORD,
            "--timeout", "3"))
        assert code == 0, text
        assert "equal the recorded ones" in text and "PAKLC_SRV_SELECT_REPLY.session_id" in text

        # Without the password the login is refused: a readable difference, exit code 1.
        code, text = await _cli(run_replay, _replay_args(
            str(path), "--to", f"{fresh.host}:{fresh.port}", "--timeout", "0.5", "--json"))
        assert code == 1
        report = json.loads(text)
        first = report["differences"][0]
        assert first["connection"] == packets[0].connection
        assert first["expected"] == first["received"] == "PAKLC_LOGIN_REPLY"
        assert first["fields"]["result"] == {"recorded": "OK", "live": "INVALID_PASSWORD"}
        code, text = await _cli(run_replay, _replay_args(
            str(path), "--to", f"{fresh.host}:{fresh.port}", "--timeout", "0.5"))
        assert code == 1
        assert "PAKLC_LOGIN_REPLY differs: result: \"OK\" != \"INVALID_PASSWORD\"" in text

    # gateway capture show: decoded names and fields, the password masked.
    code, text = await _cli(lambda out: run_capture(_capture_args("show", str(path)), None,
                                                    out=out))
    assert code == 0
    assert "capture of user alice" in text and "connection 1" in text
    assert "PAKCS_LOGIN_REQ 0x" in text and "username=\"alice\"" in text
    assert "password=\"" + "*" * 20 in text
    assert "PAKWC_NORMAL_CHAT" in text and "message=\"hello there\"" in text
    assert PASSWORD not in text and HASH not in text


async def test_capture_by_connection_id_through_the_admin_port(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    admin_port = free_port()
    async with running_gateway(_settings(tmp_path, PACKET_METRICS_PORT=admin_port),
                               RunningGateway) as gw:
        url = f"http://127.0.0.1:{admin_port}"
        code, text = await _cli(run_capture, _capture_args("--connection", "99", "--url", url),
                                None)
        assert code == 1 and "no open connection #99" in capsys.readouterr().err
        client = await gw.connect()  # accept exchange done before the capture
        (row,) = gw.gateway.admin_connections()
        target = tmp_path / "one.jsonl"
        code, text = await _cli(run_capture, _capture_args(
            "--connection", str(row["id"]), "--file", str(target), "--url", url), None)
        assert code == 0, text
        await flow.login(client, "nobody", PASSWORD)
        code, text = await _cli(run_capture, _capture_args(
            "--stop", "--connection", str(row["id"]), "--url", url), None)
        assert code == 0 and "2 packets" in text, text
    _assert_no_password(target)
    _, records = read_capture(target)
    assert [r.name for r in records if isinstance(r, PacketRecord)] == [
        "PAKCS_LOGIN_REQ", "PAKLC_LOGIN_REPLY"]


def _frame(type_value: int, payload: bytes) -> bytes:
    return struct.pack("<HHH", 6 + len(payload), type_value, 0) + payload


async def test_a_bad_packet_dumps_the_last_packets(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dumps = tmp_path / "dumps"
    settings = _settings(tmp_path, CAPTURE_ON_ERROR=True, CAPTURE_RING_SIZE=3,
                         CAPTURE_DIR=str(dumps))
    async with running_gateway(settings, RunningGateway, plugins=[(_Boom(), "boom")]) as gw:
        client = await gw.connect()
        reply = await flow.login(client, "nobody", PASSWORD)
        assert reply.result is not LoginResult.OK
        async with await anyio.connect_tcp(gw.host, gw.port) as raw:
            await raw.send(_frame(0x0504, b""))  # PAKCS_ACCEPT_REQ
            await raw.send(b"\x02\x00\x00\x00\x00\x00")  # a header announcing 2 bytes
            with anyio.fail_after(5):
                received = b""
                try:
                    while chunk := await raw.receive():
                        received += chunk
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    pass  # closed for the protocol error
        with anyio.fail_after(5):
            while not gw.gateway.captures.dumps:
                await anyio.sleep(0.01)
        # The login connection is still fine: no dump for it.
        (path,) = gw.gateway.captures.dumps
        assert path.parent == dumps
        header, records = read_capture(path)
        assert header["reason"].startswith("protocol_error:")
        assert [r.name for r in records if isinstance(r, PacketRecord)] == [
            "PAKCS_ACCEPT_REQ", "PAKSS_ACCEPT_REPLY"]
        assert isinstance(records[-1], CaptureEvent) and records[-1].event == "error"

        # A handler exception dumps the connection's last packets (the ring's 3).
        await client.send(_boom_packet())
        with anyio.fail_after(5):
            while len(gw.gateway.captures.dumps) < 2:
                await anyio.sleep(0.01)
    path = gw.gateway.captures.dumps[1]
    _assert_no_password(path)
    header, records = read_capture(path)
    assert header["reason"] == "handler_error"
    names = [r.name for r in records if isinstance(r, PacketRecord)]
    assert names == ["PAKCS_LOGIN_REQ", "PAKLC_LOGIN_REPLY", _BOOM]
    error = records[-1]
    assert isinstance(error, CaptureEvent) and "boom" in str(error.fields["detail"])
    # The handler's exception is logged with the structured fields of its connection.
    (failed,) = [r for r in caplog.records if "raised handling" in r.getMessage()]
    assert failed.packet == _BOOM and failed.plugin == "boom"  # type: ignore[attr-defined]
    assert failed.connection == header["connection"]  # type: ignore[attr-defined]


_BOOM = "PAKCS_CLAN_ICON_TIMESTAMP"


def _boom_packet() -> Any:
    from gateway_core.protocol.packets import PACKETS_BY_NAME

    return PACKETS_BY_NAME[_BOOM]()


class _Boom:
    @hookimpl
    def gateway_register_packets(self, register: Any) -> None:
        def fail(ctx: Any, packet: Any) -> None:
            raise RuntimeError("boom")

        register(_BOOM, fail, states=ANY_STATE)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_the_packet_trace_shows_packets_and_masks_passwords(tmp_path: Path) -> None:
    from gateway_core.logs import JsonFormatter, LogfmtFormatter

    trace = logging.getLogger("gateway.trace")
    handler = _Records()
    saved = trace.level
    trace.setLevel(logging.DEBUG)
    trace.addHandler(handler)
    try:
        async with running_gateway(_settings(tmp_path), RunningGateway) as gw:
            await gw.account("alice", PASSWORD)
            client = await gw.connect()
            assert (await flow.login(client, "alice", PASSWORD)).result is LoginResult.OK
    finally:
        trace.removeHandler(handler)
        trace.setLevel(saved)
    lines = [LogfmtFormatter().format(r) for r in handler.records]
    text = "\n".join(lines)
    assert PASSWORD not in text and HASH not in text
    (login,) = [r for r in handler.records if getattr(r, "packet", "") == "PAKCS_LOGIN_REQ"]
    assert login.levelno == logging.DEBUG and login.direction == "c2s"  # type: ignore[attr-defined]
    assert login.fields == {"password": "*" * 64, "username": "alice"}  # type: ignore[attr-defined]
    assert "in #" in login.getMessage() and "PAKCS_LOGIN_REQ 76B" in login.getMessage()
    (reply,) = [r for r in handler.records if getattr(r, "packet", "") == "PAKLC_LOGIN_REPLY"]
    assert reply.getMessage().startswith("out #") and 'result="OK"' in reply.getMessage()
    assert reply.user == "alice"  # type: ignore[attr-defined]
    obj = json.loads(JsonFormatter().format(login))
    assert obj["packet"] == "PAKCS_LOGIN_REQ" and obj["fields"]["password"] == "*" * 64
    assert isinstance(obj["connection"], int) and obj["size"] == 76


def test_json_log_lines_carry_the_connection_of_the_packet_being_handled() -> None:
    from gateway_core.backend_clients import grpc_call_context
    from gateway_core.logs import configure_logging
    from gateway_core.session import Session

    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    session = Session(12)
    session.username, session.session_id = "alice", 345
    try:
        configure_logging("info", stream, fmt="json")
        log = logging.getLogger("gateway.test")
        log.debug("hidden")
        log.info("plain %s", "line")
        token = grpc_call_context.set(session)
        try:
            log.warning("handler said %d", 3, extra={"packet": "PAKCS_NORMAL_CHAT"})
        finally:
            grpc_call_context.reset(token)
        try:
            raise ValueError("bad")
        except ValueError:
            log.exception("failed")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    plain, handled, failed = (json.loads(line) for line in stream.getvalue().splitlines())
    assert plain["msg"] == "plain line" and plain["level"] == "info"
    assert plain["logger"] == "gateway.test" and plain["ts"].endswith("Z")
    assert "connection" not in plain
    assert handled == {**handled, "msg": "handler said 3", "level": "warning", "connection": 12,
                       "session": 345, "user": "alice", "packet": "PAKCS_NORMAL_CHAT"}
    assert "ValueError: bad" in failed["exc"]


async def test_captures_are_plaintext_under_the_rosecrypt_cipher(tmp_path: Path) -> None:
    async with running_gateway(
        _settings(tmp_path, CIPHER="rosecrypt"),
        lambda gateway, host, port: RunningGateway(gateway, host, port, cipher="rosecrypt"),
    ) as gw:
        await gw.account("alice", PASSWORD)
        capture = gw.gateway.captures.start(user="alice")
        client = await gw.connect()
        assert (await flow.login(client, "alice", PASSWORD)).result is LoginResult.OK
        await flow.channel_list(client, 1)
        gw.gateway.captures.stop()
    _assert_no_password(capture.file.path)
    header, records = read_capture(capture.file.path)
    assert header["cipher"] == "rosecrypt"
    packets = [r for r in records if isinstance(r, PacketRecord)]
    assert [r.name for r in packets] == [
        "PAKCS_ACCEPT_REQ", "PAKSS_ACCEPT_REPLY", "PAKCS_LOGIN_REQ", "PAKLC_LOGIN_REPLY",
        "PAKCS_CHANNEL_LIST_REQ", "PAKLC_CHANNEL_LIST_REPLY"]
    for record in packets:
        decoded = decode_frame(record.frame, record.direction, "2026")
        assert type(decoded).__name__ != "RawFrame" and decoded.NAME == record.name
