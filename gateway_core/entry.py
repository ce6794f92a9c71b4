"""The ``gateway`` console script: :func:`gateway_core.cli.main`, imported only once Ctrl-C can
be answered (the import of the CLI and its plugins takes seconds; a Ctrl-C during it ends the
command with 130 and no traceback)."""

from __future__ import annotations

import sys


def main() -> int:
    try:
        from gateway_core.cli import main as run
    except KeyboardInterrupt:
        return 130
    return run()


if __name__ == "__main__":
    sys.exit(main())
