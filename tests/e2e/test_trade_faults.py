"""A player trade across two gateways, and the executing gateway killed with SIGKILL the moment
the second confirmation reached it.

Every process is real: ``gateway service auth``, ``character`` and ``world`` run as their own
processes on loopback (SQLite in the test's tmp dir), Alice plays through one ``gateway serve``
and Bob through another. Alice offers her sword, Bob 40 zuly; both get ready and confirm, Bob
last, so Bob's gateway makes the exchange; it is killed at once, somewhere between receiving
the confirmation and reporting the exchange to the world. Whatever the moment: Alice's client
is told the trade's end (DONE when the report made it, else CANCEL when Bob's character left
with the gateway's world stream), and both characters hold either what they had or what the
trade gave them, never a mix (the exchange is one transaction, made once under the trade id).
Bob logs in again through a third gateway and is shown exactly what the character service
stores; the two may trade again at once.
"""

from __future__ import annotations

import functools
import os
import signal
from pathlib import Path
from typing import Any

import anyio
import grpc.aio
import pytest
from gateway_protos.v1 import character_pb2, character_pb2_grpc

from gateway_core.bot import GameClient
from gateway_core.protocol.packets import (
    CliNormalChat,
    CliTrade,
    CliTradeItem,
    Item,
    SrvNormalChat,
    SrvTrade,
    SrvTradeItem,
    TradeState,
)
from gateway_core.testing import (
    GATEWAY_TEST_ENV,
    create_account,
    enter_world_at,
    free_port,
    serve_process,
    start_service,
    started_services,
)

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ITEMS_PACK = Path(__file__).resolve().parents[2] / "plugins" / "items" / "tests" / "content"
#: Bound on each single wait of a client.
TIMEOUT = 10.0
SWORD = (8, 3)
SWORD_HEADER = int(Item.stack(*SWORD, 0).header.header)
#: Bound on the whole scenario (five processes start, each in seconds on a busy machine).
SCENARIO_TIMEOUT = 150.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def stored(address: str, character_id: int) -> tuple[int, int]:
    """(zuly, swords held) as the character service has them."""
    async with grpc.aio.insecure_channel(address) as channel:
        state = await character_pb2_grpc.CharacterStub(channel).GetCharacter(
            character_pb2.GetCharacterRequest(character_id=character_id))
    return state.money, sum(1 for i in state.inventory if i.header == SWORD_HEADER)


async def sword_slot(address: str, character: int) -> int:
    async with grpc.aio.insecure_channel(address) as channel:
        state = await character_pb2_grpc.CharacterStub(channel).GetCharacter(
            character_pb2.GetCharacterRequest(character_id=character))
    return next(s for s, i in enumerate(state.inventory) if i.header == SWORD_HEADER)


async def told(client: GameClient, what: str) -> tuple[int, int]:
    got: Any = await client.expect(SrvTrade, step=what, timeout=TIMEOUT)
    return int(got.state), got.target


async def test_the_executing_gateway_killed_leaves_both_as_before_or_as_traded(
    tmp_path: Path,
) -> None:
    auth_address, character_address, world_address = (
        f"127.0.0.1:{free_port()}" for _ in range(3))
    base = {k: v for k, v in os.environ.items() if not k.endswith("_SERVICE_ADDR")}
    env = {
        **base,
        **GATEWAY_TEST_ENV,
        "DATA_DIR": str(tmp_path / "data"),
        "LOG_LEVEL": "warning",
        "WORLD_CONTENT": str(ITEMS_PACK / "items.toml"),
        "CHARACTER_CONTENT": str(ITEMS_PACK / "items.toml"),
        "CHARACTER_START_MAP": "30",
        "WORLD_VIEW_RADIUS": "5000.0",
        "WORLD_WANDER_INTERVAL": "3600.0",
        "WORLD_TICK_INTERVAL": "0.05",
        "SHUTDOWN_DEADLINE": "3.0",
        "SESSION_GRACE": "0.3",
        "AUTH_SESSION_TTL": "1.0",
        "AUTH_SERVICE_ADDR": auth_address,
        "CHARACTER_SERVICE_ADDR": character_address,
        "WORLD_SERVICE_ADDR": world_address,
    }
    service_env = {k: v for k, v in env.items() if not k.endswith("_SERVICE_ADDR")}
    opened: list[GameClient] = []
    with started_services() as started, anyio.fail_after(SCENARIO_TIMEOUT):
        async def start(name: str, address: str) -> None:
            started.append(await anyio.to_thread.run_sync(
                functools.partial(start_service, name, service_env, listen=address)))

        async with anyio.create_task_group() as tg:  # side by side: each takes seconds
            for name, address in (("auth", auth_address), ("character", character_address),
                                  ("world", world_address)):
                tg.start_soon(start, name, address)
        for name in ("alice", "bob"):
            await create_account(auth_address, name)
        try:
            async with (
                serve_process(env, tmp_path / "gateway-alice.log") as alice_gateway,
                serve_process(env, tmp_path / "gateway-bob.log") as bob_gateway,
            ):
                alice, alice_object = await enter_world_at(alice_gateway.port, "alice", "Alice",
                                                        new=True, opened=opened)
                bob, bob_object = await enter_world_at(bob_gateway.port, "bob", "Bob", new=True,
                                                    opened=opened)
                alice_id, bob_id = 1, 2  # created in this order on a fresh database
                before = (await stored(character_address, alice_id),
                          await stored(character_address, bob_id))
                assert before == ((100, 1), (100, 1))
                traded = ((140, 0), (60, 2))

                await alice.send(CliTrade(state=TradeState.REQUEST, target=bob_object, index=0))
                assert await told(bob, "asked") == (TradeState.REQUEST, alice_object)
                await bob.send(CliTrade(state=TradeState.ACCEPT, target=alice_object, index=0))
                assert await told(alice, "accepted") == (TradeState.ACCEPT, bob_object)
                assert await told(bob, "open") == (TradeState.ACCEPT, alice_object)
                slot = await sword_slot(character_address, alice_id)
                await alice.send(CliTradeItem(slot=0, index=slot, amount=1))
                await bob.expect(SrvTradeItem, step="the sword", timeout=TIMEOUT)
                await bob.send(CliTradeItem(slot=10, index=0, amount=40))
                await alice.expect(SrvTradeItem, step="the zuly", timeout=TIMEOUT)
                await alice.send(CliTrade(state=TradeState.READY, target=0, index=0))
                assert await told(bob, "alice ready") == (TradeState.READY, alice_object)
                await bob.send(CliTrade(state=TradeState.READY, target=0, index=0))
                assert await told(alice, "bob ready") == (TradeState.READY, bob_object)
                await alice.send(CliTrade(state=TradeState.DONE, target=0, index=0))
                # The packets of one connection are handled in order: once her chat line is
                # echoed, her confirmation reached the world, so Bob's is the second and his
                # gateway makes the exchange.
                await alice.send(CliNormalChat(message=b"barrier"))
                await alice.expect(SrvNormalChat, step="barrier", timeout=TIMEOUT)
                await bob.send(CliTrade(state=TradeState.DONE, target=0, index=0))
                bob_gateway.popen.send_signal(signal.SIGKILL)
                bob_gateway.popen.wait(10)

                end, _ = await told(alice, "the end")
                assert end in (TradeState.DONE, TradeState.CANCEL)
                now = (await stored(character_address, alice_id),
                       await stored(character_address, bob_id))
                assert now in (before, traded), now  # never a mix
                if end == TradeState.DONE:
                    assert now == traded
                for client in opened:
                    await client.aclose()
                opened.clear()

                # Bob again, through another gateway: shown what is stored.
                async with serve_process(env, tmp_path / "gateway-bob-2.log") as again:
                    alice, alice_object = await enter_world_at(alice_gateway.port, "alice",
                                                            "Alice", new=False, opened=opened)
                    bob, bob_object = await enter_world_at(again.port, "bob", "Bob", new=False,
                                                        opened=opened)
                    final = (await stored(character_address, alice_id),
                             await stored(character_address, bob_id))
                    # A call the kill cut short may still have committed meanwhile, once.
                    assert final in (before, traded) and (now == before or final == traded)
                    await alice.send(CliTrade(state=TradeState.REQUEST, target=bob_object,
                                              index=0))
                    assert await told(bob, "asked again") == (TradeState.REQUEST, alice_object)
        finally:
            with anyio.CancelScope(shield=True):
                for client in opened:
                    await client.aclose()
