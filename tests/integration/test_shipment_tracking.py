"""The ShipmentTrackingWorkflow that follows the parcel of orders completed before the delivery
sweep (real Temporal); orders since are watched by the sweep (test_delivery_sweep.py)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import asyncpg
from temporalio.client import Client

from activities.metrics import DELIVERIES_OVERDUE
from api.order_schemas import OrderPublic
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
from workflows.contract import (
    QUERY_SHIPMENT,
    UPDATE_CARRIER_EVENT,
    CarrierAnswer,
    CarrierReport,
    SagaPolicy,
    ShipmentTrackingInput,
    ShipmentView,
    shipment_workflow_id,
)
from workflows.shipment_tracking import ShipmentTrackingWorkflow

NOW = datetime.now(UTC).isoformat()


async def _wait_for_event(pool: asyncpg.Pool, order_id: str, event: str) -> list[str]:
    for _ in range(200):
        types = await event_types(pool, order_id)
        if event in types:
            return types
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {event} in {types}")


async def _order_view(pool: asyncpg.Pool, order_id: str) -> OrderPublic:
    """What GET /api/v1/orders/{id} answers."""
    recorded = await OrderRepository(EventStore(pool)).history(order_id)
    return OrderPublic.from_stream(recorded)


async def _completed_order(
    client: Client, pool: asyncpg.Pool, queue: str, policy: SagaPolicy
) -> str:
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, 1)])
    handle = await start_saga(client, queue, order_id, policy=policy)
    assert (await handle.result()).status == "completed"
    return order_id


async def test_an_undelivered_shipment_turns_overdue_and_a_late_delivery_still_lands(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    overdue_before = DELIVERIES_OVERDUE._value.get()
    async with running_worker(temporal_client, pool) as queue:
        order_id = await _completed_order(temporal_client, pool, queue, FAST)
        tracker = await temporal_client.start_workflow(  # as sagas before the sweep started it
            ShipmentTrackingWorkflow.run,
            ShipmentTrackingInput(order_id, delivery_timeout_s=2),
            id=shipment_workflow_id(order_id),
            task_queue=queue,
        )
        await _wait_for_event(pool, order_id, "DeliveryOverdue")
        # The event is stored before the workflow hears the activity's answer: ask until it has.
        for _ in range(200):
            view = await tracker.query(QUERY_SHIPMENT, result_type=ShipmentView)
            if view.overdue:
                break
            await asyncio.sleep(0.05)
        assert view.overdue and view.shipment_status == "overdue"
        assert DELIVERIES_OVERDUE._value.get() == overdue_before + 1
        assert (await _order_view(pool, order_id)).shipment_status == "overdue"

        late = CarrierReport(order_id, "late-1", "delivered", NOW)
        answer = await tracker.execute_update(UPDATE_CARRIER_EVENT, late, result_type=CarrierAnswer)
        assert (answer.outcome, answer.shipment_status) == ("recorded", "delivered")
        assert await tracker.result() == "delivered"
    view = await _order_view(pool, order_id)
    assert (view.status, view.shipment_status) == ("completed", "delivered")
    assert (await event_types(pool, order_id))[-3:] == [
        "OrderCompleted",
        "DeliveryOverdue",
        "ShipmentDelivered",
    ]


async def test_tracking_continues_as_new_with_its_deadline_and_status(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    async with running_worker(temporal_client, pool) as queue:
        order_id = await _completed_order(temporal_client, pool, queue, FAST)
        # A second tracker of the same order, on its own id, that renews itself after 2 reports.
        tracker = await temporal_client.start_workflow(
            ShipmentTrackingWorkflow.run,
            ShipmentTrackingInput(order_id, delivery_timeout_s=3600, reports_per_run=2),
            id=f"shipment-test-{uuid.uuid4()}",
            task_queue=queue,
        )
        first_run = tracker.result_run_id
        for n, status in enumerate(("label_created", "dispatched")):
            report = CarrierReport(order_id, f"can-{n}", status, NOW)
            await tracker.execute_update(UPDATE_CARRIER_EVENT, report, result_type=CarrierAnswer)
        latest = temporal_client.get_workflow_handle(tracker.id)
        for _ in range(100):
            if (await latest.describe()).run_id != first_run:
                break
            await asyncio.sleep(0.05)
        view = await latest.query(QUERY_SHIPMENT, result_type=ShipmentView)
        assert (view.shipment_status, view.reports_this_run) == ("dispatched", 0)
        done = CarrierReport(order_id, "can-2", "delivered", NOW)
        await latest.execute_update(UPDATE_CARRIER_EVENT, done, result_type=CarrierAnswer)
        assert await latest.result() == "delivered"
