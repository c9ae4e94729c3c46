"""A `commerce worker` killed (SIGKILL) while its dispatcher waits on a receiver's answer: the
delivery stays pending, and the next leader sends it again, same body, same `Webhook-Id`."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx
import pytest

from commerce.settings import Settings
from commerce.webhook_receiver import Received, WebhookReceiver
from tests.conftest import TEST_JWT_SECRET, TEST_PAYLOAD_KEYS
from tests.e2e.conftest import Caller, CreateProduct
from tests.e2e.orders_support import checkout_body, filled_cart, wait_for_status
from tests.e2e.webhooks.conftest import Dispatching, Subscribe

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("saga_worker")]


def _worker_env(settings: Settings, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMMERCE_", "TEMPORAL_"))}
    return env | {
        "COMMERCE_DATABASE_URL": settings.database_url,
        "COMMERCE_REDIS_URL": settings.redis_url,
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "COMMERCE_JWT_SECRET": TEST_JWT_SECRET,
        "COMMERCE_PAYLOAD_KEYS": TEST_PAYLOAD_KEYS,  # the API sealed the signing secret with it
        "COMMERCE_DATA_DIR": str(data_dir),
        "COMMERCE_WORKER_METRICS_PORT": "0",
        "COMMERCE_WORKER_SDK_METRICS_PORT": "0",
        "COMMERCE_WEBHOOK_ALLOW_PRIVATE": "true",
        "COMMERCE_WEBHOOK_CONNECT_TIMEOUT_S": "1",
        "COMMERCE_WEBHOOK_TIMEOUT_S": "4",  # the attempt's lease: 1 + 4 + 5 s
        "COMMERCE_LOG_JSON": "false",
    }


async def test_a_worker_killed_mid_delivery_leaves_it_to_the_next_with_the_same_webhook_id(
    http: httpx.AsyncClient,
    hook_http: httpx.AsyncClient,
    settings: Settings,
    admin: Caller,
    customer: Caller,
    create_product: CreateProduct,
    receiver: WebhookReceiver,
    subscribe: Subscribe,
    dispatching: Dispatching,
    tmp_path: Path,
) -> None:
    answered = asyncio.Event()

    async def hold_the_first(request: Received) -> int:
        if len(receiver.received) == 1:
            await answered.wait()  # the worker dies waiting for this answer
        return 200

    receiver.respond = hold_the_first
    webhook = await subscribe(receiver.url, "order.placed")
    sku = str((await create_product(stock=5))["sku"])
    cart_id = await filled_cart(http, customer, (sku, 1))
    placed = await http.post("/api/v1/orders/", json=checkout_body(cart_id),
                             headers=customer.headers)  # fmt: skip
    order = await wait_for_status(http, customer, placed.json()["id"])
    log = (tmp_path / "worker.log").open("wb")
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "commerce.cli", "worker",
        env=_worker_env(settings, tmp_path), stdout=log, stderr=log,
    )  # fmt: skip
    try:
        [first] = await receiver.wait_for(lambda got: len(got) == 1, 60)
    finally:
        worker.send_signal(signal.SIGKILL)
        await worker.wait()
        log.close()
    answered.set()
    async with dispatching():  # the next leader
        _, again = await receiver.wait_for(lambda got: len(got) == 2, 60)
        async with asyncio.timeout(10):
            while (detail := await _delivery(hook_http, admin, webhook["id"]))["status"] != (
                "delivered"
            ):
                await asyncio.sleep(0.1)

    assert first.event["order_id"] == order["id"]
    assert again.headers["webhook-id"] == first.headers["webhook-id"] == first.event["id"]
    assert again.body == first.body
    [cut_short, second] = detail["attempt_log"]
    assert cut_short["finished_at"] is None and cut_short["response_code"] is None
    assert second["response_code"] == 200


async def _delivery(hook_http: httpx.AsyncClient, admin: Caller, webhook_id: str) -> dict:  # type: ignore[type-arg]
    listed = await hook_http.get(f"/api/v1/admin/webhooks/{webhook_id}/deliveries",
                                 headers=admin.headers)  # fmt: skip
    [delivery] = listed.json()["items"]
    detail = await hook_http.get(
        f"/api/v1/admin/webhooks/{webhook_id}/deliveries/{delivery['id']}", headers=admin.headers
    )
    return dict(detail.json())
