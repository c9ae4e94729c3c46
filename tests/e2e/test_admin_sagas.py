"""An operator's day through HTTP: find a stalled order, see why, retry it, watch it complete."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import Client

from api.app import create_app
from commerce.settings import Settings
from eventstore.projections import Projector
from tests.e2e.conftest import Caller, CreateProduct
from tests.e2e.orders_support import checkout_body, filled_cart, place_order, wait_for_status
from workflows.contract import order_workflow_id

pytestmark = pytest.mark.usefixtures("saga_worker")


async def _switch(http: httpx.AsyncClient, admin: Caller, name: str, available: bool) -> None:
    answer = await http.put(
        f"/api/v1/admin/sandbox/providers/{name}",
        json={"available": available},
        headers=admin.headers,
    )
    assert answer.status_code == 200, answer.text


@pytest.fixture
async def shipping_down(http: httpx.AsyncClient, admin: Caller) -> AsyncIterator[None]:
    await _switch(http, admin, "shipping", False)
    yield
    await _switch(http, admin, "shipping", True)


async def _listed(
    http: httpx.AsyncClient, admin: Caller, status: str, order_id: str
) -> dict[str, Any]:
    """Visibility is eventually consistent: poll the filtered list until the saga shows."""
    for _ in range(100):
        page = await http.get(
            "/api/v1/admin/sagas", params={"status": status}, headers=admin.headers
        )
        assert page.status_code == 200, page.text
        found = [s for s in page.json()["items"] if s["order_id"] == order_id]
        if found:
            return found[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"saga {order_id} never listed as {status}")


async def _listing(
    http: httpx.AsyncClient, admin: Caller, status: str | None = None
) -> dict[str, dict[str, Any]]:
    params = {"limit": 200} | ({"status": status} if status else {})
    page = await http.get("/api/v1/admin/sagas", params=params, headers=admin.headers)
    assert page.status_code == 200, page.text
    return {saga["order_id"]: saga for saga in page.json()["items"]}


async def _projected(pool: asyncpg.Pool) -> None:
    """The read model caught up with the feed, as the worker's projector keeps it."""
    projector = Projector(pool)
    try:
        for _ in range(200):
            if not await projector.run_once() and await projector.lag() == 0:
                return
        raise AssertionError("the projector did not catch up")
    finally:
        await projector.close()


@asynccontextmanager
async def _patient_api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The API starting sagas whose steps retry for long before they stall."""
    patient = settings.model_copy(
        update={"saga_step_max_attempts": 1000, "saga_step_initial_retry_ms": 200}
    )
    app: FastAPI = create_app(patient)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://patient") as client:
            yield client


async def _attempts(temporal: Client, order_id: str, activity: str) -> int:
    description = await temporal.get_workflow_handle(order_workflow_id(order_id)).describe()
    pending = description.raw_description.pending_activities
    return max((a.attempt for a in pending if a.activity_type.name == activity), default=0)


async def _place(http: httpx.AsyncClient, who: Caller, create_product: CreateProduct) -> str:
    sku = str((await create_product(stock=5))["sku"])
    return await place_order(http, who, (sku, 2))


@pytest.mark.usefixtures("shipping_down")
async def test_operator_finds_stalled_saga_retries_it_and_it_completes(
    http: httpx.AsyncClient, customer: Caller, admin: Caller, create_product: CreateProduct
) -> None:
    order_id = await _place(http, customer, create_product)
    await wait_for_status(http, customer, order_id, {"stalled"})

    listed = await _listed(http, admin, "stalled", order_id)
    detail = (await http.get(f"/api/v1/admin/sagas/{order_id}", headers=admin.headers)).json()
    assert listed["customer_id"] == customer.subject and listed["total"] == 2 * 1999
    assert detail["current_step"] == "create_shipment"
    shipment = detail["steps"][2]
    assert shipment["status"] == "stalled" and "down" in shipment["last_error"]
    assert detail["temporal_ui_url"].endswith(
        f"/workflows/order-{order_id}/{detail['run_id']}/history"
    )

    still_down = await http.post(f"/api/v1/admin/sagas/{order_id}/retry", headers=admin.headers)
    assert still_down.status_code == 202
    await wait_for_status(http, customer, order_id, {"stalled"})

    await _switch(http, admin, "shipping", True)
    retried = await http.post(f"/api/v1/admin/sagas/{order_id}/retry", headers=admin.headers)
    assert retried.status_code == 202
    order = await wait_for_status(http, customer, order_id)
    assert order["status"] == "completed"
    history = [h["type"] for h in order["history"]]
    assert history.count("SagaStalled") == 2 and history.count("SagaResumed") == 2


@pytest.mark.usefixtures("shipping_down")
async def test_customer_cancel_of_a_stalled_order_releases_everything(
    http: httpx.AsyncClient, customer: Caller, admin: Caller, create_product: CreateProduct
) -> None:
    order_id = await _place(http, customer, create_product)
    await wait_for_status(http, customer, order_id, {"stalled"})

    answer = await http.post(
        f"/api/v1/orders/{order_id}/cancel", json={"reason": "too slow"}, headers=customer.headers
    )
    assert answer.status_code == 202, answer.text
    again = await http.post(f"/api/v1/orders/{order_id}/cancel", headers=customer.headers)
    assert again.status_code == 409 and "cancel" in again.json()["detail"]
    # The decision is final at once; whether the carrier made a shipment before its outage is
    # asked in the background until it answers (pending_cleanup), never blocking the order.
    order = await wait_for_status(http, customer, order_id, timeout_s=15)
    assert order["status"] == "cancelled"
    saga = (await http.get(f"/api/v1/admin/sagas/{order_id}", headers=admin.headers)).json()
    assert saga["pending_cleanup"] == ["create_shipment"]
    retry = await http.post(f"/api/v1/admin/sagas/{order_id}/retry", headers=admin.headers)
    assert retry.status_code == 409

    await _switch(http, admin, "shipping", True)
    for _ in range(300):
        saga = (await http.get(f"/api/v1/admin/sagas/{order_id}", headers=admin.headers)).json()
        if not saga["pending_cleanup"]:
            break
        await asyncio.sleep(0.1)
    assert saga["pending_cleanup"] == []
    order = (await http.get(f"/api/v1/orders/{order_id}", headers=customer.headers)).json()
    history = [h["type"] for h in order["history"]]
    assert history[-2:] == ["OrderCancelled", "CleanupCompleted"]
    sku = order["items"][0]["sku"]
    product = (await http.get(f"/api/v1/admin/products/{sku}", headers=admin.headers)).json()
    assert (product["on_hand"], product["reserved"], product["available"]) == (5, 0, 5)
    assert "PaymentVoided" in history


@pytest.mark.usefixtures("shipping_down")
async def test_a_saga_whose_step_is_retrying_is_listed_at_its_last_finished_step(
    http: httpx.AsyncClient, settings: Settings, customer: Caller, admin: Caller,
    create_product: CreateProduct, pool: asyncpg.Pool, temporal_client: Client,
) -> None:  # fmt: skip
    async with _patient_api(settings) as patient:
        order_id = await _place(patient, customer, create_product)
    for _ in range(300):  # the carrier is down: Temporal retries the step, its budget not spent
        if await _attempts(temporal_client, order_id, "create_shipment") >= 2:
            break
        await asyncio.sleep(0.05)
    await _projected(pool)

    everything = await _listing(http, admin)
    assert everything[order_id]["status"] == "inventory_reserved"
    assert order_id in await _listing(http, admin, "inventory_reserved")
    for not_there in ("pending", "shipment_created", "stalled"):
        assert order_id not in await _listing(http, admin, not_there), not_there
    order = (await http.get(f"/api/v1/orders/{order_id}", headers=customer.headers)).json()
    detail = (await http.get(f"/api/v1/admin/sagas/{order_id}", headers=admin.headers)).json()
    assert order["status"] == detail["status"] == "inventory_reserved"
    assert detail["current_step"] == "create_shipment"
    assert detail["steps"][2]["status"] == "running"

    await _switch(http, admin, "shipping", True)
    assert (await wait_for_status(http, customer, order_id))["status"] == "completed"
    completed = await _listed(http, admin, "completed", order_id)  # visibility: no projector
    assert completed["status"] == "completed"
    assert order_id not in await _listing(http, admin, "inventory_reserved")


async def test_retry_of_a_saga_that_is_not_stalled_is_409_and_unknown_is_404(
    http: httpx.AsyncClient, customer: Caller, admin: Caller, create_product: CreateProduct
) -> None:
    order_id = await _place(http, customer, create_product)
    await wait_for_status(http, customer, order_id)
    done = await http.post(f"/api/v1/admin/sagas/{order_id}/retry", headers=admin.headers)
    unknown = await http.get(f"/api/v1/admin/sagas/{uuid.uuid4()}", headers=admin.headers)
    assert (done.status_code, unknown.status_code) == (409, 404)


async def test_saga_list_rejects_an_unknown_status_with_422(
    http: httpx.AsyncClient, admin: Caller
) -> None:
    answer = await http.get("/api/v1/admin/sagas", params={"status": "lost"}, headers=admin.headers)
    assert answer.status_code == 422


async def test_statistics_add_up_to_the_orders_placed(
    http: httpx.AsyncClient, customer: Caller, admin: Caller, create_product: CreateProduct,
    pool: asyncpg.Pool,
) -> None:  # fmt: skip
    sku = str((await create_product(stock=10))["sku"])
    placed = []
    for token in ("tok_ok", "tok_decline", "tok_capture_decline"):
        cart_id = await filled_cart(http, customer, (sku, 1))
        answer = await http.post(
            "/api/v1/orders/", json=checkout_body(cart_id, token), headers=customer.headers
        )
        placed.append(answer.json()["id"])
    for order_id in placed:
        await wait_for_status(http, customer, order_id)

    projector = Projector(pool)  # as the worker runs it: catch up with the feed
    try:
        for _ in range(200):
            if not await projector.run_once() and await projector.lag() == 0:
                break
    finally:
        await projector.close()
    stats = (await http.get("/api/v1/admin/sagas/statistics", headers=admin.headers)).json()
    orders_placed = await pool.fetchval(
        "SELECT count(*) FROM events WHERE event_type = 'OrderPlaced'"
    )

    assert stats["projector_lag"] == 0
    assert stats["total"] == sum(stats["by_status"].values()) == orders_placed
    assert stats["by_status"]["completed"] >= 1 and stats["by_status"]["failed"] >= 2
    assert stats["step_failures"]["authorize_payment"] >= 1
    assert stats["step_failures"]["capture_payment"] >= 1
    assert stats["compensations"] >= 3
    assert stats["duration_ms"]["p50"] is not None
    assert stats["duration_ms"]["p50"] <= stats["duration_ms"]["p99"]


async def test_the_saga_list_pages_on_with_its_own_cursor_and_no_other(
    http: httpx.AsyncClient, customer: Caller, admin: Caller, create_product: CreateProduct
) -> None:
    placed = {await _place(http, customer, create_product) for _ in range(2)}
    for _ in range(100):  # visibility is eventually consistent
        first = (await http.get("/api/v1/admin/sagas?limit=1", headers=admin.headers)).json()
        if first["next_cursor"] and placed <= {s["order_id"] for s in await _all(http, admin)}:
            break
        await asyncio.sleep(0.1)
    cursor = first["next_cursor"]
    second = await http.get(
        "/api/v1/admin/sagas", params={"limit": 1, "cursor": cursor}, headers=admin.headers
    )
    assert second.status_code == 200, second.text
    assert [s["order_id"] for s in second.json()["items"]] != [
        s["order_id"] for s in first["items"]
    ]
    tampered = cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BA")
    for path, given in [("/api/v1/admin/returns", cursor), ("/api/v1/admin/sagas", tampered)]:
        refused = await http.get(path, params={"cursor": given}, headers=admin.headers)
        assert refused.status_code == 422, refused.text


async def _all(http: httpx.AsyncClient, admin: Caller) -> list[dict[str, Any]]:
    """Every saga listed, page after page of 50."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"cursor": cursor} if cursor else {}
        page = (await http.get("/api/v1/admin/sagas", params=params, headers=admin.headers)).json()
        found += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return found


async def test_an_order_cancelled_after_its_saga_completed_is_listed_as_cancelled(
    http: httpx.AsyncClient, customer: Caller, admin: Caller, create_product: CreateProduct,
    pool: asyncpg.Pool,
) -> None:  # fmt: skip
    order_id = await _place(http, customer, create_product)
    assert (await wait_for_status(http, customer, order_id))["status"] == "completed"
    await _listed(http, admin, "completed", order_id)  # the saga ended completed
    cancel = await http.post(f"/api/v1/orders/{order_id}/cancel", headers=customer.headers)
    assert cancel.status_code == 202, cancel.text  # before dispatch: refunded in full
    await wait_for_status(http, customer, order_id, {"cancelled"})
    await _projected(pool)

    assert (await _listing(http, admin))[order_id]["status"] == "cancelled"
    assert (await _listing(http, admin, "cancelled"))[order_id]["status"] == "cancelled"
    assert order_id not in await _listing(http, admin, "completed")
