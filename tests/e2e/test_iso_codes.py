"""Codes a client sends are the standard's, not only its shape: a currency is an ISO 4217
currency with minor units wherever one is named (a product's price, a new cart, the spending
limit); a shipping address's country is an ISO 3166-1 alpha-2 code. Letters of the right count
that are no such code are a 422 problem and change nothing."""

from __future__ import annotations

import uuid

import httpx
import pytest

from domain.countries import is_country
from domain.currencies import is_price_currency
from tests.e2e.conftest import Caller, CreateProduct
from tests.e2e.orders_support import checkout_body, filled_cart

NOT_PRICE_CURRENCIES = ["ABC", "QQQ", "XAU", "XTS", "XXX", "USN", "CLF"]
SPENDING_LIMIT = "/api/v1/admin/settings/spending-limit"


@pytest.mark.parametrize("code", NOT_PRICE_CURRENCIES)
async def test_a_product_priced_in_what_is_no_currency_is_422_and_not_stored(
    http: httpx.AsyncClient, admin: Caller, code: str
) -> None:
    url = f"/api/v1/admin/products/P-{uuid.uuid4().hex[:10]}"
    body = {"name": "Kettle", "price": 3999, "currency": code, "stock": 10}

    refused = await http.put(url, json=body, headers=admin.headers)

    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "ISO 4217" in refused.text
    assert (await http.get(url, headers=admin.headers)).status_code == 404


@pytest.mark.parametrize("code", ["JPY", "KWD", "EUR", "XOF", "CHF"])
async def test_currencies_of_every_minor_unit_are_accepted(
    create_product: CreateProduct, code: str
) -> None:
    product = await create_product(currency=code)  # asserts the 201

    assert product["currency"] == code


@pytest.mark.parametrize("code", NOT_PRICE_CURRENCIES)
async def test_a_cart_in_what_is_no_currency_is_422(
    http: httpx.AsyncClient, customer: Caller, code: str
) -> None:
    refused = await http.post("/api/v1/cart/", json={"currency": code}, headers=customer.headers)

    assert refused.status_code == 422, refused.text
    assert "ISO 4217" in refused.text


async def test_a_spending_limit_in_what_is_no_currency_is_422_and_the_limit_stays(
    http: httpx.AsyncClient, admin: Caller
) -> None:
    before = await http.get(SPENDING_LIMIT, headers=admin.headers)

    refused = await http.put(
        SPENDING_LIMIT, json={"amount": 5000, "currency": "ABC"}, headers=admin.headers
    )

    assert refused.status_code == 422, refused.text
    assert (await http.get(SPENDING_LIMIT, headers=admin.headers)).json() == before.json()


def test_the_rule_is_the_domains() -> None:
    assert is_price_currency("USD") and is_price_currency("JPY")
    assert not any(map(is_price_currency, [*NOT_PRICE_CURRENCIES, "usd", "US", None]))


async def _check_out_to(
    http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct, country: str
) -> tuple[str, httpx.Response]:
    sku = str((await create_product())["sku"])
    cart_id = await filled_cart(http, customer, (sku, 1))
    body = checkout_body(cart_id, country=country)
    headers = {**customer.headers, "Idempotency-Key": f"to-{country}-{uuid.uuid4()}"}
    return cart_id, await http.post("/api/v1/orders/", json=body, headers=headers)


@pytest.mark.parametrize("country", ["ZZ", "XX", "UK", "EU", "AA"])
async def test_an_order_shipped_to_no_country_is_422_and_changes_nothing(
    http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct, country: str
) -> None:
    cart_id, refused = await _check_out_to(http, customer, create_product, country)

    assert refused.status_code == 422, refused.text
    assert "ISO 3166" in refused.text
    cart = await http.get(f"/api/v1/cart/{cart_id}", headers=customer.headers)
    assert cart.json()["status"] == "active"
    assert (await http.get("/api/v1/orders/", headers=customer.headers)).json()["items"] == []


@pytest.mark.parametrize("country", ["GB", "de", "JP"])
async def test_an_order_to_a_country_in_either_case_is_accepted_in_capitals(
    http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct, country: str
) -> None:
    _, placed = await _check_out_to(http, customer, create_product, country)

    assert placed.status_code in (200, 202), placed.text
    assert placed.json()["shipping_address"]["country"] == country.upper()


def test_the_country_rule_is_the_domains() -> None:
    assert is_country("US") and is_country("GB")
    assert not any(map(is_country, ["ZZ", "UK", "us", "USA", "", None]))
