"""Live counters of a bot run, and their rich rendering (``gateway bot`` on a terminal).

Strategy: the flows update plain counters (:class:`RunProgress`) as they go, on the event
loop, without locks or callbacks; whoever shows them reads them there too (the CLI refreshes a
``rich.live.Live`` from a task of the same loop, so no thread ever reads a half-updated
counter). Nothing here waits or prints by itself.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from rich.console import Group, RenderableType
from rich.text import Text

from gateway_core.bot.results import SoakStats

__all__ = ["RunProgress", "render_progress"]


@dataclass(slots=True)
class RunProgress:
    """How far a run is: clients started, connected and in the world now, finished, by step.

    ``steps`` counts the clients in each step right now; ``connected`` those with a connection
    open, ``in_world`` those joined to the world leg; ``succeeded``/``failed`` the finished
    flows; ``releasing`` the flows logging out after a failure or an interruption, ``released``
    those whose session was ended that way; ``soak`` sums the stays so far (updated as each
    move or chat is sent or answered). ``phase`` is ``"running"``, then ``"interrupted"`` after
    a Ctrl-C, ``"abandoning"`` after a second one.
    """

    total: int = 0
    started: int = 0
    connected: int = 0
    in_world: int = 0
    succeeded: int = 0
    failed: int = 0
    releasing: int = 0
    released: int = 0
    steps: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    soak: SoakStats = field(default_factory=SoakStats)
    staying: int = 0
    phase: str = "running"
    started_at: float = field(default_factory=time.perf_counter)

    @property
    def finished(self) -> int:
        """Flows that ended, either way."""
        return self.succeeded + self.failed

    def enter(self, step: str) -> None:
        """A client began ``step``."""
        self.steps[step] += 1

    def leave(self, step: str) -> None:
        """A client left ``step`` (done or failed)."""
        self.steps[step] -= 1
        if self.steps[step] <= 0:
            del self.steps[step]


def render_progress(progress: RunProgress, title: str) -> RenderableType:
    """The progress lines under ``title``: counts, the clients in each step, the soak."""
    elapsed = time.perf_counter() - progress.started_at
    header = Text.assemble((title, "bold"), f"  {elapsed:.1f}s")
    if progress.phase == "interrupted":
        header.append("  interrupted: logging out (Ctrl-C again to quit at once)", "yellow")
    elif progress.phase == "abandoning":
        header.append("  quitting without logging out", "red")
    counts = Text.assemble(
        f"started {progress.started}/{progress.total}  ",
        f"connected {progress.connected}  ",
        ("in world ", ""), (str(progress.in_world), "cyan"), "  ",
        ("ok ", ""), (str(progress.succeeded), "green"), "  ",
        ("failed ", ""), (str(progress.failed), "red" if progress.failed else ""),
    )
    if progress.releasing or progress.released:
        counts.append(f"  logging out {progress.releasing}, logged out {progress.released}")
    lines: list[RenderableType] = [header, counts]
    steps = sorted(progress.steps.items(), key=lambda item: (-item[1], item[0]))
    if steps:
        lines.append(Text("now: " + ", ".join(f"{name} {count}" for name, count in steps[:8]),
                          "dim"))
    soak = progress.soak
    if progress.staying or soak.moves or soak.chats:
        lines.append(Text(f"soak: {progress.staying} staying, {soak.describe()}"))
    if progress.failures:
        (reason, count), *_ = progress.failures.most_common(1)
        lines.append(Text(f"most failures: {reason} x{count}", "red"))
    return Group(*lines)
