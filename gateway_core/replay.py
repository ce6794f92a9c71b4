"""``gateway replay``: play the client side of a capture against a gateway and compare replies.

Strategy: the capture's records are walked in their recorded order. A recorded connection is
opened (plain TCP to ``--to``, with the headless client's :class:`GameClient` doing the cipher)
at its first client packet; before any client packet is sent, every live connection must have
received as many server packets as were recorded before that point (bounded by ``timeout``),
so the replay keeps the causal order of the recording across connections (the world join
waits for the character select's answer). Client packets are sent as recorded except for

- values the server hands out per run: a session id recorded in a server reply is replaced by
  the one the live server sent in the same place (:data:`SUBSTITUTED`);
- masked credentials: with ``password`` given, the masked password fields are filled with its
  SHA-256 hex, exactly as the client sends it (a capture never holds a password).

At the end each connection's recorded server packets are compared with the live ones, in
order (difflib's alignment), ignoring the per-run fields named in :data:`IGNORED_FIELDS`
(session ids, seeds, object ids, handed-out addresses, timestamps), and runs of packets about
what is in view (spawns, :data:`UNORDERED`) are compared without their order. The result lists every
difference with the connection, the packet's index and its time in the recording.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import time
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Final

import anyio

from gateway_core.bot.client import BotError, GameClient
from gateway_core.capture import (
    C2S,
    MASK_BYTE,
    S2C,
    CaptureEvent,
    PacketRecord,
    decode_frame,
    event_name,
    packet_fields,
    read_capture,
)
from gateway_core.protocol.connection import RawFrame
from gateway_core.protocol.declarations import Packet

__all__ = ["AMBIENT", "IGNORED_FIELDS", "SUBSTITUTED", "UNORDERED", "Difference", "ReplayResult",
           "replay", "to_text"]

#: Server -> client fields that differ from run to run, by packet type, with what they are:
#: never compared.
IGNORED_FIELDS: Final[Mapping[str, Mapping[str, str]]] = {
    "PAKSS_ACCEPT_REPLY": {"rand_value": "seed"},
    "PAKLC_SRV_SELECT_REPLY": {"session_id": "session id", "crypt_val": "seed",
                               "ip": "address", "port": "address"},
    "PAKCC_SWITCH_SERVER": {"session_id": "session id", "session_seed": "seed",
                            "ip": "address", "port": "address"},
    "PAKSC_JOIN_SERVER_REPLY": {"id": "object id"},
    "PAKWC_SELECT_CHAR_REPLY": {"tag": "object id"},
    "PAKWC_CHANGE_MAP_REPLY": {"object_index": "object id", "update_time": "timestamp",
                               "world_time": "timestamp", "team_number": "object id",
                               # regenerated on the world's clock since the join
                               "hp": "vitals", "mp": "vitals"},
    "PAKWC_NORMAL_CHAT": {"char_id": "object id"},
    "PAKWC_MOUSE_CMD": {"id": "object id"},
    "PAKWC_SET_HP_AND_MP": {"id": "object id"},
}

#: Packets about what is in view, which a server sends in no fixed order: a run of them in a
#: row is compared as a set (sorted in both sequences).
UNORDERED: Final = frozenset({
    "PAKWC_NPC_CHAR", "PAKWC_MOB_CHAR", "PAKWC_PLAYER_CHAR", "PAKWC_DROP_ITEM",
    "PAKWC_REMOVE_OBJECT",
})

#: Packets the server sends on its own clock rather than in reply (regeneration ticks): not
#: compared, not waited for.
AMBIENT: Final = frozenset({"PAKWC_SET_HP_AND_MP"})

#: Client -> server fields replaced by the live server's value of the same kind.
SUBSTITUTED: Final[Mapping[str, Mapping[str, str]]] = {
    "PAKCS_JOIN_SERVER_REQ": {"session_id": "session id"},
    "PAKCS_JOIN_SERVER_TOKEN_REQ": {"session_id": "session id"},
}

#: The password fields a ``password`` fills in (SHA-256 hex, as the client sends them).
_PASSWORD_FIELDS: Final = {"PAKCS_LOGIN_REQ": "password", "PAKCS_JOIN_SERVER_REQ": "password"}


@dataclass(frozen=True, slots=True)
class Difference:
    """One place where the live server's packets differ from the recorded ones."""

    connection: int  # the recorded connection id
    index: int  # position among that connection's server packets (0-based)
    time: float  # seconds from the first record of the capture
    kind: str  # "changed", "missing" (recorded, not received) or "extra" (received only)
    expected: str | None  # packet name recorded
    received: str | None  # packet name received
    fields: Mapping[str, tuple[object, object]] = field(default_factory=dict)  # name: (rec, live)

    def describe(self) -> str:
        where = f"connection {self.connection} packet {self.index} (t+{self.time:.3f}s)"
        if self.kind == "missing":
            return f"{where}: expected {self.expected}, not received"
        if self.kind == "extra":
            return f"{where}: received {self.received}, not in the capture"
        if self.expected != self.received:
            return f"{where}: expected {self.expected}, received {self.received}"
        changes = ", ".join(f"{name}: {_show(old)} != {_show(new)}"
                            for name, (old, new) in self.fields.items())
        return f"{where}: {self.expected} differs: {changes}"

    def to_json(self) -> dict[str, object]:
        return {"connection": self.connection, "index": self.index,
                "time": round(self.time, 6), "kind": self.kind, "expected": self.expected,
                "received": self.received,
                "fields": {k: {"recorded": a, "live": b} for k, (a, b) in self.fields.items()}}


def _show(value: object) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass
class ReplayResult:
    """What a replay found: the packets compared and the differences (none: equal)."""

    connections: int = 0
    sent: int = 0
    compared: int = 0
    differences: list[Difference] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # connections that failed, etc.
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.differences and not self.errors

    def to_json(self) -> dict[str, object]:
        return {"ok": self.ok, "connections": self.connections, "sent": self.sent,
                "compared": self.compared, "elapsed": round(self.elapsed, 3),
                "ignored": {name: sorted(fields) for name, fields in IGNORED_FIELDS.items()},
                "differences": [d.to_json() for d in self.differences], "errors": self.errors}


def comparable(packet: Packet | RawFrame, extra: Collection[str] = ()
               ) -> tuple[str, dict[str, object]]:
    """A server packet's name and fields without its per-run fields (:data:`IGNORED_FIELDS`
    and the ``PACKET.field`` names in ``extra``)."""
    name = event_name(packet)
    ignored = IGNORED_FIELDS.get(name, {})
    return name, {k: v for k, v in packet_fields(packet).items()
                  if k not in ignored and f"{name}.{k}" not in extra}


class _Live:
    """One replayed connection: its client and the server packets received so far."""

    def __init__(self, client: GameClient, ambient: Collection[str]) -> None:
        self.client = client
        self.received: list[tuple[float, Packet | RawFrame]] = []
        self.closed = False
        self._ambient = ambient
        self._names: Counter[str] = Counter()

    def _add(self, event: Packet | RawFrame) -> None:
        self.received.append((time.monotonic(), event))
        name = event_name(event)
        if name not in self._ambient:
            self._names[name] += 1

    async def wait_for(self, need: Counter[str], deadline: float) -> None:
        """Receive until the packets ``need`` counts came (by type, in any order), the server
        closed or ``deadline`` passed."""
        while not self._names >= need and not self.closed:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                event = await self.client.poll(left, step="replay")
            except BotError:
                self.closed = True
                return
            if event is not None:
                self._add(event)

    async def collect_buffered(self) -> None:
        """Take what is already buffered, without waiting."""
        while not self.closed:
            try:
                event = await self.client.poll(0.0, step="replay")
            except BotError:
                self.closed = True
                return
            if event is None:
                return
            self._add(event)


def _client_packet(record: PacketRecord, profile: str, password: str | None,
                   values: Mapping[tuple[str, object], object]) -> Packet | RawFrame:
    packet = decode_frame(record.frame, C2S, profile)
    if isinstance(packet, RawFrame):
        return packet
    changes: dict[str, object] = {}
    for name, kind in SUBSTITUTED.get(packet.NAME, {}).items():
        recorded = getattr(packet, name)
        if (kind, recorded) in values:
            changes[name] = values[(kind, recorded)]
    field_name = _PASSWORD_FIELDS.get(packet.NAME)
    if password is not None and field_name is not None:
        value = getattr(packet, field_name)
        if isinstance(value, bytes) and value and set(value) == set(MASK_BYTE):
            changes[field_name] = hashlib.sha256(password.encode()).hexdigest().encode()
    if changes:
        import dataclasses

        packet = dataclasses.replace(packet, **changes)  # type: ignore[type-var]
    return packet


def _learn(expected: Packet | RawFrame, live: Packet | RawFrame,
           values: dict[tuple[str, object], object]) -> None:
    """Remember the live server's values of the per-run fields of a packet pair."""
    name = event_name(expected)
    if name != event_name(live):
        return
    for field_name, kind in IGNORED_FIELDS.get(name, {}).items():
        recorded = getattr(expected, field_name, None)
        if recorded is not None and recorded not in (0, b""):
            values[(kind, recorded)] = getattr(live, field_name, None)


async def replay(
    path: str,
    host: str,
    port: int,
    *,
    password: str | None = None,
    cipher: str | None = None,
    timeout: float = 5.0,
    ignore_types: Collection[str] = (),
    ignore_fields: Collection[str] = (),
) -> ReplayResult:
    """Replay the capture at ``path`` against the gateway at ``host:port`` (see the module's
    docstring). ``cipher`` is the target gateway's (default: the one the capture was made
    on); ``timeout`` bounds each wait for the server's packets. ``ignore_types`` (packet
    names) are not compared, like :data:`AMBIENT`; ``ignore_fields`` (``PACKET.field``) are
    ignored like :data:`IGNORED_FIELDS`."""
    ambient = AMBIENT | frozenset(ignore_types)
    header, records = read_capture(path)
    profile = str(header.get("profile", "2026"))
    cipher = cipher or str(header.get("cipher", "plain"))
    result = ReplayResult()
    started = time.monotonic()
    first = next((r.time for r in records), 0.0)
    expected: dict[int, list[tuple[PacketRecord, Packet | RawFrame]]] = {}
    needed: dict[int, Counter[str]] = {}
    live: dict[int, _Live] = {}
    values: dict[tuple[str, object], object] = {}
    learned: dict[int, int] = {}

    async def sync(only: int | None = None) -> None:
        deadline = time.monotonic() + timeout
        for conn, leg in live.items():
            if only is not None and conn != only:
                continue
            await leg.wait_for(needed.get(conn, Counter()), deadline)
            # What arrived in place of a recorded packet tells the run's values.
            pairs = list(zip(expected.get(conn, ()), leg.received, strict=False))
            for (_, exp), (_, got) in pairs[learned.get(conn, 0):]:
                _learn(exp, got, values)
            learned[conn] = len(pairs)

    try:
        for record in records:
            if isinstance(record, CaptureEvent):
                if record.event == "close" and record.connection in live:
                    await sync(record.connection)
                    ending = live[record.connection]
                    await ending.collect_buffered()
                    await ending.client.aclose()
                    ending.closed = True
                continue
            if record.direction == S2C:
                try:
                    packet = decode_frame(record.frame, S2C, profile)
                except Exception:
                    packet = RawFrame(record.type_value, record.name, record.frame[6:])
                expected.setdefault(record.connection, []).append((record, packet))
                if record.name not in ambient:
                    needed.setdefault(record.connection, Counter())[record.name] += 1
                continue
            await sync()
            leg = live.get(record.connection)
            if leg is None:
                try:
                    client = await GameClient.connect(host, port, cipher=cipher, profile=profile,
                                                      timeout=timeout, label="replay")
                except BotError as exc:
                    result.errors.append(f"connection {record.connection}: {exc}")
                    break
                leg = live[record.connection] = _Live(client, ambient)
                result.connections += 1
            if leg.closed:
                continue  # the server closed it: the rest of its client packets cannot go
            try:
                await leg.client.send(_client_packet(record, profile, password, values),
                                      step="replay")
                result.sent += 1
            except BotError:
                leg.closed = True
        await sync()
        for each in live.values():
            await each.collect_buffered()
    finally:
        with anyio.CancelScope(shield=True):
            for each in live.values():
                await each.client.aclose()
    for conn, recorded_all in expected.items():
        live_leg = live.get(conn)
        got_all = live_leg.received if live_leg is not None else []
        recorded = [(r, p) for r, p in recorded_all if event_name(p) not in ambient]
        got = [(t, p) for t, p in got_all if event_name(p) not in ambient]
        result.differences.extend(_compare(conn, recorded, got, first, ignore_fields))
        result.compared += len(recorded)
    result.elapsed = time.monotonic() - started
    return result


def _key(item: tuple[str, dict[str, object]]) -> str:
    return json.dumps(item, sort_keys=True, default=str)


def _settle(items: list[tuple[str, dict[str, object]]]) -> list[tuple[str, dict[str, object]]]:
    """``items`` with every run of :data:`UNORDERED` packets sorted."""
    out: list[tuple[str, dict[str, object]]] = []
    run: list[tuple[str, dict[str, object]]] = []
    for item in [*items, ("", {})]:
        if item[0] in UNORDERED:
            run.append(item)
            continue
        out.extend(sorted(run, key=_key))
        run = []
        out.append(item)
    return out[:-1]


def _compare(conn: int, recorded: list[tuple[PacketRecord, Packet | RawFrame]],
             received: list[tuple[float, Packet | RawFrame]], first: float,
             extra: Collection[str] = ()) -> list[Difference]:
    exp = _settle([comparable(packet, extra) for _, packet in recorded])
    got = _settle([comparable(packet, extra) for _, packet in received])
    keys_exp = [_key(item) for item in exp]
    keys_got = [_key(item) for item in got]
    out: list[Difference] = []

    def at(index: int) -> float:
        if index < len(recorded):
            return recorded[index][0].time - first
        return recorded[-1][0].time - first if recorded else 0.0

    matcher = difflib.SequenceMatcher(a=keys_exp, b=keys_got, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        pairs = min(i2 - i1, j2 - j1) if op == "replace" else 0
        for k in range(pairs):
            (name_a, fields_a), (name_b, fields_b) = exp[i1 + k], got[j1 + k]
            changed = {key: (fields_a.get(key), fields_b.get(key))
                       for key in dict.fromkeys([*fields_a, *fields_b])
                       if fields_a.get(key) != fields_b.get(key)} if name_a == name_b else {}
            out.append(Difference(conn, i1 + k, at(i1 + k), "changed", name_a, name_b, changed))
        for i in range(i1 + pairs, i2):
            out.append(Difference(conn, i, at(i), "missing", exp[i][0], None))
        for j in range(j1 + pairs, j2):
            out.append(Difference(conn, i2, at(i2), "extra", None, got[j][0]))
    return out


def to_text(result: ReplayResult) -> str:
    """A readable report of ``result``."""
    lines = [f"replayed {result.sent} client packets on {result.connections} connection(s), "
             f"compared {result.compared} server packets in {result.elapsed:.2f}s"]
    lines += [f"error: {error}" for error in result.errors]
    if result.differences:
        lines.append(f"{len(result.differences)} difference(s):")
        lines += [f"  {d.describe()}" for d in result.differences]
    else:
        lines.append("the server's replies equal the recorded ones (per-run fields ignored: "
                     + ", ".join(f"{n}.{f}" for n, fs in IGNORED_FIELDS.items() for f in fs)
                     + ")")
    return "\n".join(lines)
