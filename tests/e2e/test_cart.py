"""The cart API through HTTP against real Redis and Postgres."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import redis.asyncio as redis

from commerce.settings import Settings
from tests.e2e.conftest import Caller, CreateProduct


async def _new_cart(http: httpx.AsyncClient, who: Caller, body: Any = None) -> dict[str, Any]:
    answer = await http.post("/api/v1/cart/", json=body or {}, headers=who.headers)
    assert answer.status_code == 201, answer.text
    cart: dict[str, Any] = answer.json()
    return cart


async def _add(
    http: httpx.AsyncClient, who: Caller, cart_id: str, sku: object, quantity: object, **extra: Any
) -> httpx.Response:
    body = {"sku": sku, "quantity": quantity, **extra}
    return await http.post(f"/api/v1/cart/{cart_id}/items", json=body, headers=who.headers)


async def test_new_cart_is_empty_active_and_owned_by_the_caller(
    http: httpx.AsyncClient, customer: Caller
) -> None:
    cart = await _new_cart(http, customer, {"currency": "EUR"})
    assert cart["customer_id"] == customer.subject
    assert cart["status"] == "active"
    assert cart["items"] == [] and cart["subtotal"] == 0 and cart["currency"] == "EUR"
    assert cart["order_id"] is None
    for field in ("id", "expires_at", "created_at", "updated_at"):
        assert cart[field]


async def test_active_cart_is_the_latest_created_and_404_when_none(
    http: httpx.AsyncClient, customer: Caller
) -> None:
    none = await http.get("/api/v1/cart/active", headers=customer.headers)
    assert none.status_code == 404
    assert none.headers["content-type"] == "application/problem+json"
    await _new_cart(http, customer)
    latest = await _new_cart(http, customer)
    active = await http.get("/api/v1/cart/active", headers=customer.headers)
    assert active.status_code == 200
    assert active.json()["id"] == latest["id"]


async def test_add_uses_the_catalog_price_even_when_the_client_sends_one(
    http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct
) -> None:
    product = await create_product(price=2500, name="Lamp")
    cart = await _new_cart(http, customer)
    answer = await _add(http, customer, cart["id"], product["sku"], 2, unit_price=1, price=1)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["items"] == [
        {
            "sku": product["sku"],
            "name": "Lamp",
            "quantity": 2,
            "unit_price": 2500,
            "line_total": 5000,
        }
    ]
    assert body["subtotal"] == 5000 and body["currency"] == "USD"


async def test_adding_an_existing_sku_adds_to_its_quantity(
    http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct
) -> None:
    product = await create_product(price=100)
    cart = await _new_cart(http, customer)
    await _add(http, customer, cart["id"], product["sku"], 3)
    answer = await _add(http, customer, cart["id"], product["sku"], 4)
    assert [(i["quantity"], i["line_total"]) for i in answer.json()["items"]] == [(7, 700)]


async def test_unknown_sku_is_404_and_bad_quantities_are_422(
    http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct
) -> None:
    product = await create_product()
    cart = await _new_cart(http, customer)
    assert (await _add(http, customer, cart["id"], "NO-SUCH-SKU", 1)).status_code == 404
    for quantity in (0, -1, 1001, "many", 1.5, None):
        answer = await _add(http, customer, cart["id"], product["sku"], quantity)
        assert answer.status_code == 422, (quantity, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    await _add(http, customer, cart["id"], product["sku"], 600)
    over = await _add(http, customer, cart["id"], product["sku"], 401)
    assert over.status_code == 422, "a line may not grow past 1000 in total"
    cart_now = (await http.get(f"/api/v1/cart/{cart['id']}", headers=customer.headers)).json()
    assert cart_now["items"][0]["quantity"] == 600


async def test_a_product_in_another_currency_is_refused_with_422(
    http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct
) -> None:
    dollars, euros = await create_product(currency="USD"), await create_product(currency="EUR")
    cart = await _new_cart(http, customer)
    assert (await _add(http, customer, cart["id"], dollars["sku"], 1)).status_code == 200
    mismatch = await _add(http, customer, cart["id"], euros["sku"], 1)
    assert mismatch.status_code == 422
    eur_cart = await _new_cart(http, customer, {"currency": "EUR"})
    assert (await _add(http, customer, eur_cart["id"], dollars["sku"], 1)).status_code == 422


async def test_put_sets_quantity_and_zero_removes_the_line(
    http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct
) -> None:
    first, second = await create_product(price=10), await create_product(price=20)
    cart = await _new_cart(http, customer)
    await _add(http, customer, cart["id"], first["sku"], 1)
    await _add(http, customer, cart["id"], second["sku"], 1)
    url = f"/api/v1/cart/{cart['id']}/items"
    set_five = await http.put(
        f"{url}/{first['sku']}", json={"quantity": 5}, headers=customer.headers
    )
    assert set_five.status_code == 200 and set_five.json()["subtotal"] == 5 * 10 + 20
    removed = await http.put(
        f"{url}/{first['sku']}", json={"quantity": 0}, headers=customer.headers
    )
    assert [i["sku"] for i in removed.json()["items"]] == [second["sku"]]
    missing = await http.put(
        f"{url}/{first['sku']}", json={"quantity": 2}, headers=customer.headers
    )
    assert missing.status_code == 404
    too_many = await http.put(
        f"{url}/{second['sku']}", json={"quantity": 1001}, headers=customer.headers
    )
    assert too_many.status_code == 422


async def test_delete_item_removes_the_line_and_is_harmless_when_repeated(
    http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct
) -> None:
    product = await create_product()
    cart = await _new_cart(http, customer)
    await _add(http, customer, cart["id"], product["sku"], 2)
    url = f"/api/v1/cart/{cart['id']}/items/{product['sku']}"
    for _ in range(2):
        answer = await http.delete(url, headers=customer.headers)
        assert answer.status_code == 200
        assert answer.json()["items"] == [] and answer.json()["subtotal"] == 0


async def test_delete_cart_answers_204_and_the_cart_is_gone(
    http: httpx.AsyncClient, customer: Caller
) -> None:
    cart = await _new_cart(http, customer)
    deleted = await http.delete(f"/api/v1/cart/{cart['id']}", headers=customer.headers)
    assert deleted.status_code == 204 and deleted.content == b""
    assert (
        await http.get(f"/api/v1/cart/{cart['id']}", headers=customer.headers)
    ).status_code == 404
    assert (await http.get("/api/v1/cart/active", headers=customer.headers)).status_code == 404


async def test_cart_key_has_the_ttl_and_every_write_renews_it(
    http: httpx.AsyncClient,
    customer: Caller,
    create_product: CreateProduct,
    redis_client: redis.Redis,
    settings: Settings,
) -> None:
    product = await create_product()
    cart = await _new_cart(http, customer)
    key = f"cart:{cart['id']}"
    ttl_ms = await redis_client.pttl(key)
    assert settings.cart_ttl_s * 1000 - 5000 < ttl_ms <= settings.cart_ttl_s * 1000
    await redis_client.pexpire(key, 60_000)  # as if the cart had sat untouched for days
    await redis_client.pexpire(f"cart:active:{customer.subject}", 60_000)
    await _add(http, customer, cart["id"], product["sku"], 1)
    assert await redis_client.pttl(key) > settings.cart_ttl_s * 1000 - 5000
    assert await redis_client.pttl(f"cart:active:{customer.subject}") > 60_000
    await redis_client.pexpire(key, 60_000)
    await http.put(
        f"/api/v1/cart/{cart['id']}/items/{product['sku']}",
        json={"quantity": 3},
        headers=customer.headers,
    )
    assert await redis_client.pttl(key) > settings.cart_ttl_s * 1000 - 5000


async def test_converted_cart_refuses_every_change_with_409(
    http: httpx.AsyncClient,
    customer: Caller,
    create_product: CreateProduct,
    redis_client: redis.Redis,
    settings: Settings,
    app: Any,
) -> None:
    from api.cart_store import CartStore, CheckoutMark
    from eventstore.catalog import Catalog

    product = await create_product()
    cart = await _new_cart(http, customer)
    await _add(http, customer, cart["id"], product["sku"], 1)
    store = CartStore(redis_client, Catalog(app.state.resources.pool), settings)
    converted = await store.check_out(
        cart["id"], customer.subject, CheckoutMark(order_id="order-1", request_digest="d")
    )
    assert converted.status == "converted" and converted.order_id == "order-1"
    url = f"/api/v1/cart/{cart['id']}"
    changes = [
        _add(http, customer, cart["id"], product["sku"], 1),
        http.put(f"{url}/items/{product['sku']}", json={"quantity": 2}, headers=customer.headers),
        http.delete(f"{url}/items/{product['sku']}", headers=customer.headers),
    ]
    for answer in await asyncio.gather(*changes):
        assert answer.status_code == 409, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
    shown = (await http.get(url, headers=customer.headers)).json()
    assert shown["status"] == "converted" and shown["order_id"] == "order-1"


async def test_fifty_concurrent_adds_of_one_sku_end_with_the_exact_sum(
    http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct
) -> None:
    product = await create_product(price=3)
    cart = await _new_cart(http, customer)
    quantities = [1 + i % 7 for i in range(50)]
    answers = await asyncio.gather(
        *(_add(http, customer, cart["id"], product["sku"], q) for q in quantities)
    )
    assert [a.status_code for a in answers] == [200] * 50
    final = (await http.get(f"/api/v1/cart/{cart['id']}", headers=customer.headers)).json()
    assert final["items"][0]["quantity"] == sum(quantities)
    assert final["subtotal"] == 3 * sum(quantities)
