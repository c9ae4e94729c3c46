"""POST /api/v1/payments/stripe/webhook: Stripe-Signature checked, each event kept once by its
id and body, and localstripe's own signed deliveries received over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from activities.recording import idempotency_key
from commerce.embedded import free_port
from commerce.embedded_stripe import register_webhook
from commerce.settings import Settings
from commerce.stripe_keys import WEBHOOK_PATH
from tests.conftest import TEST_STRIPE_WEBHOOK_SECRET
from tests.integration.stripe_support import VISA, gateway, on_localstripe


def _event(payment_intent_id: str = "pi_test", **changes: Any) -> dict[str, Any]:
    event = {
        "id": f"evt_{uuid.uuid4().hex[:14]}",
        "object": "event",
        "type": "payment_intent.amount_capturable_updated",
        "created": int(time.time()),
        "data": {
            "object": {
                "id": payment_intent_id,
                "object": "payment_intent",
                "status": "requires_capture",
                "metadata": {"order_id": "order-of-the-test"},
            }
        },
    }
    return {**event, **changes}


def _signed(body: bytes, secret: str = TEST_STRIPE_WEBHOOK_SECRET, at: int | None = None) -> str:
    """The header Stripe sends: `t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">`."""
    t = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


async def _post(http: httpx.AsyncClient, body: bytes, signature: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return await http.post(WEBHOOK_PATH, content=body, headers=headers)


async def _rows(pool: asyncpg.Pool, event_id: str) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT * FROM stripe_webhook_events WHERE event_id = $1", event_id)


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "t=1,v1=00",
        _signed(b"another body"),
        _signed(b"", secret="whsec_not_ours"),
        "garbage",
    ],
    ids=["missing", "malformed", "other-body", "other-secret", "garbage"],
)
async def test_a_bad_signature_is_a_400_problem_and_keeps_nothing(
    http: httpx.AsyncClient, pool: asyncpg.Pool, signature: str | None
) -> None:
    event = _event()
    body = json.dumps(event).encode()
    if signature is not None and "not_ours" in signature:
        signature = _signed(body, secret="whsec_not_ours")

    answer = await _post(http, body, signature)

    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert "Stripe-Signature" in answer.json()["detail"]
    assert await _rows(pool, event["id"]) == []


async def test_an_old_signature_is_refused_as_a_replay(
    http: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    event = _event()
    body = json.dumps(event).encode()
    answer = await _post(http, body, _signed(body, at=int(time.time()) - 3600))
    assert answer.status_code == 400
    assert await _rows(pool, event["id"]) == []


async def test_the_same_event_twice_is_kept_once(
    http: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    event = _event("pi_twice")
    body = json.dumps(event).encode()

    first = await _post(http, body, _signed(body))
    second = await _post(http, body, _signed(body))  # Stripe re-signs each delivery

    assert first.status_code == 200 and first.json()["outcome"] == "recorded"
    assert second.status_code == 200 and second.json()["outcome"] == "duplicate"
    [row] = await _rows(pool, event["id"])
    assert (row["event_type"], row["payment_intent_id"], row["order_id"]) == (
        "payment_intent.amount_capturable_updated", "pi_twice", "order-of-the-test",
    )  # fmt: skip
    assert row["body_sha256"] == hashlib.sha256(body).hexdigest()


async def test_an_event_id_reused_with_another_body_is_refused(
    http: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    event = _event("pi_first")
    body = json.dumps(event).encode()
    assert (await _post(http, body, _signed(body))).status_code == 200

    other = json.dumps({**event, "type": "payment_intent.canceled"}).encode()
    answer = await _post(http, other, _signed(other))

    assert answer.status_code == 409
    assert answer.headers["content-type"] == "application/problem+json"
    [row] = await _rows(pool, event["id"])
    assert row["event_type"] == "payment_intent.amount_capturable_updated"


@pytest.mark.parametrize(
    "body",
    [
        b'{"hello": "world"}',
        json.dumps(_event(created=10**20)).encode(),
        json.dumps(_event(id="evt_\u0000")).encode(),
        json.dumps(_event(data={"object": {"note": "\u0000"}})).encode(),
        json.dumps(_event(data={"object": {"note": "\ud800"}})).encode(),
        b"\xff\xfe",
    ],
    ids=["no-event", "far-future", "nul-id", "nul-inside", "lone-surrogate", "not-utf8"],
)
async def test_a_signed_body_that_is_no_storable_stripe_event_is_a_400(
    http: httpx.AsyncClient, pool: asyncpg.Pool, body: bytes
) -> None:
    answer = await _post(http, body, _signed(body))
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"


@contextlib.asynccontextmanager
async def _served(app: FastAPI) -> AsyncIterator[str]:
    """The API on a real loopback HTTP port (its resources are the session app's)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None)
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done(), "the API did not start"
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


async def test_localstripes_signed_events_are_received_and_kept_once(
    app: FastAPI, pool: asyncpg.Pool, settings: Settings, localstripe: str
) -> None:
    payments = gateway(on_localstripe(settings, localstripe), pool)
    order_id = str(uuid.uuid4())
    async with _served(app) as api:
        await register_webhook(
            localstripe, api + WEBHOOK_PATH, TEST_STRIPE_WEBHOOK_SECRET, hook_id="suite"
        )
        payment_intent_id = await payments.authorize(
            idempotency_key(order_id, "authorize"), order_id, 2000, "USD", VISA
        )
        await payments.capture(
            idempotency_key(order_id, "capture"), order_id, payment_intent_id, 2000
        )

        async def delivered() -> list[asyncpg.Record]:
            while True:
                rows = await pool.fetch(
                    "SELECT * FROM stripe_webhook_events WHERE payment_intent_id = $1",
                    payment_intent_id,
                )
                if rows:
                    return rows
                await asyncio.sleep(0.1)

        rows = await asyncio.wait_for(delivered(), 30)

    [row] = rows
    assert (row["event_type"], row["order_id"]) == ("payment_intent.succeeded", order_id)
