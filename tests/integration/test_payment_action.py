"""Payments that need the customer (3-D Secure) on the sandbox gateway (`tok_3ds`): the saga waits
in `awaiting_payment`, goes on when the gateway says so (signal, or its own re-check when the
webhook is lost), fails when the check fails, and cancels the payment and the order when the
customer cancels or never acts."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import asyncpg
from temporalio.client import Client, WorkflowHandle

from eventstore.sandbox import SandboxLedger
from tests.integration.saga_support import (
    FAST,
    add_product,
    event_types,
    ledger,
    place_order,
    running_worker,
    start_saga,
    stock_of,
)
from tests.ledgers import assert_ledgers_balance
from workflows.contract import CancelRequest
from workflows.order_fulfillment import OrderFulfillmentWorkflow

WAITS = dataclasses.replace(FAST, payment_action_timeout_s=3600, payment_recheck_s=3600)


async def _awaiting(handle: WorkflowHandle[Any, Any]) -> None:
    async def reached() -> None:
        while (await handle.query(OrderFulfillmentWorkflow.saga)).status != "awaiting_payment":
            await asyncio.sleep(0.05)

    await asyncio.wait_for(reached(), 20)


async def test_a_payment_the_customer_authenticates_completes_the_order(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, 1)])
    async with running_worker(temporal_client, pool) as queue:
        handle = await start_saga(temporal_client, queue, order_id, "tok_3ds", WAITS)
        await _awaiting(handle)
        assert await SandboxLedger(pool).settle_payment_action(order_id, authenticated=True)
        await handle.signal(OrderFulfillmentWorkflow.payment_updated)
        outcome = await asyncio.wait_for(handle.result(), 30)

    assert outcome.status == "completed"
    events = await event_types(pool, order_id)
    assert events[1:3] == ["PaymentActionRequired", "PaymentAuthorized"]
    assert await ledger(pool, order_id) == ["authorize", "ship", "capture"]
    await assert_ledgers_balance(pool, [order_id], {sku: 5})


async def test_a_lost_webhook_is_made_up_for_by_the_saga_checking_again(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, 1)])
    rechecks = dataclasses.replace(WAITS, payment_recheck_s=1)
    async with running_worker(temporal_client, pool) as queue:
        handle = await start_saga(temporal_client, queue, order_id, "tok_3ds", rechecks)
        await _awaiting(handle)
        await SandboxLedger(pool).settle_payment_action(order_id, authenticated=True)  # no signal
        outcome = await asyncio.wait_for(handle.result(), 30)

    assert outcome.status == "completed"


async def test_a_failed_check_fails_the_order_and_cancels_the_payment(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, 1)])
    async with running_worker(temporal_client, pool) as queue:
        handle = await start_saga(temporal_client, queue, order_id, "tok_3ds", WAITS)
        await _awaiting(handle)
        await SandboxLedger(pool).settle_payment_action(order_id, authenticated=False)
        await handle.signal(OrderFulfillmentWorkflow.payment_updated)
        outcome = await asyncio.wait_for(handle.result(), 30)

    assert outcome.status == "failed" and "3-D Secure" in (outcome.failure_reason or "")
    assert await ledger(pool, order_id) == ["authorize", "void"]
    assert await stock_of(pool, sku) == (5, 0)
    await assert_ledgers_balance(pool, [order_id], {sku: 5})


async def test_a_payment_nobody_completes_in_time_cancels_the_order(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, 1)])
    expires = dataclasses.replace(WAITS, payment_action_timeout_s=2, payment_recheck_s=1)
    async with running_worker(temporal_client, pool) as queue:
        handle = await start_saga(temporal_client, queue, order_id, "tok_3ds", expires)
        outcome = await asyncio.wait_for(handle.result(), 30)

    assert outcome.status == "cancelled"
    assert "PaymentActionExpired" in await event_types(pool, order_id)
    assert await ledger(pool, order_id) == ["authorize", "void"]
    await assert_ledgers_balance(pool, [order_id], {sku: 5})


async def test_a_customer_cancel_while_awaiting_the_payment_cancels_it(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, 1)])
    async with running_worker(temporal_client, pool) as queue:
        handle = await start_saga(temporal_client, queue, order_id, "tok_3ds", WAITS)
        await _awaiting(handle)
        await handle.execute_update(OrderFulfillmentWorkflow.cancel, CancelRequest("no"))
        outcome = await asyncio.wait_for(handle.result(), 30)

    assert outcome.status == "cancelled"
    assert await ledger(pool, order_id) == ["authorize", "void"]
    await assert_ledgers_balance(pool, [order_id], {sku: 5})
