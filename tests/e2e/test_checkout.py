"""Checkout through HTTP, the saga on the real Temporal dev server, every sandbox path."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
import pytest

from tests.e2e.conftest import Caller, CreateProduct
from tests.e2e.orders_support import (
    assert_key_reused,
    checkout_body,
    filled_cart,
    wait_for_status,
)

pytestmark = pytest.mark.usefixtures("saga_worker")


async def _stock(http: httpx.AsyncClient, admin: Caller, sku: str) -> tuple[int, int, int]:
    product = (await http.get(f"/api/v1/admin/products/{sku}", headers=admin.headers)).json()
    return product["on_hand"], product["reserved"], product["available"]


async def _ledger(pool: asyncpg.Pool, order_id: str) -> list[str]:
    rows = await pool.fetch(
        "SELECT operation FROM sandbox_ledger WHERE order_id = $1 ORDER BY created_at", order_id
    )
    return [r["operation"] for r in rows]


async def test_checkout_answers_202_with_a_pending_order_readable_at_once(
    http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct
) -> None:
    product = await create_product(price=1250, stock=10)
    cart_id = await filled_cart(http, customer, (str(product["sku"]), 2))

    answer = await http.post(
        "/api/v1/orders/", json=checkout_body(cart_id), headers=customer.headers
    )

    assert answer.status_code == 202, answer.text
    order = answer.json()
    assert order["status"] == "pending"
    assert (order["subtotal"], order["total"], order["currency"]) == (2500, 2500, "USD")
    assert order["items"][0] | {} == {
        "sku": product["sku"], "name": product["name"], "quantity": 2,
        "unit_price": 1250, "line_total": 2500,
    }  # fmt: skip
    assert answer.headers["Location"] == f"/api/v1/orders/{order['id']}"
    again = await http.get(answer.headers["Location"], headers=customer.headers)
    assert again.status_code == 200
    cart = await http.get(f"/api/v1/cart/{cart_id}", headers=customer.headers)
    assert cart.json()["status"] == "converted"


async def test_good_card_completes_with_tracking_number_and_sold_stock(
    http: httpx.AsyncClient, customer: Caller, admin: Caller, create_product: CreateProduct,
    pool: asyncpg.Pool,
) -> None:  # fmt: skip
    sku = str((await create_product(stock=10))["sku"])
    cart_id = await filled_cart(http, customer, (sku, 3))
    placed = await http.post(
        "/api/v1/orders/", json=checkout_body(cart_id), headers=customer.headers
    )

    order = await wait_for_status(http, customer, placed.json()["id"])

    assert order["status"] == "completed"
    assert order["tracking_number"]
    assert [h["type"] for h in order["history"]][-2:] == ["PaymentCaptured", "OrderCompleted"]
    assert await _stock(http, admin, sku) == (7, 0, 7)
    assert await _ledger(pool, order["id"]) == ["authorize", "ship", "capture"]


@pytest.mark.parametrize(
    ("token", "address", "reason_has", "ledger"),
    [
        ("tok_decline", {}, "declined", []),
        ("tok_capture_decline", {}, "capture", ["authorize", "ship", "cancel_shipment", "void"]),
        ("tok_ok", {"postal_code": "00000"}, "00000", ["authorize", "void"]),
    ],
    ids=["declined", "capture-declined", "address-rejected"],
)
async def test_business_failure_fails_order_restores_stock_and_voids(
    http: httpx.AsyncClient, customer: Caller, admin: Caller, create_product: CreateProduct,
    pool: asyncpg.Pool, token: str, address: dict[str, str], reason_has: str, ledger: list[str],
) -> None:  # fmt: skip
    sku = str((await create_product(stock=4))["sku"])
    cart_id = await filled_cart(http, customer, (sku, 2))
    body = checkout_body(cart_id, token, **address)
    placed = await http.post("/api/v1/orders/", json=body, headers=customer.headers)

    order = await wait_for_status(http, customer, placed.json()["id"])

    assert order["status"] == "failed"
    assert reason_has in order["failure_reason"]
    assert await _stock(http, admin, sku) == (4, 0, 4)
    assert await _ledger(pool, order["id"]) == ledger


async def test_flaky_gateway_is_retried_until_the_order_completes(
    http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct, pool: asyncpg.Pool
) -> None:
    sku = str((await create_product(stock=4))["sku"])
    cart_id = await filled_cart(http, customer, (sku, 1))
    body = checkout_body(cart_id, "tok_flaky")
    placed = await http.post("/api/v1/orders/", json=body, headers=customer.headers)

    order = await wait_for_status(http, customer, placed.json()["id"])

    assert order["status"] == "completed"
    calls = await pool.fetchval(
        "SELECT calls FROM sandbox_calls WHERE call_key = $1",
        f"order-{order['id']}:authorize",
    )
    assert calls >= 3
    assert (await _ledger(pool, order["id"])).count("authorize") == 1


async def test_more_than_is_in_stock_fails_and_voids_the_authorization(
    http: httpx.AsyncClient, customer: Caller, admin: Caller, create_product: CreateProduct,
    pool: asyncpg.Pool,
) -> None:  # fmt: skip
    sku = str((await create_product(stock=3))["sku"])
    cart_id = await filled_cart(http, customer, (sku, 3))
    await http.put(
        f"/api/v1/admin/products/{sku}",
        json={"name": "Scarce", "price": 1999, "currency": "USD", "stock": 1},
        headers=admin.headers,
    )
    placed = await http.post(
        "/api/v1/orders/", json=checkout_body(cart_id), headers=customer.headers
    )

    order = await wait_for_status(http, customer, placed.json()["id"])

    assert order["status"] == "failed" and "stock" in order["failure_reason"]
    assert await _stock(http, admin, sku) == (1, 0, 1)
    assert await _ledger(pool, order["id"]) == ["authorize", "void"]


async def test_twenty_concurrent_checkouts_with_one_key_make_one_order(
    http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct, pool: asyncpg.Pool
) -> None:
    sku = str((await create_product(stock=10))["sku"])
    cart_id = await filled_cart(http, customer, (sku, 1))
    headers = {**customer.headers, "Idempotency-Key": f"key-{uuid.uuid4()}"}

    answers = await asyncio.gather(
        *(
            http.post("/api/v1/orders/", json=checkout_body(cart_id), headers=headers)
            for _ in range(20)
        )
    )

    assert sorted(a.status_code for a in answers) == [200] * 19 + [202]
    assert len({a.json()["id"] for a in answers}) == 1
    order = await wait_for_status(http, customer, answers[0].json()["id"])
    assert order["status"] == "completed"
    assert await _ledger(pool, order["id"]) == ["authorize", "ship", "capture"]
    listed = (await http.get("/api/v1/orders/", headers=customer.headers)).json()["items"]
    assert [o["id"] for o in listed] == [order["id"]]


async def test_same_key_with_another_body_is_refused_with_422(
    http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct
) -> None:
    sku = str((await create_product())["sku"])
    cart_id = await filled_cart(http, customer, (sku, 1))
    headers = {**customer.headers, "Idempotency-Key": "same-key"}
    first = await http.post("/api/v1/orders/", json=checkout_body(cart_id), headers=headers)
    other = await http.post(
        "/api/v1/orders/", json=checkout_body(cart_id, "tok_other"), headers=headers
    )
    assert first.status_code == 202
    assert_key_reused(other)


async def test_a_cart_converts_into_at_most_one_order(
    http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct
) -> None:
    sku = str((await create_product())["sku"])
    cart_id = await filled_cart(http, customer, (sku, 1))
    first = await http.post(
        "/api/v1/orders/",
        json=checkout_body(cart_id),
        headers={**customer.headers, "Idempotency-Key": "a"},
    )
    second = await http.post(
        "/api/v1/orders/",
        json=checkout_body(cart_id, "tok_two"),
        headers={**customer.headers, "Idempotency-Key": "b"},
    )
    assert (first.status_code, second.status_code) == (202, 409)


async def test_empty_cart_checkout_is_422_and_changes_nothing(
    http: httpx.AsyncClient, customer: Caller
) -> None:
    cart_id = await filled_cart(http, customer)
    answer = await http.post(
        "/api/v1/orders/", json=checkout_body(cart_id), headers=customer.headers
    )
    assert answer.status_code == 422
    assert (await http.get(f"/api/v1/cart/{cart_id}", headers=customer.headers)).json()[
        "status"
    ] == "active"
    assert (await http.get("/api/v1/orders/", headers=customer.headers)).json()["items"] == []


async def test_another_customers_order_and_cart_are_not_found(
    http: httpx.AsyncClient, customer: Caller, other_customer: Caller, create_product: CreateProduct
) -> None:
    sku = str((await create_product())["sku"])
    cart_id = await filled_cart(http, customer, (sku, 1))
    stolen = await http.post(
        "/api/v1/orders/", json=checkout_body(cart_id), headers=other_customer.headers
    )
    placed = await http.post(
        "/api/v1/orders/", json=checkout_body(cart_id), headers=customer.headers
    )
    peek = await http.get(f"/api/v1/orders/{placed.json()['id']}", headers=other_customer.headers)
    assert (stolen.status_code, placed.status_code, peek.status_code) == (404, 202, 404)


async def test_stock_of_five_and_twenty_buyers_sells_exactly_five(
    http: httpx.AsyncClient, admin: Caller, create_product: CreateProduct, settings: object
) -> None:
    from tests.e2e.conftest import make_caller

    sku = str((await create_product(stock=5))["sku"])
    buyers = [make_caller(settings) for _ in range(20)]  # type: ignore[arg-type]
    carts = [await filled_cart(http, who, (sku, 1)) for who in buyers]

    placed = await asyncio.gather(*(
        http.post("/api/v1/orders/", json=checkout_body(cart), headers=who.headers)
        for who, cart in zip(buyers, carts, strict=True)
    ))  # fmt: skip
    outcomes = await asyncio.gather(*(
        wait_for_status(http, who, answer.json()["id"])
        for who, answer in zip(buyers, placed, strict=True)
    ))  # fmt: skip

    statuses = sorted(o["status"] for o in outcomes)
    assert statuses == ["completed"] * 5 + ["failed"] * 15
    assert await _stock(http, admin, sku) == (0, 0, 0)


async def test_cancelling_a_completed_order_before_dispatch_is_accepted(
    http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct
) -> None:
    sku = str((await create_product())["sku"])
    cart_id = await filled_cart(http, customer, (sku, 1))
    placed = await http.post(
        "/api/v1/orders/", json=checkout_body(cart_id), headers=customer.headers
    )
    order = await wait_for_status(http, customer, placed.json()["id"])
    answer = await http.post(
        f"/api/v1/orders/{order['id']}/cancel",
        json={"reason": "changed my mind"},
        headers=customer.headers,
    )
    assert order["status"] == "completed"
    assert answer.status_code == 202  # refunded in full: tests/e2e/test_after_sale.py


@pytest.mark.parametrize("cursor", ["bm90IGEgY3Vyc29y", "MjAyNi0wMS0wMVQwMDowMDowMHwAAA", "%%%"])
async def test_an_order_list_cursor_not_handed_out_is_422(
    http: httpx.AsyncClient, customer: Caller, cursor: str
) -> None:
    answer = await http.get("/api/v1/orders/", params={"cursor": cursor}, headers=customer.headers)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
