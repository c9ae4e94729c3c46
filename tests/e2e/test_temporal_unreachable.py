"""Every route that calls Temporal answers a 503 problem with Retry-After when Temporal cannot be
reached: through an API whose client never connected (the lazy client's first connect fails) and
through one whose connection is cut after it connected (the RPCs fail). The shipment routes of an
order completed since the delivery sweep need no Temporal at all: they keep answering."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable

import httpx
import pytest

from api.routers.carrier import signature, webhook_secret
from commerce.settings import Settings
from tests.e2e.conftest import Caller, CreateProduct
from tests.e2e.orders_support import checkout_body, filled_cart, wait_for_status
from tests.e2e.unreachable_temporal import CutApi, api_behind_proxy

pytestmark = pytest.mark.usefixtures("saga_worker")

Call = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


def assert_unavailable(answers: dict[str, httpx.Response]) -> None:
    """Each answer is a 503 problem naming Temporal, with Retry-After; lists every route that
    answered otherwise."""
    wrong = {
        route: f"{answer.status_code} {answer.headers.get('content-type')} {answer.text[:160]}"
        for route, answer in answers.items()
        if answer.status_code != 503
        or answer.headers.get("content-type") != "application/problem+json"
        or not answer.headers.get("Retry-After", "").isdigit()
        or "Temporal" not in answer.json()["detail"]
    }
    assert not wrong, "\n".join(f"{route}: {what}" for route, what in wrong.items())


async def _completed_order(
    http: httpx.AsyncClient, who: Caller, create_product: CreateProduct
) -> str:
    cart_id = await filled_cart(http, who, (str((await create_product(stock=5))["sku"]), 1))
    placed = await http.post("/api/v1/orders/", json=checkout_body(cart_id), headers=who.headers)
    assert placed.status_code == 202, placed.text
    order = await wait_for_status(http, who, placed.json()["id"])
    assert order["status"] == "completed"
    return str(order["id"])


def _calls(
    settings: Settings, who: Caller, admin: Caller, stranded: str, done: str
) -> dict[str, Call]:
    """The routes that need Temporal, each on an order it would act on when Temporal answers:
    `stranded` is pending with no saga, `done` completed. (An operator's retry reaches Temporal
    only for a stalled saga: any other is refused from the order's stream, Temporal or not.)"""
    return {
        "cancel": lambda h: h.post(f"/api/v1/orders/{stranded}/cancel", headers=who.headers),
        "saga list": lambda h: h.get("/api/v1/admin/sagas", headers=admin.headers),
        "saga detail": lambda h: h.get(f"/api/v1/admin/sagas/{done}", headers=admin.headers),
    }


def _shipment_calls(settings: Settings, admin: Caller, done: str) -> dict[str, Call]:
    """The shipment routes of `done`, whose parcel the worker's delivery sweep watches: a carrier
    report is recorded on the order's stream, the view read from it."""
    secret = webhook_secret(settings)
    assert secret is not None
    carrier_event = json.dumps({
        "event_id": f"evt-{uuid.uuid4()}", "status": "dispatched", "order_id": done,
        "occurred_at": "2025-06-01T12:00:00Z",
    }).encode()  # fmt: skip
    carrier_headers = {
        "content-type": "application/json",
        "X-Carrier-Signature": signature(secret, carrier_event),
    }
    return {
        "carrier event": lambda h: h.post(
            "/api/v1/carrier/events", content=carrier_event, headers=carrier_headers
        ),
        "shipment": lambda h: h.get(f"/api/v1/admin/shipments/{done}", headers=admin.headers),
    }


async def _every_route_through(
    cut: CutApi,
    http: httpx.AsyncClient,
    settings: Settings,
    customer: Caller,
    admin: Caller,
    create_product: CreateProduct,
) -> dict[str, httpx.Response]:
    done = await _completed_order(http, customer, create_product)
    cart_id = await filled_cart(http, customer, (str((await create_product(stock=5))["sku"]), 1))
    await cut.proxy.cut()
    checkout = await cut.http.post(
        "/api/v1/orders/", json=checkout_body(cart_id), headers=customer.headers
    )
    listed = await http.get("/api/v1/orders/", headers=customer.headers)
    stranded = next(o["id"] for o in listed.json()["items"] if o["id"] != done)
    calls = _calls(settings, customer, admin, stranded, done)
    answers = await asyncio.gather(*(call(cut.http) for call in calls.values()))
    for route, call in _shipment_calls(settings, admin, done).items():  # in order: report, view
        answer = await call(cut.http)
        assert answer.status_code == 200, f"{route}: {answer.status_code} {answer.text[:200]}"
    assert answer.json()["shipment_status"] == "dispatched"  # the report, recorded without Temporal
    return {"checkout": checkout, **dict(zip(calls, answers, strict=True))}


async def test_every_temporal_route_is_503_when_the_client_never_reached_temporal(
    http: httpx.AsyncClient, settings: Settings, customer: Caller, admin: Caller,
    create_product: CreateProduct,
) -> None:  # fmt: skip
    async with api_behind_proxy(settings) as cut:
        answers = await _every_route_through(cut, http, settings, customer, admin, create_product)

    assert_unavailable(answers)


async def test_every_temporal_route_is_503_when_its_connection_is_cut(
    http: httpx.AsyncClient, settings: Settings, customer: Caller, admin: Caller,
    create_product: CreateProduct,
) -> None:  # fmt: skip
    async with api_behind_proxy(settings) as cut:
        await cut.temporal.service_client.check_health()  # connected through the proxy
        answers = await _every_route_through(cut, http, settings, customer, admin, create_product)

    assert_unavailable(answers)
