"""The catalog price cache alone: what it serves, when it stops serving, what a drop forgets."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from api.catalog_cache import CatalogCache
from domain.cart import CatalogPrice

BOUND_S = 1.0


class Shelf:
    """The catalog as a dict, counting the skus asked for; `hold` pauses a read mid-way."""

    def __init__(self, **prices: int) -> None:
        self.on_sale = dict(prices)
        self.asked: list[str] = []
        self.hold: asyncio.Event | None = None

    async def prices(self, skus: Iterable[str]) -> dict[str, CatalogPrice]:
        wanted = sorted(skus)
        self.asked += wanted
        found = {s: CatalogPrice(sku=s, name=s, unit_price=self.on_sale[s], currency="USD")
                 for s in wanted if s in self.on_sale}  # fmt: skip
        if self.hold is not None:
            await self.hold.wait()
        return found


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _cache(shelf: Shelf, clock: Clock, size: int = 100) -> CatalogCache:
    return CatalogCache(shelf, size, BOUND_S, clock)


def _unit_prices(found: dict[str, CatalogPrice]) -> dict[str, int]:
    return {sku: price.unit_price for sku, price in found.items()}


async def test_a_confirmed_cache_serves_prices_and_unsold_skus_from_memory() -> None:
    shelf, clock = Shelf(MUG=1000), Clock()
    cache = _cache(shelf, clock)
    cache.confirmed(clock.now)

    first = await cache.prices(["MUG", "GONE"])
    shelf.on_sale["MUG"] = 1  # unseen by the cache: no drop announced it
    again = await cache.prices(["MUG", "GONE"])

    assert _unit_prices(first) == _unit_prices(again) == {"MUG": 1000}
    assert sorted(shelf.asked) == ["GONE", "MUG"]


async def test_a_drop_forgets_every_price() -> None:
    shelf, clock = Shelf(MUG=1000), Clock()
    cache = _cache(shelf, clock)
    cache.confirmed(clock.now)
    await cache.prices(["MUG"])

    shelf.on_sale["MUG"] = 1200
    cache.dropped()

    assert _unit_prices(await cache.prices(["MUG"])) == {"MUG": 1200}


async def test_nothing_is_served_past_the_bound_since_freshness_was_last_confirmed() -> None:
    shelf, clock = Shelf(MUG=1000), Clock()
    cache = _cache(shelf, clock)
    cache.confirmed(clock.now)
    await cache.prices(["MUG"])
    shelf.on_sale["MUG"] = 1200  # a change nobody heard of

    clock.now += BOUND_S
    assert _unit_prices(await cache.prices(["MUG"])) == {"MUG": 1000}  # within the bound
    clock.now += 0.001
    assert not cache.serving()
    assert _unit_prices(await cache.prices(["MUG"])) == {"MUG": 1200}


async def test_an_unconfirmed_cache_reads_the_catalog_every_time_and_keeps_nothing() -> None:
    shelf, clock = Shelf(MUG=1000), Clock()
    cache = _cache(shelf, clock)

    await cache.prices(["MUG"])
    cache.confirmed(clock.now)
    await cache.prices(["MUG"])
    cache.unconfirmed()
    await cache.prices(["MUG"])

    assert shelf.asked == ["MUG", "MUG", "MUG"]


async def test_a_read_under_way_when_the_catalog_changes_is_not_kept() -> None:
    shelf, clock = Shelf(MUG=1000), Clock()
    cache = _cache(shelf, clock)
    cache.confirmed(clock.now)
    shelf.hold = asyncio.Event()

    reading = asyncio.create_task(cache.prices(["MUG"]))
    await asyncio.sleep(0)  # the read has the old price and waits
    shelf.on_sale["MUG"] = 1200
    cache.dropped()
    shelf.hold.set()
    assert _unit_prices(await reading) == {"MUG": 1000}  # it began before the change

    shelf.hold = None
    assert _unit_prices(await cache.prices(["MUG"])) == {"MUG": 1200}


async def test_the_cache_keeps_at_most_its_size_least_recently_used_first_out() -> None:
    shelf, clock = Shelf(A=1, B=2, C=3), Clock()
    cache = _cache(shelf, clock, size=2)
    cache.confirmed(clock.now)

    await cache.prices(["A"])
    await cache.prices(["B"])
    await cache.prices(["A"])  # A used last: B goes first
    await cache.prices(["C"])
    shelf.asked.clear()
    await cache.prices(["A", "B", "C"])

    assert shelf.asked == ["B"]


async def test_size_zero_keeps_nothing() -> None:
    shelf, clock = Shelf(MUG=1000), Clock()
    cache = _cache(shelf, clock, size=0)
    cache.confirmed(clock.now)

    await cache.prices(["MUG"])
    await cache.prices(["MUG"])

    assert shelf.asked == ["MUG", "MUG"]
