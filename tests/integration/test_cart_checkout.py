"""The cart store's checkout step on real Redis and Postgres: prices, refusals that change
nothing, and the Idempotency-Key lock."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
import redis.asyncio as redis

from api.cart_errors import CheckoutRefused, UnknownProduct
from api.cart_store import CartStore, CheckoutMark
from api.digests import IdempotencyKeyReused
from commerce.settings import Settings
from eventstore.catalog import Catalog


@pytest.fixture
async def store(redis_client: redis.Redis, pool: asyncpg.Pool) -> AsyncIterator[CartStore]:
    yield CartStore(redis_client, Catalog(pool), Settings(jwt_secret="x" * 40, cart_ttl_s=600))


@pytest.fixture
def catalog(pool: asyncpg.Pool) -> Catalog:
    return Catalog(pool)


async def _product(catalog: Catalog, price: int, currency: str = "USD") -> str:
    sku = f"K-{uuid.uuid4().hex[:10]}"
    await catalog.upsert_product(sku, "Checkout item", price, currency, 10)
    return sku


def _customer() -> str:
    return f"cust-{uuid.uuid4().hex[:8]}"


async def test_a_read_shows_current_prices_without_writing_them(
    store: CartStore, catalog: Catalog
) -> None:
    who, sku = _customer(), await _product(catalog, 300)
    cart = await store.create(who)
    await store.add_item(cart.id, who, sku, 2)
    await catalog.upsert_product(sku, "Dearer item", 450, "USD", 10)

    shown = await store.owned(cart.id, who)
    active = await store.active(who)
    stored = await store.get(cart.id)

    assert (shown.items[0].name, shown.items[0].unit_price, shown.subtotal) == (
        "Dearer item", 450, 900,
    )  # fmt: skip
    assert active == shown
    assert stored is not None and stored.subtotal == 600


async def test_a_refused_checkout_leaves_the_cart_as_it_was(
    store: CartStore, catalog: Catalog, redis_client: redis.Redis
) -> None:
    who, sku, gone = _customer(), await _product(catalog, 500), await _product(catalog, 100)
    cart = await store.create(who)
    await store.add_item(cart.id, who, sku, 1)
    await store.add_item(cart.id, who, gone, 1)
    before = await redis_client.get(f"cart:{cart.id}")
    mark = CheckoutMark(order_id="order-r", request_digest="d")

    with pytest.raises(CheckoutRefused) as total_changed:
        await store.check_out(cart.id, who, mark, expected_total=1)
    await catalog.discontinue(gone)
    with pytest.raises(CheckoutRefused) as not_sold:
        await store.check_out(cart.id, who, mark)
    with pytest.raises(UnknownProduct):
        await store.add_item(cart.id, who, gone, 1)

    assert (total_changed.value.expected_total, total_changed.value.total) == (1, 600)
    assert total_changed.value.cart["status"] == "active"
    assert not_sold.value.skus == [gone]
    assert not_sold.value.cart["unsold_skus"] == [gone]
    assert await redis_client.get(f"cart:{cart.id}") == before
    assert (await store.active(who)) is not None


async def test_an_idempotency_key_converts_one_cart_for_one_request(
    store: CartStore, catalog: Catalog
) -> None:
    who, sku = _customer(), await _product(catalog, 700)
    first, second = await store.create(who), await store.create(who)
    for cart in (first, second):
        await store.add_item(cart.id, who, sku, 1)
    mark = CheckoutMark(order_id="order-k", request_digest="d1", idempotency_key="k")

    converted = await store.check_out(first.id, who, mark)
    repeated = await store.check_out(first.id, who, mark)
    with pytest.raises(IdempotencyKeyReused):
        await store.check_out(second.id, who, mark.model_copy(update={"request_digest": "d2"}))

    assert converted == repeated and converted.checkout == mark
    assert (await store.owned(second.id, who)).status == "active"
    other_key = CheckoutMark(order_id="order-l", request_digest="d2", idempotency_key="l")
    assert (await store.check_out(second.id, who, other_key)).checkout == other_key
