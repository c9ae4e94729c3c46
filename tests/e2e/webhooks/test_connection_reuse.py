"""The dispatcher reuses a connection to an endpoint for a second at most: the servers our
customers run close an idle connection after 2 s (gunicorn) or 5 s (Node.js, uvicorn, Apache),
and a delivery sent as they close it fails a healthy endpoint's attempt."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from commerce.webhook_receiver import WebhookReceiver
from tests.e2e.conftest import Caller, CreateProduct
from tests.e2e.orders_support import checkout_body, filled_cart
from tests.e2e.webhooks.conftest import Dispatching, Subscribe

pytestmark = pytest.mark.usefixtures("saga_worker")
IDLE_S = 1.5  # between the two deliveries: past the dispatcher's 1 s, under every server's 2 s


async def _place(http: httpx.AsyncClient, who: Caller, sku: str) -> None:
    cart_id = await filled_cart(http, who, (sku, 1))
    placed = await http.post("/api/v1/orders/", json=checkout_body(cart_id), headers=who.headers)
    assert placed.status_code == 202, placed.text


async def test_a_delivery_after_a_second_idle_goes_on_a_new_connection(
    http: httpx.AsyncClient,
    customer: Caller,
    create_product: CreateProduct,
    receiver: WebhookReceiver,
    subscribe: Subscribe,
    dispatching: Dispatching,
) -> None:
    sku = str((await create_product(stock=5))["sku"])
    await subscribe(receiver.url, "order.placed")
    async with dispatching():
        await _place(http, customer, sku)
        await receiver.wait_for(lambda got: len(got) == 1)
        await asyncio.sleep(IDLE_S)
        await _place(http, customer, sku)
        first, second = await receiver.wait_for(lambda got: len(got) == 2)
    assert first.peer_port and second.peer_port
    assert first.peer_port != second.peer_port
