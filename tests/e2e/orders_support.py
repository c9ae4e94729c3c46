"""Driving orders through the HTTP API: a filled cart, checkout, waiting for the saga."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.e2e.conftest import Caller

ADDRESS = {
    "name": "Ada Shopper",
    "line1": "1 Market St",
    "city": "Springfield",
    "postal_code": "12345",
    "country": "US",
}
TERMINAL = {"completed", "failed", "cancelled"}


async def filled_cart(http: httpx.AsyncClient, who: Caller, *lines: tuple[str, int]) -> str:
    answer = await http.post("/api/v1/cart/", json={}, headers=who.headers)
    assert answer.status_code == 201, answer.text
    cart_id = str(answer.json()["id"])
    for sku, quantity in lines:
        added = await http.post(
            f"/api/v1/cart/{cart_id}/items",
            json={"sku": sku, "quantity": quantity},
            headers=who.headers,
        )
        assert added.status_code == 200, added.text
    return cart_id


def checkout_body(cart_id: str, token: str = "tok_ok", **address: str) -> dict[str, Any]:
    return {
        "cart_id": cart_id,
        "payment_token": token,
        "shipping_address": {**ADDRESS, **address},
    }


async def wait_for_status(
    http: httpx.AsyncClient,
    who: Caller,
    order_id: str,
    wanted: set[str] = TERMINAL,
    timeout_s: float = 60.0,
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        answer = await http.get(f"/api/v1/orders/{order_id}", headers=who.headers)
        assert answer.status_code == 200, answer.text
        order: dict[str, Any] = answer.json()
        if order["status"] in wanted:
            return order
        assert asyncio.get_running_loop().time() < deadline, f"order stuck at {order['status']}"
        await asyncio.sleep(0.05)
