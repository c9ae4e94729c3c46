"""The cart store on real Redis and Postgres: the checkout contract (`get`, `check_out`)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
import redis.asyncio as redis

from api.cart_store import CartNotFound, CartStore, CheckoutMark
from commerce.settings import Settings
from domain.errors import CartNotActive, EmptyOrder
from eventstore.catalog import Catalog


@pytest.fixture
async def store(redis_client: redis.Redis, pool: asyncpg.Pool) -> AsyncIterator[CartStore]:
    yield CartStore(redis_client, Catalog(pool), Settings(jwt_secret="x" * 40, cart_ttl_s=600))


@pytest.fixture
async def sku(pool: asyncpg.Pool) -> str:
    sku = f"I-{uuid.uuid4().hex[:10]}"
    await Catalog(pool).upsert_product(sku, "Integration item", 500, "USD", 10)
    return sku


def _mark(order_id: str) -> CheckoutMark:
    return CheckoutMark(order_id=order_id, request_digest=f"digest-of-{order_id}")


async def test_convert_flips_an_active_cart_once_and_records_the_order(
    store: CartStore, sku: str, redis_client: redis.Redis
) -> None:
    cart = await store.create("alice")
    await store.add_item(cart.id, "alice", sku, 2)
    converted = await store.check_out(cart.id, "alice", _mark("order-a"))
    assert (converted.status, converted.order_id, converted.subtotal) == (
        "converted",
        "order-a",
        1000,
    )
    assert await store.get(cart.id) == converted
    assert await store.active("alice") is None
    again = await store.check_out(cart.id, "alice", _mark("order-b"))
    assert again == converted and again.checkout == _mark("order-a")
    with pytest.raises(CartNotActive):
        await store.add_item(cart.id, "alice", sku, 1)


async def test_concurrent_converts_of_one_cart_let_exactly_one_win(
    store: CartStore, sku: str
) -> None:
    cart = await store.create("bob")
    await store.add_item(cart.id, "bob", sku, 1)
    results = await asyncio.gather(
        *(store.check_out(cart.id, "bob", _mark(f"order-{i}")) for i in range(10))
    )
    assert len({r.checkout.order_id for r in results if r.checkout}) == 1
    assert (await store.get(cart.id)) == results[0]


async def test_convert_refuses_empty_unknown_and_other_customers_carts(
    store: CartStore, sku: str
) -> None:
    empty = await store.create("carol")
    with pytest.raises(EmptyOrder):
        await store.check_out(empty.id, "carol", _mark("order-x"))
    with pytest.raises(CartNotFound):
        await store.check_out("no-such-cart", "carol", _mark("order-x"))
    await store.add_item(empty.id, "carol", sku, 1)
    with pytest.raises(CartNotFound):
        await store.check_out(empty.id, "mallory", _mark("order-x"))
    assert (await store.get(empty.id)).status == "active"  # type: ignore[union-attr]


async def test_get_returns_none_for_an_unknown_cart(store: CartStore) -> None:
    assert await store.get("nothing-here") is None


async def test_a_cart_without_currency_takes_its_first_products_currency(
    store: CartStore, sku: str
) -> None:
    cart = await store.create("dave")
    assert cart.currency is None
    assert (await store.add_item(cart.id, "dave", sku, 1)).currency == "USD"
