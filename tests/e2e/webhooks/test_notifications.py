"""Customer notifications for a real order through the HTTP API and the saga: the feed-driven
follower tells the customer it was placed, completed and dispatched (the saga itself no longer
notifies)."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import httpx
import pytest

from commerce.settings import Settings
from tests.e2e.conftest import Caller, CreateProduct
from tests.e2e.orders_support import checkout_body, filled_cart, wait_for_status
from tests.e2e.webhooks.test_delivery import _carrier

pytestmark = pytest.mark.usefixtures("saga_worker")


@pytest.mark.usefixtures("notifying")
async def test_a_real_order_tells_its_customer_placed_completed_and_dispatched(
    http: httpx.AsyncClient,
    pool: asyncpg.Pool,
    settings: Settings,
    customer: Caller,
    create_product: CreateProduct,
) -> None:
    sku = str((await create_product(stock=5, name="Blue mug"))["sku"])
    cart_id = await filled_cart(http, customer, (sku, 2))
    placed = await http.post("/api/v1/orders/", json=checkout_body(cart_id),
                             headers=customer.headers)  # fmt: skip
    order = await wait_for_status(http, customer, placed.json()["id"])
    assert order["status"] == "completed"
    await _carrier(http, settings, order["id"], "dispatched")

    async with asyncio.timeout(20):
        while len(sent := await pool.fetch(
            "SELECT operation, detail FROM sandbox_ledger WHERE order_id = $1"
            " AND provider = 'notifications' ORDER BY created_at", order["id"],
        )) < 3:  # fmt: skip
            await asyncio.sleep(0.05)

    messages = [json.loads(row["detail"]) for row in sent]
    assert [m["kind"] for m in messages] == [
        "order.placed", "order.completed", "shipment.dispatched",
    ]  # fmt: skip
    assert {row["operation"] for row in sent} == {"notify"}
    assert all(m["customer_id"] == customer.subject for m in messages)
    assert "2 x Blue mug  39.98 USD" in messages[0]["text"]
    assert order["tracking_number"] in messages[2]["text"]
