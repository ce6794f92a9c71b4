"""Chat lines from clients: control characters out, per-player rate limits, mutes and kicks.

Every plugin that relays a player's chat line (normal chat, whisper, shout, clan, allied and
party chat) hands it to ``ctx.chat_line(raw, kind)`` first and relays only what comes back;
plugins never import each other, so the guard is the core's, one per gateway, with its state
kept per session.

Strategy, text: the wire text encoding (:data:`TEXT_ENCODING`) is Latin-1, a single-byte code
page in which byte ``b`` is code point ``U+00bb``, so the C0 controls (U+0000-U+001F), DEL
(U+007F) and the C1 controls (U+0080-U+009F) are exactly the bytes 0x00-0x1F, 0x7F and
0x80-0x9F, and :func:`clean_chat` removes them from the raw bytes without decoding (a
multi-byte encoding would need decoding first: importing this module fails if the encoding
ever changes, rather than letting lead bytes be cut apart). Nothing a client sends can then
move the cursor, start a new line, erase what came before, or carry an ANSI/ISO 6429 escape
sequence to another player's screen. Each run of removed characters (with the spaces around
it) becomes one space when it held a space or a spacing control (TAB, LF, VT, FF, CR, the
information separators 0x1C-0x1F, NEL), or nothing otherwise; at the start or end of the line
it goes. Printable text, Latin-1 letters (``é``, ``ß``, NBSP 0xA0 included), is never
changed. A line with nothing but spaces left is refused.

Strategy, rate: a token bucket per session across every chat kind (CHAT_RATE lines per second,
CHAT_BURST at once) and a tighter one for shouts, which reach a whole map (CHAT_SHOUT_RATE,
CHAT_SHOUT_BURST). The line that finds a bucket empty mutes the player for CHAT_MUTE_SECONDS:
it and every line until then are dropped, and the player gets one whisper from ``server msg``
saying why and for how long. The CHAT_KICK_MUTES-th mute within CHAT_KICK_WINDOW seconds
closes the connection instead (a whisper says why first). Lines refused while muted do not
count against the buckets, so a player who stops spamming is served again when the mute ends.
Everything is counted (``gateway_chat_refused_total{kind,reason}``,
``gateway_chat_cleaned_total{kind}``, ``gateway_chat_mutes_total{limit}``,
``gateway_chat_kicks_total``) and logged at most once per LOG_INTERVAL per kind of event,
with how many were not logged, never with the text.
"""

from __future__ import annotations

import codecs
import enum
import logging
import math
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter

from gateway_core.protocol.packets import TEXT_ENCODING
from gateway_core.protocol.packets.chat import SrvWhisperChat
from gateway_core.session import Key, Session

__all__ = [
    "CONTROL_BYTES",
    "SERVER_SENDER",
    "ChatGuard",
    "ChatKind",
    "ChatLimiter",
    "ChatLimits",
    "Verdict",
    "clean_chat",
    "server_message",
]

log = logging.getLogger("gateway.chat_guard")

if codecs.lookup(TEXT_ENCODING).name != "iso8859-1":  # pragma: no cover - a guard for edits
    raise ImportError(
        f"gateway_core.chat_guard removes control characters as Latin-1 bytes; the wire text "
        f"encoding is now {TEXT_ENCODING!r}: decode, filter code points, encode instead")

#: Sender name of the whispers the server sends (docs/protocol.md §10.7).
SERVER_SENDER: Final = "server msg"

#: The control characters of Latin-1 text as bytes: C0 (0x00-0x1F), DEL (0x7F), C1 (0x80-0x9F).
CONTROL_BYTES: Final = bytes(range(0x00, 0x20)) + b"\x7f" + bytes(range(0x80, 0xA0))
#: Controls that stand for a space between words: TAB, LF, VT, FF, CR, FS-US, NEL.
_SPACING: Final = frozenset(b"\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85 ")
_CONTROL: Final = re.compile(rb"[\x00-\x1f\x7f-\x9f]")
#: A run of controls and spaces holding at least one control.
_RUN: Final = re.compile(rb"[ \x00-\x1f\x7f-\x9f]*[\x00-\x1f\x7f-\x9f][ \x00-\x1f\x7f-\x9f]*")
#: What is left of a line that counts as saying nothing.
_BLANK: Final = b" \xa0"

#: Seconds between two log lines of one kind of event (the rest are counted in the next one).
LOG_INTERVAL: Final = 10.0


def clean_chat(raw: bytes) -> bytes | None:
    """``raw`` (a chat line in :data:`TEXT_ENCODING`) without control characters, or None when
    nothing but spaces is left (refuse the line).

    C0, DEL and C1 (:data:`CONTROL_BYTES`) are removed: a run of them, with the spaces around
    it, becomes one space when it held a space or a spacing control (TAB, CR, LF, ...), else
    nothing, and nothing at either end of the line. A line without controls comes back as it
    is (the same object) unless it is blank.
    """
    if _CONTROL.search(raw) is not None:
        end = len(raw)

        def replace(match: re.Match[bytes]) -> bytes:
            if match.start() == 0 or match.end() == end:
                return b""
            return b" " if any(byte in _SPACING for byte in match.group()) else b""

        raw = _RUN.sub(replace, raw)
    if not raw.strip(_BLANK):
        return None
    return raw


def server_message(text: str) -> SrvWhisperChat:
    """A whisper from the server (sender ``server msg``) carrying ``text``; characters the
    protocol's text encoding cannot carry become ``?``."""
    return SrvWhisperChat(
        sender=SERVER_SENDER.encode(TEXT_ENCODING),
        message=text.encode(TEXT_ENCODING, "replace"),
    )


class ChatKind(enum.StrEnum):
    """The kinds of chat line a player sends (a label of the chat metrics)."""

    NORMAL = "normal"
    WHISPER = "whisper"
    SHOUT = "shout"
    PARTY = "party"
    CLAN = "clan"
    ALLIED = "allied"


class Verdict(enum.Enum):
    """What :meth:`ChatLimiter.decide` says of one line."""

    ALLOW = "allow"  # relay it
    MUTED = "muted"  # drop it: the player is muted
    MUTE = "mute"  # drop it and mute the player now (tell once)
    KICK = "kick"  # drop it and close the connection: sustained abuse


@dataclass(frozen=True, slots=True)
class ChatLimits:
    """The chat limits of a gateway (the CHAT_* settings; a rate of 0 means no limit, kick
    mutes 0 never kick)."""

    rate: float = 1.0
    burst: int = 6
    shout_rate: float = 0.1
    shout_burst: int = 3
    mute_seconds: float = 30.0
    kick_mutes: int = 3
    kick_window: float = 600.0

    @classmethod
    def from_settings(cls, settings: Any) -> ChatLimits:
        """The limits of ``settings`` (the defaults for those it lacks)."""
        default = cls()
        return cls(
            rate=float(getattr(settings, "CHAT_RATE", default.rate)),
            burst=int(getattr(settings, "CHAT_BURST", default.burst)),
            shout_rate=float(getattr(settings, "CHAT_SHOUT_RATE", default.shout_rate)),
            shout_burst=int(getattr(settings, "CHAT_SHOUT_BURST", default.shout_burst)),
            mute_seconds=float(getattr(settings, "CHAT_MUTE_SECONDS", default.mute_seconds)),
            kick_mutes=int(getattr(settings, "CHAT_KICK_MUTES", default.kick_mutes)),
            kick_window=float(getattr(settings, "CHAT_KICK_WINDOW", default.kick_window)),
        )


class _Bucket:
    """A token bucket: ``burst`` tokens at most, refilled at ``rate`` per second."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.stamp = now

    def refill(self, now: float) -> bool:
        """Refill up to ``now``; True when a token is there to take."""
        if now > self.stamp:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
        return self.tokens >= 1.0


class ChatLimiter:
    """The chat rate state of one player (pure: the caller passes the time).

    ``limit`` names the bucket that caused the last :data:`Verdict.MUTE` or :data:`Verdict.KICK`
    (``"chat"`` or ``"shout"``); ``mutes`` holds the times of the mutes within the kick window.
    """

    __slots__ = ("_chat", "_shout", "limit", "limits", "muted_until", "mutes")

    def __init__(self, limits: ChatLimits, now: float) -> None:
        self.limits = limits
        self._chat = _Bucket(limits.rate, limits.burst, now) if limits.rate > 0 else None
        self._shout = (_Bucket(limits.shout_rate, limits.shout_burst, now)
                       if limits.shout_rate > 0 else None)
        self.muted_until = -math.inf
        self.mutes: deque[float] = deque()
        self.limit = ""

    def muted(self, now: float) -> bool:
        """True while a mute lasts."""
        return now < self.muted_until

    def decide(self, now: float, *, shout: bool = False) -> Verdict:
        """The verdict on one line sent at ``now`` (a shout when ``shout``); takes its tokens
        when it is allowed."""
        if now < self.muted_until:
            return Verdict.MUTED
        chat, shouts = self._chat, self._shout if shout else None
        chat_ok = chat is None or chat.refill(now)
        shout_ok = shouts is None or shouts.refill(now)
        if chat_ok and shout_ok:
            if chat is not None:
                chat.tokens -= 1.0
            if shouts is not None:
                shouts.tokens -= 1.0
            return Verdict.ALLOW
        self.limit = "chat" if not chat_ok else "shout"
        limits = self.limits
        self.muted_until = now + limits.mute_seconds
        mutes = self.mutes
        mutes.append(now)
        while mutes and mutes[0] <= now - limits.kick_window:
            mutes.popleft()
        if limits.kick_mutes and len(mutes) >= limits.kick_mutes:
            return Verdict.KICK
        return Verdict.MUTE


class _LogThrottle:
    """At most one log line per ``interval`` seconds for each kind of event."""

    __slots__ = ("_clock", "_interval", "_last", "_suppressed")

    def __init__(self, clock: Callable[[], float], interval: float = LOG_INTERVAL) -> None:
        self._clock = clock
        self._interval = interval
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def allow(self, event: str) -> int | None:
        """None: do not log ``event`` now (counted); else log it, with the number of those not
        logged since the last line."""
        now = self._clock()
        last = self._last.get(event)
        if last is not None and now - last < self._interval:
            self._suppressed[event] = self._suppressed.get(event, 0) + 1
            return None
        self._last[event] = now
        return self._suppressed.pop(event, 0)


_STATE = Key[ChatLimiter]("core.chat_guard")


def _seconds(value: float) -> str:
    shown = f"{value:g}"
    return f"{shown} second" if shown == "1" else f"{shown} seconds"


class ChatGuard:
    """The chat guard of one gateway: :meth:`check` each line a player sends before relaying
    it. ``registry`` is the gateway's Prometheus registry (None: counted nowhere);
    ``clock`` the monotonic time source (a test's manual clock)."""

    def __init__(
        self,
        limits: ChatLimits | None = None,
        *,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits if limits is not None else ChatLimits()
        self._clock = clock
        self._throttle = _LogThrottle(clock)
        self.refused = Counter(
            "gateway_chat_refused", "Chat lines not relayed, by kind and reason (empty: "
            "nothing left without control characters; rate_limited: the line that muted; "
            "muted: sent while muted; kicked: the line that closed the connection).",
            ["kind", "reason"], registry=registry)
        self.cleaned = Counter(
            "gateway_chat_cleaned", "Chat lines relayed with their control characters removed.",
            ["kind"], registry=registry)
        self.mutes = Counter(
            "gateway_chat_mutes", "Players muted for chatting too fast, by the limit they hit.",
            ["limit"], registry=registry)
        self.kicks = Counter(
            "gateway_chat_kicks",
            "Connections closed for sustained chat abuse (CHAT_KICK_MUTES mutes within "
            "CHAT_KICK_WINDOW).", registry=registry)

    def limiter(self, session: Session) -> ChatLimiter:
        """The chat rate state of ``session`` (made on its first line)."""
        state = session.plugin_data.get(_STATE)
        if state is None:
            state = ChatLimiter(self.limits, self._clock())
            session.plugin_data.set(_STATE, state)
        return state

    def check(self, session: Session, raw: bytes, kind: str = ChatKind.NORMAL) -> bytes | None:
        """``raw``, a line ``session``'s player sent, ready to relay (control characters
        removed), or None when it must not be relayed: nothing left after cleaning, or the
        player over a limit (muted, told once; kicked after sustained abuse). Counted."""
        limiter = self.limiter(session)
        now = self._clock()
        verdict = limiter.decide(now, shout=kind == ChatKind.SHOUT)
        if verdict is not Verdict.ALLOW:
            self._limited(session, limiter, verdict, str(kind))
            return None
        cleaned = clean_chat(raw)
        if cleaned is None:
            self.refused.labels(kind=str(kind), reason="empty").inc()
            self._log("empty", "chat: connection #%d sent a %s line with nothing to relay "
                      "(%d bytes)", session.connection_id, kind, len(raw))
            return None
        if cleaned is not raw:
            self.cleaned.labels(kind=str(kind)).inc()
            self._log("cleaned", "chat: removed control characters from a %s line of "
                      "connection #%d", kind, session.connection_id)
        return cleaned

    def _limited(self, session: Session, limiter: ChatLimiter, verdict: Verdict,
                 kind: str) -> None:
        if verdict is Verdict.MUTED:
            self.refused.labels(kind=kind, reason="muted").inc()
            return
        limits = self.limits
        self.mutes.labels(limit=limiter.limit).inc()
        if limiter.limit == "shout":
            why = (f"you shouted too often (at most {limits.shout_burst} at once, then one "
                   f"every {_seconds(1 / limits.shout_rate)})")
        else:
            why = (f"you sent chat too fast (at most {limits.burst} lines at once, then "
                   f"{limits.rate:g} per second)")
        if verdict is Verdict.KICK:
            self.refused.labels(kind=kind, reason="kicked").inc()
            self.kicks.inc()
            count = len(limiter.mutes)
            log.warning("chat: closing connection #%d (account %s): muted %d times within %s "
                        "for chatting too fast", session.connection_id, session.user_id, count,
                        _seconds(limits.kick_window))
            session.send(server_message(
                f"Disconnected: {why}, and you were muted {count} times within "
                f"{_seconds(limits.kick_window)}."))
            session.close(f"chat abuse: muted {count} times within "
                          f"{_seconds(limits.kick_window)}")
            return
        self.refused.labels(kind=kind, reason="rate_limited").inc()
        self._log("mute", "chat: muted connection #%d (account %s) for %s: %s limit",
                  session.connection_id, session.user_id, _seconds(limits.mute_seconds),
                  limiter.limit)
        warning = (f" {limits.kick_mutes} mutes within {_seconds(limits.kick_window)} "
                   "disconnect you." if limits.kick_mutes else "")
        session.send(server_message(
            f"You are muted for {_seconds(limits.mute_seconds)}: {why}.{warning}"))

    def _log(self, event: str, message: str, *args: object) -> None:
        suppressed = self._throttle.allow(event)
        if suppressed is None:
            return
        if suppressed:
            message += f" ({suppressed} more like it not logged)"
        log.info(message, *args)


#: The guard of contexts made outside a gateway (default limits, counted nowhere).
DEFAULT_GUARD: Final = ChatGuard()
