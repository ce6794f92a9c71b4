"""What is wrong with a content pack, said so that its author can find the place."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["ContentError", "Problem"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong: ``file[:line]: entry: field: message``, the empty parts left out.

    ``entry`` is the section, the index of the entry in that file and its id, e.g.
    ``map[1] (id=2)``; ``field`` is a dotted path inside the entry, e.g. ``bounds.min_x`` or
    ``revive[0].x``.
    """

    file: str
    message: str
    entry: str = ""
    field: str = ""
    line: int | None = None

    def __str__(self) -> str:
        place = self.file if self.line is None else f"{self.file}:{self.line}"
        parts = [place, self.entry, self.field, self.message]
        return ": ".join(part for part in parts if part)


class ContentError(Exception):
    """A content pack cannot be used; ``problems`` lists everything found wrong, not only the
    first thing (the loader goes on after a bad entry so one run shows them all)."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))
