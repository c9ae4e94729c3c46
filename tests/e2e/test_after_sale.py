"""After the sale through HTTP on the sandbox: a cancel until dispatch refunds in full and
restocks; returns (RMA) refund exactly the lines that came back; operator refunds never exceed
the capture, however many run at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from commerce.settings import Settings
from tests.e2e.after_sale_support import (
    PRICE,
    carrier_reports,
    completed_order,
    order_until,
    stock,
)
from tests.e2e.conftest import Caller, CreateProduct
from tests.e2e.orders_support import assert_key_reused
from tests.ledgers import assert_ledgers_balance

pytestmark = pytest.mark.usefixtures("saga_worker")


async def test_a_cancel_before_dispatch_refunds_in_full_and_restocks(
    http: httpx.AsyncClient, customer: Caller, admin: Caller, create_product: CreateProduct,
    pool: asyncpg.Pool,
) -> None:  # fmt: skip
    order, sku = await completed_order(http, customer, create_product)
    assert await stock(http, admin, sku) == (7, 0)
    answer = await http.post(f"/api/v1/orders/{order['id']}/cancel", headers=customer.headers)
    assert answer.status_code == 202, answer.text

    cancelled = await order_until(http, customer, order["id"], lambda o: o["status"] == "cancelled")
    assert cancelled["refunded_total"] == order["total"] == 3 * PRICE
    history = [entry["type"] for entry in cancelled["history"]]
    assert {"ShipmentCancelled", "ReservationReleased", "RefundIssued"} <= set(history)
    assert await stock(http, admin, sku) == (10, 0)
    await assert_ledgers_balance(pool, [order["id"]], {sku: 10})


async def test_a_cancel_after_dispatch_is_409_request_a_return(
    http: httpx.AsyncClient, settings: Settings, customer: Caller, create_product: CreateProduct
) -> None:
    order, _ = await completed_order(http, customer, create_product)
    await carrier_reports(http, settings, order["id"], "dispatched", datetime.now(UTC))
    answer = await http.post(f"/api/v1/orders/{order['id']}/cancel", headers=customer.headers)
    assert answer.status_code == 409
    assert "request a return" in answer.json()["detail"]


async def test_a_return_of_one_of_three_units_refunds_one_units_price_and_restocks_one(
    http: httpx.AsyncClient, settings: Settings, customer: Caller, admin: Caller,
    create_product: CreateProduct, pool: asyncpg.Pool,
) -> None:  # fmt: skip
    order, sku = await completed_order(http, customer, create_product)
    await carrier_reports(http, settings, order["id"], "delivered", datetime.now(UTC))
    asked = await http.post(
        f"/api/v1/orders/{order['id']}/returns",
        json={"items": [{"sku": sku, "quantity": 1}], "reason": "too many"},
        headers=customer.headers,
    )
    assert asked.status_code == 201, asked.text
    return_id = asked.json()["id"]
    assert asked.json()["status"] == "requested"

    approved = await http.post(f"/api/v1/admin/returns/{return_id}/approve", headers=admin.headers)
    assert approved.status_code == 202, approved.text
    received = await http.post(
        f"/api/v1/admin/returns/{return_id}/receive", json={}, headers=admin.headers
    )
    assert received.status_code == 202, received.text

    done = await order_until(
        http, customer, order["id"], lambda o: o["returns"][0]["status"] == "refunded"
    )
    assert done["refunded_total"] == PRICE and done["status"] == "completed"
    assert await stock(http, admin, sku) == (8, 0)
    again = await http.post(f"/api/v1/admin/returns/{return_id}/receive", headers=admin.headers)
    assert again.status_code in (404, 409)
    await assert_ledgers_balance(pool, [order["id"]])


async def test_a_return_of_more_than_was_bought_is_422_and_outside_the_window_409(
    http: httpx.AsyncClient, settings: Settings, customer: Caller, create_product: CreateProduct
) -> None:
    order, sku = await completed_order(http, customer, create_product)
    url = f"/api/v1/orders/{order['id']}/returns"
    not_yet = await http.post(
        url, json={"items": [{"sku": sku, "quantity": 1}], "reason": "?"}, headers=customer.headers
    )
    assert not_yet.status_code == 409 and "not delivered" in not_yet.json()["detail"]
    long_ago = datetime.now(UTC) - timedelta(days=settings.return_window_days + 1)
    await carrier_reports(http, settings, order["id"], "delivered", long_ago)
    late = await http.post(
        url, json={"items": [{"sku": sku, "quantity": 1}], "reason": "?"}, headers=customer.headers
    )
    too_many = await http.post(
        url, json={"items": [{"sku": sku, "quantity": 4}], "reason": "?"}, headers=customer.headers
    )
    assert (late.status_code, too_many.status_code) == (409, 422)
    assert "return window" in late.json()["detail"]


async def test_twenty_concurrent_refunds_and_a_return_never_refund_more_than_was_captured(
    http: httpx.AsyncClient, settings: Settings, customer: Caller, admin: Caller,
    create_product: CreateProduct, pool: asyncpg.Pool,
) -> None:  # fmt: skip
    order, sku = await completed_order(http, customer, create_product)  # 3 x 1999 = 5997 captured
    await carrier_reports(http, settings, order["id"], "delivered", datetime.now(UTC))
    asked = await http.post(
        f"/api/v1/orders/{order['id']}/returns",
        json={"items": [{"sku": sku, "quantity": 1}], "reason": "broken"},
        headers=customer.headers,
    )
    return_id = asked.json()["id"]
    await http.post(f"/api/v1/admin/returns/{return_id}/approve", headers=admin.headers)

    async def refund(n: int) -> int:
        answer = await http.post(
            f"/api/v1/admin/orders/{order['id']}/refunds",
            json={"amount": 500, "reason": f"goodwill {n}"},
            headers={**admin.headers, "Idempotency-Key": f"refund-{n}"},
        )
        return answer.status_code

    receipt = http.post(f"/api/v1/admin/returns/{return_id}/receive", headers=admin.headers)
    codes, _ = await asyncio.gather(asyncio.gather(*(refund(n) for n in range(20))), receipt)
    accepted = codes.count(201)
    assert set(codes) <= {201, 409} and accepted >= 1

    def settled(o: dict[str, Any]) -> bool:
        events = [e["type"] for e in o["history"]]
        return events.count("RefundRequested") == events.count("RefundIssued") + events.count(
            "RefundFailed"
        ) and o["returns"][0]["status"] in ("refunded", "received")

    done = await order_until(http, customer, order["id"], settled, timeout_s=60)
    issued = [e for e in done["history"] if e["type"] == "RefundIssued"]
    for_return = sum(e["amount"] for e in issued if e["return_id"])
    assert done["refunded_total"] == 500 * accepted + for_return <= 3 * PRICE
    assert for_return <= PRICE  # its share, or what was left of the capture when it came
    await assert_ledgers_balance(pool, [order["id"]])


async def test_a_refund_key_reused_with_another_body_is_422_and_repeated_names_the_same_refund(
    http: httpx.AsyncClient, customer: Caller, admin: Caller, create_product: CreateProduct
) -> None:
    order, _ = await completed_order(http, customer, create_product, quantity=1)
    url = f"/api/v1/admin/orders/{order['id']}/refunds"
    headers = {**admin.headers, "Idempotency-Key": "once"}
    first = await http.post(url, json={"amount": 100, "reason": "sorry"}, headers=headers)
    again = await http.post(url, json={"amount": 100, "reason": "sorry"}, headers=headers)
    other = await http.post(url, json={"amount": 200, "reason": "sorry"}, headers=headers)
    over = await http.post(
        url, json={"amount": PRICE, "reason": "all of it"}, headers=admin.headers
    )
    assert (first.status_code, again.status_code) == (201, 201)
    assert_key_reused(other)
    assert first.json()["id"] == again.json()["id"]
    assert over.status_code == 409 and "can still be refunded" in over.json()["detail"]


async def test_a_return_key_reused_with_another_body_gets_the_one_key_reused_problem(
    http: httpx.AsyncClient, settings: Settings, customer: Caller, create_product: CreateProduct
) -> None:
    """The return awaits review, its workflow open: the workflow refuses the other body."""
    order, sku = await completed_order(http, customer, create_product)
    await carrier_reports(http, settings, order["id"], "delivered", datetime.now(UTC))
    url = f"/api/v1/orders/{order['id']}/returns"
    headers = {**customer.headers, "Idempotency-Key": "return-once"}
    body = {"items": [{"sku": sku, "quantity": 1}], "reason": "too many"}
    asked = await http.post(url, json=body, headers=headers)
    assert asked.status_code == 201, asked.text
    assert_key_reused(await http.post(url, json={**body, "reason": "other"}, headers=headers))
