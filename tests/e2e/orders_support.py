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
# What every request refused for an Idempotency-Key reused with another body answers.
KEY_REUSED = {
    "status": 422,
    "title": "Idempotency key reused",
    "detail": "this Idempotency-Key was already used with a different request",
}


def assert_key_reused(answer: httpx.Response) -> None:
    """The one problem a reused Idempotency-Key gets, whichever path refused it."""
    assert answer.headers["content-type"] == "application/problem+json", answer.text
    body = answer.json()
    assert {field: body.get(field) for field in KEY_REUSED} == KEY_REUSED, answer.text


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


async def place_order(
    http: httpx.AsyncClient, who: Caller, *lines: tuple[str, int], token: str = "tok_ok"
) -> str:
    """A new cart with `lines`, checked out (202): the order's id."""
    cart_id = await filled_cart(http, who, *lines)
    placed = await http.post("/api/v1/orders/", json=checkout_body(cart_id, token),
                             headers=who.headers)  # fmt: skip
    assert placed.status_code == 202, placed.text
    return str(placed.json()["id"])


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
