"""Helpers for saga tests: products with stock, placed orders, ledgers, a worker per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from temporalio.client import Client, WorkflowHandle

from activities.ports import SagaPorts
from domain.events import OrderLine, ShippingAddress
from domain.order import Order
from eventstore.orders import OrderRepository
from eventstore.store import EventStore
from worker import build_worker
from workflows.contract import OrderFulfillmentInput, SagaPolicy, order_workflow_id
from workflows.order_fulfillment import OrderFulfillmentWorkflow

ADDRESS = ShippingAddress(
    name="Ada Shopper", line1="1 Market St", city="Springfield", postal_code="12345", country="US"
)
FAST = SagaPolicy(step_max_attempts=3, step_initial_retry_ms=50, stall_timeout_s=3600)


async def add_product(pool: asyncpg.Pool, on_hand: int, price: int = 1500) -> str:
    sku = f"SKU-{uuid.uuid4().hex[:10]}"
    await pool.execute(
        "INSERT INTO products (sku, name, price, currency) VALUES ($1, $2, $3, 'USD')",
        sku, f"Product {sku}", price,
    )  # fmt: skip
    await pool.execute("INSERT INTO stock (sku, on_hand) VALUES ($1, $2)", sku, on_hand)
    return sku


async def stock_of(pool: asyncpg.Pool, sku: str) -> tuple[int, int]:
    row = await pool.fetchrow("SELECT on_hand, reserved FROM stock WHERE sku = $1", sku)
    assert row is not None
    return row["on_hand"], row["reserved"]


async def place_order(
    pool: asyncpg.Pool, lines: list[tuple[str, int]], address: ShippingAddress = ADDRESS
) -> str:
    order_id = str(uuid.uuid4())
    order = Order.place(
        order_id, "customer-1", f"cart-{order_id}", "USD",
        [OrderLine(sku=sku, name=sku, quantity=qty, unit_price=1500) for sku, qty in lines],
        address,
    )  # fmt: skip
    await OrderRepository(EventStore(pool)).save(order)
    return order_id


async def start_saga(
    client: Client, queue: str, order_id: str, token: str = "tok_ok", policy: SagaPolicy = FAST
) -> WorkflowHandle[OrderFulfillmentWorkflow, object]:
    return await client.start_workflow(
        OrderFulfillmentWorkflow.run,
        OrderFulfillmentInput(order_id, "customer-1", token, policy),
        id=order_workflow_id(order_id),
        task_queue=queue,
    )


async def event_types(pool: asyncpg.Pool, order_id: str) -> list[str]:
    rows = await pool.fetch(
        "SELECT event_type FROM events WHERE stream_id = $1 ORDER BY stream_version",
        f"order-{order_id}",
    )
    return [r["event_type"] for r in rows]


async def ledger(pool: asyncpg.Pool, order_id: str) -> list[str]:
    rows = await pool.fetch(
        "SELECT operation FROM sandbox_ledger WHERE order_id = $1 ORDER BY created_at", order_id
    )
    return [r["operation"] for r in rows]


@asynccontextmanager
async def running_worker(
    client: Client, pool: asyncpg.Pool, ports: SagaPorts | None = None
) -> AsyncIterator[str]:
    """The saga's worker on a task queue of its own (optionally on ports a test rigged)."""
    queue = f"orders-{uuid.uuid4()}"
    async with build_worker(client, pool, task_queue=queue, ports=ports):
        yield queue
