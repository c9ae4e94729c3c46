"""Signed webhook deliveries from the event store to real local receivers: every catalogue event
of a full and a failed order, signatures, order per order id, retries, giving up, redelivery."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import defaultdict
from importlib import resources
from typing import Any

import httpx
import jsonschema
import pytest
from prometheus_client import REGISTRY
from standardwebhooks import Webhook

from api.routers.carrier import signature, webhook_secret
from commerce.embedded import free_port
from commerce.settings import Settings
from commerce.webhook_receiver import Received, WebhookReceiver
from tests.e2e.conftest import Caller, CreateProduct
from tests.e2e.orders_support import place_order, wait_for_status
from tests.e2e.webhooks.conftest import (
    Dispatching,
    Subscribe,
    deliveries,
    wait_for_delivery_status,
)

pytestmark = pytest.mark.usefixtures("saga_worker")
SCHEMAS = resources.files("domain") / "event_schemas"


async def _order(
    http: httpx.AsyncClient, who: Caller, create_product: CreateProduct, token: str
) -> dict[str, Any]:
    sku = str((await create_product(stock=5))["sku"])
    return await wait_for_status(http, who, await place_order(http, who, (sku, 2), token=token))


async def _carrier(http: httpx.AsyncClient, settings: Settings, order_id: str, status: str) -> None:
    event = {"event_id": f"evt-{uuid.uuid4()}", "status": status,
             "occurred_at": "2025-06-01T12:00:00Z", "order_id": order_id}  # fmt: skip
    raw = json.dumps(event).encode()
    secret = webhook_secret(settings)
    assert secret is not None
    answer = await http.post("/api/v1/carrier/events", content=raw, headers={
        "content-type": "application/json", "X-Carrier-Signature": signature(secret, raw)})  # fmt: skip
    assert answer.status_code == 200, answer.text


def _by_order(received: list[Received], order_ids: set[str]) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = defaultdict(list)
    for request in received:
        event = request.event
        if event["order_id"] in order_ids:
            seen[event["order_id"]].append(event["type"])
    return seen


FULL = ["order.placed", "order.completed", "shipment.label_created", "shipment.dispatched",
        "shipment.delivered"]  # fmt: skip
FAILED = ["order.placed", "order.failed"]


async def test_every_event_of_a_full_and_a_failed_order_arrives_signed_once_in_order(
    http: httpx.AsyncClient,
    hook_http: httpx.AsyncClient,
    settings: Settings,
    admin: Caller,
    customer: Caller,
    create_product: CreateProduct,
    receiver: WebhookReceiver,
    subscribe: Subscribe,
    dispatching: Dispatching,
) -> None:
    webhook = await subscribe(receiver.url)
    async with dispatching():
        full = await _order(http, customer, create_product, "tok_ok")
        assert full["status"] == "completed"
        for status in ("label_created", "dispatched", "delivered"):
            await _carrier(http, settings, full["id"], status)
        failed = await _order(http, customer, create_product, "tok_decline")
        assert failed["status"] == "failed"
        ids = {full["id"], failed["id"]}
        wanted = {full["id"]: FULL, failed["id"]: FAILED}
        received = await receiver.wait_for(lambda got: _by_order(got, ids) == wanted, 60)
        log = await wait_for_delivery_status(hook_http, admin, webhook["id"], "delivered", 10)

    mine = [r for r in received if r.event["order_id"] in ids]
    webhook_ids = [r.headers["webhook-id"] for r in mine]
    assert len(set(webhook_ids)) == len(mine) == 7  # each event once, each id its own
    for request in mine:
        event = Webhook(webhook["secret"]).verify(request.body, request.headers)
        assert request.headers["webhook-id"] == event["id"]
        schema = json.loads((SCHEMAS / f"{event['type']}.json").read_text())
        jsonschema.validate(event, schema, format_checker=jsonschema.FormatChecker())
        assert b"tok_" not in request.body and b"secret" not in request.body
        assert event["data"].get("customer_id") == customer.subject
    failure = next(r.event for r in mine if r.event["type"] == "order.failed")
    assert failure["data"]["reason"] == "the card was declined"
    assert {(d["status"], d["attempts"], d["last_response_code"]) for d in log} == {
        ("delivered", 1, 200)
    }


async def test_a_receiver_answering_500_three_times_gets_the_event_once_after_retries(
    http: httpx.AsyncClient,
    hook_http: httpx.AsyncClient,
    admin: Caller,
    customer: Caller,
    create_product: CreateProduct,
    receiver: WebhookReceiver,
    subscribe: Subscribe,
    dispatching: Dispatching,
) -> None:
    async def three_500s_then_ok(request: Received) -> int:
        return 500 if len(receiver.received) <= 3 else 200

    receiver.respond = three_500s_then_ok
    webhook = await subscribe(receiver.url, "order.placed", "order.completed")
    async with dispatching():
        order = await _order(http, customer, create_product, "tok_ok")
        received = await receiver.wait_for(lambda got: len(got) >= 5, 30)

    types = [r.event["type"] for r in received]
    # The later event of the order waited while the earlier one was retried.
    assert types == ["order.placed"] * 4 + ["order.completed"]
    assert len({r.headers["webhook-id"] for r in received[:4]}) == 1
    placed = next(d for d in await deliveries(hook_http, admin, webhook["id"])
                  if d["event_type"] == "order.placed")  # fmt: skip
    assert (placed["status"], placed["attempts"], placed["order_id"]) == (
        "delivered", 4, order["id"],
    )  # fmt: skip
    detail = await hook_http.get(
        f"/api/v1/admin/webhooks/{webhook['id']}/deliveries/{placed['id']}", headers=admin.headers
    )
    attempts = detail.json()["attempt_log"]
    assert [a["response_code"] for a in attempts] == [500, 500, 500, 200]
    assert all(a["finished_at"] for a in attempts)


async def _until(
    hook_http: httpx.AsyncClient, admin: Caller, webhook_id: str, done: Any
) -> list[dict[str, Any]]:
    async with asyncio.timeout(10):
        while not all(map(done, items := await deliveries(hook_http, admin, webhook_id))):
            await asyncio.sleep(0.1)
    return items


async def _until_inactive(
    hook_http: httpx.AsyncClient, admin: Caller, webhook_id: str, timeout_s: float
) -> dict[str, Any]:
    async with asyncio.timeout(timeout_s):
        while True:
            answer = await hook_http.get(f"/api/v1/admin/webhooks/{webhook_id}",
                                         headers=admin.headers)  # fmt: skip
            subscription: dict[str, Any] = answer.json()
            if not subscription["active"]:
                return subscription
            await asyncio.sleep(0.1)


def _counter(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


async def test_a_receiver_down_for_the_whole_window_fails_the_delivery_and_disables_it(
    http: httpx.AsyncClient,
    hook_http: httpx.AsyncClient,
    admin: Caller,
    customer: Caller,
    create_product: CreateProduct,
    subscribe: Subscribe,
    dispatching: Dispatching,
) -> None:
    failed_before = _counter("commerce_webhook_deliveries_failed_total")
    disabled_before = _counter("commerce_webhook_subscriptions_disabled_total")
    nobody = f"http://127.0.0.1:{free_port()}/hooks"  # nothing listens there
    webhook = await subscribe(nobody, "order.placed")
    async with dispatching(webhook_retry_hours=1.5 / 3600, webhook_retry_initial_s=0.1):
        await _order(http, customer, create_product, "tok_ok")
        [delivery] = await wait_for_delivery_status(hook_http, admin, webhook["id"], "failed", 30)
        subscription = await _until_inactive(hook_http, admin, webhook["id"], 10)

    assert delivery["attempts"] > 1 and delivery["last_response_code"] is None
    assert delivery["last_error"]
    assert "every attempt failed since" in subscription["disabled_reason"]
    assert _counter("commerce_webhook_deliveries_failed_total") == failed_before + 1
    assert _counter("commerce_webhook_subscriptions_disabled_total") == disabled_before + 1


async def test_redelivery_sends_the_same_body_under_the_same_webhook_id(
    http: httpx.AsyncClient,
    hook_http: httpx.AsyncClient,
    admin: Caller,
    customer: Caller,
    create_product: CreateProduct,
    receiver: WebhookReceiver,
    subscribe: Subscribe,
    dispatching: Dispatching,
) -> None:
    webhook = await subscribe(receiver.url, "order.placed")
    async with dispatching():
        await _order(http, customer, create_product, "tok_ok")
        [first] = await receiver.wait_for(lambda got: len(got) == 1, 30)
        [delivery] = await wait_for_delivery_status(
            hook_http, admin, webhook["id"], "delivered", 10
        )
        answer = await hook_http.post(
            f"/api/v1/admin/webhooks/{webhook['id']}/deliveries/{delivery['id']}/redeliver",
            headers=admin.headers,
        )
        assert answer.status_code == 202, answer.text
        _, again = await receiver.wait_for(lambda got: len(got) == 2, 30)
        [delivery] = await _until(
            hook_http,
            admin,
            webhook["id"],
            lambda d: (d["attempts"], d["status"]) == (2, "delivered"),
        )

    assert again.body == first.body
    assert again.headers["webhook-id"] == first.headers["webhook-id"]
    assert delivery["status"] == "delivered"


async def test_after_a_rotation_deliveries_verify_with_the_new_and_the_old_secret(
    http: httpx.AsyncClient,
    hook_http: httpx.AsyncClient,
    admin: Caller,
    customer: Caller,
    create_product: CreateProduct,
    receiver: WebhookReceiver,
    subscribe: Subscribe,
    dispatching: Dispatching,
) -> None:
    webhook = await subscribe(receiver.url, "order.placed")
    rotated = await hook_http.post(
        f"/api/v1/admin/webhooks/{webhook['id']}/rotate-secret",
        json={"grace_period_s": 3600},
        headers=admin.headers,
    )
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret != webhook["secret"] and new_secret.startswith("whsec_")
    async with dispatching():
        await _order(http, customer, create_product, "tok_ok")
        [request] = await receiver.wait_for(lambda got: len(got) == 1, 30)

    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (new_secret, webhook["secret"]):
        Webhook(secret).verify(request.body, request.headers)
