"""Since the local-steps patch the saga's steps that touch only our own stores run as local
activities: in the history they are markers, not activity tasks, and they keep the remote
steps' retries, attempt counts, stall and operator retry."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Sequence
from typing import Any

import asyncpg
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client
from temporalio.service import RPCError

from domain.order import Order
from eventstore.inventory import Inventory
from eventstore.orders import OrderRepository
from eventstore.store import EventStore
from tests.integration.saga_support import (
    add_product,
    event_types,
    place_order,
    running_worker,
    start_saga,
    stock_of,
)
from worker import sandbox_ports
from workflows.contract import RESERVE_INVENTORY, CancelRequest
from workflows.order_fulfillment import OrderFulfillmentWorkflow
from workflows.saga_activities import LOCAL_ACTIVITIES


class ReserveFailsAtFirst(Inventory):
    """The stock table refuses the first `failures` reservations (a dropped connection), then
    works until told to fail again."""

    def __init__(self, pool: asyncpg.Pool, failures: int) -> None:
        super().__init__(pool)
        self.failures = failures
        self.calls = 0

    async def reserve(self, order_id: str, lines: Sequence[tuple[str, int]]) -> str:
        self.calls += 1
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionResetError("the stock table is unavailable")
        return await super().reserve(order_id, lines)


def remote_activities(events: Sequence[HistoryEvent]) -> list[str]:
    scheduled = EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in events
        if e.event_type == scheduled
    ]


def local_activities(events: Sequence[HistoryEvent]) -> list[str]:
    """The activity type of each local activity's marker (its data: the SDK core's JSON)."""
    marker = EventType.EVENT_TYPE_MARKER_RECORDED
    names = []
    for event in events:
        attributes = event.marker_recorded_event_attributes
        if event.event_type == marker and attributes.marker_name == "core_local_activity":
            data = json.loads(attributes.details["data"].payloads[0].data)
            names.append(data["activity_type"])
    return names


async def test_steps_on_our_own_stores_are_local_and_provider_steps_remote(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, 1)])
    async with running_worker(temporal_client, pool) as queue:
        handle = await start_saga(temporal_client, queue, order_id)
        outcome = await handle.result()
    history = (await handle.fetch_history()).events

    assert outcome.status == "completed"
    assert remote_activities(history) == ["authorize_payment", "create_shipment", "capture_payment"]
    assert local_activities(history) == ["reserve_inventory", "confirm_order", "send_notifications"]
    assert set(local_activities(history)) <= LOCAL_ACTIVITIES


async def test_a_local_step_retried_in_the_worker_counts_every_attempt(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, 1)])
    inventory = ReserveFailsAtFirst(pool, failures=2)
    ports = dataclasses.replace(sandbox_ports(pool), inventory=inventory)
    async with running_worker(temporal_client, pool, ports) as queue:
        handle = await start_saga(temporal_client, queue, order_id)  # three attempts a step
        outcome = await handle.result()
        saga = await handle.query(OrderFulfillmentWorkflow.saga)

    assert outcome.status == "completed"
    reserve = saga.steps[1]
    assert (reserve.name, reserve.status, reserve.attempts) == (RESERVE_INVENTORY, "succeeded", 3)
    assert inventory.calls == 3
    assert "SagaStalled" not in await event_types(pool, order_id)
    assert local_activities((await handle.fetch_history()).events).count(RESERVE_INVENTORY) == 1


async def test_a_local_step_that_spends_its_retries_stalls_and_the_operator_retry_resumes_it(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, 1)])
    inventory = ReserveFailsAtFirst(pool, failures=3)
    ports = dataclasses.replace(sandbox_ports(pool), inventory=inventory)
    async with running_worker(temporal_client, pool, ports) as queue:
        handle = await start_saga(temporal_client, queue, order_id)
        while "SagaStalled" not in await event_types(pool, order_id):
            await asyncio.sleep(0.05)
        stalled = await handle.query(OrderFulfillmentWorkflow.saga)
        await handle.execute_update(OrderFulfillmentWorkflow.retry)
        outcome = await handle.result()
        saga = await handle.query(OrderFulfillmentWorkflow.saga)

    assert (stalled.status, stalled.current_step) == ("stalled", RESERVE_INVENTORY)
    assert (stalled.steps[1].status, stalled.steps[1].attempts) == ("stalled", 3)
    assert "unavailable" in (stalled.steps[1].last_error or "")
    assert outcome.status == "completed"
    assert (saga.steps[1].status, saga.steps[1].attempts) == ("succeeded", 4)
    assert await stock_of(pool, sku) == (4, 0)
    types = await event_types(pool, order_id)
    assert types.count("SagaStalled") == types.count("SagaResumed") == 1


class SlowToComplete(OrderRepository):
    """Stores OrderCompleted a second late: the completing step, local, runs meanwhile."""

    def __init__(self, store: EventStore) -> None:
        super().__init__(store)
        self.completing = asyncio.Event()

    async def save(self, order: Order, metadata: dict[str, Any] | None = None) -> int:
        if any(event.type == "OrderCompleted" for event in order.pending_events):
            self.completing.set()
            await asyncio.sleep(1)
        return await super().save(order, metadata)


async def test_a_cancel_sent_while_the_order_completes_locally_waits_and_is_refused(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, 1)])
    orders = SlowToComplete(EventStore(pool))
    ports = dataclasses.replace(sandbox_ports(pool), orders=orders)
    async with running_worker(temporal_client, pool, ports) as queue:
        handle = await start_saga(temporal_client, queue, order_id)
        await asyncio.wait_for(orders.completing.wait(), 30)
        with pytest.raises(RPCError) as refused:  # the API answers it 409: no running saga
            await handle.execute_update(OrderFulfillmentWorkflow.cancel, CancelRequest("late"))
        outcome = await handle.result()

    assert "closing workflow" in str(refused.value)
    assert outcome.status == "completed"
    types = await event_types(pool, order_id)
    assert types[-1] == "OrderCompleted" and "CancellationRequested" not in types
