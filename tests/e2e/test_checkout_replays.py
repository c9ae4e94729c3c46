"""Replays: a checkout is answered from what its Idempotency-Key (or its cart's checkout)
recorded, before the cart is looked up; a reused key or cart with another body is refused."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from tests.e2e.checkout_support import sagas_settle  # noqa: F401 (a fixture)
from tests.e2e.conftest import Caller, CreateProduct
from tests.e2e.orders_support import assert_key_reused, checkout_body, filled_cart

pytestmark = pytest.mark.usefixtures("sagas_settle")
ORDERS = "/api/v1/orders/"


async def test_a_keyed_replay_after_the_cart_is_deleted_names_the_same_order(
    http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct
) -> None:
    sku = str((await create_product())["sku"])
    cart_id = await filled_cart(http, customer, (sku, 2))
    headers = {**customer.headers, "Idempotency-Key": f"key-{uuid.uuid4()}"}
    first = await http.post(ORDERS, json=checkout_body(cart_id), headers=headers)
    assert first.status_code == 202, first.text
    deleted = await http.delete(f"/api/v1/cart/{cart_id}", headers=customer.headers)
    assert deleted.status_code == 204

    again = await http.post(ORDERS, json=checkout_body(cart_id), headers=headers)
    other = await http.post(ORDERS, json=checkout_body(cart_id, "tok_other"), headers=headers)

    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Location"] == first.headers["Location"]
    assert other.status_code == 422, other.text
    assert other.headers["content-type"] == "application/problem+json"


async def test_without_a_key_the_identical_request_names_the_order_and_another_is_409(
    http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct
) -> None:
    sku = str((await create_product())["sku"])
    cart_id = await filled_cart(http, customer, (sku, 1))
    first = await http.post(ORDERS, json=checkout_body(cart_id), headers=customer.headers)
    assert first.status_code == 202, first.text

    for _ in ("while the cart exists", "after it is deleted"):
        same = await http.post(ORDERS, json=checkout_body(cart_id), headers=customer.headers)
        other = await http.post(
            ORDERS, json=checkout_body(cart_id, "tok_two"), headers=customer.headers
        )
        assert (same.status_code, same.json()["id"]) == (200, first.json()["id"]), same.text
        assert other.status_code == 409, other.text
        assert other.headers["content-type"] == "application/problem+json"
        assert "already checked out" in other.json()["detail"]
        await http.delete(f"/api/v1/cart/{cart_id}", headers=customer.headers)


async def test_identical_requests_without_a_key_sent_at_once_make_one_order(
    http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct
) -> None:
    sku = str((await create_product())["sku"])
    cart_id = await filled_cart(http, customer, (sku, 1))
    answers = await asyncio.gather(
        *(
            http.post(ORDERS, json=checkout_body(cart_id), headers=customer.headers)
            for _ in range(8)
        )
    )
    assert sorted(a.status_code for a in answers) == [200] * 7 + [202], [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1


async def test_a_key_reused_at_once_on_another_cart_is_422_and_that_cart_stays_active(
    http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct
) -> None:
    sku = str((await create_product())["sku"])
    for _ in range(5):
        carts = [await filled_cart(http, customer, (sku, 1)) for _ in range(2)]
        headers = {**customer.headers, "Idempotency-Key": f"key-{uuid.uuid4()}"}
        answers = await asyncio.gather(
            *(http.post(ORDERS, json=checkout_body(c), headers=headers) for c in carts)
        )
        assert sorted(a.status_code for a in answers) == [202, 422], [a.text for a in answers]
        assert_key_reused(next(a for a in answers if a.status_code == 422))
        refused = carts[[a.status_code for a in answers].index(422)]
        shown = (await http.get(f"/api/v1/cart/{refused}", headers=customer.headers)).json()
        assert (shown["status"], shown["order_id"]) == ("active", None)
        later = await http.post(ORDERS, json=checkout_body(refused), headers=customer.headers)
        assert later.status_code == 202, later.text
