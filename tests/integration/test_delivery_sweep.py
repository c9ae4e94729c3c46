"""Delivery without a second execution per order: a completed saga starts no tracking workflow;
its deadline waits in `delivery_deadlines`, and the worker's sweep marks a parcel not delivered
by then overdue — once, and not one that arrived in time."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime

import asyncpg
import pytest
from temporalio.client import Client
from temporalio.service import RPCError

from activities.metrics import DELIVERIES_OVERDUE
from commerce.delivery_sweep import DeliverySweep
from domain.status import ShipmentStatus
from eventstore.orders import OrderRepository
from eventstore.store import EventStore
from tests.integration.saga_support import (
    FAST,
    add_product,
    event_types,
    place_order,
    running_worker,
    start_saga,
)
from workflows.contract import shipment_workflow_id

SOON = dataclasses.replace(FAST, delivery_timeout_s=1)


async def _completed(client: Client, pool: asyncpg.Pool, queue: str) -> str:
    order_id = await place_order(pool, [(await add_product(pool, on_hand=5), 1)])
    assert (await (await start_saga(client, queue, order_id, policy=SOON)).result()).status == (
        "completed"
    )
    return order_id


async def test_a_parcel_not_delivered_by_its_deadline_is_marked_overdue_once(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    before = DELIVERIES_OVERDUE._value.get()
    async with running_worker(temporal_client, pool) as queue:
        late = await _completed(temporal_client, pool, queue)
        on_time = await _completed(temporal_client, pool, queue)
    orders = OrderRepository(EventStore(pool))
    delivered = await orders.load(on_time)
    assert delivered is not None and delivered.delivery_due_at is not None
    delivered.track_shipment(ShipmentStatus.DELIVERED, "evt-on-time", datetime.now(UTC).isoformat())
    await orders.save(delivered)
    with pytest.raises(RPCError):  # one execution per order: the saga's alone
        await temporal_client.get_workflow_handle(shipment_workflow_id(late)).describe()

    await asyncio.sleep(1.2)  # past both deadlines
    sweep = DeliverySweep(pool, interval_s=60)
    try:
        marked = await sweep.run_once()
        again = await sweep.run_once()
    finally:
        await sweep.close()

    assert late in marked and on_time not in marked and again == []
    assert (await event_types(pool, late))[-1] == "DeliveryOverdue"
    assert "DeliveryOverdue" not in await event_types(pool, on_time)
    overdue = await orders.load(late)
    assert overdue is not None and overdue.shipment_status == ShipmentStatus.OVERDUE
    assert DELIVERIES_OVERDUE._value.get() >= before + 1
