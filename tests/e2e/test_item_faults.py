"""Item and zuly accounting across crashes: the character service, then the gateway, killed
with SIGKILL in the middle of bursts of item operations.

Each client, one operation at a time, buys potions from the quartermaster and sells them back,
moves zuly and potions to and from its storage, drops a potion and picks it up again (it
stands next to the quartermaster: the dropped potion lies within reach). After each operation
it sends a normal chat line (the world service echoes it, the character service has no part in
it) as a barrier: the packets of one connection are handled in order, so what arrived before
the echo is everything the operation was answered. An operation is *acknowledged* when its
success packet came (``PAKWC_SET_MONEY_AND_ITEM``, ``PAKWC_BANK_MOVE_MONEY``,
``PAKWC_BANK_MOVE_ITEM``, ``PAKWC_SET_ITEM`` of the dropped slot, ``PAKWC_PICKUP_ITEM_REPLY``
OK), *refused* when its refusal came (``PAKWC_STORE_TRADE_REPLY``, another pick-up result, a
drop given back), and *unknown* otherwise (the backend could not be reached, the reply was lost
with a killed process; also a deposit answered ``PAKWC_SET_ITEM`` only, which may follow a
change whose answer was lost).

At the end, what the character service stores (inventory zuly, storage zuly, potions in the
inventory, potions in the storage) must equal the starting state plus every acknowledged
operation plus some subset of the unknown ones (each applied at most once), and nothing of the
refused ones: nothing duplicated, nothing lost. A potion dropped and not picked up stays
counted as gone (its drop was acknowledged); in the second test the ground goes down with the
gateway, whose process embeds the world service.

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
import sys
from collections import Counter
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
    CliBankMoveItem,
    CliBankMoveMoney,
    CliDropItem,
    CliNormalChat,
    CliPickupItemReq,
    CliStoreTradeReq,
    Item,
    PickupItemResult,
    SrvBankMoveItem,
    SrvBankMoveMoney,
    SrvDropItem,
    SrvNormalChat,
    SrvNpcChar,
    SrvPickupItemReply,
    SrvSetItem,
    SrvSetMoney,
    SrvSetMoneyAndItem,
)
from gateway_core.testing import (
    GATEWAY_TEST_ENV,
    GATEWAY_TEST_SETTINGS,
    RunningGateway,
    create_account,
    enter_world_at,
    free_port,
    kill_service,
    running_gateway,
    serve_process,
    start_service,
    start_service_in_thread,
    started_services,
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

#: (inventory zuly, storage zuly, inventory potions, storage potions) changes.
Delta = tuple[int, int, int, int]
ZERO: Delta = (0, 0, 0, 0)

#: The kinds of operations of a burst, in the order of its cycle (a kind whose precondition
#: does not hold, say a sale with no potion known to be held, is a purchase instead).
BUY, SELL, ZULY_IN, ITEM_IN, DROP, ZULY_OUT, PICKUP, ITEM_OUT = (
    "buy", "sell", "zuly in", "item in", "drop", "zuly out", "pickup", "item out")
CYCLE = (BUY, SELL, ZULY_IN, ITEM_IN, DROP, ZULY_OUT, PICKUP, ITEM_OUT)
#: How often a pick-up of one ground potion is tried (refused: the backend was away).
PICKUP_TRIES = 3


def plus(a: Delta, b: Delta) -> Delta:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3])


def minus(a: Delta, b: Delta) -> Delta:
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2], a[3] - b[3])


@dataclass
class Ledger:
    """What one client sent and what it was answered."""

    name: str
    acknowledged: list[Delta] = field(default_factory=list)
    unknown: list[Delta] = field(default_factory=list)
    refused: list[Delta] = field(default_factory=list)
    #: Acknowledged operations after the fault was over (the backend really came back).
    acknowledged_late: int = 0
    #: Acknowledged, refused and unknown operations by kind.
    kinds: Counter[str] = field(default_factory=Counter)
    refused_kinds: Counter[str] = field(default_factory=Counter)
    unknown_kinds: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class Holdings:
    zuly: int
    storage_zuly: int
    potions: int
    storage_potions: int

    def delta(self) -> Delta:
        return (self.zuly, self.storage_zuly, self.potions, self.storage_potions)


def explained(residue: Delta, unknown: list[Delta]) -> bool:
    """Whether ``residue`` is the sum of some subset of ``unknown`` (each used at most once)."""
    reachable: set[Delta] = {ZERO}
    for delta in unknown:
        reachable |= {plus(sum_, delta) for sum_ in reachable}
    return residue in reachable


POTION_HEADER = int(Item.stack(*POTION, 0).header.header)


def potions_in(items: Any) -> int:
    return sum(int(item.data) for item in items if item.header == POTION_HEADER)


async def holdings(address: str, character_id: int) -> Holdings:
    """What the character service stores for ``character_id``, read from it directly."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub = character_pb2_grpc.CharacterStub(channel)
        state = await stub.GetCharacter(
            character_pb2.GetCharacterRequest(character_id=character_id), timeout=5)
        storage = await stub.GetStorage(
            character_pb2.GetStorageRequest(character_id=character_id), timeout=5)
    return Holdings(state.money, storage.zuly, potions_in(state.inventory),
                    potions_in(storage.items))


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
    acked = functools.reduce(plus, ledger.acknowledged, ZERO)
    residue = minus(minus(end.delta(), start.delta()), acked)
    def by_kind(counts: Counter[str]) -> str:
        return ", ".join(f"{kind} {counts[kind]}" for kind in CYCLE if counts[kind])

    print(f"{ledger.name}: acknowledged {len(ledger.acknowledged)} "
          f"(after the fault {ledger.acknowledged_late}; {by_kind(ledger.kinds)}), "
          f"refused {len(ledger.refused)} [{by_kind(ledger.refused_kinds)}], "
          f"unknown {len(ledger.unknown)} [{by_kind(ledger.unknown_kinds)}], residue {residue}")
    assert explained(residue, ledger.unknown), (
        f"{ledger.name}: start {start}, end {end}, acknowledged sum {acked} over "
        f"{len(ledger.acknowledged)} operations, residue {residue} is no subset of the "
        f"{len(ledger.unknown)} unknown operations {ledger.unknown}")


def check_every_kind(ledgers: list[Ledger]) -> None:
    """Every kind of operation was acknowledged at least once (by some client)."""
    total: Counter[str] = Counter()
    for ledger in ledgers:
        total.update(ledger.kinds)
    missing = [kind for kind in CYCLE if not total[kind]]
    assert not missing, f"no {missing} acknowledged: {dict(total)}"


# --- a client's burst ---------------------------------------------------------------------


def note(view: dict[int, int], slot: int, item: Item) -> None:
    """Record what ``slot`` holds now (only its potions matter)."""
    count = int(item.data.count)
    if int(item.header.header) == POTION_HEADER and count > 0:
        view[slot] = count
    else:
        view.pop(slot, None)


def held(view: dict[int, int]) -> int | None:
    """A slot of ``view`` with a potion in it."""
    return next((slot for slot, count in view.items() if count > 0), None)


@dataclass(frozen=True)
class Operation:
    kind: str
    packet: Any
    delta: Delta
    #: The inventory or storage slot (or the ground item) it takes a potion from.
    source: int | None = None


@dataclass
class Trader:
    """A client in the world next to the quartermaster."""

    name: str
    client: GameClient
    npc_id: int
    ledger: Ledger
    #: The character's object id (the owner of what it drops).
    object_id: int
    #: Zuly the storage surely holds (acknowledged deposits minus every withdrawal sent).
    safe_storage: int = 0
    #: Potions by inventory slot and by storage slot, as the last answers showed them (a
    #: slot an operation took from without an answer is forgotten).
    inventory: dict[int, int] = field(default_factory=dict)
    storage: dict[int, int] = field(default_factory=dict)
    #: Ground ids of the potions this character dropped, with the pick-ups tried of each.
    ground: dict[int, int] = field(default_factory=dict)
    barrier: int = 0

    def forget(self) -> None:
        """A new connection (the world that had the ground items is gone)."""
        self.inventory.clear()
        self.storage.clear()
        self.ground.clear()

    def operation(self, n: int) -> Operation:
        """The ``n``-th operation."""
        kind = CYCLE[n % len(CYCLE)]
        slot = held(self.inventory)
        one = Item.stack(*POTION, 1)
        if kind == SELL and slot is not None:
            item = BuySellItem.of(sell_inventory_idx=slot, sell_amount=1)
            return Operation(kind, CliStoreTradeReq(npc_id=self.npc_id, is_buy=0, is_sell=1,
                                                    time=0, item=item),
                             (POTION_SELL, 0, -1, 0), slot)
        if kind == ZULY_IN:
            amount = 7 + n % 5
            return Operation(kind, CliBankMoveMoney(mode=BankMoveMode.INVENTORY_TO_BANK,
                                                    amount=amount), (-amount, amount, 0, 0))
        if kind == ZULY_OUT and self.safe_storage >= 5:
            return Operation(kind, CliBankMoveMoney(mode=BankMoveMode.BANK_TO_INVENTORY,
                                                    amount=5), (5, -5, 0, 0))
        if kind == ITEM_IN and slot is not None:
            return Operation(kind, CliBankMoveItem(mode=BankMoveMode.INVENTORY_TO_BANK,
                                                   index=slot, item=one, use_special_tab=0),
                             (0, 0, -1, 1), slot)
        stored = held(self.storage)
        if kind == ITEM_OUT and stored is not None:
            return Operation(kind, CliBankMoveItem(mode=BankMoveMode.BANK_TO_INVENTORY,
                                                   index=stored, item=one, use_special_tab=0),
                             (0, 0, 1, -1), stored)
        if kind == DROP and slot is not None:
            return Operation(kind, CliDropItem(index=slot, quantity=1), (0, 0, -1, 0), slot)
        if kind == PICKUP and self.ground:
            ground_id = next(iter(self.ground))
            return Operation(kind, CliPickupItemReq(item_id=ground_id), (0, 0, 1, 0),
                             ground_id)
        amount = 1 + n % 3
        item = BuySellItem.of(buy_tab_id=0, buy_col_id=0, buy_amount=amount)
        return Operation(BUY, CliStoreTradeReq(npc_id=self.npc_id, is_buy=1, is_sell=0,
                                               time=0, item=item),
                         (-POTION_PRICE * amount, 0, amount, 0))

    def saw(self, event: Any) -> None:
        """Note a potion this character dropped lying on the ground."""
        if (isinstance(event, SrvDropItem) and event.owner_id == self.object_id
                and int(event.item.header.header) == POTION_HEADER):
            self.ground.setdefault(int(event.id), 0)

    def outcome(self, op: Operation, answers: list[Any]) -> str | None:
        """``"acknowledged"``, ``"refused"`` or None (unknown) for ``op`` answered
        ``answers``; the views follow what the answers show."""
        kind = op.kind
        if kind in (BUY, SELL):
            done = [a for a in answers if isinstance(a, SrvSetMoneyAndItem)]
            if done:
                assert len(done) == 1, answers
                for entry in done[0].items:
                    note(self.inventory, entry.index, entry.item)
                return "acknowledged"
            # The store's refusal is also its answer when the character service could not be
            # reached (the change may have been made, and is settled later): unknown.
            return None
        if kind in (ZULY_IN, ZULY_OUT):
            moved = [a for a in answers if isinstance(a, SrvBankMoveMoney)]
            assert len(moved) <= 1, answers
            return "acknowledged" if moved else None
        if kind in (ITEM_IN, ITEM_OUT):
            # A refused deposit is answered PAKWC_SET_ITEM with the slot as the gateway's
            # view has it; the change may still have been made (its answer lost, the retry
            # failed): unknown.
            items = [a for a in answers if isinstance(a, SrvBankMoveItem)]
            if not items:
                return None
            assert len(items) == 1, answers
            moved_item = items[0]
            if moved_item.inventory_index >= 0:
                note(self.inventory, moved_item.inventory_index, moved_item.inventory_item)
            if moved_item.bank_index >= 0:
                note(self.storage, moved_item.bank_index, moved_item.bank_item)
            for update in answers:
                if isinstance(update, SrvSetItem):
                    for entry in update.items:
                        note(self.inventory, entry.index, entry.item)
            return "acknowledged"
        if kind == DROP:
            updates = [a for a in answers if isinstance(a, SrvSetItem)
                       and any(entry.index == op.source for entry in a.items)]
            if not updates:
                return None
            for update in updates:
                for entry in update.items:
                    note(self.inventory, entry.index, entry.item)
            # The world could not lay it down: given back (PAKWC_SET_ITEM, PAKWC_SET_MONEY).
            return "refused" if any(isinstance(a, SrvSetMoney) for a in answers) else (
                "acknowledged")
        assert kind == PICKUP and op.source is not None
        replies = [a for a in answers
                   if isinstance(a, SrvPickupItemReply) and a.id == op.source]
        if not replies:
            self.ground.pop(op.source, None)
            return None
        assert len(replies) == 1, answers
        reply = replies[0]
        if reply.result == PickupItemResult.OK:
            self.ground.pop(op.source, None)
            note(self.inventory, reply.slot, reply.item)
            for update in answers:
                if isinstance(update, SrvSetItem):
                    for entry in update.items:
                        note(self.inventory, entry.index, entry.item)
            return "acknowledged"
        self.ground[op.source] = self.ground.get(op.source, 0) + 1
        if self.ground[op.source] >= PICKUP_TRIES:
            self.ground.pop(op.source)
        # NO_ITEM is also the answer when the character service could not be reached: the
        # change may have been made (and is settled later with its request id).
        return None if reply.result == PickupItemResult.NO_ITEM else "refused"

    async def one(self, n: int, fault_over: anyio.Event) -> bool:
        """Send operation ``n`` and its barrier; record the outcome. False when the
        connection is gone."""
        op = self.operation(n)
        if op.kind == ZULY_OUT:
            self.safe_storage += op.delta[1]
        self.barrier += 1
        marker = f"{self.name} barrier {self.barrier}".encode()
        try:
            await self.client.send(op.packet, CliNormalChat(message=marker))
            answers = []
            with anyio.fail_after(TIMEOUT):
                while True:
                    event = await self.client.receive(step=f"{self.name} op {n}")
                    self.saw(event)
                    if isinstance(event, SrvNormalChat) and event.message == marker:
                        break
                    answers.append(event)
        except Exception:
            self.ledger.unknown.append(op.delta)
            self.ledger.unknown_kinds[op.kind] += 1
            return False
        result = self.outcome(op, answers)
        if result == "acknowledged":
            self.ledger.acknowledged.append(op.delta)
            self.ledger.kinds[op.kind] += 1
            if fault_over.is_set():
                self.ledger.acknowledged_late += 1
            if op.kind == ZULY_IN:
                self.safe_storage += op.delta[1]
            return True
        # The slot it took from may hold less than the view says: buy (deposit) again first.
        if op.kind in (SELL, ITEM_IN, DROP) and op.source is not None:
            self.inventory.pop(op.source, None)
        if op.kind == ITEM_OUT and op.source is not None:
            self.storage.pop(op.source, None)
        if result == "refused":
            self.ledger.refused.append(op.delta)
            self.ledger.refused_kinds[op.kind] += 1
        else:
            self.ledger.unknown.append(op.delta)
            self.ledger.unknown_kinds[op.kind] += 1
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


class Arena(RunningGateway):
    async def trader(self, name: str) -> tuple[Trader, int]:
        world, _ = await self.join_world(name)
        on_map = await flow.change_map(world)
        session = self.gateway.connections.by_character_name(name)
        assert session is not None
        character_id = session.records.require(SELECTED_CHARACTER).character_id
        trader = Trader(name, world, await find_quartermaster(world), Ledger(name),
                        object_id=int(on_map.object_index))
        return trader, character_id


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
    with started_services() as started, anyio.fail_after(SCENARIO_TIMEOUT):
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
                kill_service(started.pop())
                await anyio.sleep(0.3)
                started.append(start_service("character", settings, listen=address))
                fault_over.set()

            for trader in traders:
                ledger = trader.ledger
                assert ledger.acknowledged_late >= LATE_ACKS, ledger
                check_accounts(ledger, start[trader.name],
                               await holdings(address, ids[trader.name]))
            check_every_kind([trader.ledger for trader in traders])


# --- 2: the gateway killed ---------------------------------------------------------------------


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
    with started_services() as started, anyio.fail_after(SCENARIO_TIMEOUT):
        async with anyio.create_task_group() as tg:
            for name, address in (("auth", auth_address), ("character", character_address)):
                tg.start_soon(start_service_in_thread, started, name, service_env, address)
        async with anyio.create_task_group() as tg:
            for name in PLAYERS:
                tg.start_soon(create_account, auth_address, name.lower())
        try:
            async with serve_process(env, tmp_path / "gateway-1.log") as first:
                traders = []
                for name in PLAYERS:
                    world, object_id = await enter_world_at(first.port, name.lower(), name,
                                                         new=True, opened=opened)
                    traders.append(Trader(name, world, await find_quartermaster(world),
                                          Ledger(name), object_id))
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
            async with serve_process(env, tmp_path / "gateway-2.log") as second:
                for trader in traders:
                    world, _ = await enter_world_at(second.port, trader.name.lower(),
                                                 trader.name, new=False, opened=opened)
                    on_map = await flow.change_map(world)
                    trader.client = world
                    trader.object_id = int(on_map.object_index)
                    trader.npc_id = await find_quartermaster(world)
                    trader.forget()
                async with anyio.create_task_group() as tg:
                    for trader in traders:
                        tg.start_soon(trader.burst, OPS_PER_CLIENT, OPS_PER_CLIENT // 2,
                                      fault_over, progress)
                for trader in traders:
                    ledger = trader.ledger
                    assert ledger.acknowledged_late >= LATE_ACKS, ledger
                    check_accounts(ledger, start[trader.name],
                                   await holdings(character_address, ids[trader.name]))
                check_every_kind([trader.ledger for trader in traders])
        finally:
            with anyio.CancelScope(shield=True):
                for client in opened:
                    await client.aclose()
