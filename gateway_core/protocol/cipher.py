"""Ciphers between the byte stream and the packet framing (docs/protocol.md §3).

Two codecs implement :class:`~gateway_core.protocol.framing.FrameCodec`:

* ``plain``: the clear 6-byte header of §2 (osIROSE built with ``DISABLE_CRYPT``);
* ``rosecrypt``: the osIROSE ``crosecrypt`` codec with the fixed seed 0x0042D266.

The osIROSE function pairs are also exposed on whole packets: a server decodes with
:func:`decode_client_packet` and encodes with :func:`encode_server_packet`; a client (bots,
tests) uses the mirrors :func:`encode_client_packet` and :func:`decode_server_packet`.

Strategy: everything that does not depend on the packet is computed once per process, on first
use (:func:`key_tables`, about 20 ms):

* The key for payload byte ``i`` is ``R[(eav + i) & 15][(tav + i) & 0x7FF] & 0xFF``. Row and
  column advance together and 2048 is a multiple of 16, so every (eav, tav) pair walks one of
  16 diagonals of the table, picked by ``(tav - eav) & 15``. The 16 diagonals are stored as
  byte strings of twice the table width, so the key stream of any packet is one slice, and the
  payload is XORed in one go as two big integers (``int.from_bytes``), not byte by byte.
* The scrambled 40-bit header is a bit permutation, done with one 256-entry table per wire
  byte (5 lookups), in both directions. The C++ encoders fix tav/eav/ev, so in practice a
  header depends only on (size, type): decoded and encoded headers, with their share of the
  checksum, are memoised in small bounded dicts.
* The checksum (a reflected CRC-8) is the only per-byte loop: a bare ``for`` over the payload
  indexing a list (a 64K-entry two-bytes-at-a-time table was measured: under 10% faster, and
  only on the largest packets).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Final

from gateway_core.protocol.errors import LocalProtocolError, RemoteProtocolError
from gateway_core.protocol.framing import (
    HEADER_SIZE,
    MAX_PACKET_SIZE,
    MAX_PAYLOAD_SIZE,
    FrameCodec,
    bad_size,
    pack_frame,
)

__all__ = [
    "CIPHER_NAMES",
    "CRC_TABLE",
    "DEFAULT_SEED",
    "KeyTables",
    "PlainCodec",
    "RoseCryptCodec",
    "build_key_table",
    "checksum",
    "decode_client_packet",
    "decode_server_packet",
    "encode_client_packet",
    "encode_server_packet",
    "get_codec",
    "key_tables",
]

CIPHER_NAMES: Final = ("plain", "rosecrypt")
DEFAULT_SEED: Final = 0x0042D266

# ---------------------------------------------------------------------------------------------
# Plain


class PlainCodec:
    """The clear header of docs/protocol.md §2; the same in both directions."""

    __slots__ = ()

    name: Final = "plain"
    clear_body: Final = True
    #: Return (size, type value) from the clear header: the C-level ``unpack_from`` itself, so
    #: reading a header costs no Python call.
    decode_header: Final = struct.Struct("<HH").unpack_from

    def decode_body(
        self, buf: bytes | bytearray, offset: int, size: int, state: int
    ) -> tuple[int, bytes]:
        """Return (type value, payload); the crc field is ignored."""
        return state, bytes(buf[offset + HEADER_SIZE : offset + size])

    #: Return header (crc 0) + payload: :func:`pack_frame` itself (no extra call per packet).
    encode: Final = staticmethod(pack_frame)


# ---------------------------------------------------------------------------------------------
# Checksum

#: The 8-bit checksum table of crosecrypt ("Official CrcTable"; reflected CRC-8, poly 0x31).
CRC_TABLE: Final = bytes.fromhex(
    "005EBCE2613FDD83C29C7E20A3FD1F41"
    "9DC3217FFCA2401E5F01E3BD3E6082DC"
    "237D9FC1421CFEA0E1BF5D0380DE3C62"
    "BEE0025CDF81633D7C22C09E1D43A1FF"
    "4618FAA427799BC584DA3866E5BB5907"
    "DB856739BAE406581947A5FB7826C49A"
    "653BD987045AB8E6A7F91B45C6987A24"
    "F8A6441A99C7257B3A6486D85B05E7B9"
    "8CD2306EEDB3510F4E10F2AC2F7193CD"
    "114FADF3702ECC92D38D6F31B2EC0E50"
    "AFF1134DCE90722C6D33D18F0C52B0EE"
    "326C8ED0530DEFB1F0AE4C1291CF2D73"
    "CA947628ABF517490856B4EA6937D58B"
    "5709EBB536688AD495CB2977F4AA4816"
    "E9B7550B88D6346A2B7597C94A14F6A8"
    "742AC896154BA9F7B6E80A54D7896B35"
)

# A list indexes faster than bytes (no int object per lookup): this loop is the cipher's only
# per-byte work, so it is worth the 2 KiB.
_CRC: Final = list(CRC_TABLE)


def checksum(data: bytes | bytearray | memoryview, ck: int = 0) -> int:
    """Continue the crosecrypt checksum ``ck`` over ``data`` (``ck = T[byte ^ ck]`` per byte)."""
    crc = _CRC
    for byte in data:
        ck = crc[byte ^ ck]
    return ck


def _header_checksum(h: int) -> int:
    """Checksum over the 5 bytes of the plain 40-bit header ``h``."""
    crc = _CRC
    ck = crc[h & 0xFF]
    ck = crc[((h >> 8) & 0xFF) ^ ck]
    ck = crc[((h >> 16) & 0xFF) ^ ck]
    ck = crc[((h >> 24) & 0xFF) ^ ck]
    return crc[((h >> 32) & 0xFF) ^ ck]


# ---------------------------------------------------------------------------------------------
# Key table


def _s32(x: int) -> int:
    x &= 0xFFFFFFFF
    return x - 0x100000000 if x & 0x80000000 else x


def _div16(s: int) -> int:
    # C integer division by 0x10000: truncates toward zero.
    q = abs(s) >> 16
    return -q if s < 0 else q


def build_key_table(seed: int = DEFAULT_SEED) -> tuple[tuple[int, ...], ...]:
    """Return the signed key table ``R[16][2048]`` of docs/protocol.md §3.2 for ``seed``.

    Generators BC, AC, MY, VC (row ``i`` uses ``i & 3``) each keep their own state across
    rows. A drawn value is rejected while it equals one of the first ``j`` entries of row 0
    (the original checks row 0 whatever the row: a quirk that changes 12 of the 16 rows).
    """
    states = [_s32(seed)] * 4

    def draw(gen: int) -> int:
        s = states[gen]
        if gen == 0:  # BC
            s = _s32(s * 0x08088405 + 1)
            value = _div16(s)
        elif gen == 1:  # AC
            s = (s * 0x41C64E6D + 12345) & 0x7FFFFFFF
            value = s
        elif gen == 2:  # MY
            s = _s32(s * 0x41C64E6D + 12345)
            value = _div16(s)
        else:  # VC
            s = (s * 0x343FD + 0x269EC3) & 0x7FFFFFFF
            value = _div16(s)
        states[gen] = s
        return value

    row0_index: dict[int, int] = {}  # value -> its column in row 0 (row 0 has no duplicates)
    rows: list[tuple[int, ...]] = []
    for i in range(16):
        gen = i & 3
        row: list[int] = []
        for j in range(2048):
            while True:
                value = draw(gen)
                seen_at = row0_index.get(value)
                if seen_at is None or seen_at >= j:
                    break
            if i == 0:
                row0_index[value] = j
            row.append(value)
        rows.append(tuple(row))
    return tuple(rows)


# Sub-fields of the 40-bit header: (width, position in plain H, server->client wire position,
# client->server wire position). docs/protocol.md §3.2, "Scrambled header layouts".
_SUBFIELDS: Final = (
    (3, 0, 32, 6),  # L1
    (3, 3, 0, 18),  # L2
    (3, 6, 12, 23),  # L3
    (2, 9, 28, 38),  # L4
    (3, 11, 23, 12),  # C1
    (3, 14, 18, 0),  # C2
    (3, 17, 6, 32),  # C3
    (2, 20, 38, 28),  # C4
    (3, 22, 3, 35),  # T1
    (3, 25, 35, 3),  # T2
    (3, 28, 15, 9),  # T3
    (2, 31, 21, 26),  # T4
    (2, 33, 26, 30),  # EA1
    (2, 35, 30, 21),  # EA2
    (3, 37, 9, 15),  # E1
)
_TAV_LOW, _TAV_HIGH = 22, 33  # plain bit range [22, 33) holds tav
_TAV: Final = 0x100  # the constant the C++ encoders use
_EAV: Final = 4
_EV_SERVER: Final = (_TAV + _EAV) & 7  # = 4; client->server encoders send 0
_EV_CLIENT: Final = 0


@dataclass(frozen=True, slots=True)
class _Layout:
    """Precomputed header tables for one direction (one scrambled layout)."""

    # Decoding: per wire byte k, byte value -> plain header bits (non-tav fields only) and ->
    # tav bits (shifted down to bit 0).
    dec: tuple[tuple[int, ...], ...]
    dec_tav: tuple[tuple[int, ...], ...]
    # Encoding: per byte k of (len | cmd << 11) -> wire bits; plus every other wire bit, fixed
    # because tav/eav/ev are constants (already XORed with the header key).
    enc: tuple[tuple[int, ...], ...]
    enc_const: int
    h_const: int  # tav/eav/ev bits of the plain header used for encoding
    client_to_server: bool


def _bit_map(client_to_server: bool) -> list[tuple[int, int]]:
    """(plain bit, wire bit) for all 40 bits of one layout."""
    pairs: list[tuple[int, int]] = []
    for width, plain_pos, s2c_pos, c2s_pos in _SUBFIELDS:
        wire_pos = c2s_pos if client_to_server else s2c_pos
        pairs.extend((plain_pos + b, wire_pos + b) for b in range(width))
    assert sorted(p for p, _ in pairs) == list(range(40))
    assert sorted(w for _, w in pairs) == list(range(40))
    return pairs


def _build_layout(client_to_server: bool, header_key: Sequence[int]) -> _Layout:
    bit_map = _bit_map(client_to_server)
    dec = [[0] * 256 for _ in range(5)]
    dec_tav = [[0] * 256 for _ in range(5)]
    enc = [[0] * 256 for _ in range(3)]
    for plain_bit, wire_bit in bit_map:
        k, j = divmod(wire_bit, 8)
        is_tav = _TAV_LOW <= plain_bit < _TAV_HIGH
        for value in range(256):
            if value >> j & 1:
                if is_tav:
                    dec_tav[k][value] |= 1 << (plain_bit - _TAV_LOW)
                else:
                    dec[k][value] |= 1 << plain_bit
        if plain_bit < 22:  # len and cmd: the only header fields that vary when encoding
            pk, pj = divmod(plain_bit, 8)
            for value in range(256):
                if value >> pj & 1:
                    enc[pk][value] |= 1 << wire_bit

    ev = _EV_CLIENT if client_to_server else _EV_SERVER
    h_const = _TAV << 22 | _EAV << 33 | ev << 37
    tav_mask = 0
    fixed = 0
    for plain_bit, wire_bit in bit_map:
        if h_const >> plain_bit & 1:
            fixed |= 1 << wire_bit
        if _TAV_LOW <= plain_bit < _TAV_HIGH:
            tav_mask |= 1 << wire_bit
    key40 = int.from_bytes(bytes(header_key), "little")
    # Non-tav bits are XORed with the key of column tav; tav bits go out in clear.
    enc_const = ((fixed ^ key40) & ~tav_mask & ((1 << 40) - 1)) | (fixed & tav_mask)
    return _Layout(
        dec=tuple(map(tuple, dec)),
        dec_tav=tuple(map(tuple, dec_tav)),
        enc=tuple(map(tuple, enc)),
        enc_const=enc_const,
        h_const=h_const,
        client_to_server=client_to_server,
    )


@dataclass(frozen=True, slots=True)
class KeyTables:
    """Everything crosecrypt needs, derived once from the key table ``R``."""

    table: tuple[tuple[int, ...], ...]  # signed R[16][2048]
    # header key bytes R[i][tav] & 0xFF for i = 0..4, one tuple per byte index, indexed by tav
    header_keys: tuple[tuple[int, ...], ...]
    # diagonal d, column c (0..4095) -> R[(c - d) & 15][c & 0x7FF] & 0xFF
    diagonals: tuple[bytes, ...]
    server_layout: _Layout  # server->client
    client_layout: _Layout  # client->server


@cache
def key_tables() -> KeyTables:
    """Return the crosecrypt tables for the fixed seed, built on first use (once per process)."""
    table = build_key_table(DEFAULT_SEED)
    low = [bytes(v & 0xFF for v in row) for row in table]
    header_keys = tuple(tuple(low[i]) for i in range(5))
    diagonals = tuple(bytes(low[(c - d) & 15][c & 0x7FF] for c in range(4096)) for d in range(16))
    key_at_tav = [low[i][_TAV] for i in range(5)]
    return KeyTables(
        table=table,
        header_keys=header_keys,
        diagonals=diagonals,
        server_layout=_build_layout(False, key_at_tav),
        client_layout=_build_layout(True, key_at_tav),
    )


def _bad_checksum(type_value: int) -> RemoteProtocolError:
    return RemoteProtocolError(
        f"checksum mismatch in encrypted packet (type 0x{type_value:04X})", kind="bad_checksum"
    )


_FIRST_FIVE: Final = struct.Struct("<IB").unpack_from
#: Entries per header cache before it is emptied. Honest peers use a small set of headers (the
#: C++ encoders fix tav/eav/ev, so a header depends only on size and type); a peer sending
#: random headers only makes us recompute, it cannot grow memory.
_HEADER_CACHE_SIZE: Final = 4096


class RoseCryptCodec:
    """The crosecrypt codec for one side of a connection.

    ``server_side=True`` (the gateway) decodes client->server packets and encodes
    server->client ones; ``server_side=False`` (bots, tests) is the mirror. Instances are
    shared by every connection with the same settings (see :func:`get_codec`); their only
    state is two bounded caches of decoded and encoded headers.
    """

    __slots__ = (
        "_decode_cache",
        "_decode_is_client",
        "_diagonals",
        "_enc",
        "_enc_const",
        "_enc_keystream",
        "_encode_cache",
        "_h_const",
        "_hk",
        "_in",
        "server_side",
    )

    name: Final = "rosecrypt"
    clear_body: Final = False

    def __init__(self, *, server_side: bool) -> None:
        tables = key_tables()
        self.server_side = server_side
        incoming = tables.client_layout if server_side else tables.server_layout
        outgoing = tables.server_layout if server_side else tables.client_layout
        self._in = (incoming.dec, incoming.dec_tav)
        self._decode_is_client = incoming.client_to_server
        self._hk = tables.header_keys
        self._diagonals = tables.diagonals
        self._enc = outgoing.enc
        self._enc_const = outgoing.enc_const
        self._h_const = outgoing.h_const
        # The payload key stream of every encoded packet (tav, eav constant) from byte 6 on.
        self._enc_keystream = tables.diagonals[(_TAV - _EAV) & 15][
            _TAV + HEADER_SIZE : _TAV + MAX_PACKET_SIZE
        ]
        # wire bytes 0-4 -> (size, state); (size | type << 11) -> (wire bytes 0-4, header ck)
        self._decode_cache: dict[tuple[int, int], tuple[int, int]] = {}
        self._encode_cache: dict[int, tuple[int, int]] = {}

    def decode_header(self, buf: bytes | bytearray, offset: int) -> tuple[int, int]:
        """Unscramble the header at ``offset``; return (wire length, state).

        ``state`` is the plain 40-bit header with the header's checksum in bits 40-47.
        """
        key = _FIRST_FIVE(buf, offset)
        cached = self._decode_cache.get(key)
        if cached is not None:
            return cached
        (d0, d1, d2, d3, d4), (t0, t1, t2, t3, t4) = self._in
        b0 = buf[offset]
        b1 = buf[offset + 1]
        b2 = buf[offset + 2]
        b3 = buf[offset + 3]
        b4 = buf[offset + 4]
        tav = t0[b0] | t1[b1] | t2[b2] | t3[b3] | t4[b4]
        k0, k1, k2, k3, k4 = self._hk
        h = (
            d0[b0 ^ k0[tav]]
            | d1[b1 ^ k1[tav]]
            | d2[b2 ^ k2[tav]]
            | d3[b3 ^ k3[tav]]
            | d4[b4 ^ k4[tav]]
            | tav << 22
        )
        result = (h & 0x7FF, h | _header_checksum(h) << 40)
        cache = self._decode_cache
        if len(cache) >= _HEADER_CACHE_SIZE:
            cache.clear()
        cache[key] = result
        return result

    def decode_body(
        self, buf: bytes | bytearray, offset: int, size: int, state: int
    ) -> tuple[int, bytes]:
        """Decrypt and verify the packet at ``offset``; return (type value, plain payload)."""
        if self._decode_is_client:
            # Client encoders may pad by ``ev`` bytes (always 0 from the C++ client).
            n = (size - ((state >> 37) & 7)) & 0xFFFF
            if n < HEADER_SIZE or n > size:
                raise bad_size(n)
        else:
            n = size
        type_value = (state >> 11) & 0x7FF
        tav = (state >> 22) & 0x7FF
        start = tav + HEADER_SIZE
        length = n - HEADER_SIZE
        keystream = self._diagonals[(tav - (state >> 33)) & 15][start : start + length]
        payload = (
            int.from_bytes(buf[offset + HEADER_SIZE : offset + n], "little")
            ^ int.from_bytes(keystream, "little")
        ).to_bytes(length, "little")
        if checksum(payload, state >> 40) != buf[offset + 5]:
            raise _bad_checksum(type_value)
        return type_value, payload

    def encode(self, type_value: int, payload: bytes) -> bytes:
        """Encrypt one packet with the constants of the C++ encoders (tav 0x100, eav 4)."""
        length = len(payload)
        lc = (HEADER_SIZE + length) | type_value << 11
        # lc identifies (size, type) only while the size fits its 11 bits; cached entries all
        # have a valid type, so an invalid type never hits and the slow path raises.
        cached = self._encode_cache.get(lc) if length <= MAX_PAYLOAD_SIZE else None
        if cached is None:
            cached = self._encode_header(type_value, length)
        wire, header_ck = cached
        body = (
            int.from_bytes(payload, "little")
            ^ int.from_bytes(self._enc_keystream[:length], "little")
        ).to_bytes(length, "little")
        return (wire | checksum(payload, header_ck) << 40).to_bytes(HEADER_SIZE, "little") + body

    def _encode_header(self, type_value: int, length: int) -> tuple[int, int]:
        n = HEADER_SIZE + length
        if n > MAX_PACKET_SIZE:
            raise LocalProtocolError(
                f"packet of {n} bytes exceeds the maximum of {MAX_PACKET_SIZE}", kind="too_large"
            )
        if not 0 <= type_value <= 0x7FF:
            raise LocalProtocolError(
                f"type value 0x{type_value:X} does not fit the cipher's 11-bit field",
                kind="bad_type",
            )
        lc = n | type_value << 11
        e0, e1, e2 = self._enc
        wire = (e0[lc & 0xFF] | e1[(lc >> 8) & 0xFF] | e2[lc >> 16]) ^ self._enc_const
        result = (wire, _header_checksum(lc | self._h_const))
        cache = self._encode_cache
        if len(cache) >= _HEADER_CACHE_SIZE:
            cache.clear()
        cache[lc] = result
        return result


# ---------------------------------------------------------------------------------------------
# Codec selection and whole-packet helpers


@cache
def get_codec(name: str, *, server_side: bool) -> FrameCodec:
    """Return the (stateless, shared) codec ``"plain"`` or ``"rosecrypt"`` for one side.

    ``server_side=True`` reads client->server packets and writes server->client ones.
    Raises ValueError for an unknown cipher name.
    """
    if name == "plain":
        return PlainCodec()
    if name == "rosecrypt":
        return RoseCryptCodec(server_side=server_side)
    raise ValueError(f"unknown cipher {name!r}; expected one of {CIPHER_NAMES}")


def _split_plain(plain: bytes) -> tuple[int, bytes]:
    if len(plain) < HEADER_SIZE:
        raise LocalProtocolError(f"{len(plain)} bytes cannot hold a header", kind="too_large")
    size, type_value = struct.unpack_from("<HH", plain)
    if size != len(plain):
        raise LocalProtocolError(
            f"header says {size} bytes but the packet has {len(plain)}", kind="too_large"
        )
    return type_value, plain[HEADER_SIZE:]


def _decode_whole(codec: FrameCodec, wire: bytes) -> bytes:
    if len(wire) < HEADER_SIZE:
        raise RemoteProtocolError(f"{len(wire)} bytes cannot hold a header", kind="bad_size")
    buf = bytearray(wire)
    size, state = codec.decode_header(buf, 0)
    if size != len(wire):
        raise RemoteProtocolError(
            f"header says {size} bytes but the packet has {len(wire)}", kind="bad_size"
        )
    if size < HEADER_SIZE:
        raise bad_size(size)
    type_value, payload = codec.decode_body(buf, 0, size, state)
    return pack_frame(type_value, payload)


def _whole(server_side: bool, encode: bool) -> Callable[[bytes], bytes]:
    def run(data: bytes) -> bytes:
        codec = get_codec("rosecrypt", server_side=server_side)
        if encode:
            return codec.encode(*_split_plain(data))
        return _decode_whole(codec, data)

    return run


def encode_server_packet(plain: bytes) -> bytes:
    """Encrypt one complete plain packet sent server->client (osIROSE ``encodeServerPacket``)."""
    return _whole(True, True)(plain)


def decode_client_packet(wire: bytes) -> bytes:
    """Decrypt one complete packet received from a client (``decodeClientHeader`` + ``Body``).

    Returns the plain packet (size, type, crc 0, payload); RemoteProtocolError if corrupt.
    """
    return _whole(True, False)(wire)


def encode_client_packet(plain: bytes) -> bytes:
    """Encrypt one complete plain packet sent client->server (osIROSE ``encodeClientPacket``)."""
    return _whole(False, True)(plain)


def decode_server_packet(wire: bytes) -> bytes:
    """Decrypt one complete packet received from a server (``decodeServerHeader`` + ``Body``)."""
    return _whole(False, False)(wire)
