"""Prices at checkout: carts show current catalog prices, checkout charges them, a product no
longer sold (or not in the cart's currency) is refused, and `expected_total` guards consent."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.checkout_support import sagas_settle  # noqa: F401 (a fixture)
from tests.e2e.conftest import Caller, CreateProduct
from tests.e2e.orders_support import checkout_body, filled_cart, wait_for_status

pytestmark = pytest.mark.usefixtures("sagas_settle")
ORDERS = "/api/v1/orders/"


async def _reprice(
    http: httpx.AsyncClient, admin: Caller, product: dict[str, Any], **changes: Any
) -> None:
    body = {k: product[k] for k in ("name", "price", "currency")} | {"stock": 100} | changes
    answer = await http.put(
        f"/api/v1/admin/products/{product['sku']}", json=body, headers=admin.headers
    )
    assert answer.status_code == 200, answer.text


async def test_a_price_raised_after_the_first_add_is_shown_and_charged_for_every_unit(
    http: httpx.AsyncClient, customer: Caller, admin: Caller, create_product: CreateProduct,
    pool: asyncpg.Pool,
) -> None:  # fmt: skip
    product = await create_product(price=1000)
    sku = str(product["sku"])
    cart_id = await filled_cart(http, customer, (sku, 1))
    await _reprice(http, admin, product, price=2000)

    shown = (await http.get(f"/api/v1/cart/{cart_id}", headers=customer.headers)).json()
    added = await http.post(
        f"/api/v1/cart/{cart_id}/items", json={"sku": sku, "quantity": 2}, headers=customer.headers
    )
    placed = await http.post(ORDERS, json=checkout_body(cart_id), headers=customer.headers)

    assert (shown["items"][0]["unit_price"], shown["subtotal"]) == (2000, 2000)
    line = added.json()["items"][0]
    assert (line["quantity"], line["unit_price"], line["line_total"]) == (3, 2000, 6000)
    assert added.json()["subtotal"] == 6000
    assert placed.status_code == 202, placed.text
    assert (placed.json()["items"][0]["unit_price"], placed.json()["total"]) == (2000, 6000)
    order = await wait_for_status(http, customer, placed.json()["id"])
    assert order["status"] == "completed"
    captured = await pool.fetchval(
        "SELECT amount FROM sandbox_ledger WHERE order_id = $1 AND operation = 'capture'",
        order["id"],
    )
    assert captured == 6000


async def test_a_price_changed_between_add_and_checkout_is_what_the_order_charges(
    http: httpx.AsyncClient, customer: Caller, admin: Caller, create_product: CreateProduct
) -> None:
    product = await create_product(price=1000)
    cart_id = await filled_cart(http, customer, (str(product["sku"]), 3))
    await _reprice(http, admin, product, price=900)
    placed = await http.post(ORDERS, json=checkout_body(cart_id), headers=customer.headers)
    assert placed.status_code == 202, placed.text
    assert placed.json()["total"] == 2700
    cart = (await http.get(f"/api/v1/cart/{cart_id}", headers=customer.headers)).json()
    assert (cart["status"], cart["subtotal"]) == ("converted", 2700)


async def test_a_product_moved_to_another_currency_makes_checkout_409_naming_it(
    http: httpx.AsyncClient, customer: Caller, admin: Caller, create_product: CreateProduct
) -> None:
    moved, staying = await create_product(), await create_product()
    cart_id = await filled_cart(http, customer, (str(moved["sku"]), 1), (str(staying["sku"]), 1))
    await _reprice(http, admin, moved, currency="EUR")

    shown = (await http.get(f"/api/v1/cart/{cart_id}", headers=customer.headers)).json()
    answer = await http.post(ORDERS, json=checkout_body(cart_id), headers=customer.headers)

    assert shown["unsold_skus"] == [moved["sku"]]
    assert answer.status_code == 409, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["skus"] == [moved["sku"]]
    assert moved["sku"] in answer.json()["detail"]
    after = (await http.get(f"/api/v1/cart/{cart_id}", headers=customer.headers)).json()
    assert after["status"] == "active"
    assert (await http.get(ORDERS, headers=customer.headers)).json()["items"] == []


async def test_a_discontinued_product_cannot_be_added_or_checked_out_and_keeps_its_stock(
    http: httpx.AsyncClient, customer: Caller, admin: Caller, create_product: CreateProduct
) -> None:
    product = await create_product(stock=7)
    sku = str(product["sku"])
    cart_id = await filled_cart(http, customer, (sku, 1))
    url = f"/api/v1/admin/products/{sku}"

    gone = await http.delete(url, headers=admin.headers)
    again = await http.delete(url, headers=admin.headers)
    by_customer = await http.delete(url, headers=customer.headers)
    add = await http.post(
        f"/api/v1/cart/{cart_id}/items", json={"sku": sku, "quantity": 1}, headers=customer.headers
    )
    checkout = await http.post(ORDERS, json=checkout_body(cart_id), headers=customer.headers)
    kept = (await http.get(url, headers=admin.headers)).json()
    listed = (await http.get("/api/v1/products", headers=customer.headers)).json()["items"]

    assert (gone.status_code, again.status_code, by_customer.status_code) == (204, 204, 403)
    assert add.status_code == 404, add.text
    assert checkout.status_code == 409, checkout.text
    assert checkout.json()["skus"] == [sku]
    assert kept["discontinued_at"] is not None
    assert (kept["on_hand"], kept["reserved"]) == (7, 0)
    assert sku not in [p["sku"] for p in listed]
    unknown = await http.delete("/api/v1/admin/products/NO-SUCH-SKU", headers=admin.headers)
    assert unknown.status_code == 404

    await _reprice(http, admin, product)
    back = await http.post(ORDERS, json=checkout_body(cart_id), headers=customer.headers)
    assert back.status_code == 202, back.text
    assert (await http.get(url, headers=admin.headers)).json()["discontinued_at"] is None


async def test_an_expected_total_that_differs_is_409_with_the_current_cart(
    http: httpx.AsyncClient, customer: Caller, admin: Caller, create_product: CreateProduct
) -> None:
    product = await create_product(price=1500)
    cart_id = await filled_cart(http, customer, (str(product["sku"]), 2))
    await _reprice(http, admin, product, price=1600)
    stale = checkout_body(cart_id) | {"expected_total": 3000}

    refused = await http.post(ORDERS, json=stale, headers=customer.headers)
    agreed = await http.post(
        ORDERS, json=checkout_body(cart_id) | {"expected_total": 3200}, headers=customer.headers
    )

    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert (problem["expected_total"], problem["total"]) == (3000, 3200)
    assert problem["cart"]["id"] == cart_id and problem["cart"]["status"] == "active"
    assert (problem["cart"]["subtotal"], problem["cart"]["items"][0]["unit_price"]) == (3200, 1600)
    assert agreed.status_code == 202, agreed.text
    assert agreed.json()["total"] == 3200


@pytest.mark.parametrize("total", [-1, 1.5, "3000", True])
async def test_a_malformed_expected_total_is_422(
    http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct, total: object
) -> None:
    cart_id = await filled_cart(http, customer, (str((await create_product())["sku"]), 1))
    body = checkout_body(cart_id) | {"expected_total": total}
    answer = await http.post(ORDERS, json=body, headers=customer.headers)
    assert answer.status_code == 422, answer.text
