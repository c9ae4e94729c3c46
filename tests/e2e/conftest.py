"""Tokens and catalog helpers for tests that go through the HTTP API."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest

from commerce.settings import Settings
from commerce.tokens import mint_token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Caller:
    """A customer or admin identity with ready-made request headers."""

    subject: str
    headers: dict[str, str]


def make_caller(settings: Settings, role: str = "customer") -> Caller:
    subject = f"{role}-{uuid.uuid4().hex[:12]}"
    return Caller(subject, bearer(mint_token(settings, subject, [role])))


@pytest.fixture
def customer(settings: Settings) -> Caller:
    return make_caller(settings)


@pytest.fixture
def other_customer(settings: Settings) -> Caller:
    return make_caller(settings)


@pytest.fixture
def admin(settings: Settings) -> Caller:
    return make_caller(settings, "admin")


CreateProduct = Callable[..., Awaitable[dict[str, object]]]


@pytest.fixture
def create_product(http: httpx.AsyncClient, admin: Caller) -> CreateProduct:
    """PUT a product with a unique sku through the admin API; returns the product."""

    async def create(
        price: int = 1999, currency: str = "USD", stock: int = 100, name: str = "Test product"
    ) -> dict[str, object]:
        sku = f"T-{uuid.uuid4().hex[:12]}"
        body = {"name": name, "price": price, "currency": currency, "stock": stock}
        answer = await http.put(f"/api/v1/admin/products/{sku}", json=body, headers=admin.headers)
        assert answer.status_code == 201, answer.text
        product: dict[str, object] = answer.json()
        return product

    return create
