"""PasswordService: the memory of a burst of argon2 operations goes back to the OS after it.

Run in a fresh interpreter (the malloc settings are per process, and the test process's own
allocations would blur its RSS).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from gateway_core.memory import _libc

pytestmark = pytest.mark.skipif(_libc() is None, reason="needs glibc's malloc")

BURST = textwrap.dedent("""
    import asyncio
    from gateway_auth.service.passwords import Argon2Params, PasswordService

    def rss():
        with open("/proc/self/status") as status:
            return next(int(l.split()[1]) for l in status if l.startswith("VmRSS:"))

    async def main():
        service = PasswordService(Argon2Params(time_cost=1, memory_kib=19456), concurrency=2)
        stored = await service.hash("a" * 64)
        await service.verify(stored, "b" * 64)  # threads started, first blocks freed
        before = rss()
        await asyncio.gather(*(service.verify(stored, "b" * 64) for _ in range(8)))
        print(rss() - before)
        service.close()

    asyncio.run(main())
""")


def test_a_burst_of_logins_leaves_no_argon2_memory_behind() -> None:
    result = subprocess.run([sys.executable, "-c", BURST], capture_output=True, text=True,
                            timeout=120, check=True)
    # Two threads x 19 MiB stayed in their malloc arenas before the fix.
    assert int(result.stdout) < 8 * 1024
