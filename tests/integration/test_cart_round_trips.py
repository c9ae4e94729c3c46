"""Round trips per add-to-cart, counted on the real Redis and PostgreSQL (ceilings, never time).

A Redis round trip is one write to the server's socket followed by its replies: a pipeline or a
script is one, however many commands it carries. PostgreSQL statements are counted by asyncpg's
query logger on the pool the catalog reads through.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import redis.asyncio as redis
from fastapi import FastAPI
from prometheus_client import REGISTRY

from api.cart_store import CartStore
from api.catalog_cache import CatalogCache
from api.catalog_watch import CatalogWatch
from commerce.settings import Settings
from commerce.tokens import mint_token
from eventstore.catalog import Catalog

ADDS = 10


class _Counted(redis.Connection):
    """A real Redis connection that counts what it sends: each send is one round trip."""

    sent = 0

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        type(self).sent += 1
        await super().send_packed_command(command, check_health)


@pytest.fixture
async def counted_redis(redis_url: str) -> AsyncIterator[redis.Redis]:
    pool = redis.ConnectionPool.from_url(
        redis_url, decode_responses=True, connection_class=_Counted
    )
    client = redis.Redis(connection_pool=pool)
    yield client
    await client.aclose()


@pytest.fixture
async def statements(postgres_url: str) -> AsyncIterator[tuple[asyncpg.Pool, list[str]]]:
    seen: list[str] = []

    async def log(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(lambda record: seen.append(record.query))

    pool = await asyncpg.create_pool(postgres_url, min_size=1, max_size=2, init=log)
    assert pool is not None
    yield pool, seen
    await pool.close()


@pytest.fixture
async def sku(pool: asyncpg.Pool) -> str:
    sku = f"RT-{uuid.uuid4().hex[:10]}"
    await Catalog(pool).upsert_product(sku, "Round-trip item", 300, "USD", 10)
    return sku


def _settings() -> Settings:
    return Settings(jwt_secret="x" * 40, cart_ttl_s=600)


async def test_an_add_to_a_cart_this_process_wrote_last_is_one_redis_round_trip(
    counted_redis: redis.Redis, pool: asyncpg.Pool, sku: str
) -> None:
    store = CartStore(counted_redis, Catalog(pool), _settings())
    cart = await store.create(f"rt-{uuid.uuid4().hex[:8]}")
    await store.add_item(cart.id, cart.customer_id, sku, 1)  # loads the script once per server

    before = _Counted.sent
    for _ in range(ADDS):
        await store.add_item(cart.id, cart.customer_id, sku, 1)

    assert (_Counted.sent - before) / ADDS <= 1
    assert (await store.owned(cart.id, cart.customer_id)).items[0].quantity == ADDS + 1


async def test_an_add_to_a_cart_another_process_wrote_last_is_two_round_trips(
    counted_redis: redis.Redis, pool: asyncpg.Pool, sku: str
) -> None:
    one = CartStore(counted_redis, Catalog(pool), _settings())
    two = CartStore(counted_redis, Catalog(pool), _settings())
    cart = await one.create(f"rt-{uuid.uuid4().hex[:8]}")
    await one.add_item(cart.id, cart.customer_id, sku, 1)

    before = _Counted.sent
    for turn in range(ADDS):  # each finds the other's write: its document is stale or absent
        await (two if turn % 2 == 0 else one).add_item(cart.id, cart.customer_id, sku, 1)

    assert (_Counted.sent - before) / ADDS <= 2
    assert (await one.owned(cart.id, cart.customer_id)).items[0].quantity == ADDS + 1


async def test_an_add_with_a_watched_price_cache_asks_postgresql_nothing(
    counted_redis: redis.Redis,
    statements: tuple[asyncpg.Pool, list[str]],
    postgres_url: str,
    sku: str,
) -> None:
    counted_pool, seen = statements
    cache = CatalogCache(Catalog(counted_pool), 100, 60.0)
    watch = CatalogWatch(cache, lambda: asyncpg.connect(postgres_url))
    await watch.open()
    try:
        store = CartStore(counted_redis, Catalog(counted_pool), _settings(), prices=cache)
        cart = await store.create(f"rt-{uuid.uuid4().hex[:8]}")
        await store.add_item(cart.id, cart.customer_id, sku, 1)  # the first asks for the price

        seen.clear()
        for _ in range(ADDS):
            await store.add_item(cart.id, cart.customer_id, sku, 1)
    finally:
        await watch.close()

    assert seen == []


async def test_an_add_to_cart_request_costs_three_redis_round_trips_and_no_price_query(
    app: FastAPI, http: Any, settings: Settings, sku: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write budgets (per IP, per customer: one script each, api/limits.py) and the cart;
    the price comes from the API process's cache."""
    sent = 0
    send = redis.Connection.send_packed_command

    async def counted(self: redis.Connection, command: Any, check_health: bool = True) -> None:
        nonlocal sent
        sent += 1
        await send(self, command, check_health)

    async with asyncio.timeout(30):
        while not app.state.resources.catalog_cache.serving():
            await asyncio.sleep(0.01)
    headers = {"Authorization": f"Bearer {mint_token(settings, uuid.uuid4().hex, ['customer'])}"}
    cart = (await http.post("/api/v1/cart/", json={}, headers=headers)).json()
    url = f"/api/v1/cart/{cart['id']}/items"
    assert (await http.post(url, json={"sku": sku, "quantity": 1}, headers=headers)).is_success
    read_from_postgresql = _lookups("miss") + _lookups("bypass")
    monkeypatch.setattr(redis.Connection, "send_packed_command", counted)

    for _ in range(ADDS):
        assert (await http.post(url, json={"sku": sku, "quantity": 1}, headers=headers)).is_success

    assert sent / ADDS <= 3
    assert _lookups("miss") + _lookups("bypass") == read_from_postgresql


def _lookups(result: str) -> float:
    sample = REGISTRY.get_sample_value("commerce_catalog_cache_lookups_total", {"result": result})
    return sample or 0.0
