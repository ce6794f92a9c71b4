"""Typed results of a bot run: one record per flow step, one per client, and a summary.

The records are plain dataclasses so that end-to-end tests can assert on them
(``result.step("login").codes["result"] == 0``) and the CLI can print them as a table or
JSON (:meth:`FlowResult.to_dict`).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


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
    its number. ``unexpected`` counts the packets received in between that no step asked
    for (spawns, other players' chat...), by packet name.
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
    """Aggregate of several clients' results: counts, failures by reason, step timings."""

    total: int
    succeeded: int
    failed: int
    failures: Mapping[str, int]
    steps: tuple[StepTimings, ...]
    elapsed: float

    @property
    def ok(self) -> bool:
        """True when every client completed its flow."""
        return self.total > 0 and self.failed == 0

    @classmethod
    def from_results(cls, results: Iterable[FlowResult], elapsed: float) -> RunSummary:
        """Summarise ``results``; ``elapsed`` is the wall time of the whole run."""
        results = list(results)
        failures: Counter[str] = Counter()
        per_step: dict[str, list[float]] = {}
        for result in results:
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
