"""The cart store on real Redis and Postgres: the checkout contract (`get`, `convert`)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
import redis.asyncio as redis

from api.cart_store import CartAlreadyConverted, CartNotFound, CartStore, EmptyCart
from commerce.settings import Settings
from domain.errors import CartNotActive
from eventstore.catalog import Catalog


@pytest.fixture
async def store(redis_client: redis.Redis, pool: asyncpg.Pool) -> AsyncIterator[CartStore]:
    yield CartStore(redis_client, Catalog(pool), Settings(jwt_secret="x" * 40, cart_ttl_s=600))


@pytest.fixture
async def sku(pool: asyncpg.Pool) -> str:
    sku = f"I-{uuid.uuid4().hex[:10]}"
    await Catalog(pool).upsert_product(sku, "Integration item", 500, "USD", 10)
    return sku


async def test_convert_flips_an_active_cart_once_and_records_the_order(
    store: CartStore, sku: str, redis_client: redis.Redis
) -> None:
    cart = await store.create("alice")
    await store.add_item(cart.id, "alice", sku, 2)
    converted = await store.convert(cart.id, "alice", "order-a")
    assert (converted.status, converted.order_id, converted.subtotal) == (
        "converted",
        "order-a",
        1000,
    )
    assert await store.get(cart.id) == converted
    assert await store.active("alice") is None
    with pytest.raises(CartAlreadyConverted) as raised:
        await store.convert(cart.id, "alice", "order-b")
    assert raised.value.order_id == "order-a"
    with pytest.raises(CartNotActive):
        await store.add_item(cart.id, "alice", sku, 1)


async def test_concurrent_converts_of_one_cart_let_exactly_one_win(
    store: CartStore, sku: str
) -> None:
    cart = await store.create("bob")
    await store.add_item(cart.id, "bob", sku, 1)
    results = await asyncio.gather(
        *(store.convert(cart.id, "bob", f"order-{i}") for i in range(10)), return_exceptions=True
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, CartAlreadyConverted) for r in results if r not in winners)
    assert (await store.get(cart.id)).order_id == winners[0].order_id  # type: ignore[union-attr]


async def test_convert_refuses_empty_unknown_and_other_customers_carts(
    store: CartStore, sku: str
) -> None:
    empty = await store.create("carol")
    with pytest.raises(EmptyCart):
        await store.convert(empty.id, "carol", "order-x")
    with pytest.raises(CartNotFound):
        await store.convert("no-such-cart", "carol", "order-x")
    await store.add_item(empty.id, "carol", sku, 1)
    with pytest.raises(CartNotFound):
        await store.convert(empty.id, "mallory", "order-x")
    assert (await store.get(empty.id)).status == "active"  # type: ignore[union-attr]


async def test_get_returns_none_for_an_unknown_cart(store: CartStore) -> None:
    assert await store.get("nothing-here") is None


async def test_a_cart_without_currency_takes_its_first_products_currency(
    store: CartStore, sku: str
) -> None:
    cart = await store.create("dave")
    assert cart.currency is None
    assert (await store.add_item(cart.id, "dave", sku, 1)).currency == "USD"
