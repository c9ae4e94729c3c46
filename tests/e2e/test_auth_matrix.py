"""Who may call what, for every `/api/v1` route the app has (new routes are covered as added)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import warnings
from collections.abc import AsyncIterator, Iterator

import httpx
import jwt
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from jwt.warnings import InsecureKeyLengthWarning
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


def _claims(**changes: object) -> dict[str, object]:
    claims = {"sub": "someone", "roles": ["admin", "customer"], "exp": int(time.time()) + 600}
    return {k: v for k, v in {**claims, **changes}.items() if v is not None}


def _secret(settings: Settings) -> str:
    secret = signing_secret(settings)
    assert secret
    return secret


def _wrong_signature(settings: Settings) -> str:
    return jwt.encode(_claims(), _secret(settings) + "-not-it", algorithm="HS256")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hand_signed(header: dict[str, object], claims: dict[str, object], key: str) -> str:
    """A token whose header says anything, HMAC-signed with `key` all the same."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


# Secrets shown in this repository: a deployment that took one would accept these forgeries.
PUBLISHED_SECRETS = [
    "REPLACE-ME-with-a-long-random-string",  # the old deploy/k8s/secret.yaml
    "dev-only-secret-change-me-0123456789abcdef",  # the old development default
]


def hostile_tokens(settings: Settings) -> dict[str, str]:
    """Tokens that must all be 401: forged, malformed, or claiming too little."""
    secret = _secret(settings)
    header = jwt.get_unverified_header(jwt.encode(_claims(), secret, algorithm="HS256"))
    tokens = {
        "garbage": "not-a-jwt",
        "three empty parts": "..",
        "header not JSON": f"{_b64(b'{nope')}.{_b64(b'{}')}.{_b64(b'x')}",
        "alg none": jwt.encode(_claims(), None, algorithm="none"),
        "alg none, signature kept": _hand_signed({"alg": "none"}, _claims(), secret),
        "alg RS256 on an HMAC": _hand_signed({**header, "alg": "RS256"}, _claims(), secret),
        "alg as a list": _hand_signed({**header, "alg": ["HS256"]}, _claims(), secret),
        "HS512 with the secret": _hs512(secret),
        "no exp": jwt.encode(_claims(exp=None), secret, algorithm="HS256"),
        "exp not a number": jwt.encode(_claims(exp="tomorrow"), secret, algorithm="HS256"),
        "not yet valid": jwt.encode(
            _claims(nbf=int(time.time()) + 3600), secret, algorithm="HS256"
        ),
        "sub a number": jwt.encode(_claims(sub=42), secret, algorithm="HS256"),
        "roles a string": jwt.encode(_claims(roles="admin"), secret, algorithm="HS256"),
    }
    for index, published in enumerate(PUBLISHED_SECRETS):
        tokens[f"signed with published secret {index}"] = jwt.encode(
            _claims(), published, algorithm="HS256"
        )
    return tokens


def _hs512(secret: str) -> str:
    """A token signed HS512 with the API's own secret, which only accepts HS256. PyJWT warns that
    the secret is short for SHA-512; that is the forger's problem here, not the test's."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(_claims(), secret, algorithm="HS512")


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
        "alg none": bearer(jwt.encode(_claims(), None, algorithm="none")),
        "no exp": bearer(jwt.encode(_claims(exp=None), _secret(settings), algorithm="HS256")),
        "published secret": bearer(jwt.encode(_claims(), PUBLISHED_SECRETS[0], algorithm="HS256")),
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


async def test_every_hostile_token_is_401_problem_json_never_500(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    for name, token in hostile_tokens(settings).items():
        for method, path in (("GET", "/api/v1/products"), ("GET", "/api/v1/admin/sagas")):
            answer = await http.request(method, path, headers=bearer(token))
            assert answer.status_code == 401, (name, path, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.headers["www-authenticate"].startswith("Bearer")


ISSUER, AUDIENCE = "https://auth.shop.test/", "commerce-api"


@pytest.fixture(scope="module")
async def strict_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The API with an issuer and an audience, as production requires."""
    strict = settings.model_copy(update={"jwt_issuer": ISSUER, "jwt_audience": AUDIENCE})
    application = create_app(strict)
    async with application.router.lifespan_context(application):
        yield application


async def test_issuer_and_audience_are_enforced_when_set(
    strict_app: FastAPI, settings: Settings
) -> None:
    secret = _secret(settings)
    strict_settings: Settings = strict_app.state.settings
    cases = {
        "minted for this deployment": (mint_token(strict_settings, "ada", ["customer"]), 200),
        "right iss and aud": (
            jwt.encode(_claims(iss=ISSUER, aud=AUDIENCE), secret, algorithm="HS256"),
            200,
        ),
        "aud in a list": (
            jwt.encode(_claims(iss=ISSUER, aud=["other", AUDIENCE]), secret, algorithm="HS256"),
            200,
        ),
        "wrong audience": (
            jwt.encode(_claims(iss=ISSUER, aud="another-api"), secret, algorithm="HS256"),
            401,
        ),
        "no audience": (jwt.encode(_claims(iss=ISSUER), secret, algorithm="HS256"), 401),
        "wrong issuer": (
            jwt.encode(_claims(iss="https://evil.test/", aud=AUDIENCE), secret, algorithm="HS256"),
            401,
        ),
        "no issuer": (jwt.encode(_claims(aud=AUDIENCE), secret, algorithm="HS256"), 401),
        "aud a number": (
            jwt.encode(_claims(iss=ISSUER, aud=7), secret, algorithm="HS256"),
            401,
        ),
        "minted without them": (mint_token(settings, "ada", ["customer"]), 401),
    }
    transport = httpx.ASGITransport(app=strict_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://commerce.test") as client:
        for name, (token, status) in cases.items():
            answer = await client.get("/api/v1/products", headers=bearer(token))
            assert answer.status_code == status, (name, answer.text)


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
