"""The order saga with COMMERCE_PAYMENT_PROVIDER=stripe against localstripe: the worker's own
Stripe ports on a task queue of its own, the money read back from localstripe."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import redis.asyncio as redis
from temporalio.client import Client, WorkflowHandle

from activities.providers import ProviderUnavailable
from activities.stripe_payments import StripeGateway
from commerce.settings import Settings
from domain.order import Order
from eventstore.orders import OrderRepository
from eventstore.sandbox import SandboxLedger
from eventstore.store import EventStore
from tests.integration.saga_support import (
    FAST,
    add_product,
    event_types,
    place_order,
    running_worker,
    start_saga,
    stock_of,
)
from tests.integration.stripe_support import (
    DECLINED,
    VISA,
    captured,
    gateway,
    on_localstripe,
    payment_intents_of,
)
from worker import ports_for
from workflows.contract import CancelRequest
from workflows.order_fulfillment import OrderFulfillmentWorkflow

TIMES_OUT = dataclasses.replace(FAST, stall_timeout_s=1)


@pytest.fixture
def stripe_settings(settings: Settings, localstripe: str) -> Settings:
    return on_localstripe(settings, localstripe)


class CapturesButLosesTheAnswer(StripeGateway):
    """Stripe captures; the answer is lost on the way back, every time."""

    async def capture(self, *args: Any, **kwargs: Any) -> str:
        await super().capture(*args, **kwargs)
        raise ProviderUnavailable("connection reset after Stripe captured")


class AuthorizationExpires(StripeGateway):
    """Stripe cancels the authorization before the capture (as it does after 7 days)."""

    async def capture(self, key: str, order_id: str, authorization_id: str, amount: int) -> str:
        await self._intents.cancel_async(authorization_id)
        return await super().capture(key, order_id, authorization_id, amount)


def _ports(
    settings: Settings,
    pool: asyncpg.Pool,
    cart_store: redis.Redis,
    kind: type[StripeGateway] | None = None,
) -> Any:
    ports = ports_for(settings, pool, cart_store)
    assert isinstance(ports.payments, StripeGateway)  # what COMMERCE_PAYMENT_PROVIDER chose
    if kind is not None:
        ports = dataclasses.replace(ports, payments=gateway(settings, pool, kind=kind))
    return ports


async def _order(pool: asyncpg.Pool, order_id: str) -> Order:
    order = await OrderRepository(EventStore(pool)).load(order_id)
    assert order is not None
    return order


@contextlib.asynccontextmanager
async def _shipping_down(pool: asyncpg.Pool) -> AsyncIterator[None]:
    switch = SandboxLedger(pool)
    await switch.set_available("shipping", False)
    try:
        yield
    finally:
        await switch.set_available("shipping", True)


async def _stalled(handle: WorkflowHandle[Any, Any]) -> None:
    async def reached() -> None:
        while (await handle.query(OrderFulfillmentWorkflow.saga)).status != "stalled":
            await asyncio.sleep(0.05)

    await asyncio.wait_for(reached(), 30)


async def test_an_order_is_authorized_then_captured_for_its_exact_total_at_stripe(
    temporal_client: Client,
    pool: asyncpg.Pool,
    redis_client: redis.Redis,
    stripe_settings: Settings,
    localstripe: str,
) -> None:
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, 3)])
    async with running_worker(
        temporal_client, pool, _ports(stripe_settings, pool, redis_client)
    ) as queue:
        handle = await start_saga(temporal_client, queue, order_id, token=VISA)
        outcome = await asyncio.wait_for(handle.result(), 60)

    assert outcome.status == "completed"
    [intent] = await payment_intents_of(localstripe, order_id)
    assert (intent["status"], intent["amount"], intent["currency"]) == ("succeeded", 4500, "usd")
    assert captured(intent) == (4500, 0)
    order = await _order(pool, order_id)
    assert order.authorization_id == intent["id"]
    assert order.capture_id == intent["latest_charge"]["id"]
    assert order.captured_amount == 4500
    assert await stock_of(pool, sku) == (2, 0)


async def test_a_declined_card_fails_the_order_with_the_decline_code(
    temporal_client: Client,
    pool: asyncpg.Pool,
    redis_client: redis.Redis,
    stripe_settings: Settings,
    localstripe: str,
) -> None:
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, 1)])
    async with running_worker(
        temporal_client, pool, _ports(stripe_settings, pool, redis_client)
    ) as queue:
        handle = await start_saga(temporal_client, queue, order_id, token=DECLINED)
        outcome = await asyncio.wait_for(handle.result(), 60)

    assert outcome.status == "failed"
    order = await _order(pool, order_id)
    assert order.failure_reason is not None and "card_declined" in order.failure_reason
    assert "PaymentAuthorized" not in await event_types(pool, order_id)
    assert order.retry_cart_id is not None  # the lines are back in a cart, to pay another way
    assert await redis_client.get(f"cart:active:{order.customer_id}") == order.retry_cart_id
    assert [i["status"] for i in await payment_intents_of(localstripe, order_id)] == [
        "requires_payment_method"
    ]
    assert await stock_of(pool, sku) == (5, 0)


async def test_a_declined_capture_compensates_and_takes_nothing(
    temporal_client: Client,
    pool: asyncpg.Pool,
    redis_client: redis.Redis,
    stripe_settings: Settings,
    localstripe: str,
) -> None:
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, 2)])
    ports = _ports(stripe_settings, pool, redis_client, AuthorizationExpires)
    async with running_worker(temporal_client, pool, ports) as queue:
        handle = await start_saga(temporal_client, queue, order_id, token=VISA)
        outcome = await asyncio.wait_for(handle.result(), 60)

    assert outcome.status == "failed"
    order = await _order(pool, order_id)
    assert order.failure_reason is not None and "canceled" in order.failure_reason
    assert order.shipment_cancelled and order.reservation_released
    [intent] = await payment_intents_of(localstripe, order_id)
    assert intent["status"] == "canceled" and captured(intent) == (0, 0)
    assert await stock_of(pool, sku) == (5, 0)


async def test_a_lost_capture_answer_is_resolved_forward_one_payment_intent_one_capture(
    temporal_client: Client,
    pool: asyncpg.Pool,
    redis_client: redis.Redis,
    stripe_settings: Settings,
    localstripe: str,
) -> None:
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, 2)])
    ports = _ports(stripe_settings, pool, redis_client, CapturesButLosesTheAnswer)
    async with running_worker(temporal_client, pool, ports) as queue:
        handle = await start_saga(temporal_client, queue, order_id, token=VISA, policy=TIMES_OUT)
        outcome = await asyncio.wait_for(handle.result(), 60)

    assert outcome.status == "completed"
    [intent] = await payment_intents_of(localstripe, order_id)
    assert captured(intent) == (3000, 0)
    assert len(intent["charges"]["data"]) == 1
    order = await _order(pool, order_id)
    assert (order.capture_id, order.captured_amount) == (intent["latest_charge"]["id"], 3000)
    assert (await event_types(pool, order_id)).count("PaymentCaptured") == 1
    assert await stock_of(pool, sku) == (3, 0)


async def test_a_cancel_of_an_order_stalled_at_capture_refunds_the_capture_in_full(
    temporal_client: Client,
    pool: asyncpg.Pool,
    redis_client: redis.Redis,
    stripe_settings: Settings,
    localstripe: str,
) -> None:
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, 2)])
    ports = _ports(stripe_settings, pool, redis_client, CapturesButLosesTheAnswer)
    async with running_worker(temporal_client, pool, ports) as queue:
        handle = await start_saga(temporal_client, queue, order_id, token=VISA)
        await _stalled(handle)
        await handle.execute_update(OrderFulfillmentWorkflow.cancel, CancelRequest("no thanks"))
        outcome = await asyncio.wait_for(handle.result(), 60)

    assert outcome.status == "cancelled"
    [intent] = await payment_intents_of(localstripe, order_id)
    assert intent["status"] == "succeeded"  # captured, then given back: never voided
    assert captured(intent) == (3000, 3000)
    order = await _order(pool, order_id)
    assert (order.captured_amount, order.refunded_total) == (3000, 3000)
    assert {"PaymentCaptured", "RefundIssued", "OrderCancelled"} <= set(
        await event_types(pool, order_id)
    )
    assert await stock_of(pool, sku) == (5, 0)


async def test_an_authorization_left_at_stripe_by_a_cancelled_order_is_cancelled(
    temporal_client: Client,
    pool: asyncpg.Pool,
    redis_client: redis.Redis,
    stripe_settings: Settings,
    localstripe: str,
) -> None:
    """A cancel before the capture voids: the PaymentIntent ends cancelled at Stripe."""
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, 1)])
    async with running_worker(
        temporal_client, pool, _ports(stripe_settings, pool, redis_client)
    ) as queue:
        handle = await start_saga(temporal_client, queue, order_id, token=VISA)
        async with _shipping_down(pool):
            await _stalled(handle)
            await handle.execute_update(OrderFulfillmentWorkflow.cancel, CancelRequest("later"))
        outcome = await asyncio.wait_for(handle.result(), 60)

    assert outcome.status == "cancelled"
    [intent] = await payment_intents_of(localstripe, order_id)
    assert intent["status"] == "canceled" and captured(intent) == (0, 0)
