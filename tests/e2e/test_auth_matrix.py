"""Who may call what, for every `/api/v1` route the app has (new routes are covered as added)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import jwt
import pytest
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from api.app import create_app
from commerce.settings import Settings
from commerce.tokens import mint_token, signing_secret
from tests.e2e.conftest import Caller, CreateProduct, bearer

_PARAM = re.compile(r"{(\w+)(?::\w+)?}")


def _http_routes(routes: list[BaseRoute]) -> Iterator[tuple[str, APIRoute]]:
    """(path, route) for every API route; FastAPI >= 0.165 nests included routers lazily."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route.path, route
        elif hasattr(route, "effective_route_contexts"):
            for context in route.effective_route_contexts():
                if isinstance(context.original_route, APIRoute):
                    yield context.path, context.original_route


# The carrier's and Stripe's webhooks are not called with a bearer token: they are authenticated
# by an HMAC signature of their body, tested in tests/e2e/test_carrier_webhook.py and
# tests/e2e/test_stripe_webhook.py.
NOT_BEARER = {("POST", "/api/v1/carrier/events"), ("POST", "/api/v1/payments/stripe/webhook")}


def _api_routes() -> list[tuple[str, str]]:
    app = create_app(Settings(jwt_secret="x" * 40))  # routes only; no lifespan, no servers
    return sorted(
        (method, path)
        for path, route in _http_routes(app.routes)
        if path.startswith("/api/v1/")
        for method in route.methods or ()
        if (method, path) not in NOT_BEARER
    )


ROUTES = _api_routes()
ADMIN_ROUTES = [(m, p) for m, p in ROUTES if p.startswith("/api/v1/admin/")]


def _concrete(path: str, value: str = "dummy-1") -> str:
    return _PARAM.sub(value, path)


def _expired(settings: Settings) -> str:
    return mint_token(settings, "someone", ["admin", "customer"], ttl_s=-60)


def _wrong_signature(settings: Settings) -> str:
    claims = {"sub": "someone", "roles": ["admin"], "exp": int(time.time()) + 600}
    return jwt.encode(claims, signing_secret(settings) + "-not-it", algorithm="HS256")


def test_the_matrix_sees_the_cart_catalog_and_analytics_routes() -> None:
    paths = {path for _, path in ROUTES}
    assert {"/api/v1/cart/{cart_id}/items/{sku}", "/api/v1/products"} <= paths
    assert ("GET", "/api/v1/admin/analytics/carts") in ADMIN_ROUTES


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_every_api_route_refuses_missing_expired_and_forged_tokens_with_401(
    http: httpx.AsyncClient, settings: Settings, method: str, path: str
) -> None:
    attempts = {
        "missing": {},
        "not bearer": {"Authorization": "Basic Zm9vOmJhcg=="},
        "garbage": bearer("not-a-jwt"),
        "expired": bearer(_expired(settings)),
        "wrong signature": bearer(_wrong_signature(settings)),
    }
    for name, headers in attempts.items():
        answer = await http.request(method, _concrete(path), headers=headers)
        assert answer.status_code == 401, (name, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
async def test_admin_routes_refuse_customers_with_403(
    http: httpx.AsyncClient, customer: Caller, method: str, path: str
) -> None:
    answer = await http.request(method, _concrete(path), headers=customer.headers)
    assert answer.status_code == 403, answer.text
    assert answer.headers["content-type"] == "application/problem+json"


async def test_a_token_without_roles_or_subject_is_401(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    exp = int(time.time()) + 600
    for claims in ({"sub": "a", "exp": exp}, {"roles": ["customer"], "exp": exp}):
        token = jwt.encode(claims, signing_secret(settings), algorithm="HS256")
        answer = await http.get("/api/v1/products", headers=bearer(token))
        assert answer.status_code == 401, claims


async def test_a_token_with_no_known_role_is_403_on_customer_routes(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    token = mint_token(settings, "guest", ["visitor"])
    assert (await http.post("/api/v1/cart/", json={}, headers=bearer(token))).status_code == 403


_CART_BODIES = {
    ("POST", "/api/v1/cart/{cart_id}/items"): {"quantity": 1},  # sku filled in below
    ("PUT", "/api/v1/cart/{cart_id}/items/{sku}"): {"quantity": 2},
}


async def test_another_customers_cart_is_404_on_every_cart_route(
    http: httpx.AsyncClient,
    customer: Caller,
    other_customer: Caller,
    create_product: CreateProduct,
) -> None:
    product = await create_product()
    sku = str(product["sku"])
    cart = (await http.post("/api/v1/cart/", json={}, headers=customer.headers)).json()
    add = {"sku": sku, "quantity": 1}
    await http.post(f"/api/v1/cart/{cart['id']}/items", json=add, headers=customer.headers)
    before = (await http.get(f"/api/v1/cart/{cart['id']}", headers=customer.headers)).json()
    cart_routes = [(m, p) for m, p in ROUTES if "{cart_id}" in p]
    assert len(cart_routes) >= 5
    for method, path in cart_routes:
        url = path.replace("{cart_id}", cart["id"]).replace("{sku}", sku)
        body = {**_CART_BODIES.get((method, path), {}), **({"sku": sku} if "items" in path else {})}
        json_body = body if method in ("POST", "PUT") else None
        answer = await http.request(method, url, json=json_body, headers=other_customer.headers)
        assert answer.status_code == 404, (method, path, answer.text)
    after = (await http.get(f"/api/v1/cart/{cart['id']}", headers=customer.headers)).json()
    assert after == before, "the other customer changed nothing"
