"""Webhooks through the HTTP API, delivered by the real dispatcher to real local receivers.

The admin API here runs with COMMERCE_WEBHOOK_ALLOW_PRIVATE=true (the receivers listen on
loopback) and fast retries; orders go through the session's API and saga worker.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from activities.sandbox import SandboxNotifications
from api.app import create_app
from commerce.customer_notifications import CHECKPOINT, CustomerNotifications
from commerce.notification_templates import NotificationTemplates
from commerce.payload_codec import codec_for
from commerce.settings import Settings
from commerce.webhook_dispatcher import RANGES, DeliveryPolicy, RangeDispatcher
from commerce.webhook_receiver import WebhookReceiver
from eventstore.sandbox import SandboxLedger
from eventstore.store import EventStore
from tests.e2e.conftest import Caller

Dispatching = Callable[..., contextlib.AbstractAsyncContextManager[None]]


@pytest.fixture(scope="session")
def hook_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "webhook_allow_private": True,
            "webhook_retry_initial_s": 0.05,
            "webhook_retry_hours": 1.0,
            "webhook_connect_timeout_s": 1.0,
            "webhook_timeout_s": 3.0,
        }
    )


@pytest.fixture(scope="session")
async def hook_app(hook_settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(hook_settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def hook_http(hook_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=hook_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://commerce.test") as client:
        yield client


async def only_loopback_endpoints(pool: asyncpg.Pool) -> None:
    """Pause every subscription of the session not aimed at this machine's loopback (the API
    fuzz test may have registered any URL): no dispatcher of a test sends traffic elsewhere."""
    await pool.execute(
        "UPDATE webhook_subscriptions SET active = false"
        " WHERE active AND url !~ '^http://127\\.0\\.0\\.1:[0-9]+/'"
    )


@pytest.fixture
def dispatching(pool: asyncpg.Pool, hook_settings: Settings) -> Dispatching:
    """`async with dispatching(**setting_overrides):` runs every webhook range's leader in
    this process, as the worker does, until the block ends."""

    @contextlib.asynccontextmanager
    async def running(**overrides: Any) -> AsyncIterator[None]:
        settings = hook_settings.model_copy(update=overrides)
        policy, codec = DeliveryPolicy(settings), codec_for(settings)
        await only_loopback_endpoints(pool)
        ranges = [RangeDispatcher(pool, codec, policy, n) for n in range(RANGES)]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(r.run_forever(stop, idle_s=0.05)) for r in ranges]
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks)

    return running


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver() as running:
        yield running


Subscribe = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
async def subscribe(
    hook_http: httpx.AsyncClient, admin: Caller, pool: asyncpg.Pool
) -> AsyncIterator[Subscribe]:
    """`await subscribe(url, *event_types)` (all types when none): the created subscription,
    with its secret; every subscription made is deleted when the test ends, so later tests'
    events are not sent to receivers that are gone."""
    made: list[str] = []
    await only_loopback_endpoints(pool)

    async def create(url: str, *event_types: str) -> dict[str, Any]:
        answer = await hook_http.post(
            "/api/v1/admin/webhooks",
            json={"url": url, "event_types": list(event_types) or ["*"]},
            headers=admin.headers,
        )
        assert answer.status_code == 201, answer.text
        created: dict[str, Any] = answer.json()
        made.append(created["id"])
        return created

    yield create
    for webhook_id in made:
        await hook_http.delete(f"/api/v1/admin/webhooks/{webhook_id}", headers=admin.headers)


async def deliveries(
    hook_http: httpx.AsyncClient, admin: Caller, webhook_id: str
) -> list[dict[str, Any]]:
    answer = await hook_http.get(
        f"/api/v1/admin/webhooks/{webhook_id}/deliveries", headers=admin.headers
    )
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def wait_for_delivery_status(
    hook_http: httpx.AsyncClient, admin: Caller, webhook_id: str, status: str, timeout_s: float
) -> list[dict[str, Any]]:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        items = await deliveries(hook_http, admin, webhook_id)
        if items and all(item["status"] == status for item in items):
            return items
        assert asyncio.get_running_loop().time() < deadline, items
        await asyncio.sleep(0.1)


@pytest.fixture
async def notifying(pool: asyncpg.Pool) -> AsyncIterator[None]:
    """The worker's notification follower, from the head of the feed, until the test ends."""
    head = await EventStore(pool).feed_head()
    await pool.execute(
        "UPDATE projection_checkpoints SET transaction_id = $2, position = $3 WHERE name = $1",
        CHECKPOINT, *head,
    )  # fmt: skip
    follower = CustomerNotifications(
        pool, SandboxNotifications(SandboxLedger(pool)), NotificationTemplates("https://shop.test")
    )
    stop = asyncio.Event()
    task = asyncio.create_task(follower.run_forever(stop, idle_s=0.05))
    yield
    stop.set()
    await task
