"""Money at the edges of the saga: an in-doubt capture is resolved forward, one cancel rule, and
a cancel or stall timeout during a provider outage that is final at once while the cleanup that
waits on the provider carries on."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError

from activities.providers import ProviderUnavailable
from activities.sandbox import SandboxPayments
from domain.order import Order
from eventstore.inventory import Inventory
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

pytestmark = pytest.mark.usefixtures("providers_up_afterwards")
TIMES_OUT = dataclasses.replace(FAST, stall_timeout_s=1)


@pytest.fixture
async def providers_up_afterwards(pool: asyncpg.Pool) -> AsyncIterator[SandboxLedger]:
    switch = SandboxLedger(pool)
    yield switch
    for name in ("payment", "shipping", "notifications"):
        await switch.set_available(name, True)


class CapturesButLosesTheAnswer(SandboxPayments):
    """The gateway captures; the reply is lost on the way back, every time."""

    async def capture(self, *args: Any, **kwargs: Any) -> str:
        await super().capture(*args, **kwargs)
        raise ProviderUnavailable("connection reset after the gateway captured")


class CommitKeepsFailing(Inventory):
    """The capture is recorded, then committing the sold stock fails until healed."""

    healed = False

    async def commit(self, order_id: str) -> bool:
        if not self.healed:
            raise ConnectionResetError("the stock table is unavailable")
        return await super().commit(order_id)


async def _status(handle: WorkflowHandle[Any, Any]) -> str:
    return (await handle.query(OrderFulfillmentWorkflow.saga)).status


async def _wait_for(handle: WorkflowHandle[Any, Any], status: str, timeout_s: float = 30) -> None:
    async def reached() -> None:
        while await _status(handle) != status:
            await asyncio.sleep(0.05)

    await asyncio.wait_for(reached(), timeout_s)


async def _order(pool: asyncpg.Pool, order_id: str) -> Order:
    order = await OrderRepository(EventStore(pool)).load(order_id)
    assert order is not None
    return order


async def _amounts(pool: asyncpg.Pool, order_id: str) -> dict[str, int]:
    rows = await pool.fetch(
        "SELECT operation, sum(amount) AS total FROM sandbox_ledger WHERE order_id = $1 GROUP BY 1",
        order_id,
    )
    return {r["operation"]: int(r["total"] or 0) for r in rows}


async def test_a_lost_capture_answer_then_a_cancel_refunds_the_capture_in_full(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, 2)])
    ports = dataclasses.replace(
        sandbox_ports(pool), payments=CapturesButLosesTheAnswer(SandboxLedger(pool))
    )
    async with running_worker(temporal_client, pool, ports) as queue:
        handle = await start_saga(temporal_client, queue, order_id)
        await _wait_for(handle, "stalled")
        await handle.execute_update(OrderFulfillmentWorkflow.cancel, CancelRequest("no thanks"))
        outcome = await asyncio.wait_for(handle.result(), 30)

    assert outcome.status == "cancelled"
    amounts = await _amounts(pool, order_id)
    assert amounts["capture"] == 3000 and amounts.get("refund") == 3000, amounts
    assert "void" not in await ledger(pool, order_id)  # a captured authorization is refunded
    events = await event_types(pool, order_id)
    assert {"PaymentCaptured", "RefundIssued", "OrderCancelled"} <= set(events)
    assert await stock_of(pool, sku) == (5, 0)
    await assert_ledgers_balance(pool, [order_id])


async def test_a_lost_capture_answer_then_a_stall_timeout_completes_the_order(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, 1)])
    ports = dataclasses.replace(
        sandbox_ports(pool), payments=CapturesButLosesTheAnswer(SandboxLedger(pool))
    )
    async with running_worker(temporal_client, pool, ports) as queue:
        handle = await start_saga(temporal_client, queue, order_id, policy=TIMES_OUT)
        outcome = await asyncio.wait_for(handle.result(), 30)

    assert outcome.status == "completed"
    assert await ledger(pool, order_id) == ["authorize", "ship", "capture"]
    assert (await event_types(pool, order_id))[-1] == "OrderCompleted"
    assert await stock_of(pool, sku) == (4, 0)
    await assert_ledgers_balance(pool, [order_id])


async def test_a_cancel_of_a_saga_stalled_after_its_capture_refunds_instead_of_wedging(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, 1)])
    ports = dataclasses.replace(sandbox_ports(pool), inventory=CommitKeepsFailing(pool))
    async with running_worker(temporal_client, pool, ports) as queue:
        handle = await start_saga(temporal_client, queue, order_id)
        await _wait_for(handle, "stalled")
        assert "PaymentCaptured" in await event_types(pool, order_id)
        await handle.execute_update(OrderFulfillmentWorkflow.cancel, CancelRequest("too slow"))
        with pytest.raises(WorkflowUpdateFailedError):  # answered at once, never left hanging
            await asyncio.wait_for(handle.execute_update(OrderFulfillmentWorkflow.retry), 10)
        outcome = await asyncio.wait_for(handle.result(), 30)

    assert outcome.status == "cancelled"
    assert (await _amounts(pool, order_id)).get("refund") == 1500
    assert await stock_of(pool, sku) == (5, 0)
    await assert_ledgers_balance(pool, [order_id])


async def test_a_cancel_during_a_shipping_outage_is_final_at_once_and_cleans_up_later(
    temporal_client: Client, pool: asyncpg.Pool, providers_up_afterwards: SandboxLedger
) -> None:
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, 2)])
    await providers_up_afterwards.set_available("shipping", False)
    async with running_worker(temporal_client, pool) as queue:
        handle = await start_saga(temporal_client, queue, order_id)
        await _wait_for(handle, "stalled")
        await handle.execute_update(OrderFulfillmentWorkflow.cancel, CancelRequest("changed mind"))
        await _wait_for(handle, "cancelled", timeout_s=10)  # while the carrier is still down
        order = await _order(pool, order_id)
        assert order.status == "cancelled" and order.cleanup_pending == ("create_shipment",)
        view = await handle.query(OrderFulfillmentWorkflow.saga)
        assert view.pending_cleanup == ["create_shipment"]
        assert await stock_of(pool, sku) == (5, 0)  # what needed no provider is done already

        await providers_up_afterwards.set_available("shipping", True)
        outcome = await asyncio.wait_for(handle.result(), 30)
        assert (await handle.query(OrderFulfillmentWorkflow.saga)).pending_cleanup == []

    assert outcome.status == "cancelled"
    assert (await event_types(pool, order_id))[-2:] == ["OrderCancelled", "CleanupCompleted"]
    assert await ledger(pool, order_id) == ["authorize", "void"]
    await assert_ledgers_balance(pool, [order_id])


async def test_a_stall_timeout_during_a_payment_outage_fails_at_once_and_cleans_up_later(
    temporal_client: Client, pool: asyncpg.Pool, providers_up_afterwards: SandboxLedger
) -> None:
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, 1)])
    await providers_up_afterwards.set_available("payment", False)
    policy = SagaPolicy(step_max_attempts=2, step_initial_retry_ms=50, stall_timeout_s=1)
    async with running_worker(temporal_client, pool) as queue:
        handle = await start_saga(temporal_client, queue, order_id, policy=policy)
        await _wait_for(handle, "failed", timeout_s=15)  # the gateway is still down
        assert (await _order(pool, order_id)).cleanup_pending == ("authorize_payment",)
        await providers_up_afterwards.set_available("payment", True)
        outcome = await asyncio.wait_for(handle.result(), 30)

    assert outcome.status == "failed"
    assert (await event_types(pool, order_id))[-2:] == ["OrderFailed", "CleanupCompleted"]
    await assert_ledgers_balance(pool, [order_id])
