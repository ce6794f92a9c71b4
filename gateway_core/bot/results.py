"""Typed results of a bot run: one record per flow step, one per client, and a summary.

The records are plain dataclasses so that end-to-end tests can assert on them
(``result.step("login").codes["result"] == 0``) and the CLI can print them as a table or
JSON (:meth:`FlowResult.to_dict`). A client that stayed in the world (``--stay``) carries the
counts of its soak (:class:`SoakStats`); one that did not finish says what was done to end its
session (``release``, see :data:`RELEASES`).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

#: What ``FlowResult.release`` says was done for the session of a flow that did not reach its
#: own logout: ``logged_out`` (``PAKCS_LOGOUT_REQ`` answered on an open connection), ``rejoined``
#: (a new connection joined the session and logged it out), ``nothing_held`` (no connection
#: held a session after all), ``failed`` (see ``release_error``: the session then ends
#: SESSION_GRACE seconds after its last connection closed) and ``abandoned`` (a second Ctrl-C).
RELEASES: Final = ("logged_out", "rejoined", "nothing_held", "failed", "abandoned")

#: ``FlowResult.error_kind`` values: what kind of failure ended a flow.
ERROR_KINDS: Final = ("refused", "timeout", "closed", "connect", "unexpected", "bad_data", "flow",
                      "cannot_send", "total_timeout", "interrupted", "internal")


@dataclass(slots=True)
class SoakStats:
    """What one client (or, summed, a run) did while it stayed in the world (``--stay``).

    ``moves`` and ``chats`` count the requests sent; ``move_replies`` the ``PAKWC_MOUSE_CMD``
    about the client itself and ``chat_replies`` the echoes of its own lines; ``server_messages``
    the whispers from ``server msg`` (how the gateway tells a player that something failed,
    e.g. a backend being unavailable), the last of them in ``last_server_message``;
    ``other_packets`` everything else received (other players' moves and chat, spawns).
    ``seconds`` is how long the client stayed.
    """

    moves: int = 0
    move_replies: int = 0
    chats: int = 0
    chat_replies: int = 0
    server_messages: int = 0
    other_packets: int = 0
    seconds: float = 0.0
    last_server_message: str = ""

    @property
    def unanswered(self) -> int:
        """Requests that got no reply by the end of the stay."""
        return max(0, self.moves - self.move_replies) + max(0, self.chats - self.chat_replies)

    def add(self, other: SoakStats) -> None:
        """Add ``other``'s counts to these (``seconds`` becomes the longest stay)."""
        self.moves += other.moves
        self.move_replies += other.move_replies
        self.chats += other.chats
        self.chat_replies += other.chat_replies
        self.server_messages += other.server_messages
        self.other_packets += other.other_packets
        self.seconds = max(self.seconds, other.seconds)
        if other.last_server_message:
            self.last_server_message = other.last_server_message

    def describe(self) -> str:
        """One line: ``"12 moves (12 replies), 2 chats (2 echoes), 0 server messages"``."""
        return (f"{self.moves} moves ({self.move_replies} replies), {self.chats} chats "
                f"({self.chat_replies} echoes), {self.server_messages} server messages")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "seconds": round(self.seconds, 3),
            "moves": self.moves,
            "move_replies": self.move_replies,
            "chats": self.chats,
            "chat_replies": self.chat_replies,
            "server_messages": self.server_messages,
            "last_server_message": self.last_server_message,
            "other_packets": self.other_packets,
            "unanswered": self.unanswered,
        }


@dataclass(slots=True)
class StepResult:
    """Outcome of one step of the flow (``"login"``, ``"join_world"``, ...).

    ``codes`` holds the result codes received in that step, keyed by the reply field
    (``{"result": 0}``); ``names`` the symbolic names of the same codes where the protocol
    defines an enum (``{"result": "OK"}``). ``elapsed`` is in seconds.
    """

    name: str
    ok: bool
    elapsed: float
    codes: dict[str, int] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of this step (elapsed in milliseconds)."""
        return {
            "name": self.name,
            "ok": self.ok,
            "elapsed_ms": round(self.elapsed * 1000.0, 3),
            "codes": dict(self.codes),
            "names": dict(self.names),
            "detail": self.detail,
        }


@dataclass(slots=True)
class FlowResult:
    """Outcome of one client's whole flow.

    ``ok`` is true only when every requested step completed. On failure, ``failed_step``
    names the step, ``error`` says what went wrong and, for a refusal by the server,
    ``code`` carries the symbolic result code (``"INVALID_PASSWORD"``) and ``code_value``
    its number, and ``error_kind`` one of :data:`ERROR_KINDS`. ``unexpected`` counts the
    packets received in between that no step asked for (spawns, other players' chat...), by
    packet name. ``release`` (one of :data:`RELEASES`, ``None`` when there was nothing to do)
    says how the session of a flow that did not log out by itself was ended; ``soak`` holds
    the counts of a stay in the world.
    """

    client: str
    ok: bool = False
    steps: list[StepResult] = field(default_factory=list)
    failed_step: str | None = None
    error: str | None = None
    code: str | None = None
    code_value: int | None = None
    elapsed: float = 0.0
    session_id: int | None = None
    object_id: int | None = None
    character: str | None = None
    map_id: int | None = None
    unexpected: Counter[str] = field(default_factory=Counter)
    error_kind: str | None = None
    release: str | None = None
    release_error: str | None = None
    soak: SoakStats | None = None

    @property
    def interrupted(self) -> bool:
        """Whether the flow was stopped by an interruption (Ctrl-C) rather than failing."""
        return self.error_kind == "interrupted"

    @property
    def sightings(self) -> dict[str, int]:
        """Spawns seen on the way (they arrive unasked): NPCs, monsters, other players."""
        return {
            "npcs": self.unexpected.get("PAKWC_NPC_CHAR", 0),
            "monsters": self.unexpected.get("PAKWC_MOB_CHAR", 0),
            "players": self.unexpected.get("PAKWC_PLAYER_CHAR", 0),
        }

    def step(self, name: str) -> StepResult:
        """The result of step ``name``; raises ``KeyError`` if that step did not run."""
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(f"step {name!r} did not run (ran: {[s.name for s in self.steps]})")

    def has_step(self, name: str) -> bool:
        """Whether step ``name`` ran (successfully or not)."""
        return any(step.name == name for step in self.steps)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of this client's result (times in milliseconds)."""
        return {
            "client": self.client,
            "ok": self.ok,
            "failed_step": self.failed_step,
            "error": self.error,
            "code": self.code,
            "code_value": self.code_value,
            "elapsed_ms": round(self.elapsed * 1000.0, 3),
            "session_id": self.session_id,
            "object_id": self.object_id,
            "character": self.character,
            "map_id": self.map_id,
            "unexpected": dict(sorted(self.unexpected.items())),
            "seen": self.sightings,
            "steps": [step.to_dict() for step in self.steps],
            "error_kind": self.error_kind,
            "release": self.release,
            "release_error": self.release_error,
            "soak": self.soak.to_dict() if self.soak is not None else None,
        }


@dataclass(frozen=True, slots=True)
class StepTimings:
    """Timing statistics of one step across the clients that completed it (seconds)."""

    name: str
    count: int
    mean: float
    p50: float
    p95: float
    max: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (milliseconds)."""
        return {
            "name": self.name,
            "count": self.count,
            "mean_ms": round(self.mean * 1000.0, 3),
            "p50_ms": round(self.p50 * 1000.0, 3),
            "p95_ms": round(self.p95 * 1000.0, 3),
            "max_ms": round(self.max * 1000.0, 3),
        }


@dataclass(frozen=True, slots=True)
class RunSummary:
    """Aggregate of several clients' results: counts, failures by reason, step timings.

    ``interrupted`` counts the clients stopped by Ctrl-C (they are among ``failed``),
    ``not_started`` those a ramp had not started yet (not in ``total``); ``releases`` counts
    the ``FlowResult.release`` outcomes; ``soak`` sums the clients' stays (``None`` when no
    client stayed).
    """

    total: int
    succeeded: int
    failed: int
    failures: Mapping[str, int]
    steps: tuple[StepTimings, ...]
    elapsed: float
    interrupted: int = 0
    not_started: int = 0
    releases: Mapping[str, int] = field(default_factory=dict)
    soak: SoakStats | None = None

    @property
    def ok(self) -> bool:
        """True when every client completed its flow (and every client was started)."""
        return self.total > 0 and self.failed == 0 and self.not_started == 0

    @classmethod
    def from_results(
        cls, results: Iterable[FlowResult], elapsed: float, *, not_started: int = 0
    ) -> RunSummary:
        """Summarise ``results``; ``elapsed`` is the wall time of the whole run,
        ``not_started`` the clients that never started (an interrupted ramp)."""
        results = list(results)
        failures: Counter[str] = Counter()
        releases: Counter[str] = Counter()
        per_step: dict[str, list[float]] = {}
        soak: SoakStats | None = None
        for result in results:
            if result.release is not None:
                releases[result.release] += 1
            if result.soak is not None:
                soak = soak or SoakStats()
                soak.add(result.soak)
            if not result.ok:
                failures[failure_reason(result)] += 1
            for step in result.steps:
                if step.ok:
                    per_step.setdefault(step.name, []).append(step.elapsed)
        timings = tuple(_timings(name, values) for name, values in per_step.items())
        succeeded = sum(1 for result in results if result.ok)
        return cls(
            total=len(results),
            succeeded=succeeded,
            failed=len(results) - succeeded,
            failures=dict(failures),
            steps=timings,
            elapsed=elapsed,
            interrupted=sum(1 for result in results if result.interrupted),
            not_started=not_started,
            releases=dict(releases),
            soak=soak,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (milliseconds)."""
        return {
            "total": self.total,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "ok": self.ok,
            "failures": dict(self.failures),
            "elapsed_ms": round(self.elapsed * 1000.0, 3),
            "steps": [timing.to_dict() for timing in self.steps],
            "interrupted": self.interrupted,
            "not_started": self.not_started,
            "releases": dict(self.releases),
            "soak": self.soak.to_dict() if self.soak is not None else None,
        }


def failure_reason(result: FlowResult) -> str:
    """A short label for why ``result`` failed: ``"login: INVALID_PASSWORD"``."""
    step = result.failed_step or "?"
    if result.code is not None:
        return f"{step}: {result.code}"
    error = result.error or "failed"
    prefix = f"step {step!r}: "  # errors name their step; the label already does
    return f"{step}: {error.removeprefix(prefix)}"


def _timings(name: str, values: list[float]) -> StepTimings:
    ordered = sorted(values)
    # Nearest-rank percentile: exact for small samples and needs no interpolation choices.
    p95_index = max(0, math.ceil(0.95 * len(ordered)) - 1)
    return StepTimings(
        name=name,
        count=len(ordered),
        mean=statistics.fmean(ordered),
        p50=statistics.median(ordered),
        p95=ordered[p95_index],
        max=ordered[-1],
    )
