"""The catalog price cache kept fresh on the real PostgreSQL: the catalog version and its NOTIFY
(migration 0063), a notification lost, the listener's connection lost, this process's own write.

Waits below are for something to happen (with a generous deadline so a busy machine cannot fail
them); the staleness bound itself is tested on the cache's clock, never on the wall clock.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import asyncpg
import pytest

from api.catalog_cache import CatalogCache
from api.catalog_watch import CatalogWatch
from eventstore.catalog import Catalog
from eventstore.catalog_version import CHANNEL, catalog_version

DEADLINE_S = 30.0
NEVER_S = 3600.0  # a bound so long the version check never runs during a test


@dataclass
class Watched:
    cache: CatalogCache
    watch: CatalogWatch
    connections: list[asyncpg.Connection]


@pytest.fixture
async def sku(pool: asyncpg.Pool) -> str:
    sku = f"W-{uuid.uuid4().hex[:10]}"
    await Catalog(pool).upsert_product(sku, "Watched item", 1000, "USD", 10)
    return sku


@pytest.fixture
async def watched(postgres_url: str, pool: asyncpg.Pool) -> AsyncIterator[Watched]:
    """A cache as one API process holds it, its watch open (not running: tests drive it)."""
    connections: list[asyncpg.Connection] = []

    async def connect() -> asyncpg.Connection:
        connections.append(await asyncpg.connect(postgres_url))
        return connections[-1]

    cache = CatalogCache(Catalog(pool), 100, NEVER_S)
    watch = CatalogWatch(cache, connect)
    await watch.open()
    yield Watched(cache, watch, connections)
    await watch.close()


async def _price(cache: CatalogCache, sku: str) -> int | None:
    price = (await cache.prices([sku])).get(sku)
    return price.unit_price if price else None


async def _until(condition: Callable[[], object]) -> None:
    async with asyncio.timeout(DEADLINE_S):
        while not condition():
            await asyncio.sleep(0.01)


async def test_a_price_changed_by_another_process_is_dropped_by_its_notification(
    watched: Watched, pool: asyncpg.Pool, sku: str
) -> None:
    assert await _price(watched.cache, sku) == 1000
    elsewhere = Catalog(pool)  # another process: this cache hears of it only by NOTIFY

    await elsewhere.upsert_product(sku, "Watched item", 1250, "USD", 10)

    async with asyncio.timeout(DEADLINE_S):
        while await _price(watched.cache, sku) != 1250:
            await asyncio.sleep(0.01)


async def test_a_product_discontinued_elsewhere_stops_being_sold_in_the_cache(
    watched: Watched, pool: asyncpg.Pool, sku: str
) -> None:
    assert await _price(watched.cache, sku) == 1000

    await Catalog(pool).discontinue(sku)

    async with asyncio.timeout(DEADLINE_S):
        while await _price(watched.cache, sku) is not None:
            await asyncio.sleep(0.01)


async def test_a_lost_notification_is_caught_by_the_next_version_check(
    watched: Watched, pool: asyncpg.Pool, sku: str
) -> None:
    await watched.connections[-1].execute(f"UNLISTEN {CHANNEL}")  # from now on nothing is heard
    # A notification read before the UNLISTEN (the product's own creation) is handled after it
    # returns and drops the cache: let it, then fill the cache again.
    await asyncio.sleep(0.05)
    assert await _price(watched.cache, sku) == 1000

    await Catalog(pool).upsert_product(sku, "Watched item", 1250, "USD", 10)
    await asyncio.sleep(0.2)
    assert await _price(watched.cache, sku) == 1000  # stale: only a notification would tell
    await watched.watch.check()

    assert await _price(watched.cache, sku) == 1250


async def test_this_processs_own_write_drops_its_cache_before_it_answers(
    watched: Watched, pool: asyncpg.Pool, sku: str
) -> None:
    await watched.connections[-1].execute(f"UNLISTEN {CHANNEL}")
    assert await _price(watched.cache, sku) == 1000
    here = Catalog(pool, changed=watched.cache.dropped)

    await here.upsert_product(sku, "Watched item", 900, "USD", 10)

    assert await _price(watched.cache, sku) == 900


async def test_a_lost_listener_connection_stops_the_cache_and_a_reconnect_drops_it(
    postgres_url: str, pool: asyncpg.Pool, sku: str
) -> None:
    connections: list[asyncpg.Connection] = []

    async def connect() -> asyncpg.Connection:
        connections.append(await asyncpg.connect(postgres_url))
        return connections[-1]

    cache = CatalogCache(Catalog(pool), 100, 0.2)
    running = asyncio.create_task(CatalogWatch(cache, connect).run())
    try:
        await _until(cache.serving)
        assert await _price(cache, sku) == 1000
        listener = connections[-1].get_server_pid()

        await pool.execute("SELECT pg_terminate_backend($1)", listener)
        await _until(lambda: not cache.serving())
        await Catalog(pool).upsert_product(sku, "Watched item", 1300, "USD", 10)
        assert await _price(cache, sku) == 1300  # not serving: read from PostgreSQL

        await _until(lambda: len(connections) > 1 and cache.serving())
        assert await _price(cache, sku) == 1300
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
    assert all(conn.is_closed() for conn in connections)
    assert not cache.serving()


async def test_the_catalog_version_moves_once_per_committed_transaction_and_is_notified(
    postgres_url: str, pool: asyncpg.Pool, sku: str
) -> None:
    heard: list[str] = []
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.add_listener(CHANNEL, lambda *args: heard.append(args[-1]))
        before = await catalog_version(conn)
        async with pool.acquire() as writer:
            async with writer.transaction():
                await writer.execute("UPDATE products SET price = 1 WHERE sku = $1", sku)
                await writer.execute("UPDATE products SET price = 2 WHERE sku = $1", sku)
                assert await catalog_version(conn) == before  # not before it commits
            with pytest.raises(asyncpg.CheckViolationError):
                async with writer.transaction():
                    await writer.execute("UPDATE products SET price = 3 WHERE sku = $1", sku)
                    await writer.execute("UPDATE products SET price = -1 WHERE sku = $1", sku)
        await _until(lambda: heard)

        assert await catalog_version(conn) == before + 1
        assert heard == [str(before + 1)]
    finally:
        await conn.close()
