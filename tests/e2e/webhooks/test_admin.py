"""The webhook admin API: subscriptions and their secrets, the catalogue, and the SSRF guard at
registration (production) and again at delivery time."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from commerce.payload_codec import new_key_spec
from commerce.settings import Settings
from commerce.tokens import mint_token
from commerce.webhook_receiver import WebhookReceiver
from domain.public_events import BY_NAME
from tests.e2e.conftest import Caller, CreateProduct
from tests.e2e.orders_support import checkout_body, filled_cart, wait_for_status
from tests.e2e.webhooks.conftest import Dispatching, Subscribe, deliveries

BASE = "/api/v1/admin/webhooks"


async def test_a_subscription_is_created_read_changed_and_deleted(
    hook_http: httpx.AsyncClient, admin: Caller, receiver: WebhookReceiver
) -> None:
    body = {"url": receiver.url, "event_types": ["order.placed", "shipment.*"],
            "description": "ERP"}  # fmt: skip
    created = await hook_http.post(BASE, json=body, headers=admin.headers)
    assert created.status_code == 201, created.text
    webhook = created.json()
    assert webhook["secret"].startswith("whsec_") and len(webhook["secret"]) > 40
    assert created.headers["location"] == f"{BASE}/{webhook['id']}"
    path = f"{BASE}/{webhook['id']}"

    shown = (await hook_http.get(path, headers=admin.headers)).json()
    assert "secret" not in shown and shown["event_types"] == ["order.placed", "shipment.*"]
    listed = (await hook_http.get(BASE, params={"limit": 200}, headers=admin.headers)).json()
    assert webhook["id"] in [item["id"] for item in listed["items"]]
    changed = await hook_http.patch(path, json={"event_types": ["*"], "active": False},
                                    headers=admin.headers)  # fmt: skip
    assert changed.status_code == 200, changed.text
    assert (changed.json()["event_types"], changed.json()["active"]) == (["*"], False)
    assert (await hook_http.get(f"{path}/deliveries", headers=admin.headers)).json() == {
        "items": [], "next_cursor": None,
    }  # fmt: skip
    assert (await hook_http.delete(path, headers=admin.headers)).status_code == 204
    assert (await hook_http.get(path, headers=admin.headers)).status_code == 404
    assert (await hook_http.delete(path, headers=admin.headers)).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"url": "http://127.0.0.1:9/x", "event_types": ["order.shipped"]},
        {"url": "http://127.0.0.1:9/x", "event_types": []},
        {"url": "ftp://127.0.0.1/x", "event_types": ["*"]},
        {"url": "http://127.0.0.1:9/x", "event_types": ["*"], "secret": "mine"},
        {"event_types": ["*"]},
    ],
)
async def test_bad_subscriptions_are_422_and_store_nothing(
    hook_http: httpx.AsyncClient, admin: Caller, body: dict[str, object]
) -> None:
    before = (await hook_http.get(BASE, params={"limit": 200}, headers=admin.headers)).json()
    answer = await hook_http.post(BASE, json=body, headers=admin.headers)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    after = (await hook_http.get(BASE, params={"limit": 200}, headers=admin.headers)).json()
    assert after == before


async def test_only_admins_manage_webhooks(hook_http: httpx.AsyncClient, customer: Caller) -> None:
    assert (await hook_http.get(BASE)).status_code == 401
    assert (await hook_http.get(BASE, headers=customer.headers)).status_code == 403
    assert (await hook_http.get(f"{BASE}/not-a-uuid", headers=customer.headers)).status_code in (
        403, 422,
    )  # fmt: skip


async def test_the_catalogue_lists_every_event_type_with_its_schema(
    hook_http: httpx.AsyncClient, admin: Caller
) -> None:
    answer = await hook_http.get(f"{BASE}/event-types", headers=admin.headers)
    assert answer.status_code == 200, answer.text
    types = {item["type"]: item for item in answer.json()}
    assert set(types) == set(BY_NAME)
    assert types["order.stalled"]["audience"] == "admin"
    assert types["order.placed"]["schema"]["title"] == "order.placed"


@pytest.fixture(scope="module")
async def production_app(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> (
    AsyncIterator[tuple[FastAPI, Settings]]
):  # fmt: skip
    """The API as production runs it (strong secrets, token issuer and audience)."""
    production = Settings(
        environment="production",
        data_dir=Path(tmp_path_factory.mktemp("production")),
        database_url=settings.database_url,
        redis_url=settings.redis_url,
        temporal_address=settings.temporal_address,
        jwt_secret=secrets.token_hex(32),
        jwt_issuer="https://auth.shop.test/",
        jwt_audience="commerce-api",
        payload_keys=new_key_spec("k1"),
        customer_key_secret=secrets.token_hex(32),
        allow_sandbox_providers=True,  # shipping has no real adapter yet
        log_json=False,
    )
    application = create_app(production)
    async with application.router.lifespan_context(application):
        yield application, production


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8443/hooks",  # not https
        "https://127.0.0.1/hooks",
        "https://[::1]/hooks",
        "https://localhost/hooks",  # a name that resolves to loopback
        "https://10.0.0.5/hooks",
        "https://[::ffff:192.168.1.10]/hooks",
        "https://169.254.169.254/latest/meta-data/",
        "https://user:pw@127.0.0.1/hooks",
    ],
)
async def test_production_refuses_private_and_metadata_urls(
    production_app: tuple[FastAPI, Settings], url: str
) -> None:
    application, production = production_app
    headers = {"Authorization": f"Bearer {mint_token(production, 'ops', ['admin'])}"}
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://commerce.test") as http:
        answer = await http.post(BASE, json={"url": url, "event_types": ["*"]}, headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"].startswith("url: ")


async def test_metadata_addresses_are_refused_even_where_private_ones_are_allowed(
    hook_http: httpx.AsyncClient, admin: Caller
) -> None:
    for url in ("http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/x",
                "http://[fd00:ec2::254]/x"):  # fmt: skip
        answer = await hook_http.post(BASE, json={"url": url, "event_types": ["*"]},
                                      headers=admin.headers)  # fmt: skip
        assert answer.status_code == 422, (url, answer.text)


@pytest.mark.usefixtures("saga_worker")
async def test_an_endpoint_is_checked_again_at_delivery_time(
    http: httpx.AsyncClient,
    hook_http: httpx.AsyncClient,
    admin: Caller,
    customer: Caller,
    create_product: CreateProduct,
    receiver: WebhookReceiver,
    subscribe: Subscribe,
    dispatching: Dispatching,
) -> None:
    webhook = await subscribe(receiver.url, "order.placed")  # allowed when registered
    sku = str((await create_product(stock=5))["sku"])
    cart_id = await filled_cart(http, customer, (sku, 1))
    placed = await http.post("/api/v1/orders/", json=checkout_body(cart_id),
                             headers=customer.headers)  # fmt: skip
    await wait_for_status(http, customer, placed.json()["id"])
    async with dispatching(webhook_allow_private=False):  # ...but no longer when delivered
        async with asyncio.timeout(10):
            while not (attempted := [d for d in await deliveries(hook_http, admin, webhook["id"])
                                     if d["last_error"]]):  # an attempt finished  # fmt: skip
                await asyncio.sleep(0.1)
    assert receiver.received == []
    assert attempted[0]["status"] == "pending" and attempted[0]["last_response_code"] is None
    assert "loopback or private" in attempted[0]["last_error"]
