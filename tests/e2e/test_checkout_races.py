"""The order is exactly the cart it converted: cart changes and deletes racing a checkout.

Each race is repeated, because an unsafe interleaving shows only in some runs; every run must
end with the order's lines equal to the converted cart's lines, and a change that answered 200
in the order (a refused one answers 409 problem+json and is in neither).
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.checkout_support import sagas_settle  # noqa: F401 (a fixture)
from tests.e2e.conftest import Caller, CreateProduct
from tests.e2e.orders_support import checkout_body, filled_cart, wait_for_status

pytestmark = pytest.mark.usefixtures("sagas_settle")
ROUNDS = 12
CHANGES_PER_ROUND = 3


def _lines(items: list[dict[str, Any]]) -> dict[str, int]:
    return {item["sku"]: item["quantity"] for item in items}


def _change(http: httpx.AsyncClient, who: Caller, cart_id: str, kind: str, sku: str, n: int) -> Any:
    url = f"/api/v1/cart/{cart_id}/items"
    if kind == "add":
        return http.post(url, json={"sku": sku, "quantity": 1}, headers=who.headers)
    if kind == "set":
        return http.put(f"{url}/{sku}", json={"quantity": 2 + n}, headers=who.headers)
    return http.delete(f"{url}/{sku}", headers=who.headers)


async def _charged_exactly(
    http: httpx.AsyncClient, who: Caller, pool: asyncpg.Pool, converted: dict[str, int]
) -> None:
    """Each order completes, capturing exactly its converted cart's subtotal."""
    for order_id, subtotal in converted.items():
        order = await wait_for_status(http, who, order_id, timeout_s=120)
        assert order["status"] == "completed", order
        captured = await pool.fetchval(
            "SELECT amount FROM sandbox_ledger WHERE order_id = $1 AND operation = 'capture'",
            order_id,
        )
        assert captured == subtotal == order["total"]


@pytest.mark.parametrize("kind", ["add", "set", "remove"])
async def test_a_change_racing_checkout_is_in_the_order_or_refused_with_409(
    http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct, kind: str,
    pool: asyncpg.Pool,
) -> None:  # fmt: skip
    kept = str((await create_product(price=700))["sku"])
    changing = [str((await create_product(price=100 + i))["sku"]) for i in range(3)]
    converted: dict[str, int] = {}
    for _ in range(ROUNDS):
        start = [(kept, 1)] + ([] if kind == "add" else [(sku, 1) for sku in changing])
        cart_id = await filled_cart(http, customer, *start)
        placed, *changes = await asyncio.gather(
            http.post("/api/v1/orders/", json=checkout_body(cart_id), headers=customer.headers),
            *(_change(http, customer, cart_id, kind, changing[n], n) for n in range(3)),
        )
        assert placed.status_code == 202, placed.text
        order = placed.json()
        cart = (await http.get(f"/api/v1/cart/{cart_id}", headers=customer.headers)).json()
        assert cart["status"] == "converted" and cart["order_id"] == order["id"]
        assert "checkout" not in cart  # the request's digest and key stay in Redis
        assert _lines(order["items"]) == _lines(cart["items"])
        assert order["subtotal"] == cart["subtotal"]
        converted[order["id"]] = cart["subtotal"]
        for n, change in enumerate(changes):
            assert change.status_code in (200, 409), change.text
            if change.status_code == 409:
                assert change.headers["content-type"] == "application/problem+json"
                assert "being checked out" in change.json()["title"].lower()
                continue
            applied = _lines(change.json()["items"])
            assert applied.get(changing[n]) == _lines(order["items"]).get(changing[n])
    await _charged_exactly(http, customer, pool, converted)


async def test_a_delete_racing_checkout_leaves_either_the_order_or_nothing(
    http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct, pool: asyncpg.Pool
) -> None:
    sku = str((await create_product(price=1500))["sku"])
    placed_orders: dict[str, int] = {}
    for _ in range(ROUNDS):
        cart_id = await filled_cart(http, customer, (sku, 1))
        before = (await http.get("/api/v1/orders/", headers=customer.headers)).json()["items"]
        placed, deleted = await asyncio.gather(
            http.post("/api/v1/orders/", json=checkout_body(cart_id), headers=customer.headers),
            http.delete(f"/api/v1/cart/{cart_id}", headers=customer.headers),
        )
        assert deleted.status_code == 204, deleted.text
        after = (await http.get("/api/v1/orders/", headers=customer.headers)).json()["items"]
        if placed.status_code == 404:
            assert [o["id"] for o in after] == [o["id"] for o in before]
        else:
            assert placed.status_code == 202, placed.text
            assert after[0]["id"] == placed.json()["id"]
            assert _lines(after[0]["items"]) == {sku: 1}
            placed_orders[placed.json()["id"]] = 1500
    await _charged_exactly(http, customer, pool, placed_orders)
