"""Protocol layer throughput: packet codecs alone and through ProtocolConnection.

Run on demand (not part of the test suite)::

    python bench/bench_protocol.py            # about 15 s
    python bench/bench_protocol.py --seconds 1 --only SrvSelectCharReply

For each packet it prints packets per second (and microseconds per packet) for:

* ``codec``: ``Packet.encode_payload()`` / ``Packet.decode_payload()`` alone (no header);
* ``conn plain`` / ``conn rosecrypt``: ``ProtocolConnection.send()`` for encoding, and for
  decoding ``receive_data()`` of a chunk of 100 packets followed by ``next_event()`` until
  NEED_DATA, which is the per-chunk work of the server loop.

Each figure is the best of several timed rounds of at least ``--seconds`` in total, so the
run is bounded in time; compare figures from the same machine only.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway_core.protocol import NEED_DATA, ProtocolConnection, Role
from gateway_core.protocol.declarations import Packet
from gateway_core.protocol.packets import (
    CliMouseCmd,
    CliNormalChat,
    EquippedItem,
    SrvNormalChat,
    SrvSelectCharReply,
)

CHUNK_PACKETS = 100


@dataclass(frozen=True)
class Case:
    label: str
    packet: Packet
    sender: Role  # the role that sends this packet


def cases() -> list[Case]:
    select = SrvSelectCharReply(
        race=1,
        map=20,
        x=5200.0,
        y=5300.0,
        spawn=1,
        body_face=3,
        body_hair=4,
        equipped_items=tuple(EquippedItem.of(id=100 + i, gem_opt=i) for i in range(8)),
        name=b"Benchmarker",
    )
    return [
        Case("CliMouseCmd", CliMouseCmd(target_id=0, x=5210.5, y=5290.25, z=0), Role.CLIENT),
        Case("CliNormalChat", CliNormalChat(message=b"hello everyone, nice weather"), Role.CLIENT),
        Case(
            "SrvNormalChat",
            SrvNormalChat(char_id=42, message=b"hello everyone, nice weather"),
            Role.SERVER,
        ),
        Case("SrvSelectCharReply", select, Role.SERVER),
    ]


def rate(fn: Callable[[], int], seconds: float) -> float:
    """Best packets/second of ``fn`` (which returns how many packets it handled)."""
    fn()  # warm up (caches, lazy tables)
    rounds = 5
    best = 0.0
    per_round = seconds / rounds
    for _ in range(rounds):
        count = 0
        start = time.perf_counter()
        elapsed = 0.0
        while elapsed < per_round:
            count += fn()
            elapsed = time.perf_counter() - start
        best = max(best, count / elapsed)
    return best


def codec_encode(packet: Packet) -> Callable[[], int]:
    encode = packet.encode_payload

    def run() -> int:
        for _ in range(1000):
            encode()
        return 1000

    return run


def codec_decode(packet: Packet) -> Callable[[], int]:
    payload = packet.encode_payload()
    decode = type(packet).decode_payload

    def run() -> int:
        for _ in range(1000):
            decode(payload)
        return 1000

    return run


def conn_encode(case: Case, cipher: str) -> Callable[[], int]:
    send = ProtocolConnection(case.sender, cipher=cipher).send
    packet = case.packet

    def run() -> int:
        for _ in range(1000):
            send(packet)
        return 1000

    return run


def conn_decode(case: Case, cipher: str) -> Callable[[], int]:
    sender = ProtocolConnection(case.sender, cipher=cipher)
    receiver_role = Role.SERVER if case.sender is Role.CLIENT else Role.CLIENT
    receiver = ProtocolConnection(receiver_role, cipher=cipher, max_buffer=1 << 20)
    chunk = sender.send(case.packet) * CHUNK_PACKETS
    receive, next_event = receiver.receive_data, receiver.next_event
    receive(chunk)
    first = next_event()
    assert first == case.packet, (first, case.packet)
    while next_event() is not NEED_DATA:
        pass

    def run() -> int:
        count = 0
        for _ in range(10):
            receive(chunk)
            while next_event() is not NEED_DATA:
                count += 1
        return count

    return run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=0.4, help="time per figure")
    parser.add_argument("--only", help="run only the case with this label")
    args = parser.parse_args(argv)

    print(f"python {platform.python_version()} on {platform.machine()}, {sys.platform}")
    print(f"decode via connection: chunks of {CHUNK_PACKETS} packets; figures in packets/s")
    header = f"{'packet':<20} {'bytes':>5}  {'path':<15} {'encode':>16} {'decode':>16}"
    print(header)
    print("-" * len(header))
    for case in cases():
        if args.only and case.label != args.only:
            continue
        size = len(ProtocolConnection(case.sender).send(case.packet))
        rows: list[tuple[str, Callable[[], int], Callable[[], int]]] = [
            ("codec", codec_encode(case.packet), codec_decode(case.packet)),
        ]
        for cipher in ("plain", "rosecrypt"):
            rows.append((f"conn {cipher}", conn_encode(case, cipher), conn_decode(case, cipher)))
        for path, encode, decode in rows:
            enc, dec = rate(encode, args.seconds), rate(decode, args.seconds)
            print(
                f"{case.label:<20} {size:>5}  {path:<15} "
                f"{enc:>9,.0f} {1e6 / enc:>5.2f}us {dec:>9,.0f} {1e6 / dec:>5.2f}us"
            )


if __name__ == "__main__":
    main()
