"""Returns, refunds and a cancel after completion leave the service as signed public events that
satisfy their schemas, and tell the customer: real orders through the HTTP API, the saga, the
return and cancellation workflows, the carrier's webhook, the dispatcher and the notifier."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import asyncpg
import httpx
import jsonschema
import pytest
from standardwebhooks import Webhook

from commerce.settings import Settings
from commerce.webhook_receiver import Received, WebhookReceiver
from tests.e2e.after_sale_support import (
    PRICE,
    carrier_reports,
    completed_order,
    order_until,
    send_carrier_event,
)
from tests.e2e.conftest import Caller, CreateProduct
from tests.e2e.webhooks.conftest import Dispatching, Subscribe

pytestmark = pytest.mark.usefixtures("saga_worker", "notifying")
SCHEMAS = resources.files("domain") / "event_schemas"
RETURNED = ["return.requested", "return.approved", "return.label_created", "return.received",
            "refund.issued"]  # fmt: skip
REJECTED = ["return.requested", "return.rejected"]
CANCELLED = ["refund.issued", "order.cancelled"]


async def _delivered(
    http: httpx.AsyncClient, settings: Settings, customer: Caller, create_product: CreateProduct
) -> tuple[dict[str, Any], str]:
    order, sku = await completed_order(http, customer, create_product)
    await carrier_reports(http, settings, order["id"], "delivered", datetime.now(UTC))
    return order, sku


async def _ask_return(http: httpx.AsyncClient, who: Caller, order_id: str, sku: str) -> str:
    asked = await http.post(
        f"/api/v1/orders/{order_id}/returns",
        json={"items": [{"sku": sku, "quantity": 1}], "reason": "does not fit"},
        headers=who.headers,
    )
    assert asked.status_code == 201, asked.text
    return str(asked.json()["id"])


async def _returned_by_carrier(
    http: httpx.AsyncClient, settings: Settings, customer: Caller, admin: Caller,
    create_product: CreateProduct,
) -> tuple[str, str]:  # fmt: skip
    order, sku = await _delivered(http, settings, customer, create_product)
    return_id = await _ask_return(http, customer, order["id"], sku)
    approved = await http.post(f"/api/v1/admin/returns/{return_id}/approve", headers=admin.headers)
    assert approved.status_code == 202, approved.text
    labelled = await order_until(
        http, customer, order["id"], lambda o: o["returns"][0]["tracking_number"] is not None
    )
    report = {"event_id": f"evt-{uuid.uuid4()}", "status": "delivered",
              "tracking_number": labelled["returns"][0]["tracking_number"],
              "occurred_at": datetime.now(UTC).isoformat()}  # fmt: skip
    assert (await send_carrier_event(http, settings, report)).status_code == 200
    await order_until(
        http, customer, order["id"], lambda o: o["returns"][0]["status"] == "refunded"
    )
    return order["id"], return_id


def _by_order(received: list[Received], order_ids: set[str]) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = defaultdict(list)
    for request in received:
        if request.event["order_id"] in order_ids:
            seen[request.event["order_id"]].append(request.event["type"])
    return seen


async def _notified(pool: asyncpg.Pool, order_id: str, count: int) -> list[dict[str, Any]]:
    async with asyncio.timeout(20):
        while len(rows := await pool.fetch(
            "SELECT detail FROM sandbox_ledger WHERE order_id = $1"
            " AND provider = 'notifications' ORDER BY created_at", order_id,
        )) < count:  # fmt: skip
            await asyncio.sleep(0.05)
    return [json.loads(row["detail"]) for row in rows]


async def test_returns_refunds_and_a_late_cancel_arrive_signed_valid_and_tell_the_customer(
    http: httpx.AsyncClient, settings: Settings, admin: Caller, customer: Caller,
    create_product: CreateProduct, receiver: WebhookReceiver, subscribe: Subscribe,
    dispatching: Dispatching, pool: asyncpg.Pool,
) -> None:  # fmt: skip
    webhook = await subscribe(receiver.url, "return.*", "refund.issued", "order.cancelled")
    async with dispatching():
        returned, return_id = await _returned_by_carrier(
            http, settings, customer, admin, create_product
        )
        delivered, sku = await _delivered(http, settings, customer, create_product)
        rejected = delivered["id"]
        refused_id = await _ask_return(http, customer, rejected, sku)
        refusal = await http.post(
            f"/api/v1/admin/returns/{refused_id}/reject", json={"reason": "worn"},
            headers=admin.headers,
        )  # fmt: skip
        assert refusal.status_code == 202, refusal.text
        cancelled, _ = await completed_order(http, customer, create_product)
        cancel = await http.post(f"/api/v1/orders/{cancelled['id']}/cancel",
                                 headers=customer.headers)  # fmt: skip
        assert cancel.status_code == 202, cancel.text
        wanted = {returned: RETURNED, rejected: REJECTED, cancelled["id"]: CANCELLED}
        got = await receiver.wait_for(lambda r: _by_order(r, set(wanted)) == wanted, 60)

    events = {}
    for request in (r for r in got if r.event["order_id"] in wanted):
        event = Webhook(webhook["secret"]).verify(request.body, request.headers)
        schema = json.loads((SCHEMAS / f"{event['type']}.json").read_text())
        jsonschema.validate(event, schema, format_checker=jsonschema.FormatChecker())
        assert event["data"]["customer_id"] == customer.subject
        events[(event["order_id"], event["type"])] = event["data"]
    label = events[(returned, "return.label_created")]
    assert label["return_id"] == return_id and label["tracking_number"].startswith("RTN")
    assert events[(returned, "return.received")]["received"][0]["quantity"] == 1
    assert events[(returned, "refund.issued")]["return_id"] == return_id
    assert events[(returned, "refund.issued")]["amount"] == PRICE
    assert events[(rejected, "return.rejected")]["reason"] == "worn"
    late = events[(cancelled["id"], "order.cancelled")]
    assert late["refunded_total"] == late["total"] == 3 * PRICE
    assert events[(cancelled["id"], "refund.issued")]["return_id"] is None

    first = ["order.placed", "order.completed", "shipment.delivered"]
    told = [m["kind"] for m in await _notified(pool, returned, 7)]
    assert told == [*first, "return.approved", "return.label_created", "return.received",
                    "refund.issued"]  # fmt: skip
    assert [m["kind"] for m in await _notified(pool, rejected, 4)] == [*first, "return.rejected"]
    assert [m["kind"] for m in await _notified(pool, cancelled["id"], 4)] == [
        "order.placed", "order.completed", "refund.issued", "order.cancelled",
    ]  # fmt: skip
