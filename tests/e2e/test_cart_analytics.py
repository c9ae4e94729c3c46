"""Cart analytics: counters updated with every cart write, abandoned carts pruned lazily."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import redis.asyncio as redis
from fastapi import FastAPI

from api.cart_store import CartStore, CheckoutMark
from commerce.settings import Settings
from eventstore.catalog import Catalog
from tests.e2e.conftest import Caller, CreateProduct


async def _analytics(http: httpx.AsyncClient, admin: Caller) -> dict[str, Any]:
    answer = await http.get("/api/v1/admin/analytics/carts", headers=admin.headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _delta(after: dict[str, Any], before: dict[str, Any], field: str) -> Any:
    return after[field] - before[field]


async def test_counters_follow_creates_adds_converts_and_deletes(
    http: httpx.AsyncClient,
    admin: Caller,
    customer: Caller,
    create_product: CreateProduct,
    app: FastAPI,
    redis_client: redis.Redis,
    settings: Settings,
) -> None:
    product = await create_product(price=250, currency="SEK")
    before = await _analytics(http, admin)
    carts = [
        (await http.post("/api/v1/cart/", json={}, headers=customer.headers)).json()
        for _ in range(3)
    ]
    for cart in carts:
        body = {"sku": product["sku"], "quantity": 4}
        await http.post(f"/api/v1/cart/{cart['id']}/items", json=body, headers=customer.headers)
    middle = await _analytics(http, admin)
    assert _delta(middle, before, "carts_created") == 3
    assert _delta(middle, before, "active_carts") == 3
    assert _delta(middle, before, "items_in_carts") == 12
    assert middle["value_in_carts"]["SEK"] - before["value_in_carts"].get("SEK", 0) == 3000

    store = CartStore(redis_client, Catalog(app.state.resources.pool), settings)
    mark = CheckoutMark(order_id="order-analytics", request_digest="d")
    await store.check_out(carts[0]["id"], customer.subject, mark)
    await http.delete(f"/api/v1/cart/{carts[1]['id']}", headers=customer.headers)
    after = await _analytics(http, admin)
    assert _delta(after, before, "carts_converted") == 1
    assert _delta(after, before, "active_carts") == 1
    assert _delta(after, before, "items_in_carts") == 4
    assert after["value_in_carts"]["SEK"] - before["value_in_carts"].get("SEK", 0) == 1000
    assert after["conversion_rate"] == round(after["carts_converted"] / after["carts_created"], 4)


async def test_an_expired_active_cart_counts_as_abandoned_and_leaves_the_totals(
    http: httpx.AsyncClient,
    admin: Caller,
    customer: Caller,
    create_product: CreateProduct,
    app: FastAPI,
    redis_client: redis.Redis,
    settings: Settings,
) -> None:
    product = await create_product(price=70, currency="NOK")
    short_lived = settings.model_copy(update={"cart_ttl_s": 1})
    store = CartStore(redis_client, Catalog(app.state.resources.pool), short_lived)
    before = await _analytics(http, admin)
    cart = await store.create(customer.subject)
    await store.add_item(cart.id, customer.subject, str(product["sku"]), 5)
    during = await _analytics(http, admin)
    assert _delta(during, before, "items_in_carts") == 5
    assert _delta(during, before, "abandoned") == 0
    await asyncio.sleep(1.2)
    after = await _analytics(http, admin)
    assert _delta(after, before, "abandoned") == 1
    assert _delta(after, before, "active_carts") == 0
    assert _delta(after, before, "items_in_carts") == 0
    assert after["value_in_carts"].get("NOK", 0) == before["value_in_carts"].get("NOK", 0)
