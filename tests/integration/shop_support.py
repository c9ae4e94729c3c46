"""A shop of its own for whole-shop tests (reconciliation): a fresh database on the session's
PostgreSQL, and real sagas driven into each way an order's money can end."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from temporalio.client import Client, WorkflowHandle

from eventstore.migrations import apply_migrations
from eventstore.sandbox import SandboxLedger
from tests.integration.saga_support import (
    ADDRESS,
    FAST,
    add_product,
    place_order,
    running_worker,
    start_saga,
)
from tests.integration.test_money_exact import CommitKeepsFailing
from worker import sandbox_ports
from workflows.contract import UPDATE_ACCEPT_AMENDMENT, CancelRequest
from workflows.order_fulfillment import OrderFulfillmentWorkflow

WAITS = dataclasses.replace(FAST, payment_action_timeout_s=3600, payment_recheck_s=3600)


@asynccontextmanager
async def fresh_database(server_url: str) -> AsyncIterator[tuple[str, asyncpg.Pool]]:
    """A new database with the schema on the server of `server_url`: (its URL, a pool)."""
    name = f"shop_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = f"{server_url.rsplit('/', 1)[0]}/{name}"
    conn = await asyncpg.connect(url)
    try:
        await apply_migrations(conn)
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(url, min_size=1, max_size=10)
    assert pool is not None
    try:
        yield url, pool
    finally:
        await pool.close()
        admin = await asyncpg.connect(server_url)
        try:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def until_status(
    handle: WorkflowHandle[Any, Any], status: str, timeout_s: float = 30
) -> None:
    async def reached() -> None:
        while (await handle.query(OrderFulfillmentWorkflow.saga)).status != status:
            await asyncio.sleep(0.05)

    await asyncio.wait_for(reached(), timeout_s)


@dataclass
class Shop:
    """Sagas on one database: a plain worker, and one whose stock commit fails until healed
    (a saga that stalls after its capture)."""

    client: Client
    pool: asyncpg.Pool
    queue: str
    stalling_queue: str
    stalling_inventory: CommitKeepsFailing

    async def _run(
        self,
        lines: list[tuple[str, int]],
        token: str = "tok_ok",
        *,
        queue: str | None = None,
        postal_code: str = "12345",
        steer: Callable[[WorkflowHandle[Any, Any]], Awaitable[None]] | None = None,
    ) -> str:
        address = dataclasses.replace(ADDRESS, postal_code=postal_code)
        order_id = await place_order(self.pool, lines, address)
        handle = await start_saga(self.client, queue or self.queue, order_id, token, WAITS)
        if steer is not None:
            await steer(handle)
        await asyncio.wait_for(handle.result(), 60)
        return order_id

    async def completed(self) -> str:
        return await self._run([(await add_product(self.pool, on_hand=5), 2)])

    async def declined(self) -> str:
        return await self._run([(await add_product(self.pool, on_hand=5), 1)], "tok_decline")

    async def failed_after_authorization(self) -> str:
        """The carrier refuses the address: the authorization is voided."""
        sku = await add_product(self.pool, on_hand=5)
        return await self._run([(sku, 1)], postal_code="00000")

    async def cancelled_awaiting_payment(self) -> str:
        async def cancel(handle: WorkflowHandle[Any, Any]) -> None:
            await until_status(handle, "awaiting_payment")
            await handle.execute_update(OrderFulfillmentWorkflow.cancel, CancelRequest("no"))

        sku = await add_product(self.pool, on_hand=5)
        return await self._run([(sku, 1)], "tok_3ds", steer=cancel)

    async def authenticated(self) -> str:
        """3-D Secure passed: the pending authorization is granted and captured."""

        async def authenticate(handle: WorkflowHandle[Any, Any]) -> None:
            await until_status(handle, "awaiting_payment")
            order_id = handle.id.removeprefix("order-")
            assert await SandboxLedger(self.pool).settle_payment_action(order_id, True)
            await handle.signal(OrderFulfillmentWorkflow.payment_updated)

        sku = await add_product(self.pool, on_hand=5)
        return await self._run([(sku, 1)], "tok_3ds", steer=authenticate)

    async def amended(self) -> str:
        """One line short: the amended order is accepted, reauthorized and captured."""

        async def accept(handle: WorkflowHandle[Any, Any]) -> None:
            await until_status(handle, "awaiting_customer")
            await handle.execute_update(UPDATE_ACCEPT_AMENDMENT)

        kept, short = await add_product(self.pool, on_hand=5), await add_product(self.pool, 1)
        return await self._run([(kept, 2), (short, 2)], steer=accept)

    async def cancelled_after_capture(self) -> str:
        """Stalled after its capture, then cancelled: the capture is refunded in full."""

        async def cancel(handle: WorkflowHandle[Any, Any]) -> None:
            await until_status(handle, "stalled")
            await handle.execute_update(OrderFulfillmentWorkflow.cancel, CancelRequest("late"))

        sku = await add_product(self.pool, on_hand=5)
        return await self._run([(sku, 1)], queue=self.stalling_queue, steer=cancel)


@asynccontextmanager
async def running_shop(client: Client, pool: asyncpg.Pool) -> AsyncIterator[Shop]:
    inventory = CommitKeepsFailing(pool)
    stalling = dataclasses.replace(sandbox_ports(pool), inventory=inventory)
    async with AsyncExitStack() as stack:
        queue = await stack.enter_async_context(running_worker(client, pool))
        stalling_queue = await stack.enter_async_context(running_worker(client, pool, stalling))
        yield Shop(client, pool, queue, stalling_queue, inventory)
