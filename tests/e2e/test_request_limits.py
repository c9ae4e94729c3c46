"""Hostile request shapes against the app in process: oversized and lying bodies (413), anonymous
writes (401 before a byte of the body is read), bursts of writes (429 with Retry-After) and more
requests in flight than a process takes (503)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Message

from api.app import WEBHOOK_PATHS, create_app
from commerce.settings import Settings
from commerce.tokens import TokenVerifier
from tests.e2e.conftest import Caller, make_caller

LIMIT = Settings.model_fields["max_body_bytes"].default
DEFAULTS = {
    name: Settings.model_fields[name].default
    for name in ("rate_limit_per_customer", "rate_limit_per_ip")
}


@asynccontextmanager
async def _client(settings: Settings, **changes: Any) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(settings.model_copy(update=changes))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


async def _raw(
    app: FastAPI, method: str, path: str, headers: dict[str, str], chunks: AsyncIterator[bytes]
) -> tuple[int, dict[str, str], dict[str, Any], int]:
    """One ASGI request whose body arrives in `chunks` (as a server hands it over, whatever the
    headers claim); returns status, headers, JSON body and how many body bytes the app pulled."""
    pulled = 0
    answer: list[Message] = []

    async def receive() -> Message:
        nonlocal pulled
        chunk = await anext(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: Message) -> None:
        answer.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 40000), "server": ("t", 80),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "state": {},
    }  # fmt: skip
    await app(scope, receive, send)
    start = next(m for m in answer if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in answer if m["type"] == "http.response.body")
    found = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], found, json.loads(body or b"{}"), pulled


async def _endless(chunk_size: int = 16 * 1024) -> AsyncIterator[bytes]:
    """A body that never ends: the app must stop pulling it by itself."""
    while True:
        yield b"a" * chunk_size


async def _stalled(release: asyncio.Event) -> AsyncIterator[bytes]:
    """A client that sends a little, then nothing until `release`: its request stays in flight."""
    yield b"{"
    await release.wait()
    yield b"}"


@pytest.fixture
async def guarded(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(settings) as client:
        yield client


async def test_a_body_past_the_limit_is_413_when_content_length_lies_or_is_absent(
    guarded: httpx.AsyncClient, customer: Caller
) -> None:
    app = guarded.app  # type: ignore[attr-defined]
    for declared in ({}, {"content-length": "10"}):  # chunked, and a lying Content-Length
        headers = {**customer.headers, "content-type": "application/json", **declared}
        status, found, body, pulled = await _raw(app, "POST", "/api/v1/cart/", headers, _endless())
        assert status == 413, body
        assert found["content-type"] == "application/problem+json"
        assert body["max_body_bytes"] == LIMIT and body["request_id"] == found["x-request-id"]
        assert LIMIT < pulled <= LIMIT + 16 * 1024  # stopped at the first chunk past the limit


async def test_a_declared_content_length_past_the_limit_is_413_before_reading(
    guarded: httpx.AsyncClient, customer: Caller
) -> None:
    headers = {**customer.headers, "content-length": str(64 * 1024 * 1024)}
    app = guarded.app  # type: ignore[attr-defined]
    status, _, body, pulled = await _raw(app, "POST", "/api/v1/cart/", headers, _endless())
    assert (status, pulled) == (413, 0), body
    answer = await guarded.post("/api/v1/cart/", content=b"{}" + b" " * LIMIT, headers=headers)
    assert answer.status_code == 413 and answer.headers["connection"] == "close"


async def test_an_anonymous_write_is_401_before_a_byte_of_its_body_is_read(
    guarded: httpx.AsyncClient,
) -> None:
    app = guarded.app  # type: ignore[attr-defined]
    for path in ("/api/v1/cart/", "/api/v1/orders/", "/api/v1/admin/products/SKU-1"):
        for headers in ({}, {"authorization": "Bearer not-a-token"}):
            status, found, body, pulled = await _raw(app, "POST", path, headers, _endless(1000))
            assert (status, pulled) == (401, 0), (path, body)
            assert found["www-authenticate"].startswith("Bearer")


async def test_a_writes_token_is_verified_once_and_names_who_the_route_serves(
    guarded: httpx.AsyncClient, customer: Caller, other_customer: Caller, monkeypatch: Any
) -> None:
    """The write guard verifies the bearer before the body is read; the route is handed that
    principal rather than decoding the token again (one JWT check per request, not two)."""
    checked: list[str] = []
    claims = TokenVerifier.claims

    def counted(verifier: TokenVerifier, token: str) -> dict[str, Any]:
        checked.append(token)
        return claims(verifier, token)

    monkeypatch.setattr(TokenVerifier, "claims", counted)
    mine = await guarded.post("/api/v1/cart/", json={}, headers=customer.headers)
    assert mine.status_code == 201 and len(checked) == 1
    theirs = await guarded.get(f"/api/v1/cart/{mine.json()['id']}", headers=other_customer.headers)
    assert theirs.status_code == 404 and len(checked) == 2  # a read is checked by its route
    added = await guarded.post(
        f"/api/v1/cart/{mine.json()['id']}/items",
        json={"sku": "NO-SUCH-SKU", "quantity": 1},
        headers=other_customer.headers,
    )
    assert added.status_code == 404 and len(checked) == 3  # another's cart, as its own token says


async def test_a_body_within_the_limit_is_served(
    guarded: httpx.AsyncClient, customer: Caller
) -> None:
    padded = json.dumps({"currency": "USD"}).encode() + b" " * (LIMIT - 100)
    headers = {**customer.headers, "content-type": "application/json"}
    answer = await guarded.post("/api/v1/cart/", content=padded, headers=headers)
    assert answer.status_code == 201, answer.text


async def test_the_carrier_webhook_has_its_own_body_limit(
    guarded: httpx.AsyncClient, settings: Settings
) -> None:
    webhook_limit = settings.webhook_max_body_bytes
    assert webhook_limit > LIMIT
    middle = await guarded.post("/api/v1/carrier/events", content=b" " * (LIMIT + 1))
    assert middle.status_code == 401  # read, then refused for its missing signature
    over = await guarded.post("/api/v1/carrier/events", content=b" " * (webhook_limit + 1))
    assert over.status_code == 413


async def test_writes_without_a_bearer_token_are_exactly_the_webhooks(app: FastAPI) -> None:
    """The write guard authenticates every other write before its body: a new unauthenticated
    write route must be added to WEBHOOK_PATHS, or it would answer 401 to everyone."""
    open_writes = {
        path
        for path, operations in app.openapi()["paths"].items()
        for method, operation in operations.items()
        if method in {"post", "put", "patch", "delete"} and not operation.get("security")
    }
    assert open_writes == set(WEBHOOK_PATHS)


async def test_a_burst_of_300_cart_creations_is_limited_with_retry_after(
    settings: Settings,
) -> None:
    # All 300 in flight at once: past the in-flight bound they would be 503s instead.
    async with _client(settings, **DEFAULTS, max_requests_in_flight=1000) as client:
        greedy, patient = make_caller(settings), make_caller(settings)
        answers = await asyncio.gather(
            *(client.post("/api/v1/cart/", json={}, headers=greedy.headers) for _ in range(300))
        )
        other = await client.post("/api/v1/cart/", json={}, headers=patient.headers)
    statuses = [answer.status_code for answer in answers]
    budget = int(DEFAULTS["rate_limit_per_customer"].split("/")[0])
    assert statuses.count(201) == budget and statuses.count(429) == 300 - budget
    for refused in (answer for answer in answers if answer.status_code == 429):
        assert refused.headers["content-type"] == "application/problem+json"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert "customer" in refused.json()["detail"]
    assert other.status_code == 201  # the budget is the customer's, not everyone's


async def test_writes_from_one_ip_share_a_budget_even_anonymous_ones(settings: Settings) -> None:
    async with _client(settings, rate_limit_per_ip="5/minute") as client:
        first = [
            await client.post("/api/v1/cart/", json={}, headers=make_caller(settings).headers)
            for _ in range(3)
        ]
        anonymous = [await client.post("/api/v1/cart/", json={}) for _ in range(3)]
        reads = await client.get("/api/v1/products", headers=make_caller(settings).headers)
    assert [a.status_code for a in first] == [201, 201, 201]
    assert [a.status_code for a in anonymous] == [401, 401, 429]
    assert int(anonymous[-1].headers["Retry-After"]) >= 1
    assert "IP address" in anonymous[-1].json()["detail"]
    assert reads.status_code == 200  # reads spend no write budget


async def test_requests_past_the_in_flight_bound_are_503_at_once(
    settings: Settings, customer: Caller
) -> None:
    async with _client(settings, max_requests_in_flight=1) as client:
        app = client.app  # type: ignore[attr-defined]
        release = asyncio.Event()
        first = asyncio.create_task(
            _raw(app, "POST", "/api/v1/cart/", customer.headers, _stalled(release))
        )
        await asyncio.sleep(0.2)
        busy = await client.get("/api/v1/products", headers=customer.headers)
        live = await client.get("/health/live")
        release.set()
        await first
    assert busy.status_code == 503, busy.text
    assert busy.headers["Retry-After"] == "1"
    assert busy.headers["content-type"] == "application/problem+json"
    assert live.status_code == 200  # probes are answered whatever the load
