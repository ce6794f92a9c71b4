"""The world sharded by map: which world service owns which maps, and one link per shard.

Strategy: WORLD_SHARDS is a table ``MAPS=ADDRESS;MAPS=ADDRESS...`` (``MAPS`` a comma list of
map ids and ``low-high`` ranges) read once at start-up. A gateway keeps one
:class:`~gateway_world.delivery.WorldLink` per shard, all delivering to the same
:class:`~gateway_world.delivery.Delivery`; :class:`ShardedLinks` answers which link a map's
characters use, and remembers which link each character was entered through, so a request
follows its character without looking at its map again. A world service owns the maps of
WORLD_SERVICE_MAPS (same ``MAPS`` syntax, empty: all) and answers a warp to any other map with
the destination instead of moving the character (``Ack.elsewhere``); the gateway then enters
the character on the owner's link and takes it off the old one (:meth:`WorldRuntime.hand_over
<gateway_world.runtime.WorldRuntime.hand_over>`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from gateway_world.delivery import Delivery, WorldLink, WorldMetrics

#: Largest map id (a u16 on the wire).
MAX_MAP_ID = 0xFFFF


def parse_maps(text: str) -> frozenset[int]:
    """The map ids of ``"1-20,22"`` (ids and inclusive ranges, comma separated); raises
    ValueError saying what is wrong."""
    maps: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            raise ValueError(f"empty map in {text!r}")
        low_text, dash, high_text = part.partition("-")
        try:
            low = int(low_text)
            high = int(high_text) if dash else low
        except ValueError:
            raise ValueError(f"{part!r} is not a map id or a range of them (like 1-20)") from None
        if not 0 <= low <= high <= MAX_MAP_ID:
            raise ValueError(f"{part!r} is not a range of map ids 0 to {MAX_MAP_ID}")
        maps.update(range(low, high + 1))
    return frozenset(maps)


@dataclass(frozen=True, slots=True)
class ShardTable:
    """WORLD_SHARDS read: the address of each shard, in the setting's order, and the shard
    (an index into ``addresses``) of each map listed."""

    addresses: tuple[str, ...]
    by_map: Mapping[int, int] = field(repr=False)

    def shard_of(self, map_id: int) -> int | None:
        """The shard owning ``map_id``, or None when no shard lists it."""
        return self.by_map.get(map_id)

    def maps_of(self, shard: int) -> frozenset[int]:
        """The maps of shard ``shard``."""
        return frozenset(map_id for map_id, owner in self.by_map.items() if owner == shard)


def parse_shards(text: str) -> ShardTable | None:
    """WORLD_SHARDS: None when empty (one world service), else the table; raises ValueError
    saying what is wrong (a map listed twice, an address twice, a bad map list)."""
    text = text.strip()
    if not text:
        return None
    addresses: list[str] = []
    by_map: dict[int, int] = {}
    for entry in text.split(";"):
        entry = entry.strip()
        maps_text, equals, address = (part.strip() for part in entry.partition("="))
        if not equals or not maps_text or not address:
            raise ValueError(f"{entry!r} is not MAPS=ADDRESS (like 1-20,22=127.0.0.1:50061)")
        if address in addresses:
            raise ValueError(f"address {address} is given twice (list all its maps once)")
        shard = len(addresses)
        addresses.append(address)
        for map_id in sorted(parse_maps(maps_text)):
            if map_id in by_map:
                raise ValueError(
                    f"map {map_id} is on two shards ({addresses[by_map[map_id]]} and {address})"
                )
            by_map[map_id] = shard
    return ShardTable(tuple(addresses), by_map)


def validate_shards(value: Any) -> str | None:
    """The WORLD_SHARDS validator (the settings' error names the setting)."""
    if not isinstance(value, str):
        return f"{value!r} is not text"
    try:
        parse_shards(value)
    except ValueError as exc:
        return str(exc)
    return None


def validate_maps(value: Any) -> str | None:
    """The WORLD_SERVICE_MAPS validator (empty: every map)."""
    if not isinstance(value, str):
        return f"{value!r} is not text"
    if value.strip():
        try:
            parse_maps(value)
        except ValueError as exc:
            return str(exc)
    return None


class ShardedLinks:
    """One :class:`WorldLink` per shard of ``table`` (``links[i]`` is the shard at
    ``table.addresses[i]``) and the link each character was entered through."""

    def __init__(self, table: ShardTable, links: Sequence[WorldLink]) -> None:
        if len(links) != len(table.addresses):
            raise ValueError("one link per shard")
        self.table = table
        self.links = tuple(links)
        self._by_character: dict[int, WorldLink] = {}

    def link_for(self, map_id: int) -> WorldLink | None:
        """The link of the shard owning ``map_id`` (None: no shard lists it)."""
        shard = self.table.shard_of(map_id)
        return None if shard is None else self.links[shard]

    def address_of(self, link: WorldLink) -> str:
        """The address of ``link``'s shard."""
        return self.table.addresses[self.links.index(link)]

    def of_character(self, character_id: int) -> WorldLink | None:
        """The link ``character_id`` was entered through (None: not entered)."""
        return self._by_character.get(character_id)

    def entered(self, character_id: int, link: WorldLink) -> None:
        """``character_id`` is on a map of ``link``'s shard now."""
        self._by_character[character_id] = link

    def left(self, character_id: int) -> WorldLink | None:
        """``character_id`` left the world: its link, forgotten."""
        return self._by_character.pop(character_id, None)

    def __iter__(self) -> Iterator[WorldLink]:
        return iter(self.links)


#: Link counters summed over the shards; the delivery's are the gateway's already.
_DELIVERY_METRICS = frozenset({"gateway_world_events", "gateway_world_packets"})


class ShardedWorldMetrics:
    """:class:`WorldMetrics` of every shard's link, summed (the same metric names as one
    world service), plus ``gateway_world_shard_connected{shard}`` (1 while that shard's stream
    is open and replayed) and ``gateway_world_shard_requests_dropped_total{shard}``."""

    def __init__(self, links: ShardedLinks, delivery: Delivery) -> None:
        self._links = links
        self._per_link = [WorldMetrics(link, delivery) for link in links]

    def describe(self) -> list[Metric]:
        """Nothing to describe ahead (no registry-time collection)."""
        return []

    def collect(self) -> list[Metric]:
        """The current values."""
        totals: dict[str, Metric] = {}
        for metrics in self._per_link:
            for metric in metrics.collect():
                known = totals.get(metric.name)
                if known is None:
                    totals[metric.name] = metric
                elif metric.name not in _DELIVERY_METRICS:
                    for index, (mine, theirs) in enumerate(
                            zip(known.samples, metric.samples, strict=True)):
                        known.samples[index] = mine._replace(value=mine.value + theirs.value)
        connected = GaugeMetricFamily(
            "gateway_world_shard_connected",
            "1 while the world stream of the shard is open (its characters put back).",
            labels=["shard"])
        dropped = CounterMetricFamily(
            "gateway_world_shard_requests_dropped",
            "Fire-and-forget world requests dropped, by shard.", labels=["shard"])
        for address, link in zip(self._links.table.addresses, self._links.links, strict=True):
            connected.add_metric([address], 1.0 if link.connected else 0.0)
            dropped.add_metric([address], link.dropped_requests)
        return [*totals.values(), connected, dropped]
