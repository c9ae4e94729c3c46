"""Catalog and stock through the admin and customer APIs."""

from __future__ import annotations

import uuid

import asyncpg
import httpx

from tests.e2e.conftest import Caller, CreateProduct


async def test_put_creates_with_201_then_updates_with_200(
    http: httpx.AsyncClient, admin: Caller
) -> None:
    sku = f"P-{uuid.uuid4().hex[:10]}"
    url = f"/api/v1/admin/products/{sku}"
    body = {"name": "Kettle", "price": 3999, "currency": "USD", "stock": 10}
    created = await http.put(url, json=body, headers=admin.headers)
    assert created.status_code == 201
    assert created.json() == {
        "sku": sku, "name": "Kettle", "price": 3999, "currency": "USD",
        "on_hand": 10, "reserved": 0, "available": 10, "discontinued_at": None,
    }  # fmt: skip
    updated = await http.put(url, json={**body, "price": 3499, "stock": 4}, headers=admin.headers)
    assert updated.status_code == 200
    assert (updated.json()["price"], updated.json()["on_hand"]) == (3499, 4)
    fetched = await http.get(url, headers=admin.headers)
    assert fetched.status_code == 200 and fetched.json() == updated.json()


async def test_stock_below_what_orders_reserved_is_refused_with_409(
    http: httpx.AsyncClient, admin: Caller, create_product: CreateProduct, pool: asyncpg.Pool
) -> None:
    product = await create_product(stock=10)
    await pool.execute("UPDATE stock SET reserved = 6 WHERE sku = $1", product["sku"])
    url = f"/api/v1/admin/products/{product['sku']}"
    body = {"name": "x", "price": 1, "currency": "USD"}
    refused = await http.put(url, json={**body, "stock": 5}, headers=admin.headers)
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    after = (await http.get(url, headers=admin.headers)).json()
    assert (after["on_hand"], after["reserved"], after["available"]) == (10, 6, 4)
    assert after["name"] == "Test product", "a refused PUT changes nothing"
    accepted = await http.put(url, json={**body, "stock": 6}, headers=admin.headers)
    assert accepted.status_code == 200 and accepted.json()["available"] == 0


async def test_unknown_product_is_404_and_malformed_sku_or_body_is_422(
    http: httpx.AsyncClient, admin: Caller
) -> None:
    assert (
        await http.get("/api/v1/admin/products/NOPE-1", headers=admin.headers)
    ).status_code == 404
    good = {"name": "n", "price": 1, "currency": "USD", "stock": 1}
    bad_bodies = [
        {**good, "price": -1},
        {**good, "currency": "usd"},
        {**good, "stock": -3},
        {**good, "name": ""},
        {**good, "name": "nul\x00byte"},
        {"name": "n"},
    ]
    for body in bad_bodies:
        answer = await http.put("/api/v1/admin/products/OK-1", json=body, headers=admin.headers)
        assert answer.status_code == 422, body
    bad_sku = await http.put(
        "/api/v1/admin/products/-starts-with-dash", json=good, headers=admin.headers
    )
    assert bad_sku.status_code == 422


async def test_product_list_pages_with_an_opaque_cursor(
    http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct
) -> None:
    for _ in range(3):
        await create_product()
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await http.get("/api/v1/products", params=params, headers=customer.headers)
        assert page.status_code == 200
        body = page.json()
        assert len(body["items"]) <= 2
        seen += [item["sku"] for item in body["items"]]
        assert all("available" in item for item in body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen) and len(seen) == len(set(seen)) >= 3


async def test_product_list_limits_and_bad_cursor_are_422(
    http: httpx.AsyncClient, customer: Caller
) -> None:
    for params in ({"limit": 0}, {"limit": 201}, {"cursor": "%%%not-a-cursor"}, {"cursor": "AA"}):
        answer = await http.get("/api/v1/products", params=params, headers=customer.headers)
        assert answer.status_code == 422, params
    default = await http.get("/api/v1/products", headers=customer.headers)
    assert len(default.json()["items"]) <= 50


async def test_demo_catalog_loads_once_and_keeps_existing_rows(pool: asyncpg.Pool) -> None:
    from eventstore.catalog import DEMO_PRODUCTS, load_demo_catalog

    await load_demo_catalog(pool)
    sku, price = DEMO_PRODUCTS[0][0], DEMO_PRODUCTS[0][2]
    await pool.execute("UPDATE products SET price = 1 WHERE sku = $1", sku)
    try:
        assert await load_demo_catalog(pool) == 0
        assert await pool.fetchval("SELECT price FROM products WHERE sku = $1", sku) == 1
    finally:
        await pool.execute("UPDATE products SET price = $2 WHERE sku = $1", sku, price)
    count = await pool.fetchval(
        "SELECT count(*) FROM stock WHERE sku = ANY($1::text[])", [p[0] for p in DEMO_PRODUCTS]
    )
    assert count == len(DEMO_PRODUCTS)
