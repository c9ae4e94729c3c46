"""A currency is an ISO 4217 currency with minor units wherever a client names one: a product's
price, a new cart, the spending limit. Three capital letters that are not one (or gold, the
testing code, "no currency") are a 422 problem and change nothing."""

from __future__ import annotations

import uuid

import httpx
import pytest

from domain.currencies import is_price_currency
from tests.e2e.conftest import Caller

NOT_PRICE_CURRENCIES = ["ABC", "QQQ", "XAU", "XTS", "XXX"]
SPENDING_LIMIT = "/api/v1/admin/settings/spending-limit"


async def _put_product(
    http: httpx.AsyncClient, admin: Caller, code: str
) -> tuple[str, httpx.Response]:
    url = f"/api/v1/admin/products/P-{uuid.uuid4().hex[:10]}"
    body = {"name": "Kettle", "price": 3999, "currency": code, "stock": 10}
    return url, await http.put(url, json=body, headers=admin.headers)


@pytest.mark.parametrize("code", NOT_PRICE_CURRENCIES)
async def test_a_product_priced_in_what_is_no_currency_is_422_and_not_stored(
    http: httpx.AsyncClient, admin: Caller, code: str
) -> None:
    url, refused = await _put_product(http, admin, code)

    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "ISO 4217" in refused.text
    assert (await http.get(url, headers=admin.headers)).status_code == 404


@pytest.mark.parametrize("code", ["JPY", "KWD", "EUR", "XOF", "CHF"])
async def test_currencies_of_every_minor_unit_are_accepted(
    http: httpx.AsyncClient, admin: Caller, code: str
) -> None:
    _, created = await _put_product(http, admin, code)

    assert created.status_code == 201, created.text
    assert created.json()["currency"] == code


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
