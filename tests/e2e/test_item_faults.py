"""Item and zuly accounting across crashes: the character service, then the gateway, killed
with SIGKILL in the middle of bursts of item operations.

Each client buys potions from the quartermaster, sells them back and moves zuly to and from
its storage, one operation at a time; after each one it sends a normal chat line (the world
service echoes it, the character service has no part in it) as a barrier: the packets of one
connection are handled in order, so what arrived before the echo is everything the operation
was answered. An operation is *acknowledged* when its success packet came
(``PAKWC_SET_MONEY_AND_ITEM``, ``PAKWC_BANK_MOVE_MONEY``), *refused* when its refusal came
(``PAKWC_STORE_TRADE_REPLY``), and *unknown* otherwise (the backend could not be reached, the
reply was lost with a killed process).

At the end, what the character service stores (inventory zuly, storage zuly, potions held) must
equal the starting state plus every acknowledged operation plus some subset of the unknown ones
(each applied at most once), and nothing of the refused ones: nothing duplicated, nothing lost.

The boundary: every process is real. ``gateway service character`` (and in the second test
``gateway service auth`` and ``gateway serve``) run as subprocesses on loopback over SQLite in
the test's tmp dir, and are killed and restarted on the same database file and port.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import grpc
import grpc.aio
import pytest
from gateway_protos.v1 import character_pb2, character_pb2_grpc

from gateway_core.api import SELECTED_CHARACTER
from gateway_core.bot import GameClient
from gateway_core.bot import steps as flow
from gateway_core.protocol.packets import (
    BankMoveMode,
    BuySellItem,
    CliBankMoveMoney,
    CliNormalChat,
    CliStoreTradeReq,
    CreateCharResult,
    Item,
    JoinResult,
    LoginResult,
    ServerSelectResult,
    SrvBankMoveMoney,
    SrvNormalChat,
    SrvNpcChar,
    SrvSetMoneyAndItem,
    SrvStoreTradeReply,
)
from gateway_core.testing import (
    GATEWAY_TEST_ENV,
    GATEWAY_TEST_SETTINGS,
    RunningGateway,
    ServiceProcess,
    free_port,
    running_gateway,
    start_service,
)

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

GATEWAY = [sys.executable, "-m", "gateway_core"]
ITEMS_PACK = Path(__file__).resolve().parents[2] / "plugins" / "items" / "tests" / "content"
QUARTERMASTER_TYPE = 1020
POTION = (10, 1)
POTION_PRICE, POTION_SELL = 20, 10
#: Zuly of a new character: far more than any burst spends.
START_ZULY = 1_000_000
#: Bound on each single wait of a client, on each scenario, and on each burst.
TIMEOUT = 10.0
SCENARIO_TIMEOUT = 50.0
GRPC_DEADLINE = 1.0
#: Operations each client sends, and the pause after one that was not answered (so the
#: backend's downtime costs a bounded number of unknown operations).
OPS_PER_CLIENT = 60
UNKNOWN_PAUSE = 0.15
#: Operations acknowledged after the restart each client waits for, and the bound on the
#: operations it adds to its burst for them.
LATE_ACKS = 3
EXTRA_OPS = 60
PLAYERS = ("Alice", "Bob", "Carol")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def write_pack(directory: Path) -> Path:
    """The items tests' pack with a starter kit of :data:`START_ZULY` zuly."""
    text = (ITEMS_PACK / "items.toml").read_text()
    text, replaced = re.subn(r"(?m)^zuly = 100$", f"zuly = {START_ZULY}", text)
    assert replaced == 1
    directory.mkdir(parents=True, exist_ok=True)
    pack = directory / "items.toml"
    pack.write_text(text)
    return pack


# --- the accounting -----------------------------------------------------------------------

#: (inventory zuly, storage zuly, potions) changes.
Delta = tuple[int, int, int]


@dataclass
class Ledger:
    """What one client sent and what it was answered."""

    name: str
    acknowledged: list[Delta] = field(default_factory=list)
    unknown: list[Delta] = field(default_factory=list)
    refused: list[Delta] = field(default_factory=list)
    #: Acknowledged operations after the fault was over (the backend really came back).
    acknowledged_late: int = 0


@dataclass(frozen=True)
class Holdings:
    zuly: int
    storage_zuly: int
    potions: int

    def minus(self, other: Holdings) -> Delta:
        return (self.zuly - other.zuly, self.storage_zuly - other.storage_zuly,
                self.potions - other.potions)


def explained(residue: Delta, unknown: list[Delta]) -> bool:
    """Whether ``residue`` is the sum of some subset of ``unknown`` (each used at most once)."""
    reachable: set[Delta] = {(0, 0, 0)}
    for delta in unknown:
        reachable |= {(a + delta[0], b + delta[1], c + delta[2]) for a, b, c in reachable}
    return residue in reachable


POTION_HEADER = int(Item.stack(*POTION, 0).header.header)


async def holdings(address: str, character_id: int) -> Holdings:
    """What the character service stores for ``character_id``, read from it directly."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub = character_pb2_grpc.CharacterStub(channel)
        state = await stub.GetCharacter(
            character_pb2.GetCharacterRequest(character_id=character_id), timeout=5)
        storage = await stub.GetStorage(
            character_pb2.GetStorageRequest(character_id=character_id), timeout=5)
    potions = sum(item.data for item in [*state.inventory, *storage.items]
                  if item.header == POTION_HEADER)
    return Holdings(state.money, storage.zuly, potions)


async def character_ids(address: str, names: tuple[str, ...]) -> dict[str, int]:
    """The ids of the characters ``names`` (a fresh database numbers them from 1)."""
    found: dict[str, int] = {}
    async with grpc.aio.insecure_channel(address) as channel:
        stub = character_pb2_grpc.CharacterStub(channel)
        for character_id in range(1, 4 * len(names) + 1):
            with contextlib.suppress(grpc.aio.AioRpcError):
                state = await stub.GetCharacter(
                    character_pb2.GetCharacterRequest(character_id=character_id), timeout=5)
                found[state.name] = character_id
    return {name: found[name] for name in names}


def check_accounts(ledger: Ledger, start: Holdings, end: Holdings) -> None:
    acked = tuple(sum(d[i] for d in ledger.acknowledged) for i in range(3))
    residue = (end.minus(start)[0] - acked[0], end.minus(start)[1] - acked[1],
               end.minus(start)[2] - acked[2])
    print(f"{ledger.name}: acknowledged {len(ledger.acknowledged)} "
          f"(after the fault {ledger.acknowledged_late}), refused {len(ledger.refused)}, "
          f"unknown {len(ledger.unknown)}, residue {residue}")
    assert explained(residue, ledger.unknown), (
        f"{ledger.name}: start {start}, end {end}, acknowledged sum {acked} over "
        f"{len(ledger.acknowledged)} operations, residue {residue} is no subset of the "
        f"{len(ledger.unknown)} unknown operations {ledger.unknown}")


# --- a client's burst ---------------------------------------------------------------------


@dataclass
class Trader:
    """A client in the world next to the quartermaster."""

    name: str
    client: GameClient
    npc_id: int
    ledger: Ledger
    #: Zuly the storage surely holds (acknowledged deposits minus every withdrawal sent).
    safe_storage: int = 0
    #: Where the last acknowledged purchase put potions, and how many we know of there.
    potion_slot: int | None = None
    barrier: int = 0

    def operation(self, n: int) -> tuple[Any, Delta, type[Any]]:
        """The ``n``-th operation: the packet, what it changes, its success packet."""
        kind = n % 4
        if kind == 1 and self.potion_slot is not None:
            item = BuySellItem.of(sell_inventory_idx=self.potion_slot, sell_amount=1)
            packet = CliStoreTradeReq(npc_id=self.npc_id, is_buy=0, is_sell=1, time=0,
                                      item=item)
            return packet, (POTION_SELL, 0, -1), SrvSetMoneyAndItem
        if kind == 2:
            amount = 7 + n % 5
            return (CliBankMoveMoney(mode=BankMoveMode.INVENTORY_TO_BANK, amount=amount),
                    (-amount, amount, 0), SrvBankMoveMoney)
        if kind == 3 and self.safe_storage >= 5:
            return (CliBankMoveMoney(mode=BankMoveMode.BANK_TO_INVENTORY, amount=5),
                    (5, -5, 0), SrvBankMoveMoney)
        amount = 1 + n % 3
        item = BuySellItem.of(buy_tab_id=0, buy_col_id=0, buy_amount=amount)
        packet = CliStoreTradeReq(npc_id=self.npc_id, is_buy=1, is_sell=0, time=0, item=item)
        return packet, (-POTION_PRICE * amount, 0, amount), SrvSetMoneyAndItem

    async def one(self, n: int, fault_over: anyio.Event) -> bool:
        """Send operation ``n`` and its barrier; record the outcome. False when the
        connection is gone."""
        packet, delta, success = self.operation(n)
        withdrawal = isinstance(packet, CliBankMoveMoney) and delta[1] < 0
        if withdrawal:
            self.safe_storage += delta[1]
        self.barrier += 1
        marker = f"{self.name} barrier {self.barrier}".encode()
        try:
            await self.client.send(packet, CliNormalChat(message=marker))
            answers = []
            with anyio.fail_after(TIMEOUT):
                while True:
                    event = await self.client.receive(step=f"{self.name} op {n}")
                    if isinstance(event, SrvNormalChat) and event.message == marker:
                        break
                    answers.append(event)
        except Exception:
            self.ledger.unknown.append(delta)
            return False
        acked = [a for a in answers if isinstance(a, success)]
        if acked:
            assert len(acked) == 1, answers
            self.ledger.acknowledged.append(delta)
            if fault_over.is_set():
                self.ledger.acknowledged_late += 1
            if isinstance(packet, CliBankMoveMoney) and delta[1] > 0:
                self.safe_storage += delta[1]
            reply = acked[0]
            if isinstance(reply, SrvSetMoneyAndItem):
                held = [i for i in reply.items if int(i.item.header.header) == POTION_HEADER]
                self.potion_slot = held[0].index if held else None
            return True
        if any(isinstance(a, SrvStoreTradeReply) for a in answers):
            self.ledger.refused.append(delta)
            self.potion_slot = None  # the view may be stale: buy again before selling
        else:
            self.ledger.unknown.append(delta)
            await anyio.sleep(UNKNOWN_PAUSE)
        return True

    async def burst(self, first: int, count: int, fault_over: anyio.Event,
                    progress: list[int]) -> None:
        """``count`` operations, then more (at most :data:`EXTRA_OPS`) until
        :data:`LATE_ACKS` were acknowledged after the fault: a client quicker than the
        restart must still see the backend back."""
        n = first
        while n < first + count or (
                self.ledger.acknowledged_late < LATE_ACKS and n < first + count + EXTRA_OPS):
            if not await self.one(n, fault_over):
                return
            progress[0] += 1
            n += 1


async def find_quartermaster(client: GameClient) -> int:
    for event in client.unexpected:
        if isinstance(event, SrvNpcChar) and event.npc_id == QUARTERMASTER_TYPE:
            return int(event.id)
    npc = await client.expect(SrvNpcChar, step="quartermaster", timeout=TIMEOUT,
                              match=lambda p: p.npc_id == QUARTERMASTER_TYPE)
    return int(npc.id)


# --- 1: the character service killed --------------------------------------------------------


def service_settings(tmp_path: Path, pack: Path) -> dict[str, object]:
    return {
        **GATEWAY_TEST_ENV,
        "DATA_DIR": str(tmp_path / "data"),
        "CHARACTER_CONTENT": str(pack),
        "CHARACTER_START_MAP": 30,
        "LOG_LEVEL": "warning",
    }


@contextlib.contextmanager
def services() -> Iterator[list[ServiceProcess]]:
    """Service processes the test starts; each one still running is stopped by its PID."""
    started: list[ServiceProcess] = []
    try:
        yield started
    finally:
        for service in reversed(started):
            service.stop()


def sigkill(service: ServiceProcess) -> None:
    service.process.send_signal(signal.SIGKILL)
    service.process.wait(10)
    if service.process.stdout is not None:
        service.process.stdout.close()


class Arena(RunningGateway):
    async def trader(self, name: str) -> tuple[Trader, int]:
        world, _ = await self.join_world(name)
        await flow.change_map(world)
        session = self.gateway.connections.by_character_name(name)
        assert session is not None
        character_id = session.records.require(SELECTED_CHARACTER).character_id
        return Trader(name, world, await find_quartermaster(world), Ledger(name)), character_id


async def test_character_service_killed_mid_burst_loses_and_duplicates_nothing(
        tmp_path: Path) -> None:
    pack = write_pack(tmp_path / "pack")
    settings = service_settings(tmp_path, pack)
    address = f"127.0.0.1:{free_port()}"
    gateway_settings = {
        **GATEWAY_TEST_SETTINGS,
        "DATA_DIR": str(tmp_path / "data"),
        "WORLD_CONTENT": str(pack),
        "CHARACTER_CONTENT": str(pack),
        "CHARACTER_START_MAP": 30,
        "WORLD_VIEW_RADIUS": 5000.0,
        "WORLD_WANDER_INTERVAL": 3600.0,
        "GRPC_DEADLINE": GRPC_DEADLINE,
        "CHARACTER_SERVICE_ADDR": address,
    }
    with services() as started, anyio.fail_after(SCENARIO_TIMEOUT):
        started.append(start_service("character", settings, listen=address))
        async with running_gateway(gateway_settings, Arena) as arena:
            traders: list[Trader] = []
            ids: dict[str, int] = {}
            for name in PLAYERS:
                trader, ids[name] = await arena.trader(name)
                traders.append(trader)
            start = {name: await holdings(address, ids[name]) for name in PLAYERS}
            assert start["Alice"].zuly == START_ZULY

            fault_over = anyio.Event()
            progress = [0]
            async with anyio.create_task_group() as tg:
                for trader in traders:
                    tg.start_soon(trader.burst, 0, OPS_PER_CLIENT, fault_over, progress)
                with anyio.fail_after(TIMEOUT):
                    while progress[0] < len(traders) * OPS_PER_CLIENT // 3:
                        await anyio.sleep(0.005)
                sigkill(started.pop())
                await anyio.sleep(0.3)
                started.append(start_service("character", settings, listen=address))
                fault_over.set()

            for trader in traders:
                ledger = trader.ledger
                assert ledger.acknowledged_late >= LATE_ACKS, ledger
                check_accounts(ledger, start[trader.name],
                               await holdings(address, ids[trader.name]))


# --- 2: the gateway killed ---------------------------------------------------------------------


@dataclass
class GatewayProcess:
    popen: subprocess.Popen[bytes]
    log: Path
    port: int

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


async def http_ready(port: int) -> bool:
    try:
        stream = await anyio.connect_tcp("127.0.0.1", port)
    except OSError:
        return False
    data = b""
    async with stream:
        await stream.send(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError, OSError):
            while len(data) < 16:
                data += await stream.receive()
    return data.split()[1:2] == [b"200"]


@contextlib.asynccontextmanager
async def gateway_process(env: Mapping[str, str], log: Path) -> AsyncIterator[GatewayProcess]:
    """``gateway serve`` on a free port until ready; ended by its PID on exit (unless the
    test killed it already)."""
    port, metrics = free_port(), free_port()
    with log.open("wb") as out:
        popen = subprocess.Popen(
            [*GATEWAY, "serve"],
            env={**env, "SERVICE_PORT": str(port), "PACKET_METRICS_PORT": str(metrics)},
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    gateway = GatewayProcess(popen, log, port)
    try:
        with anyio.fail_after(TIMEOUT):
            while not await http_ready(metrics):
                assert popen.poll() is None, gateway.output()
                await anyio.sleep(0.05)
        yield gateway
    finally:
        if popen.poll() is None:
            popen.terminate()
            try:
                popen.wait(10)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()


async def enter_world(port: int, username: str, name: str, *, new: bool,
                      opened: list[GameClient]) -> GameClient:
    """Login (retried while the killed gateway's session still holds the account), character
    leg (creating ``name`` when ``new``) and world leg through the gateway on ``port``."""

    async def connect(leg_port: int) -> GameClient:
        client = await flow.connect("127.0.0.1", leg_port, timeout=TIMEOUT, label=username)
        opened.append(client)
        return client

    with anyio.fail_after(TIMEOUT):
        while True:
            login = await connect(port)
            result = (await flow.login(login, username, "pw")).result
            if result is LoginResult.OK:
                break
            await login.aclose()
            await anyio.sleep(0.2)
    selected = await flow.select_server(login, 1, 1)
    assert selected.result is ServerSelectResult.OK
    await login.aclose()
    char_leg = await connect(selected.port)
    assert (await flow.join(char_leg, selected.session_id, "pw")).result is JoinResult.OK
    if new:
        assert (await flow.create_character(char_leg, name)).result is CreateCharResult.OK
    else:
        await flow.char_list(char_leg)
    switch = await flow.select_character(char_leg, 0, name)
    world = await connect(switch.port)
    await flow.enter_world(world, switch.session_id, "pw")
    await char_leg.aclose()
    return world


async def test_gateway_killed_mid_burst_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    pack = write_pack(tmp_path / "pack")
    auth_address, character_address = (f"127.0.0.1:{free_port()}" for _ in range(2))
    base = {k: v for k, v in os.environ.items() if not k.endswith("_SERVICE_ADDR")}
    env = {
        **base,
        **GATEWAY_TEST_ENV,
        "DATA_DIR": str(tmp_path / "data"),
        "LOG_LEVEL": "warning",
        "WORLD_CONTENT": str(pack),
        "CHARACTER_CONTENT": str(pack),
        "CHARACTER_START_MAP": "30",
        "WORLD_VIEW_RADIUS": "5000.0",
        "WORLD_WANDER_INTERVAL": "3600.0",
        "GRPC_DEADLINE": str(GRPC_DEADLINE),
        "SHUTDOWN_DEADLINE": "3.0",
        "SESSION_GRACE": "0.3",
        "AUTH_SESSION_TTL": "1.0",
        "AUTH_SERVICE_ADDR": auth_address,
        "CHARACTER_SERVICE_ADDR": character_address,
    }
    service_env = {k: v for k, v in env.items() if not k.endswith("_SERVICE_ADDR")}
    opened: list[GameClient] = []
    with services() as started, anyio.fail_after(SCENARIO_TIMEOUT):
        started.append(start_service("auth", service_env, listen=auth_address))
        started.append(start_service("character", service_env, listen=character_address))
        for name in PLAYERS:
            created = await anyio.to_thread.run_sync(functools.partial(
                subprocess.run,
                [*GATEWAY, "account", "create", name.lower(), "--password", "pw"],
                env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False))
            assert created.returncode == 0, created.stdout + created.stderr
        try:
            async with gateway_process(env, tmp_path / "gateway-1.log") as first:
                traders = []
                for name in PLAYERS:
                    world = await enter_world(first.port, name.lower(), name, new=True,
                                              opened=opened)
                    traders.append(Trader(name, world, await find_quartermaster(world),
                                          Ledger(name)))
                ids = await character_ids(character_address, PLAYERS)
                start = {name: await holdings(character_address, ids[name])
                         for name in PLAYERS}
                assert start["Alice"].zuly == START_ZULY

                never = anyio.Event()
                progress = [0]
                async with anyio.create_task_group() as tg:
                    for trader in traders:
                        tg.start_soon(trader.burst, 0, OPS_PER_CLIENT // 2, never, progress)
                    with anyio.fail_after(TIMEOUT):
                        while progress[0] < len(traders) * OPS_PER_CLIENT // 6:
                            await anyio.sleep(0.005)
                    first.popen.send_signal(signal.SIGKILL)
                    first.popen.wait(10)
            for client in opened:
                await client.aclose()

            fault_over = anyio.Event()
            fault_over.set()
            async with gateway_process(env, tmp_path / "gateway-2.log") as second:
                for trader in traders:
                    world = await enter_world(second.port, trader.name.lower(), trader.name,
                                              new=False, opened=opened)
                    await flow.change_map(world)
                    trader.client = world
                    trader.npc_id = await find_quartermaster(world)
                    trader.potion_slot = None
                async with anyio.create_task_group() as tg:
                    for trader in traders:
                        tg.start_soon(trader.burst, OPS_PER_CLIENT, OPS_PER_CLIENT // 2,
                                      fault_over, progress)
                for trader in traders:
                    ledger = trader.ledger
                    assert ledger.acknowledged_late >= LATE_ACKS, ledger
                    check_accounts(ledger, start[trader.name],
                                   await holdings(character_address, ids[trader.name]))
        finally:
            with anyio.CancelScope(shield=True):
                for client in opened:
                    await client.aclose()
