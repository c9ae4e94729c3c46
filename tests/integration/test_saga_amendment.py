"""The partial-availability branch of the saga on a real worker: retried steps double nothing,
and an amendment whose kept lines sold out meanwhile fails with every authorization voided."""

from __future__ import annotations

import asyncio
import dataclasses

import asyncpg
import pytest
from temporalio.client import Client, WorkflowHandle

from activities.sandbox import SandboxPayments
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
from tests.integration.test_activity_retry_safety import LosesEveryFirstAnswer
from tests.ledgers import assert_ledgers_balance
from worker import sandbox_ports
from workflows.contract import UPDATE_ACCEPT_AMENDMENT
from workflows.order_fulfillment import OrderFulfillmentWorkflow


async def _until_proposed(pool: asyncpg.Pool, order_id: str) -> None:
    async with asyncio.timeout(30):
        while "AmendmentProposed" not in await event_types(pool, order_id):
            await asyncio.sleep(0.05)


async def _accept(saga: WorkflowHandle[OrderFulfillmentWorkflow, object]) -> None:
    await saga.execute_update(UPDATE_ACCEPT_AMENDMENT)


class CapturesOnlyWhatItAuthorized(SandboxPayments):
    """A gateway that cannot capture less than it authorized: an amendment re-authorizes."""

    partial_capture = False


def _reauthorizing(pool: asyncpg.Pool) -> SandboxPayments:
    return CapturesOnlyWhatItAuthorized(SandboxLedger(pool))


async def test_an_accepted_amendment_is_captured_from_the_original_authorization(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    kept, short = await add_product(pool, on_hand=5, price=1500), await add_product(pool, 1)
    order_id = await place_order(pool, [(kept, 2), (short, 2)])
    async with running_worker(temporal_client, pool) as queue:
        saga = await start_saga(temporal_client, queue, order_id)
        await _until_proposed(pool, order_id)
        await _accept(saga)
        outcome = await saga.result()

    assert outcome.status == "completed"
    assert "PaymentReauthorized" not in await event_types(pool, order_id)
    rows = await pool.fetch(
        "SELECT operation, amount FROM sandbox_ledger WHERE order_id = $1 ORDER BY created_at",
        order_id,
    )
    assert [(r["operation"], r["amount"]) for r in rows if r["operation"] != "ship"] == [
        ("authorize", 6000), ("capture", 3000),
    ]  # fmt: skip
    await assert_ledgers_balance(pool, [order_id])


async def test_amendment_steps_retried_after_storing_append_and_charge_nothing_twice(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    kept, short = await add_product(pool, on_hand=5), await add_product(pool, on_hand=1)
    order_id = await place_order(pool, [(kept, 2), (short, 2)])
    orders = LosesEveryFirstAnswer(EventStore(pool))
    ports = dataclasses.replace(sandbox_ports(pool), orders=orders, payments=_reauthorizing(pool))
    async with running_worker(temporal_client, pool, ports) as queue:
        saga = await start_saga(temporal_client, queue, order_id)
        await _until_proposed(pool, order_id)
        await _accept(saga)
        outcome = await saga.result()

    assert outcome.status == "completed"
    assert {"AmendmentProposed", "AmendmentAccepted", "PaymentReauthorized"} <= set(orders.lost)
    types = await event_types(pool, order_id)
    assert len(types) == len(set(types))
    assert await ledger(pool, order_id) == [
        "authorize", "void", "authorize", "ship", "capture",
    ]  # fmt: skip
    assert await stock_of(pool, kept) == (3, 0)
    assert await stock_of(pool, short) == (1, 0)


@pytest.mark.parametrize("partial_capture", [False, True])
async def test_kept_lines_sold_out_before_acceptance_fail_and_void_every_authorization(
    temporal_client: Client, pool: asyncpg.Pool, partial_capture: bool
) -> None:
    kept, short = await add_product(pool, on_hand=2), await add_product(pool, on_hand=0)
    order_id = await place_order(pool, [(kept, 2), (short, 1)])
    payments = SandboxPayments(SandboxLedger(pool)) if partial_capture else _reauthorizing(pool)
    ports = dataclasses.replace(sandbox_ports(pool), payments=payments)
    async with running_worker(temporal_client, pool, ports) as queue:
        saga = await start_saga(temporal_client, queue, order_id)
        await _until_proposed(pool, order_id)
        await pool.execute("UPDATE stock SET on_hand = 1 WHERE sku = $1", kept)
        await _accept(saga)
        outcome = await saga.result()

    assert outcome.status == "failed" and kept in (outcome.failure_reason or "")
    once = ["authorize", "void"]
    assert await ledger(pool, order_id) == (once if partial_capture else once + once)
    voided = await pool.fetch(
        "SELECT detail FROM sandbox_ledger WHERE order_id = $1 AND operation = 'void'", order_id
    )
    authorized = await pool.fetch(
        "SELECT reference FROM sandbox_ledger WHERE order_id = $1 AND operation = 'authorize'",
        order_id,
    )
    assert {r["detail"] for r in voided} == {r["reference"] for r in authorized}
    assert await stock_of(pool, kept) == (1, 0)
