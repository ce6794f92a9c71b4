"""Settings for the whole test suite (core and plugin tests alike)."""

from __future__ import annotations

from hypothesis import settings

# The suite must be deterministic: property tests draw the same examples on every run and
# machine (a failure reproduces by rerunning), and no example database is read or written.
settings.register_profile("gateway", derandomize=True, database=None, print_blob=True)
settings.load_profile("gateway")
