"""Returns through the carrier, on the real stack: an approved return gets a return label, and the
carrier's signed `delivered` report on its tracking number receives the goods (restocked,
refunded) exactly once, however often it is sent."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
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
    send_carrier_event,
    stock,
)
from tests.e2e.conftest import Caller, CreateProduct
from tests.ledgers import assert_ledgers_balance

pytestmark = pytest.mark.usefixtures("saga_worker")


async def _labelled_return(
    http: httpx.AsyncClient, settings: Settings, customer: Caller, admin: Caller,
    create_product: CreateProduct,
) -> tuple[dict[str, Any], str, str]:  # fmt: skip
    """A delivered order of 3 units, a return of one approved: (order, sku, return's view)."""
    order, sku = await completed_order(http, customer, create_product)
    await carrier_reports(http, settings, order["id"], "delivered", datetime.now(UTC))
    asked = await http.post(
        f"/api/v1/orders/{order['id']}/returns",
        json={"items": [{"sku": sku, "quantity": 1}], "reason": "one too many"},
        headers=customer.headers,
    )
    assert asked.status_code == 201, asked.text
    assert asked.json()["tracking_number"] is None  # no label before approval
    return_id = asked.json()["id"]
    approved = await http.post(f"/api/v1/admin/returns/{return_id}/approve", headers=admin.headers)
    assert approved.status_code == 202, approved.text
    await order_until(
        http, customer, order["id"], lambda o: o["returns"][0]["tracking_number"] is not None
    )
    return order, sku, return_id


def _report(tracking_number: str, status: str, event_id: str | None = None) -> dict[str, str]:
    return {"event_id": event_id or f"evt-{uuid.uuid4()}", "tracking_number": tracking_number,
            "status": status, "occurred_at": datetime.now(UTC).isoformat()}  # fmt: skip


async def _tracking_number(http: httpx.AsyncClient, who: Caller, order_id: str) -> str:
    returns = (await http.get(f"/api/v1/orders/{order_id}/returns", headers=who.headers)).json()
    [only] = returns["items"]
    return str(only["tracking_number"])


async def test_a_return_delivered_by_the_carriers_report_is_restocked_and_refunded(
    http: httpx.AsyncClient, settings: Settings, customer: Caller, admin: Caller,
    create_product: CreateProduct, pool: asyncpg.Pool,
) -> None:  # fmt: skip
    order, sku, return_id = await _labelled_return(http, settings, customer, admin, create_product)
    tracking_number = await _tracking_number(http, customer, order["id"])
    labels = await pool.fetch(
        "SELECT detail FROM sandbox_ledger WHERE order_id = $1 AND operation = 'return_label'",
        order["id"],
    )
    assert [row["detail"] for row in labels] == [return_id]  # one label, for this return
    assert await stock(http, admin, sku) == (7, 0)

    on_its_way = await send_carrier_event(http, settings, _report(tracking_number, "dispatched"))
    assert on_its_way.status_code == 200, on_its_way.text
    assert (on_its_way.json()["outcome"], on_its_way.json()["return_id"]) == ("ignored", return_id)
    delivered = await send_carrier_event(http, settings, _report(tracking_number, "delivered"))
    assert delivered.status_code == 200, delivered.text
    assert delivered.json()["outcome"] == "recorded"
    assert (delivered.json()["order_id"], delivered.json()["return_id"]) == (order["id"], return_id)

    done = await order_until(
        http, customer, order["id"], lambda o: o["returns"][0]["status"] == "refunded"
    )
    assert done["refunded_total"] == PRICE and done["status"] == "completed"
    assert done["returns"][0]["received"] == [{"sku": sku, "quantity": 1}]
    assert done["returns"][0]["tracking_number"] == tracking_number
    assert done["shipment_status"] == "delivered"  # the order's own parcel is untouched
    [refund] = [e for e in done["history"] if e["type"] == "RefundIssued"]
    assert (refund["amount"], refund["return_id"]) == (PRICE, return_id)
    assert await stock(http, admin, sku) == (8, 0)
    await assert_ledgers_balance(pool, [order["id"]])


async def test_a_carrier_report_on_an_unknown_return_tracking_number_is_404(
    http: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool
) -> None:
    report = _report(f"RTN{uuid.uuid4().hex[:12].upper()}", "delivered")
    answer = await send_carrier_event(http, settings, report)
    assert answer.status_code == 404, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    kept = await pool.fetchval(
        "SELECT count(*) FROM carrier_events WHERE event_id = $1", report["event_id"]
    )
    assert kept == 0  # nothing remembered: the same id may name a real parcel later


async def test_the_same_carrier_report_on_a_return_parcel_has_one_effect(
    http: httpx.AsyncClient, settings: Settings, customer: Caller, admin: Caller,
    create_product: CreateProduct, pool: asyncpg.Pool,
) -> None:  # fmt: skip
    order, sku, return_id = await _labelled_return(http, settings, customer, admin, create_product)
    tracking_number = await _tracking_number(http, customer, order["id"])
    report = _report(tracking_number, "delivered")

    at_once = await asyncio.gather(*(send_carrier_event(http, settings, report) for _ in range(4)))
    assert {answer.status_code for answer in at_once} == {200}
    assert len({answer.text for answer in at_once}) == 1  # one answer, kept and repeated
    assert (at_once[0].json()["outcome"], at_once[0].json()["return_id"]) == ("recorded", return_id)
    await order_until(
        http, customer, order["id"], lambda o: o["returns"][0]["status"] == "refunded"
    )
    later = await send_carrier_event(http, settings, report)
    assert (later.status_code, later.json()) == (200, at_once[0].json())
    another = await send_carrier_event(http, settings, _report(tracking_number, "delivered"))
    assert (another.status_code, another.json()["outcome"]) == (200, "ignored")

    done = (await http.get(f"/api/v1/orders/{order['id']}", headers=customer.headers)).json()
    types = [entry["type"] for entry in done["history"]]
    assert types.count("ReturnReceived") == types.count("RefundIssued") == 1
    assert done["refunded_total"] == PRICE
    refunds = await pool.fetchval(
        "SELECT count(*) FROM sandbox_ledger WHERE order_id = $1 AND operation = 'refund'",
        order["id"],
    )
    assert refunds == 1
    assert await stock(http, admin, sku) == (8, 0)
    await assert_ledgers_balance(pool, [order["id"]])
