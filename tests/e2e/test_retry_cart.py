"""A payment that is not authorized does not cost the customer the cart: the failed order names
a retry cart (`retry_cart_id`), the customer's active cart, with the order's lines at the
catalog's current prices; its checkout is a new order. A failure after authorization gives none."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import redis.asyncio as redis

from tests.e2e.conftest import Caller, CreateProduct
from tests.e2e.orders_support import checkout_body, filled_cart, wait_for_status

pytestmark = pytest.mark.usefixtures("saga_worker")
ORDERS = "/api/v1/orders/"


async def _set_price(http: httpx.AsyncClient, admin: Caller, sku: str, price: int) -> None:
    body = {"name": f"{sku} renamed", "price": price, "currency": "USD", "stock": 100}
    answer = await http.put(f"/api/v1/admin/products/{sku}", json=body, headers=admin.headers)
    assert answer.status_code == 200, answer.text


async def _carts_of(client: redis.Redis, who: Caller) -> set[str]:
    """Every cart Redis holds for the customer (read straight from the store)."""
    found = set()
    async for key in client.scan_iter(match="cart:*", count=1000):
        raw = await client.get(key) if key.count(":") == 1 else None
        if raw and json.loads(raw).get("customer_id") == who.subject:
            found.add(key.removeprefix("cart:"))
    return found


async def _failed(http: httpx.AsyncClient, who: Caller, cart_id: str, token: str) -> dict[str, Any]:
    placed = await http.post(ORDERS, json=checkout_body(cart_id, token), headers=who.headers)
    assert placed.status_code == 202, placed.text
    assert placed.json()["retry_cart_id"] is None  # nothing failed yet
    order = await wait_for_status(http, who, placed.json()["id"])
    assert order["status"] == "failed", order
    return order


async def _active_cart(http: httpx.AsyncClient, who: Caller) -> dict[str, Any]:
    answer = await http.get("/api/v1/cart/active", headers=who.headers)
    assert answer.status_code == 200, answer.text
    cart: dict[str, Any] = answer.json()
    return cart


def _lines(holder: dict[str, Any]) -> list[tuple[str, int, int]]:
    return sorted((i["sku"], i["quantity"], i["unit_price"]) for i in holder["items"])


async def test_a_declined_card_gives_the_lines_back_in_an_active_cart_whose_checkout_is_new(
    http: httpx.AsyncClient,
    redis_client: redis.Redis,
    customer: Caller,
    admin: Caller,
    create_product: CreateProduct,
) -> None:
    mug = str((await create_product(price=1000))["sku"])
    tea = str((await create_product(price=450))["sku"])
    cart_id = await filled_cart(http, customer, (mug, 2), (tea, 3))

    failed = await _failed(http, customer, cart_id, "tok_decline")

    retry_cart_id = failed["retry_cart_id"]
    assert retry_cart_id is not None and retry_cart_id != cart_id
    assert failed["failure_reason"] == "the card was declined"
    listed = await http.get(ORDERS, headers=customer.headers)
    assert [o["retry_cart_id"] for o in listed.json()["items"] if o["id"] == failed["id"]] == [
        retry_cart_id
    ]
    await _set_price(http, admin, mug, 1100)  # the cart shows what the catalog asks now
    cart = await _active_cart(http, customer)
    assert (cart["id"], cart["status"], cart["retry_of"]) == (retry_cart_id, "active", failed["id"])
    assert _lines(cart) == sorted([(mug, 2, 1100), (tea, 3, 450)])
    assert (cart["subtotal"], cart["currency"], cart["unsold_skus"]) == (3550, "USD", [])
    assert await _carts_of(redis_client, customer) == {cart_id, retry_cart_id}

    # The storefront sends the old cart again with another card: the problem names the new one.
    again = await http.post(ORDERS, json=checkout_body(cart_id, "tok_ok"), headers=customer.headers)
    assert again.status_code == 409, again.text
    assert again.headers["content-type"] == "application/problem+json"
    problem = again.json()
    assert (problem["retry_cart_id"], problem["order_id"]) == (retry_cart_id, failed["id"])
    assert retry_cart_id in problem["detail"] and "the card was declined" in problem["detail"]
    cancel = await http.post(f"{ORDERS}{failed['id']}/cancel", headers=customer.headers)
    assert (cancel.status_code, cancel.json()["retry_cart_id"]) == (409, retry_cart_id)

    retried = await http.post(
        ORDERS, json=checkout_body(retry_cart_id, "tok_ok"), headers=customer.headers
    )
    assert retried.status_code == 202, retried.text
    assert retried.json()["id"] != failed["id"]
    assert _lines(retried.json()) == sorted([(mug, 2, 1100), (tea, 3, 450)])
    done = await wait_for_status(http, customer, retried.json()["id"])
    assert (done["status"], done["total"], done["retry_cart_id"]) == ("completed", 3550, None)
    assert (await http.get("/api/v1/cart/active", headers=customer.headers)).status_code == 404
    after = await http.get(f"/api/v1/orders/{failed['id']}", headers=customer.headers)
    assert after.json()["retry_cart_id"] == retry_cart_id  # named for good, converted or not


async def test_a_failed_3d_secure_check_gives_the_lines_back_at_the_prices_of_that_moment(
    http: httpx.AsyncClient, customer: Caller, admin: Caller, create_product: CreateProduct
) -> None:
    mug = str((await create_product(price=1000))["sku"])
    tea = str((await create_product(price=450))["sku"])
    cart_id = await filled_cart(http, customer, (mug, 1), (tea, 2))
    placed = await http.post(
        ORDERS, json=checkout_body(cart_id, "tok_3ds"), headers=customer.headers
    )
    assert placed.status_code == 202, placed.text
    order_id = placed.json()["id"]
    await wait_for_status(http, customer, order_id, {"awaiting_payment"})
    await _set_price(http, admin, mug, 1250)
    stopped = await http.delete(f"/api/v1/admin/products/{tea}", headers=admin.headers)
    assert stopped.status_code == 204, stopped.text

    answer = await http.post(
        f"/api/v1/admin/sandbox/payments/{order_id}/action",
        json={"authenticated": False},
        headers=admin.headers,
    )
    assert answer.status_code == 202, answer.text
    failed = await wait_for_status(http, customer, order_id)

    assert failed["status"] == "failed" and failed["retry_cart_id"] is not None
    cart = await _active_cart(http, customer)
    assert cart["id"] == failed["retry_cart_id"]
    # A product no longer sold keeps the line (at the order's price) and is named: checkout
    # is refused until the customer removes it.
    assert _lines(cart) == sorted([(mug, 1, 1250), (tea, 2, 450)])
    assert cart["unsold_skus"] == [tea]
    refused = await http.post(
        ORDERS, json=checkout_body(cart["id"], "tok_ok"), headers=customer.headers
    )
    assert (refused.status_code, refused.json()["skus"]) == (409, [tea])


async def test_a_capture_decline_gives_no_cart_back_since_it_failed_after_authorization(
    http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct
) -> None:
    sku = str((await create_product(price=1000))["sku"])
    cart_id = await filled_cart(http, customer, (sku, 1))

    failed = await _failed(http, customer, cart_id, "tok_capture_decline")

    assert failed["retry_cart_id"] is None
    assert (await http.get("/api/v1/cart/active", headers=customer.headers)).status_code == 404
    again = await http.post(ORDERS, json=checkout_body(cart_id, "tok_ok"), headers=customer.headers)
    assert again.status_code == 409 and "retry_cart_id" not in again.json()


async def test_reads_of_a_failed_order_at_once_all_name_its_one_retry_cart(
    http: httpx.AsyncClient,
    redis_client: redis.Redis,
    customer: Caller,
    create_product: CreateProduct,
) -> None:
    sku = str((await create_product(price=1000))["sku"])
    cart_id = await filled_cart(http, customer, (sku, 1))
    placed = await http.post(
        ORDERS, json=checkout_body(cart_id, "tok_decline"), headers=customer.headers
    )
    order_id = placed.json()["id"]

    async def read_until_failed() -> str | None:
        order = await wait_for_status(http, customer, order_id)
        named: str | None = order["retry_cart_id"]
        return named

    named = await asyncio.gather(*(read_until_failed() for _ in range(12)))

    assert len(set(named)) == 1 and named[0] is not None
    assert await _carts_of(redis_client, customer) == {cart_id, named[0]}
    assert (await _active_cart(http, customer))["id"] == named[0]
