"""The carrier webhook through HTTP: HMAC auth, the lifecycle, replays and out-of-order events."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from api.routers.carrier import signature, webhook_secret
from commerce.settings import Settings
from tests.e2e.conftest import Caller, CreateProduct
from tests.e2e.orders_support import checkout_body, filled_cart, wait_for_status

pytestmark = pytest.mark.usefixtures("saga_worker")
URL = "/api/v1/carrier/events"
LIFECYCLE = ["ShipmentLabelCreated", "ShipmentDispatched", "ShipmentDelivered", "ShipmentLost"]


async def _order(
    http: httpx.AsyncClient, who: Caller, create_product: CreateProduct, token: str = "tok_ok"
) -> dict[str, Any]:
    product = await create_product(stock=5)
    cart_id = await filled_cart(http, who, (str(product["sku"]), 1))
    body = checkout_body(cart_id, token)
    placed = await http.post("/api/v1/orders/", json=body, headers=who.headers)
    assert placed.status_code == 202, placed.text
    return await wait_for_status(http, who, placed.json()["id"])


def _event(status: str, event_id: str | None = None, **parcel: str) -> dict[str, str]:
    return {
        "event_id": event_id or f"evt-{uuid.uuid4()}",
        "status": status,
        "occurred_at": "2025-06-01T12:00:00Z",
        **parcel,
    }


async def _send(
    http: httpx.AsyncClient, settings: Settings, event: dict[str, str], sign: bool = True
) -> httpx.Response:
    raw = json.dumps(event).encode()
    secret = webhook_secret(settings)
    assert secret is not None
    headers = {"content-type": "application/json"}
    if sign:
        headers["X-Carrier-Signature"] = signature(secret, raw)
    return await http.post(URL, content=raw, headers=headers)


async def _lifecycle(http: httpx.AsyncClient, who: Caller, order_id: str) -> list[str]:
    order = (await http.get(f"/api/v1/orders/{order_id}", headers=who.headers)).json()
    return [entry["type"] for entry in order["history"] if entry["type"] in LIFECYCLE]


async def test_a_missing_or_wrong_signature_is_401_and_changes_nothing(
    http: httpx.AsyncClient, settings: Settings, customer: Caller, create_product: CreateProduct
) -> None:
    order = await _order(http, customer, create_product)
    event = _event("delivered", order_id=order["id"])
    raw = json.dumps(event).encode()
    attempts = {
        "missing": {},
        "wrong secret": {"X-Carrier-Signature": signature("not-the-secret", raw)},
        "not hex": {"X-Carrier-Signature": "sha256=zz"},
    }
    for name, headers in attempts.items():
        answer = await http.post(URL, content=raw, headers=headers)
        assert answer.status_code == 401, (name, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    tampered = {**event, "status": "lost"}
    forged = {"X-Carrier-Signature": signature(str(webhook_secret(settings)), raw)}
    answer = await http.post(URL, content=json.dumps(tampered).encode(), headers=forged)
    assert answer.status_code == 401
    after = (await http.get(f"/api/v1/orders/{order['id']}", headers=customer.headers)).json()
    assert after["shipment_status"] is None
    assert after["history"] == order["history"]


async def test_a_full_lifecycle_by_tracking_number(
    http: httpx.AsyncClient, settings: Settings, customer: Caller, create_product: CreateProduct
) -> None:
    order = await _order(http, customer, create_product)
    assert order["status"] == "completed" and order["shipment_status"] is None
    for status in ("label_created", "dispatched", "delivered"):
        answer = await _send(
            http, settings, _event(status, tracking_number=order["tracking_number"])
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["outcome"] == "recorded"
        assert answer.json()["shipment_status"] == status
    view = (await http.get(f"/api/v1/orders/{order['id']}", headers=customer.headers)).json()
    assert (view["status"], view["shipment_status"]) == ("completed", "delivered")
    assert await _lifecycle(http, customer, order["id"]) == LIFECYCLE[:3]
    assert view["history"][-1]["carrier_event_id"].startswith("evt-")


async def test_a_replayed_event_has_no_second_effect_and_the_same_answer(
    http: httpx.AsyncClient, settings: Settings, customer: Caller, create_product: CreateProduct
) -> None:
    order = await _order(http, customer, create_product)
    event = _event("dispatched", order_id=order["id"])
    first = await _send(http, settings, event)
    again = [await _send(http, settings, event) for _ in range(3)]
    assert first.status_code == 200, first.text
    assert all((a.status_code, a.json()) == (200, first.json()) for a in again)
    assert await _lifecycle(http, customer, order["id"]) == ["ShipmentDispatched"]


async def test_out_of_order_events_move_forward_and_stale_ones_are_ignored(
    http: httpx.AsyncClient, settings: Settings, customer: Caller, create_product: CreateProduct
) -> None:
    order = await _order(http, customer, create_product)
    delivered = await _send(http, settings, _event("delivered", order_id=order["id"]))
    assert delivered.json()["outcome"] == "recorded", delivered.text
    stale = await _send(http, settings, _event("dispatched", order_id=order["id"]))
    assert stale.status_code == 200
    assert (stale.json()["outcome"], stale.json()["shipment_status"]) == ("ignored", "delivered")
    conflicting = await _send(http, settings, _event("lost", order_id=order["id"]))
    assert conflicting.status_code == 409, conflicting.text
    assert conflicting.headers["content-type"] == "application/problem+json"
    assert await _lifecycle(http, customer, order["id"]) == ["ShipmentDelivered"]


async def test_unknown_orders_and_unfinished_ones_are_refused_without_effect(
    http: httpx.AsyncClient, settings: Settings, customer: Caller, create_product: CreateProduct
) -> None:
    unknown = await _send(http, settings, _event("dispatched", order_id=str(uuid.uuid4())))
    assert unknown.status_code == 404, unknown.text
    no_parcel = await _send(http, settings, {**_event("dispatched"), "status": "teleported"})
    assert no_parcel.status_code == 422
    failed = await _order(http, customer, create_product, token="tok_decline")
    assert failed["status"] == "failed"
    answer = await _send(http, settings, _event("dispatched", order_id=failed["id"]))
    assert answer.status_code == 409, answer.text
    assert (
        failed["history"]
        == (await http.get(f"/api/v1/orders/{failed['id']}", headers=customer.headers)).json()[
            "history"
        ]
    )
