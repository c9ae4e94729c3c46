"""The dispatcher reuses a connection to an endpoint for a second at most: the servers our
customers run close an idle connection after 2 s (gunicorn) or 5 s (Node.js, uvicorn, Apache),
and a delivery sent as they close it fails a healthy endpoint's attempt."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from commerce.webhook_receiver import WebhookReceiver
from tests.e2e.conftest import Caller, CreateProduct
from tests.e2e.orders_support import place_order
from tests.e2e.webhooks.conftest import Dispatching, Subscribe

pytestmark = pytest.mark.usefixtures("saga_worker")
IDLE_S = 1.5  # between the two deliveries: past the dispatcher's 1 s, under every server's 2 s


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
        await place_order(http, customer, (sku, 1))
        await receiver.wait_for(lambda got: len(got) == 1)
        await asyncio.sleep(IDLE_S)
        await place_order(http, customer, (sku, 1))
        first, second = await receiver.wait_for(lambda got: len(got) == 2)
    assert first.peer_port and second.peer_port
    assert first.peer_port != second.peer_port
