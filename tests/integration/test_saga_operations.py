"""Stall and operator retry, stall timeout, and cancellation, on the real servers."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.service import RPCError

from domain.order import Order
from eventstore.orders import OrderRepository
from eventstore.sandbox import SandboxLedger
from eventstore.store import EventStore
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
from worker import sandbox_ports
from workflows.contract import CancelRequest, SagaPolicy
from workflows.order_fulfillment import OrderFulfillmentWorkflow

# The sandbox switch is global to the database, so these tests must not overlap with others.
pytestmark = pytest.mark.usefixtures("provider_switch")


@pytest.fixture
async def provider_switch(pool: asyncpg.Pool) -> AsyncIterator[SandboxLedger]:
    switch = SandboxLedger(pool)
    yield switch
    for name in ("payment", "shipping", "notifications"):
        await switch.set_available(name, True)


async def _wait_status(handle: WorkflowHandle, status: str, timeout_s: float = 30) -> None:  # type: ignore[type-arg]
    async def reached() -> None:
        while (await handle.query(OrderFulfillmentWorkflow.saga)).status != status:
            await asyncio.sleep(0.05)

    await asyncio.wait_for(reached(), timeout_s)


async def test_provider_down_stalls_retry_while_down_stalls_again_then_completes(
    temporal_client: Client, pool: asyncpg.Pool, provider_switch: SandboxLedger
) -> None:
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, 1)])
    await provider_switch.set_available("shipping", False)
    async with running_worker(temporal_client, pool) as queue:
        handle = await start_saga(temporal_client, queue, order_id)
        await _wait_status(handle, "stalled")
        saga = await handle.query(OrderFulfillmentWorkflow.saga)
        assert saga.current_step == "create_shipment"
        assert saga.steps[2].attempts == FAST.step_max_attempts
        assert "shipping provider is down" in (saga.steps[2].last_error or "")

        await handle.execute_update(OrderFulfillmentWorkflow.retry)
        await _wait_status(handle, "stalled")
        assert (await handle.query(OrderFulfillmentWorkflow.saga)).steps[2].attempts == 6

        await provider_switch.set_available("shipping", True)
        await handle.execute_update(OrderFulfillmentWorkflow.retry)
        outcome = await handle.result()

    assert outcome.status == "completed"
    types = await event_types(pool, order_id)
    assert types.count("SagaStalled") == 2 and types.count("SagaResumed") == 2
    assert types[-1] == "OrderCompleted"
    assert await ledger(pool, order_id) == ["authorize", "ship", "capture"]


async def test_retry_of_a_saga_that_is_not_stalled_is_refused(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, 1)])
    async with running_worker(temporal_client, pool) as queue:
        handle = await start_saga(temporal_client, queue, order_id)
        await handle.result()
        with pytest.raises(Exception) as refused:
            await handle.execute_update(OrderFulfillmentWorkflow.retry)
    assert "not stalled" in str(refused.value) or "completed" in str(refused.value).lower()


async def test_cancel_while_stalled_restores_stock_and_voids_authorization(
    temporal_client: Client, pool: asyncpg.Pool, provider_switch: SandboxLedger
) -> None:
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, 2)])
    await provider_switch.set_available("shipping", False)
    async with running_worker(temporal_client, pool) as queue:
        handle = await start_saga(temporal_client, queue, order_id)
        await _wait_status(handle, "stalled")
        await handle.execute_update(OrderFulfillmentWorkflow.cancel, CancelRequest("changed mind"))
        # Whether a shipment was made before the outage is for the carrier to say: until it
        # answers, the saga keeps asking (test_money_exact: the order is cancelled meanwhile).
        await _wait_status(handle, "cancelled")
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        await provider_switch.set_available("shipping", True)
        outcome = await handle.result()

    assert outcome.status == "cancelled"
    events = await event_types(pool, order_id)
    assert events[4:6] == ["CancellationRequested", "CompensationStarted"]
    assert {"ReservationReleased", "PaymentVoided", "OrderCancelled"} <= set(events)
    assert await stock_of(pool, sku) == (5, 0)
    assert await ledger(pool, order_id) == ["authorize", "void"]
    await assert_ledgers_balance(pool, [order_id])


async def test_a_stall_nobody_answers_compensates_by_itself(
    temporal_client: Client, pool: asyncpg.Pool, provider_switch: SandboxLedger
) -> None:
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, 1)])
    await provider_switch.set_available("payment", False)
    policy = SagaPolicy(step_max_attempts=2, step_initial_retry_ms=50, stall_timeout_s=2)
    async with running_worker(temporal_client, pool) as queue:
        handle = await start_saga(temporal_client, queue, order_id, policy=policy)
        await _wait_status(handle, "failed")  # on its own, after the stall timeout
        await provider_switch.set_available("payment", True)  # to learn nothing was authorized
        outcome = await handle.result()

    assert outcome.status == "failed"
    assert "stalled and not retried" in (outcome.failure_reason or "")
    events = await event_types(pool, order_id)
    assert events[:3] == ["OrderPlaced", "SagaStalled", "CompensationStarted"]
    assert "OrderFailed" in events and "PaymentAuthorized" not in events
    assert await stock_of(pool, sku) == (5, 0)
    await assert_ledgers_balance(pool, [order_id])


class SlowToComplete(OrderRepository):
    """Refuses to store OrderCompleted twice: the saga stays in its completing step until the
    third attempt, waiting between attempts (on a timer, where the step is a local activity)."""

    refusals = 2

    async def save(self, order: Order, metadata: dict[str, Any] | None = None) -> int:
        if self.refusals and any(e.type == "OrderCompleted" for e in order.pending_events):
            self.refusals -= 1
            raise ConnectionResetError("the event store is unavailable")
        return await super().save(order, metadata)


async def test_cancel_is_refused_once_the_order_completes(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, 1)])
    ports = dataclasses.replace(sandbox_ports(pool), orders=SlowToComplete(EventStore(pool)))
    async with running_worker(temporal_client, pool, ports) as queue:
        handle = await start_saga(temporal_client, queue, order_id)
        await _wait_status(handle, "payment_captured")  # completing: its record is slow
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(OrderFulfillmentWorkflow.cancel, CancelRequest("late"))
        outcome = await handle.result()
        with pytest.raises(RPCError):
            await handle.execute_update(OrderFulfillmentWorkflow.cancel, CancelRequest("later"))

    assert "being completed" in str(refused.value.cause)
    assert outcome.status == "completed"
    assert "NotificationsSent" not in await event_types(pool, order_id)
    assert await ledger(pool, order_id) == ["authorize", "ship", "capture"]


async def test_cancels_racing_the_saga_end_cancelled_and_released_or_completed(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    sku = await add_product(pool, on_hand=100)
    order_ids = [await place_order(pool, [(sku, 1)]) for _ in range(20)]
    rng = random.Random(20261125)

    async def cancel_later(handle: WorkflowHandle, delay_s: float) -> None:  # type: ignore[type-arg]
        await asyncio.sleep(delay_s)
        with contextlib.suppress(WorkflowUpdateFailedError, RPCError):
            await handle.execute_update(OrderFulfillmentWorkflow.cancel, CancelRequest("race"))

    async with running_worker(temporal_client, pool) as queue:
        handles = [await start_saga(temporal_client, queue, order_id) for order_id in order_ids]
        # From at once to well after most sagas finished, so every moment of the saga is hit.
        delays = [rng.uniform(0, 2.0) for _ in handles]
        await asyncio.gather(*(cancel_later(h, d) for h, d in zip(handles, delays, strict=True)))
        outcomes = await asyncio.gather(*(h.result() for h in handles))

    statuses = [o.status for o in outcomes]
    assert set(statuses) <= {"cancelled", "completed"}
    print("outcomes:", {s: statuses.count(s) for s in set(statuses)})
    for order_id, status in zip(order_ids, statuses, strict=True):
        operations = await ledger(pool, order_id)
        if status == "completed":
            assert operations == ["authorize", "ship", "capture"]
        else:  # before capture it was voided; after, refunded in full
            assert operations.count("void") + operations.count("capture") == operations.count(
                "authorize"
            )
            assert operations.count("refund") == operations.count("capture") <= 1
            assert operations.count("cancel_shipment") == operations.count("ship") <= 1
    assert await stock_of(pool, sku) == (100 - statuses.count("completed"), 0)
    await assert_ledgers_balance(pool, order_ids, {sku: 100})
