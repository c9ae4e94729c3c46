"""Cart changes by compare-and-set on the real Redis, from two processes' stores at once.

Each `CartStore` below stands for one API process: it keeps the last document of the carts it
touched (`RecentCarts`), which another store's writes make stale.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
import redis.asyncio as redis

from api import cart_analytics as analytics
from api.cart_store import CartNotFound, CartStore, CheckoutMark
from commerce.settings import Settings
from domain.cart import MAX_LINE_QUANTITY
from domain.errors import CartNotActive, InvalidQuantity
from eventstore.catalog import Catalog

WRITERS = 40


@pytest.fixture
async def sku(pool: asyncpg.Pool) -> str:
    sku = f"S-{uuid.uuid4().hex[:10]}"
    await Catalog(pool).upsert_product(sku, "Swapped item", 250, "USD", 10)
    return sku


@pytest.fixture
def processes(redis_client: redis.Redis, pool: asyncpg.Pool) -> tuple[CartStore, CartStore]:
    settings = Settings(jwt_secret="x" * 40, cart_ttl_s=600)
    return (
        CartStore(redis_client, Catalog(pool), settings),
        CartStore(redis_client, Catalog(pool), settings),
    )


def _customer() -> str:
    return f"swap-{uuid.uuid4().hex[:8]}"


async def test_concurrent_adds_from_two_processes_lose_no_update(
    processes: tuple[CartStore, CartStore], sku: str, redis_client: redis.Redis
) -> None:
    one, two = processes
    cart = await one.create(_customer())
    items_before = int(await redis_client.hget(analytics.STATS, "items") or 0)

    await asyncio.gather(*(
        (one if i % 2 else two).add_item(cart.id, cart.customer_id, sku, 1)
        for i in range(WRITERS)
    ))  # fmt: skip

    shown = await one.owned(cart.id, cart.customer_id)
    assert [(line.quantity, line.line_total) for line in shown.items] == [(WRITERS, 250 * WRITERS)]
    contribution = await redis_client.hget(analytics.CONTRIB, cart.id)
    assert contribution == f"{WRITERS}:{250 * WRITERS}:USD"
    items_after = int(await redis_client.hget(analytics.STATS, "items") or 0)
    assert items_after - items_before == WRITERS


async def test_a_change_decided_on_a_stale_document_is_decided_again_on_the_current_one(
    processes: tuple[CartStore, CartStore], sku: str
) -> None:
    one, two = processes
    cart = await one.create(_customer())
    await one.add_item(cart.id, cart.customer_id, sku, 1)
    await two.add_item(cart.id, cart.customer_id, sku, 2)  # `one`'s document is now stale

    shown = await one.add_item(cart.id, cart.customer_id, sku, 4)

    assert shown.items[0].quantity == 7
    assert (await two.owned(cart.id, cart.customer_id)).items[0].quantity == 7


async def test_a_refusal_is_never_given_on_a_stale_document(
    processes: tuple[CartStore, CartStore], sku: str
) -> None:
    one, two = processes
    cart = await one.create(_customer())
    await one.add_item(cart.id, cart.customer_id, sku, MAX_LINE_QUANTITY)
    with pytest.raises(InvalidQuantity):  # on the current document: refused
        await one.add_item(cart.id, cart.customer_id, sku, 1)
    await two.remove_item(cart.id, cart.customer_id, sku)  # `one` still holds the full line

    shown = await one.add_item(cart.id, cart.customer_id, sku, 1)

    assert [line.quantity for line in shown.items] == [1]


async def test_a_cart_checked_out_or_deleted_by_another_process_refuses_the_change(
    processes: tuple[CartStore, CartStore], sku: str
) -> None:
    one, two = processes
    converted = await one.create(_customer())
    await one.add_item(converted.id, converted.customer_id, sku, 1)
    mark = CheckoutMark(order_id=f"order-{uuid.uuid4().hex}", request_digest="d")
    await two.check_out(converted.id, converted.customer_id, mark)
    deleted = await one.create(_customer())
    await one.add_item(deleted.id, deleted.customer_id, sku, 1)
    await two.delete(deleted.id, deleted.customer_id)

    with pytest.raises(CartNotActive):
        await one.add_item(converted.id, converted.customer_id, sku, 1)
    with pytest.raises(CartNotFound):
        await one.set_quantity(deleted.id, deleted.customer_id, sku, 3)
    assert (await two.get(converted.id)).items[0].quantity == 1  # type: ignore[union-attr]


async def test_another_customers_cart_is_not_found_even_when_this_process_holds_it(
    processes: tuple[CartStore, CartStore], sku: str
) -> None:
    one, _ = processes
    cart = await one.create(_customer())

    with pytest.raises(CartNotFound):
        await one.add_item(cart.id, "mallory", sku, 1)
    assert (await one.owned(cart.id, cart.customer_id)).items == []
