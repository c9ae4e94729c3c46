"""An order placed while Temporal cannot be reached: the checkout answers 503 with Retry-After,
the saga reconciler (as the worker runs it, with a short COMMERCE_SAGA_RECONCILE_S) starts its
saga without any client retry, a repeat of the request still names the order, and nothing starts
twice. The API reaches Temporal through a TcpProxy the test cuts."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from prometheus_client import REGISTRY
from temporalio.client import Client

from commerce.saga_reconciler import SagaReconciler
from commerce.settings import Settings
from tests.e2e.conftest import Caller, CreateProduct
from tests.e2e.orders_support import checkout_body, filled_cart, wait_for_status
from tests.e2e.test_temporal_unreachable import assert_unavailable
from tests.e2e.unreachable_temporal import CutApi, api_behind_proxy
from workflows.contract import order_workflow_id

pytestmark = pytest.mark.usefixtures("saga_worker")

STEP_EVENTS = ("PaymentAuthorized", "InventoryReserved", "ShipmentCreated", "OrderConfirmed",
               "PaymentCaptured", "OrderCompleted")  # fmt: skip
RECONCILE_S = 1  # due after half a second, looked for every half second


def _started_by_reconciler() -> float:
    return REGISTRY.get_sample_value("commerce_sagas_started_by_reconciler_total") or 0.0


async def _outbox_row(pool: asyncpg.Pool, order_id: str) -> asyncpg.Record:
    row = await pool.fetchrow(
        "SELECT sealed_input, started_by FROM saga_starts WHERE order_id = $1", order_id
    )
    assert row is not None, f"no start request recorded for order {order_id}"
    return row


@asynccontextmanager
async def _reconciler_running(pool: asyncpg.Pool, client: Client) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(
        SagaReconciler(pool, client, RECONCILE_S, customer_key=str.upper).run_forever(stop)
    )
    try:
        yield
    finally:
        stop.set()
        await task


async def _checkout_cut_off(
    cut: CutApi, http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct
) -> tuple[str, dict[str, Any]]:
    """Checkout of a new cart through the API while its way to Temporal is cut: the placed
    order's id and the request's body."""
    cart_id = await filled_cart(http, customer, (str((await create_product(stock=5))["sku"]), 2))
    body = checkout_body(cart_id)
    await cut.proxy.cut()
    refused = await cut.http.post("/api/v1/orders/", json=body, headers=customer.headers)
    assert_unavailable({"checkout": refused})
    order_id = str(refused.json()["order_id"])
    order = await http.get(f"/api/v1/orders/{order_id}", headers=customer.headers)
    assert order.json()["status"] == "pending"
    cart = await http.get(f"/api/v1/cart/{body['cart_id']}", headers=customer.headers)
    assert cart.json()["status"] == "converted"
    return order_id, body


async def _assert_ran_once(
    temporal_client: Client, pool: asyncpg.Pool, http: httpx.AsyncClient, who: Caller, order_id: str
) -> None:
    workflow_id = order_workflow_id(order_id)
    latest = (await temporal_client.get_workflow_handle(workflow_id).describe()).run_id
    runs: list[str] = []
    for _ in range(100):  # visibility lags: wait until it lists the latest run
        query = f"WorkflowId = '{workflow_id}'"
        runs = [execution.run_id async for execution in temporal_client.list_workflows(query)]
        if latest in runs:
            break
        await asyncio.sleep(0.1)
    assert runs == [latest]
    order = (await http.get(f"/api/v1/orders/{order_id}", headers=who.headers)).json()
    recorded = Counter(entry["type"] for entry in order["history"])
    assert {step: recorded[step] for step in STEP_EVENTS} == dict.fromkeys(STEP_EVENTS, 1)
    operations = await pool.fetch(
        "SELECT operation FROM sandbox_ledger WHERE order_id = $1 ORDER BY created_at", order_id
    )
    assert [r["operation"] for r in operations] == ["authorize", "ship", "capture"]


async def test_checkout_without_temporal_is_503_and_the_reconciler_starts_the_saga(
    http: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool, temporal_client: Client,
    customer: Caller, create_product: CreateProduct,
) -> None:  # fmt: skip
    async with api_behind_proxy(settings) as cut:
        order_id, body = await _checkout_cut_off(cut, http, customer, create_product)
        sealed = (await _outbox_row(pool, order_id))["sealed_input"]
        assert sealed and b"tok_ok" not in sealed and customer.subject.encode() not in sealed
        before = _started_by_reconciler()

        async with _reconciler_running(pool, temporal_client):
            order = await wait_for_status(http, customer, order_id)

        assert order["status"] == "completed"
        assert _started_by_reconciler() >= before + 1
        assert tuple(await _outbox_row(pool, order_id)) == (None, "reconciler")

        await cut.proxy.restore()
        repeat = await cut.http.post("/api/v1/orders/", json=body, headers=customer.headers)
        assert (repeat.status_code, repeat.json()["id"]) == (200, order_id), repeat.text
        reconciler = SagaReconciler(pool, temporal_client, RECONCILE_S, customer_key=str.upper)
        try:
            again = await reconciler.run_once()
        finally:
            await reconciler.close()
        assert order_id not in again.started + again.earlier

    await _assert_ran_once(temporal_client, pool, http, customer, order_id)


async def test_a_repeat_of_the_checkout_starts_the_saga_and_the_reconciler_leaves_it(
    http: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool, temporal_client: Client,
    customer: Caller, create_product: CreateProduct,
) -> None:  # fmt: skip
    async with api_behind_proxy(settings) as cut:
        order_id, body = await _checkout_cut_off(cut, http, customer, create_product)

        await cut.proxy.restore()
        repeat = await cut.http.post("/api/v1/orders/", json=body, headers=customer.headers)

        assert (repeat.status_code, repeat.json()["id"]) == (200, order_id), repeat.text
        assert tuple(await _outbox_row(pool, order_id)) == (None, "checkout")
        async with _reconciler_running(pool, temporal_client):
            order = await wait_for_status(http, customer, order_id)
            await asyncio.sleep(RECONCILE_S)  # long enough for a pass to find it due

    assert order["status"] == "completed"
    assert tuple(await _outbox_row(pool, order_id)) == (None, "checkout")
    await _assert_ran_once(temporal_client, pool, http, customer, order_id)


async def test_a_checkout_that_starts_its_saga_keeps_no_payment_token(
    http: httpx.AsyncClient, pool: asyncpg.Pool, customer: Caller, create_product: CreateProduct
) -> None:
    cart_id = await filled_cart(http, customer, (str((await create_product(stock=5))["sku"]), 1))

    placed = await http.post(
        "/api/v1/orders/", json=checkout_body(cart_id), headers=customer.headers
    )

    assert placed.status_code == 202, placed.text
    assert tuple(await _outbox_row(pool, placed.json()["id"])) == (None, "checkout")
