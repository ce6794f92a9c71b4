"""``gateway content check [PATH]``: load a pack, print its summary or every problem."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from gateway_core.content.errors import ContentError
from gateway_core.content.loader import default_pack_path, load_pack
from gateway_core.content.pack import summary

__all__ = ["check"]


def check(path: str | Path | None = None, out: TextIO | None = None) -> bool:
    """Check the pack at ``path`` (the shipped one when ``None``); True when it is usable.

    Problems go to ``out`` one per line, like a linter's findings, so they can be grepped.
    """
    out = sys.stdout if out is None else out
    target = default_pack_path() if path is None else Path(path)
    try:
        pack = load_pack(target)
    except ContentError as exc:
        for problem in exc.problems:
            print(problem, file=out)
        count = len(exc.problems)
        print(f"{target}: {count} problem{'' if count == 1 else 's'}", file=out)
        return False
    print(summary(pack), file=out)
    return True
