"""``python -m gateway_core``: the same as the ``gateway`` command."""

from __future__ import annotations

import sys

from gateway_core.entry import main

if __name__ == "__main__":
    sys.exit(main())
