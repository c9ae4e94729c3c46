"""Catalog prices for carts, kept in each API process's memory with a bound on their staleness.

A cart change needs the price of every sku in the cart; asking PostgreSQL for them on every
add was one more round trip per request. `CatalogCache` remembers each sku's price (or that it
is not sold) and serves it only while it is known to be fresh: `api/catalog_watch.py` drops the
whole cache when the catalog changes (its NOTIFY, or a catalog version that moved without one),
and confirms freshness by reading the version every half of COMMERCE_CATALOG_CACHE_MAX_STALE_S.
When freshness was last confirmed longer ago than that (no listener, PostgreSQL unreachable), a
lookup reads PostgreSQL, so no price or sold status is served more than the bound after the
change committed (docs/checkout.md). Checkout never reads here: it prices from PostgreSQL.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Literal, Protocol

from prometheus_client import Counter

from domain.cart import CatalogPrice

LOOKUPS = Counter(
    "commerce_catalog_cache_lookups_total",
    "Skus looked up for carts: served from memory (hit), read from PostgreSQL and kept (miss),"
    " or read from PostgreSQL because freshness is not confirmed (bypass)",
    ["result"],
)
Lookup = Literal["hit", "miss", "bypass"]


class PriceSource(Protocol):
    async def prices(self, skus: Iterable[str]) -> dict[str, CatalogPrice]:
        """The current price of each sku still sold, by sku."""
        ...


class CatalogCache:
    """Prices by sku, at most `size` skus (least recently used first out; 0 keeps none), served
    while freshness was confirmed within `max_stale_s` seconds, else read from `catalog`."""

    def __init__(
        self,
        catalog: PriceSource,
        size: int,
        max_stale_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._catalog = catalog
        self._size = size
        self._max_stale_s = max_stale_s
        self._clock = clock
        self._entries: OrderedDict[str, CatalogPrice | None] = OrderedDict()
        self._generation = 0  # moves with every drop: a read begun before it is not kept
        self._confirmed_at: float | None = None

    @property
    def max_stale_s(self) -> float:
        return self._max_stale_s

    def serving(self) -> bool:
        """Whether entries may be served: every catalog change committed more than
        `max_stale_s` seconds ago is known to have dropped them."""
        confirmed = self._confirmed_at
        return (
            self._size > 0
            and confirmed is not None
            and self._clock() - confirmed <= self._max_stale_s
        )

    async def prices(self, skus: Iterable[str]) -> dict[str, CatalogPrice]:
        """As `Catalog.prices`: the price of each sku still sold, by sku."""
        wanted = set(skus)
        if not wanted:
            return {}
        if not self.serving():
            _count("bypass", len(wanted))
            return await self._catalog.prices(wanted)
        found: dict[str, CatalogPrice] = {}
        missing: list[str] = []
        for sku in wanted:
            if sku not in self._entries:
                missing.append(sku)
                continue
            self._entries.move_to_end(sku)
            if (price := self._entries[sku]) is not None:
                found[sku] = price
        _count("hit", len(wanted) - len(missing))
        if missing:
            _count("miss", len(missing))
            generation = self._generation
            read = await self._catalog.prices(missing)
            found |= read
            if generation == self._generation:  # no change was announced while we read
                for sku in missing:
                    self._keep(sku, read.get(sku))
        return found

    def dropped(self) -> None:
        """The catalog changed (or may have): forget every entry, and any read under way."""
        self._entries.clear()
        self._generation += 1

    def confirmed(self, as_of: float) -> None:
        """Every catalog change committed before `as_of` (this cache's clock) has dropped the
        entries it concerns: serve for `max_stale_s` seconds from then."""
        if self._confirmed_at is None or as_of > self._confirmed_at:
            self._confirmed_at = as_of

    def unconfirmed(self) -> None:
        """Changes can no longer be heard: stop serving, and forget every entry."""
        self._confirmed_at = None
        self.dropped()

    def _keep(self, sku: str, price: CatalogPrice | None) -> None:
        self._entries[sku] = price
        self._entries.move_to_end(sku)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)


def _count(result: Lookup, skus: int) -> None:
    if skus:
        LOOKUPS.labels(result).inc(skus)
