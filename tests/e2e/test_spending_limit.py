"""The spending limit (fraud guard) through HTTP: concurrent orders cannot pass it together."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from tests.e2e.conftest import Caller, CreateProduct
from tests.e2e.orders_support import checkout_body, filled_cart, wait_for_status

pytestmark = pytest.mark.usefixtures("saga_worker")
PATH = "/api/v1/admin/settings/spending-limit"


@pytest.fixture
async def limit_of_100_usd(http: httpx.AsyncClient, admin: Caller) -> AsyncIterator[None]:
    answer = await http.put(PATH, json={"amount": 10_000, "currency": "USD"}, headers=admin.headers)
    assert answer.status_code == 200, answer.text
    yield
    await http.put(PATH, json={"amount": 0, "currency": "USD"}, headers=admin.headers)


@pytest.mark.usefixtures("limit_of_100_usd")
async def test_two_orders_that_together_pass_the_limit_one_fails_with_nothing_charged(
    http: httpx.AsyncClient, customer: Caller, admin: Caller, create_product: CreateProduct,
    pool: asyncpg.Pool,
) -> None:  # fmt: skip
    assert (await http.get(PATH, headers=admin.headers)).json() == {
        "amount": 10_000,
        "currency": "USD",
    }
    sku = str((await create_product(price=6_000, stock=10))["sku"])
    carts = [await filled_cart(http, customer, (sku, 1)) for _ in range(2)]

    placed = await asyncio.gather(*(
        http.post("/api/v1/orders/", json=checkout_body(cart), headers=customer.headers)
        for cart in carts
    ))  # fmt: skip
    orders = [await wait_for_status(http, customer, p.json()["id"]) for p in placed]

    assert sorted(o["status"] for o in orders) == ["completed", "failed"]
    refused = next(o for o in orders if o["status"] == "failed")
    assert "spending limit" in refused["failure_reason"]
    assert [h["type"] for h in refused["history"]] == ["OrderPlaced", "OrderFailed"]
    operations = await pool.fetchval(
        "SELECT count(*) FROM sandbox_ledger WHERE order_id = $1", refused["id"]
    )
    assert operations == 0
    product = (await http.get(f"/api/v1/admin/products/{sku}", headers=admin.headers)).json()
    assert (product["on_hand"], product["reserved"]) == (9, 0)


@pytest.mark.usefixtures("limit_of_100_usd")
async def test_a_failed_order_gives_its_share_of_the_limit_back(
    http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct
) -> None:
    sku = str((await create_product(price=6_000, stock=10))["sku"])
    declined = await filled_cart(http, customer, (sku, 1))
    first = await http.post(
        "/api/v1/orders/", json=checkout_body(declined, "tok_decline"), headers=customer.headers
    )
    assert (await wait_for_status(http, customer, first.json()["id"]))["status"] == "failed"

    again = await filled_cart(http, customer, (sku, 1))
    second = await http.post("/api/v1/orders/", json=checkout_body(again), headers=customer.headers)

    assert (await wait_for_status(http, customer, second.json()["id"]))["status"] == "completed"


async def test_negative_or_malformed_limits_are_422(
    http: httpx.AsyncClient, admin: Caller, customer: Caller
) -> None:
    bad = await http.put(PATH, json={"amount": -1, "currency": "USD"}, headers=admin.headers)
    odd = await http.put(PATH, json={"amount": 5, "currency": "usd"}, headers=admin.headers)
    forbidden = await http.put(PATH, json={"amount": 5}, headers=customer.headers)
    assert (bad.status_code, odd.status_code, forbidden.status_code) == (422, 422, 403)
