"""A step whose effect happened but whose answer never came back, and which then stalls until
compensation: the effect is found by its key and undone, so nothing is left behind."""

from __future__ import annotations

import dataclasses
from typing import Any

import asyncpg
from temporalio.client import Client

from activities.ports import SagaPorts
from activities.providers import ProviderUnavailable
from activities.sandbox import SandboxPayments
from domain.order import Order
from eventstore.orders import OrderRepository
from eventstore.sandbox import SandboxLedger
from eventstore.store import EventStore
from tests.integration.saga_support import (
    add_product,
    event_types,
    ledger,
    place_order,
    running_worker,
    start_saga,
    stock_of,
)
from worker import sandbox_ports
from workflows.contract import SagaPolicy

GIVES_UP = SagaPolicy(step_max_attempts=2, step_initial_retry_ms=50, stall_timeout_s=2)


class AuthorizesButLosesTheAnswer(SandboxPayments):
    """The gateway authorizes; the reply is lost on the way back, every time."""

    async def authorize(self, *args: Any, **kwargs: Any) -> str:
        await super().authorize(*args, **kwargs)
        raise ProviderUnavailable("connection reset after the gateway answered")


class NeverStoresTheReservation(OrderRepository):
    """The stock is held, but the event saying so never reaches the store."""

    async def save(self, order: Order, metadata: dict[str, Any] | None = None) -> int:
        if any(e.type == "InventoryReserved" for e in order.pending_events):
            raise ConnectionResetError("the event store went away")
        return await super().save(order, metadata)


async def _run(client: Client, pool: asyncpg.Pool, ports: SagaPorts, order_id: str) -> str:
    async with running_worker(client, pool, ports) as queue:
        handle = await start_saga(client, queue, order_id, policy=GIVES_UP)
        return (await handle.result()).status


async def test_an_authorization_whose_answer_was_lost_is_voided_when_the_stall_times_out(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, 1)])
    ports = dataclasses.replace(
        sandbox_ports(pool), payments=AuthorizesButLosesTheAnswer(SandboxLedger(pool))
    )

    status = await _run(temporal_client, pool, ports, order_id)

    assert status == "failed"
    assert await ledger(pool, order_id) == ["authorize", "void"]
    assert await event_types(pool, order_id) == [
        "OrderPlaced", "SagaStalled", "CompensationStarted", "UnrecordedEffectUndone",
        "OrderFailed",
    ]  # fmt: skip


async def test_a_reservation_never_recorded_is_released_when_the_stall_times_out(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, 2)])
    ports = dataclasses.replace(
        sandbox_ports(pool), orders=NeverStoresTheReservation(EventStore(pool))
    )

    status = await _run(temporal_client, pool, ports, order_id)

    assert status == "failed"
    assert await stock_of(pool, sku) == (5, 0)
    assert (await event_types(pool, order_id))[-4:] == [
        "CompensationStarted", "UnrecordedEffectUndone", "PaymentVoided", "OrderFailed",
    ]  # fmt: skip
    assert await ledger(pool, order_id) == ["authorize", "void"]
