"""The carrier inbox deduplicates by event id *and* body: a reused id with another body is
refused (409) and has no effect, whether it comes later or at the same moment."""

from __future__ import annotations

import asyncio
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
TYPES = {"label_created": "ShipmentLabelCreated", "dispatched": "ShipmentDispatched"}
STAGES = {*TYPES.values(), "ShipmentDelivered", "ShipmentLost"}


async def _completed_order(
    http: httpx.AsyncClient, who: Caller, create_product: CreateProduct
) -> dict[str, Any]:
    cart_id = await filled_cart(http, who, (str((await create_product())["sku"]), 1))
    placed = await http.post("/api/v1/orders/", json=checkout_body(cart_id), headers=who.headers)
    assert placed.status_code == 202, placed.text
    order = await wait_for_status(http, who, placed.json()["id"])
    assert order["status"] == "completed"
    return order


async def _send(http: httpx.AsyncClient, settings: Settings, event: dict[str, str]) -> Any:
    raw = json.dumps(event).encode()
    headers = {
        "content-type": "application/json",
        "X-Carrier-Signature": signature(str(webhook_secret(settings)), raw),
    }
    return await http.post(URL, content=raw, headers=headers)


async def _stages(http: httpx.AsyncClient, who: Caller, order_id: str) -> list[str]:
    order = (await http.get(f"/api/v1/orders/{order_id}", headers=who.headers)).json()
    return [entry["type"] for entry in order["history"] if entry["type"] in STAGES]


def _event(order_id: str, event_id: str, status: str, **extra: str) -> dict[str, str]:
    event = {"event_id": event_id, "order_id": order_id, "status": status}
    return event | {"occurred_at": "2025-06-01T12:00:00Z"} | extra


async def test_an_event_id_reused_with_another_body_is_409_and_changes_nothing(
    http: httpx.AsyncClient, settings: Settings, customer: Caller, create_product: CreateProduct
) -> None:
    order = await _completed_order(http, customer, create_product)
    event_id = f"evt-{uuid.uuid4()}"
    first = await _send(http, settings, _event(order["id"], event_id, "dispatched"))
    reused = await _send(http, settings, _event(order["id"], event_id, "delivered"))
    later = await _send(
        http, settings, _event(order["id"], event_id, "dispatched", occurred_at="2025-06-02T00:00Z")
    )
    same = await _send(http, settings, _event(order["id"], event_id, "dispatched"))
    reformatted = await _send(
        http,
        settings,
        _event(order["id"], event_id, "dispatched", occurred_at="2025-06-01T12:00:00+00:00"),
    )

    assert first.status_code == 200, first.text
    for refused in (reused, later):
        assert refused.status_code == 409, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert event_id in refused.json()["detail"]
    assert (same.status_code, same.json()) == (200, first.json())
    assert (reformatted.status_code, reformatted.json()) == (200, first.json())
    assert await _stages(http, customer, order["id"]) == ["ShipmentDispatched"]


async def test_an_event_id_sent_at_once_with_two_bodies_has_one_effect_and_one_refusal(
    http: httpx.AsyncClient, settings: Settings, customer: Caller, create_product: CreateProduct
) -> None:
    order = await _completed_order(http, customer, create_product)
    recorded: list[str] = []
    for _ in range(4):
        event_id = f"evt-{uuid.uuid4()}"
        bodies = [_event(order["id"], event_id, s) for s in ("label_created", "dispatched")]
        answers = await asyncio.gather(*(_send(http, settings, b) for b in bodies))
        codes = [a.status_code for a in answers]
        assert sorted(codes) == [200, 409], [a.text for a in answers]
        accepted, answer = bodies[codes.index(200)], answers[codes.index(200)].json()
        assert answer["event_id"] == event_id
        if answer["outcome"] == "recorded":
            assert answer["shipment_status"] == accepted["status"]
            recorded.append(TYPES[accepted["status"]])
        again = await _send(http, settings, accepted)
        assert (again.status_code, again.json()) == (200, answer)
    assert await _stages(http, customer, order["id"]) == recorded
