"""Driving orders after the sale through HTTP: a completed order, signed carrier reports, stock,
and waiting for an order to get somewhere."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from api.routers.carrier import signature, webhook_secret
from commerce.settings import Settings
from tests.e2e.conftest import Caller, CreateProduct
from tests.e2e.orders_support import checkout_body, filled_cart, wait_for_status

PRICE = 1999


async def completed_order(
    http: httpx.AsyncClient, who: Caller, create_product: CreateProduct, quantity: int = 3
) -> tuple[dict[str, Any], str]:
    """A completed order of `quantity` units of a new product (price PRICE, 10 in stock)."""
    sku = str((await create_product(price=PRICE, stock=10))["sku"])
    cart_id = await filled_cart(http, who, (sku, quantity))
    placed = await http.post("/api/v1/orders/", json=checkout_body(cart_id), headers=who.headers)
    assert placed.status_code == 202, placed.text
    order = await wait_for_status(http, who, placed.json()["id"])
    assert order["status"] == "completed"
    return order, sku


async def send_carrier_event(
    http: httpx.AsyncClient, settings: Settings, event: dict[str, Any]
) -> httpx.Response:
    """POST a carrier report signed as the carrier signs it."""
    raw = json.dumps(event).encode()
    secret = webhook_secret(settings)
    assert secret is not None
    return await http.post(
        "/api/v1/carrier/events", content=raw,
        headers={"content-type": "application/json", "X-Carrier-Signature": signature(secret, raw)},
    )  # fmt: skip


async def carrier_reports(
    http: httpx.AsyncClient, settings: Settings, order_id: str, status: str, at: datetime
) -> None:
    """The carrier reports the order's parcel at `status` (200 expected)."""
    answer = await send_carrier_event(http, settings, {
        "event_id": f"evt-{uuid.uuid4()}", "order_id": order_id, "status": status,
        "occurred_at": at.isoformat(),
    })  # fmt: skip
    assert answer.status_code == 200, answer.text


async def stock(http: httpx.AsyncClient, admin: Caller, sku: str) -> tuple[int, int]:
    """(on_hand, reserved) of a product."""
    product = (await http.get(f"/api/v1/admin/products/{sku}", headers=admin.headers)).json()
    return product["on_hand"], product["reserved"]


async def order_until(
    http: httpx.AsyncClient,
    who: Caller,
    order_id: str,
    done: Callable[[dict[str, Any]], bool],
    timeout_s: float = 30,
) -> dict[str, Any]:
    """The order view once `done` holds for it (AssertionError after `timeout_s`)."""
    for _ in range(int(timeout_s * 20)):
        order: dict[str, Any] = (
            await http.get(f"/api/v1/orders/{order_id}", headers=who.headers)
        ).json()
        if done(order):
            return order
        await asyncio.sleep(0.05)
    raise AssertionError(f"order {order_id} never got there: {order}")
