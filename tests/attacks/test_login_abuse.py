"""Login abuse against a real gateway (in-process, embedded services, real TCP on loopback),
each beside a well-behaved player in the world who must keep being served:

* password guessing for one account from one address is throttled (answered FAILED without a
  password check once the free failures are spent) while the owner, from another address,
  logs in at once;
* a flood of logins from one address does not starve an honest login from another: password
  hashing is queued in turn between addresses and capped per address.

Other client addresses are other loopback addresses (127.0.0.0/8 is all loopback on Linux):
the boundary is the source address the gateway sees, nothing is mocked.
"""

from __future__ import annotations

import anyio
import pytest

from gateway_core.bot import steps as flow
from gateway_core.protocol.packets import LoginResult
from gateway_core.testing import (
    GATEWAY_TEST_SETTINGS,
    RunningGateway,
    running_gateway,
    still_served,
)

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

OWNER, STRANGER, FLOODER = "127.0.0.1", "127.0.0.2", "127.0.0.3"
TIMEOUT = 10.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def attempt(gateway: RunningGateway, source: str, username: str, password: str
                  ) -> LoginResult:
    client = await gateway.connect(source=source)
    try:
        reply = await flow.login(client, username, password)
    finally:
        await client.aclose()
    return LoginResult(reply.result)


async def test_guessing_is_throttled_and_the_owner_still_logs_in(tmp_path: object) -> None:
    settings = {**GATEWAY_TEST_SETTINGS, "DATA_DIR": str(tmp_path),
                "AUTH_LOGIN_FREE_FAILURES": 3}
    async with running_gateway(settings, RunningGateway) as gateway:
        walker, _ = await gateway.join_world("Walker")
        await flow.change_map(walker)
        await gateway.account("alice", "the-real-one")
        results = [await attempt(gateway, STRANGER, "alice", f"guess-{n}") for n in range(30)]
        checked = results.count(LoginResult.INVALID_PASSWORD)
        print(f"30 guesses: {checked} checked, {results.count(LoginResult.FAILED)} refused")
        assert 3 <= checked <= 5  # the free ones, and the few the doubling delay let through
        assert results[-1] is LoginResult.FAILED
        # Even the right password waits its turn from the guesser's address ...
        assert await attempt(gateway, STRANGER, "alice", "the-real-one") is LoginResult.FAILED
        # ... while the owner, from home, is not locked out by the stranger.
        assert await attempt(gateway, OWNER, "alice", "the-real-one") is LoginResult.OK
        await still_served(walker, "still here")
        assert gateway.gateway.metrics_registry.get_sample_value(
            "gateway_auth_logins_refused_total", {"reason": "throttled"}) >= 25


async def test_a_login_flood_from_one_address_does_not_starve_another(tmp_path: object) -> None:
    # Real argon2 cost, one hashing slot: forty logins take seconds to check one by one, more
    # than the gRPC deadline; a first-come queue would answer the honest login FAILED.
    settings = {**GATEWAY_TEST_SETTINGS, "DATA_DIR": str(tmp_path),
                "AUTH_ARGON2_TIME_COST": 2, "AUTH_ARGON2_MEMORY_KIB": 19456,
                "AUTH_HASH_CONCURRENCY": 1, "AUTH_LOGIN_PENDING_PER_SOURCE": 4,
                "AUTH_SOURCE_FREE_FAILURES": 1000, "AUTH_LOGIN_FREE_FAILURES": 1000,
                "GRPC_DEADLINE": 3.0}
    async with running_gateway(settings, RunningGateway) as gateway:
        walker, _ = await gateway.join_world("Walker")
        await flow.change_map(walker)
        for n in range(8):
            await gateway.account(f"victim{n}", "pw")
        await gateway.account("honest", "pw")
        flood: list[LoginResult] = []

        async def flooder(n: int) -> None:
            flood.append(await attempt(gateway, FLOODER, f"victim{n % 8}", "wrong"))

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for n in range(40):
                    tg.start_soon(flooder, n)
                await anyio.sleep(0.2)  # the flood is queued
                honest = await attempt(gateway, OWNER, "honest", "pw")
        print(f"flood: {flood.count(LoginResult.INVALID_PASSWORD)} checked, "
              f"{flood.count(LoginResult.FAILED)} refused; honest: {honest.name}")
        assert honest is LoginResult.OK
        assert flood.count(LoginResult.FAILED) >= 20  # over the per-address cap: at once
        await still_served(walker, "still here")
