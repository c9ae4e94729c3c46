"""A step that fails after its effects were stored is retried without doubling any of them."""

from __future__ import annotations

import dataclasses
from typing import Any

import asyncpg
from temporalio.client import Client

from domain.order import Order
from eventstore.orders import OrderRepository
from eventstore.store import EventStore
from tests.integration.saga_support import (
    add_product,
    event_types,
    ledger,
    place_order,
    running_worker,
    start_saga,
)
from worker import sandbox_ports
from workflows.order_fulfillment import OrderFulfillmentWorkflow


class LosesEveryFirstAnswer(OrderRepository):
    """Stores the events, then fails as if the worker died before reporting success."""

    def __init__(self, store: EventStore) -> None:
        super().__init__(store)
        self.lost: list[str] = []

    async def save(self, order: Order, metadata: dict[str, Any] | None = None) -> int:
        kinds = [e.type for e in order.pending_events]
        version = await super().save(order, metadata)
        if kinds[0] not in self.lost:
            self.lost.append(kinds[0])
            raise ConnectionResetError(f"lost the answer after storing {kinds}")
        return version


async def test_every_step_retried_after_storing_appends_nothing_twice(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, 2)])
    orders = LosesEveryFirstAnswer(EventStore(pool))
    ports = dataclasses.replace(sandbox_ports(pool), orders=orders)
    async with running_worker(temporal_client, pool, ports) as queue:
        handle = await start_saga(temporal_client, queue, order_id)
        outcome = await handle.result()
        saga = await handle.query(OrderFulfillmentWorkflow.saga)

    assert outcome.status == "completed"
    assert orders.lost == [
        "PaymentAuthorized", "InventoryReserved", "ShipmentCreated",
        "OrderConfirmed", "PaymentCaptured", "OrderCompleted",
    ]  # fmt: skip
    assert all(step.attempts == 2 for step in saga.steps)
    types = await event_types(pool, order_id)
    assert len(types) == len(set(types)) == 7
    assert await ledger(pool, order_id) == ["authorize", "ship", "capture"]
    on_hand, reserved = await pool.fetchrow(
        "SELECT on_hand, reserved FROM stock WHERE sku = $1", sku
    )  # type: ignore[misc]
    assert (on_hand, reserved) == (3, 0)
