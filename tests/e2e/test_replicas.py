"""Replicas: two auth and two character service processes on one PostgreSQL database, behind
two gateway processes (gateway 1 asks auth 1 and character 1, gateway 2 the others), and work
that conflicts driven through both at once. Exactly one wins where one must (an account logged
in through both gateways, one character name created from both), nothing is lost or
duplicated (saves of one character and zuly changes on both replicas at once), and a session
logged in through one gateway is joined through the other (its binding checked by the other
auth replica, which shares AUTH_BINDING_KEY).

The boundary: every process is real (``gateway service`` and ``gateway serve`` subprocesses on
loopback TCP and gRPC), the database is the suite's PostgreSQL server.
"""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import grpc
import pytest
from gateway_protos.v1 import auth_pb2, auth_pb2_grpc, character_pb2_grpc
from gateway_protos.v1 import character_pb2 as c

from gateway_core.bot import GameClient
from gateway_core.bot import steps as flow
from gateway_core.protocol.packets import CreateCharResult, JoinResult, LoginResult
from gateway_core.testing import (
    GATEWAY_TEST_ENV,
    GatewayProcess,
    PostgresServer,
    create_account,
    free_port,
    serve_process,
    start_service_in_thread,
    started_services,
)

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

#: Bound on each single wait of a client, and on the whole scenario.
TIMEOUT = 10.0
SCENARIO_TIMEOUT = 55.0
#: Races of each kind (one won by chance would pass one round).
ROUNDS = 3
#: Saves and zuly changes of the one character, spread over both character replicas.
SAVES = 10
ZULY_CHANGES = 20


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def connect(gateway: GatewayProcess, label: str, opened: list[GameClient]) -> GameClient:
    client = await flow.connect("127.0.0.1", gateway.port, timeout=TIMEOUT, label=label)
    opened.append(client)
    return client


async def login_both_at_once(gateways: list[GatewayProcess], username: str,
                             opened: list[GameClient]) -> list[LoginResult]:
    clients = [await connect(g, username, opened) for g in gateways]
    results: list[LoginResult] = []

    async def log_in(client: GameClient) -> None:
        results.append((await flow.login(client, username, "pw")).result)

    async with anyio.create_task_group() as tg:
        for client in clients:
            tg.start_soon(log_in, client)
    return results


async def create_into(results: list[CreateCharResult], leg: GameClient, name: str) -> None:
    results.append((await flow.create_character(leg, name)).result)


async def character_leg_across(login_at: GatewayProcess, join_at: GatewayProcess,
                               username: str, opened: list[GameClient]) -> GameClient:
    """Logged in through ``login_at``, the character leg joined through ``join_at``."""
    login = await connect(login_at, username, opened)
    assert (await flow.login(login, username, "pw")).result is LoginResult.OK
    selected = await flow.select_server(login, 1, 1)
    await login.aclose()
    leg = await connect(join_at, username, opened)
    assert (await flow.join(leg, selected.session_id, "pw")).result is JoinResult.OK
    return leg


async def test_two_replicas_of_auth_and_character_behind_two_gateways(
    postgres: PostgresServer, tmp_path: Path,
) -> None:
    url = postgres.create_database()
    addresses = {(name, n): f"127.0.0.1:{free_port()}"
                 for name in ("auth", "character") for n in (1, 2)}
    base = {k: v for k, v in os.environ.items() if not k.endswith("_SERVICE_ADDR")}
    services_env = {
        **base,
        **GATEWAY_TEST_ENV,
        "LOG_LEVEL": "warning",
        "DATABASE_URL": url,
        "AUTH_BINDING_KEY": "the-replicas-of-this-test-share-this-key",
    }
    opened: list[GameClient] = []
    with started_services() as started, anyio.fail_after(SCENARIO_TIMEOUT):
        # One replica first (it migrates the new database), then the rest side by side.
        await start_service_in_thread(started, "auth", services_env, addresses["auth", 1])
        await start_service_in_thread(started, "character", services_env,
                                      addresses["character", 1])
        async with anyio.create_task_group() as tg:
            for name in ("auth", "character"):
                tg.start_soon(start_service_in_thread, started, name, services_env,
                              addresses[name, 2])
        usernames = [f"twin{r}" for r in range(ROUNDS)] + [
            f"namer{r}{side}" for r in range(ROUNDS) for side in "ab"] + ["saver"]
        async with anyio.create_task_group() as tg:
            for n, username in enumerate(usernames):
                tg.start_soon(create_account, addresses["auth", 1 + n % 2], username)

        def gateway_env(n: int) -> dict[str, str]:
            return {**services_env, "DATA_DIR": str(tmp_path / f"gateway-{n}"),
                    "AUTH_SERVICE_ADDR": addresses["auth", n],
                    "CHARACTER_SERVICE_ADDR": addresses["character", n]}

        try:
            async with (
                serve_process(gateway_env(1), tmp_path / "gateway-1.log") as one,
                serve_process(gateway_env(2), tmp_path / "gateway-2.log") as two,
            ):
                gateways = [one, two]
                # An account logged in through both gateways at once: one login wins.
                for r in range(ROUNDS):
                    results = await login_both_at_once(gateways, f"twin{r}", opened)
                    assert sorted(results) == [LoginResult.OK, LoginResult.ALREADY_LOGGEDIN]

                # One name created from both gateways at once, each leg joined on the other
                # gateway than its login's: one creation wins.
                for r in range(ROUNDS):
                    legs = [await character_leg_across(one, two, f"namer{r}a", opened),
                            await character_leg_across(two, one, f"namer{r}b", opened)]
                    created: list[CreateCharResult] = []
                    async with anyio.create_task_group() as tg:
                        for leg in legs:
                            tg.start_soon(create_into, created, leg, f"Twin{r}")
                    assert sorted(created) == [CreateCharResult.OK, CreateCharResult.NAME_TAKEN]

                # Saves of one character and zuly changes of it on both replicas at once.
                leg = await character_leg_across(one, two, "saver", opened)
                assert (await flow.create_character(leg, "Saver")).result is CreateCharResult.OK
                await check_saves_and_changes(
                    addresses["auth", 1], [addresses["character", 1], addresses["character", 2]],
                    "saver", "Saver")
        finally:
            for client in opened:
                await client.aclose()


async def check_saves_and_changes(auth: str, addresses: list[str], username: str,
                                  name: str) -> None:
    async with (
        grpc.aio.insecure_channel(auth) as auth_channel,
        grpc.aio.insecure_channel(addresses[0]) as first,
        grpc.aio.insecure_channel(addresses[1]) as second,
    ):
        accounts = await auth_pb2_grpc.AuthStub(auth_channel).ListAccounts(
            auth_pb2.ListAccountsRequest())
        [account] = [a.user_id for a in accounts.accounts if a.username == username]
        stubs = [character_pb2_grpc.CharacterStub(first), character_pb2_grpc.CharacterStub(second)]
        [found] = (await stubs[0].ListCharacters(
            c.ListCharactersRequest(account_id=account))).characters
        assert found.name == name
        state = await stubs[0].GetCharacter(c.GetCharacterRequest(character_id=found.id))
        money = state.money

        async def save(n: int) -> None:
            copy = c.CharacterState()
            copy.CopyFrom(state)
            copy.xp, copy.x = 100 + n, float(100 + n)  # one save's values go together
            await stubs[n % 2].SaveCharacter(c.SaveCharacterRequest(state=copy), timeout=TIMEOUT)

        async def change(n: int) -> None:
            reply = await stubs[n % 2].ChangeItems(c.ChangeItemsRequest(
                character_id=found.id, request_id=f"replicas-zuly-{n}", zuly_delta=1),
                timeout=TIMEOUT)
            assert reply.result == c.ITEM_RESULT_OK

        async with anyio.create_task_group() as tg:
            for n in range(max(SAVES, ZULY_CHANGES)):
                if n < SAVES:
                    tg.start_soon(save, n)
                if n < ZULY_CHANGES:
                    tg.start_soon(change, n)
        stored = await stubs[1].GetCharacter(c.GetCharacterRequest(character_id=found.id))
        assert stored.money == money + ZULY_CHANGES  # no change lost or applied twice
        assert 100 <= stored.xp < 100 + SAVES and stored.x == float(stored.xp)
