"""The chat guard: control characters out of chat lines (every C0 and C1 control and DEL),
Latin-1 text unchanged, and the per-player rate limits (token buckets, mutes, kicks) on an
injected clock."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from gateway_core.chat_guard import (
    CONTROL_BYTES,
    DEFAULT_GUARD,
    SERVER_SENDER,
    ChatGuard,
    ChatKind,
    ChatLimiter,
    ChatLimits,
    Verdict,
    clean_chat,
)
from gateway_core.config import ConfigError, load_settings
from gateway_core.context import PacketContext
from gateway_core.protocol.packets import TEXT_ENCODING, SrvWhisperChat
from gateway_core.session import ConnectionRegistry, Session
from gateway_core.testing import ManualClock

C0 = [bytes([b]) for b in range(0x00, 0x20)]
C1 = [bytes([b]) for b in range(0x80, 0xA0)]
DEL = b"\x7f"
SPACING = [b"\t", b"\n", b"\x0b", b"\x0c", b"\r", b"\x1c", b"\x1d", b"\x1e", b"\x1f", b"\x85"]
PRINTABLE = bytes(range(0x20, 0x7F)) + bytes(range(0xA0, 0x100))


# --- clean_chat ---------------------------------------------------------------------------------


def test_the_control_bytes_are_the_control_characters_of_the_wire_encoding() -> None:
    controls = {b for b in range(256)
                if unicodedata.category(bytes([b]).decode(TEXT_ENCODING)) == "Cc"}
    assert set(CONTROL_BYTES) == controls
    assert len(controls) == 65  # 32 C0, DEL, 32 C1


@pytest.mark.parametrize("control", [*C0, DEL, *C1], ids=lambda c: f"0x{c[0]:02x}")
def test_clean_chat_removes_every_control_character(control: bytes) -> None:
    joined = b" " if control in SPACING else b""
    assert clean_chat(b"hello" + control + b"world") == b"hello" + joined + b"world"
    assert clean_chat(control + b"hello") == b"hello"
    assert clean_chat(b"hello" + control) == b"hello"
    assert clean_chat(b"a" + control * 5 + b"b") == b"a" + joined + b"b"


@pytest.mark.parametrize("control", [*C0, DEL, *C1], ids=lambda c: f"0x{c[0]:02x}")
def test_a_line_of_nothing_but_controls_is_refused(control: bytes) -> None:
    assert clean_chat(control) is None
    assert clean_chat(control * 3 + b"  " + control) is None


def test_clean_chat_leaves_every_printable_latin1_character_alone() -> None:
    line = PRINTABLE
    assert clean_chat(line) is line
    for text in ("Grüße aus Köln", "¿Qué tal? ñ", "café crème £5 ½ ©", "a\xa0b", "  two  spaces "):
        raw = text.encode(TEXT_ENCODING)
        assert clean_chat(raw) is raw


@pytest.mark.parametrize(("raw", "cleaned"), [
    # A second line painted under the speaker's: one line, the speaker's own.
    (b"hi\r\n[GM] Admin: tell me your password", b"hi [GM] Admin: tell me your password"),
    (b"hi\n\n\n\n[GM] Admin> server restarts", b"hi [GM] Admin> server restarts"),
    (b"hi \r\n [GM] x", b"hi [GM] x"),
    # Backspaces rubbing out the speaker's name, carriage return going back to the start.
    (b"\x08\x08\x08\x08\x08\x08[GM] Admin> hi", b"[GM] Admin> hi"),
    (b"lol\r[GM] Admin> hi", b"lol [GM] Admin> hi"),
    # ANSI (ISO 6429) colour and cursor sequences: ESC and CSI (0x9b) go, the rest is text.
    (b"\x1b[31m[GM]\x1b[0m hello", b"[31m[GM][0m hello"),
    (b"\x9b2J\x9bH[GM] hello", b"2JH[GM] hello"),
    (b"tab\tseparated\tline", b"tab separated line"),
    (b"bell\x07\x07\x07!", b"bell!"),
    (b"del\x7f\x7f\x7fete", b"delete"),
])
def test_clean_chat_defeats_forged_lines(raw: bytes, cleaned: bytes) -> None:
    assert clean_chat(raw) == cleaned


@pytest.mark.parametrize("raw", [b"", b" ", b"   ", b"\xa0 \xa0", b"\r\n", b" \x1b "])
def test_clean_chat_refuses_blank_lines(raw: bytes) -> None:
    assert clean_chat(raw) is None


@given(st.binary(max_size=300))
def test_clean_chat_never_lets_a_control_through(raw: bytes) -> None:
    cleaned = clean_chat(raw)
    if cleaned is None:
        assert not raw.translate(None, CONTROL_BYTES).strip(b" \xa0")
        return
    assert not set(cleaned) & set(CONTROL_BYTES)
    assert len(cleaned) <= len(raw)
    assert clean_chat(cleaned) == cleaned  # idempotent


# --- the limiter ----------------------------------------------------------------------------------

LIMITS = ChatLimits(rate=1.0, burst=5, shout_rate=0.1, shout_burst=2, mute_seconds=30.0,
                    kick_mutes=3, kick_window=600.0)


def test_a_burst_passes_and_the_next_line_mutes() -> None:
    limiter = ChatLimiter(LIMITS, 0.0)
    assert [limiter.decide(0.0) for _ in range(5)] == [Verdict.ALLOW] * 5
    assert limiter.decide(0.0) is Verdict.MUTE
    assert limiter.limit == "chat"
    assert limiter.muted(29.9) and not limiter.muted(30.0)


def test_lines_at_the_rate_are_never_muted() -> None:
    limiter = ChatLimiter(LIMITS, 0.0)
    assert all(limiter.decide(float(t)) is Verdict.ALLOW for t in range(1000))


def test_a_mute_drops_every_line_until_it_ends_and_does_not_drain_the_bucket() -> None:
    limiter = ChatLimiter(LIMITS, 0.0)
    for _ in range(5):
        limiter.decide(0.0)
    assert limiter.decide(0.0) is Verdict.MUTE
    assert all(limiter.decide(t / 10) is Verdict.MUTED for t in range(1, 300))
    # The bucket refilled meanwhile: a whole burst again when the mute ends.
    assert [limiter.decide(30.0) for _ in range(5)] == [Verdict.ALLOW] * 5


def test_shouts_have_their_own_tighter_bucket() -> None:
    limiter = ChatLimiter(LIMITS, 0.0)
    assert limiter.decide(0.0, shout=True) is Verdict.ALLOW
    assert limiter.decide(0.0, shout=True) is Verdict.ALLOW
    assert limiter.decide(0.0, shout=True) is Verdict.MUTE
    assert limiter.limit == "shout"


def test_shouts_count_against_the_chat_bucket_too() -> None:
    limiter = ChatLimiter(LIMITS, 0.0)
    assert limiter.decide(0.0, shout=True) is Verdict.ALLOW
    assert [limiter.decide(0.0) for _ in range(4)] == [Verdict.ALLOW] * 4
    assert limiter.decide(0.0) is Verdict.MUTE
    assert limiter.limit == "chat"


def test_a_shout_every_ten_seconds_is_fine_and_normal_chat_is_not_held_back_by_shouts() -> None:
    limiter = ChatLimiter(LIMITS, 0.0)
    for n in range(50):
        assert limiter.decide(10.0 * n, shout=True) is Verdict.ALLOW
        assert limiter.decide(10.0 * n + 1) is Verdict.ALLOW


def _mute(limiter: ChatLimiter, now: float) -> Verdict:
    verdict = Verdict.ALLOW
    while verdict is Verdict.ALLOW:
        verdict = limiter.decide(now)
    return verdict


def test_the_kick_mutes_th_mute_within_the_window_kicks() -> None:
    limiter = ChatLimiter(LIMITS, 0.0)
    assert _mute(limiter, 0.0) is Verdict.MUTE
    assert _mute(limiter, 30.0) is Verdict.MUTE
    assert _mute(limiter, 60.0) is Verdict.KICK
    assert len(limiter.mutes) == 3


def test_mutes_older_than_the_window_are_forgotten() -> None:
    limiter = ChatLimiter(LIMITS, 0.0)
    assert _mute(limiter, 0.0) is Verdict.MUTE
    assert _mute(limiter, 300.0) is Verdict.MUTE
    assert _mute(limiter, 601.0) is Verdict.MUTE  # the first one is out of the window
    assert _mute(limiter, 700.0) is Verdict.KICK


def test_a_rate_of_zero_is_no_limit_and_zero_kick_mutes_never_kick() -> None:
    unlimited = ChatLimiter(ChatLimits(rate=0.0, shout_rate=0.0), 0.0)
    assert all(unlimited.decide(0.0, shout=True) is Verdict.ALLOW for _ in range(10_000))
    forgiving = ChatLimiter(ChatLimits(rate=1.0, burst=1, mute_seconds=1.0, kick_mutes=0), 0.0)
    assert all(_mute(forgiving, float(t)) is Verdict.MUTE for t in range(0, 100, 2))


# --- the guard on a session -----------------------------------------------------------------------


@dataclass
class Outbox:
    sent: list[Any] = field(default_factory=list)
    closes: list[str] = field(default_factory=list)
    closed: bool = False

    def send_packet(self, packet: Any) -> None:
        self.sent.append(packet)

    def send_encoded(self, data: bytes, type_name: str) -> None:
        raise AssertionError("not broadcast")

    def close(self, reason: str) -> None:
        self.closes.append(reason)
        self.closed = True


def _guard(limits: ChatLimits = LIMITS) -> tuple[ChatGuard, ManualClock, CollectorRegistry]:
    clock = ManualClock(1000.0)
    registry = CollectorRegistry()
    return ChatGuard(limits, registry=registry, clock=clock), clock, registry


def _whispers(outbox: Outbox) -> list[str]:
    return [p.message.decode(TEXT_ENCODING) for p in outbox.sent
            if isinstance(p, SrvWhisperChat) and p.sender == SERVER_SENDER.encode()]


def test_the_guard_returns_the_cleaned_line_and_counts_it() -> None:
    guard, _, registry = _guard()
    session = Session(1, outbox=Outbox())
    assert guard.check(session, b"plain", ChatKind.NORMAL) == b"plain"
    assert guard.check(session, b"a\r\nb", ChatKind.WHISPER) == b"a b"
    assert guard.check(session, b"\r\n", ChatKind.PARTY) is None
    assert registry.get_sample_value("gateway_chat_cleaned_total", {"kind": "whisper"}) == 1
    assert registry.get_sample_value(
        "gateway_chat_refused_total", {"kind": "party", "reason": "empty"}) == 1


def test_a_mute_is_told_once_with_why_and_how_long() -> None:
    guard, clock, registry = _guard()
    outbox = Outbox()
    session = Session(1, outbox=outbox)
    relayed = [guard.check(session, b"spam", ChatKind.SHOUT) for _ in range(50)]
    assert relayed.count(b"spam") == 2
    (told,) = _whispers(outbox)
    assert "muted for 30 seconds" in told and "shouted too often" in told
    assert "one every 10 seconds" in told and "3 mutes within 600 seconds disconnect" in told
    assert registry.get_sample_value("gateway_chat_mutes_total", {"limit": "shout"}) == 1
    assert registry.get_sample_value(
        "gateway_chat_refused_total", {"kind": "shout", "reason": "rate_limited"}) == 1
    assert registry.get_sample_value(
        "gateway_chat_refused_total", {"kind": "shout", "reason": "muted"}) == 47
    # Normal chat is muted as well; the mute ends on time.
    assert guard.check(session, b"hello", ChatKind.NORMAL) is None
    clock.advance(30.0)
    assert guard.check(session, b"hello", ChatKind.NORMAL) == b"hello"
    assert not outbox.closes


def test_sustained_abuse_closes_the_connection_after_a_whisper() -> None:
    guard, clock, registry = _guard(ChatLimits(rate=1.0, burst=2, mute_seconds=5.0,
                                               kick_mutes=3, kick_window=60.0))
    outbox = Outbox()
    session = Session(1, outbox=outbox)
    for _ in range(3):
        for _ in range(10):
            guard.check(session, b"spam", ChatKind.NORMAL)
        clock.advance(5.0)
    assert len(outbox.closes) == 1 and "chat abuse" in outbox.closes[0]
    told = _whispers(outbox)
    assert len(told) == 3 and told[-1].startswith("Disconnected:")
    assert registry.get_sample_value("gateway_chat_kicks_total", {}) == 1
    assert registry.get_sample_value(
        "gateway_chat_refused_total", {"kind": "normal", "reason": "kicked"}) == 1


def test_the_state_is_per_session() -> None:
    guard, _, _ = _guard()
    spammer, other = Session(1, outbox=Outbox()), Session(2, outbox=Outbox())
    for _ in range(20):
        guard.check(spammer, b"spam", ChatKind.NORMAL)
    assert guard.check(other, b"hi", ChatKind.NORMAL) == b"hi"


def test_limits_come_from_the_settings_with_defaults_a_public_server_can_use() -> None:
    settings = load_settings({}, environ={})
    assert ChatLimits.from_settings(settings) == ChatLimits()
    defaults = ChatLimits()
    assert defaults.rate == 1.0 and defaults.burst == 6
    assert defaults.shout_rate == 0.1 and defaults.shout_burst == 3
    assert defaults.mute_seconds == 30.0
    assert defaults.kick_mutes == 3 and defaults.kick_window == 600.0
    tuned = load_settings({"CHAT_RATE": "2.5", "CHAT_BURST": "10", "CHAT_SHOUT_RATE": "0",
                           "CHAT_SHOUT_BURST": "1", "CHAT_MUTE_SECONDS": "0.5",
                           "CHAT_KICK_MUTES": "0", "CHAT_KICK_WINDOW": "60"}, environ={})
    assert ChatLimits.from_settings(tuned) == ChatLimits(2.5, 10, 0.0, 1, 0.5, 0, 60.0)


@pytest.mark.parametrize(("name", "value"), [
    ("CHAT_RATE", "-1"), ("CHAT_BURST", "0"), ("CHAT_SHOUT_RATE", "fast"),
    ("CHAT_SHOUT_BURST", "0"), ("CHAT_MUTE_SECONDS", "0"), ("CHAT_KICK_MUTES", "-1"),
    ("CHAT_KICK_WINDOW", "0"),
])
def test_bad_chat_limits_fail_start_up_naming_the_setting(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({name: value}, environ={})
    assert raised.value.setting == name


def test_a_context_made_outside_a_gateway_still_cleans_chat() -> None:
    session = Session(1, outbox=Outbox())
    ctx: PacketContext[None] = PacketContext(
        session, plugin="p", connections=ConnectionRegistry(encode=lambda p: b""), clients={},
        settings=None, runtime=None)
    assert ctx.chat_guard is DEFAULT_GUARD
    assert ctx.chat_line(b"\x1b[2Jhi", ChatKind.NORMAL) == b"[2Jhi"
