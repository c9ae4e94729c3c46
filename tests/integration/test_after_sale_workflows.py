"""The post-sale workflows on the real servers: a return never received is closed without
refund; a refund whose answer is lost is taken once at the provider."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy

from activities.providers import ProviderUnavailable
from activities.sandbox import SandboxPayments
from domain.status import ShipmentStatus
from eventstore.orders import OrderRepository
from eventstore.sandbox import SandboxLedger
from eventstore.store import EventStore
from tests.integration.saga_support import (
    add_product,
    place_order,
    running_worker,
    start_saga,
)
from tests.ledgers import assert_ledgers_balance
from worker import sandbox_ports
from workflows.after_sale_contract import (
    QUERY_PROGRESS,
    REFUND_WORKFLOW,
    RETURN_WORKFLOW,
    UPDATE_APPROVE_RETURN,
    UPDATE_RECEIVE_RETURN,
    UPDATE_REQUEST,
    UPDATE_RETRY_STEP,
    Decision,
    Progress,
    RefundRequest,
    ReturnItem,
    ReturnReceipt,
    ReturnRequest,
    StepTiming,
    refund_workflow_id,
    return_workflow_id,
)

FAST = StepTiming(step_max_attempts=3, step_initial_retry_ms=50)


class RefundsButLosesTheAnswer(SandboxPayments):
    """The gateway refunds; the first answer is lost on the way back."""

    lost = False

    async def refund(self, *args: Any, **kwargs: Any) -> str:
        reference = await super().refund(*args, **kwargs)
        if not self.lost:
            self.lost = True
            raise ProviderUnavailable("connection reset after the gateway refunded")
        return reference


async def _delivered_order(client: Client, queue: str, pool: asyncpg.Pool) -> tuple[str, str]:
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, 2)])
    assert (await (await start_saga(client, queue, order_id)).result()).status == "completed"
    orders = OrderRepository(EventStore(pool))
    order = await orders.load(order_id)
    assert order is not None
    order.track_shipment(
        ShipmentStatus.DELIVERED, f"evt-{uuid.uuid4()}", datetime.now(UTC).isoformat()
    )
    await orders.save(order)
    return order_id, sku


async def _request(client: Client, queue: str, workflow: str, wid: str, request: Any) -> Decision:
    start: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
        workflow, request, id=wid, task_queue=queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )  # fmt: skip
    decision: Decision = await client.execute_update_with_start_workflow(
        UPDATE_REQUEST, request, start_workflow_operation=start, result_type=Decision
    )
    return decision


async def test_a_return_never_received_is_closed_without_refund(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    async with running_worker(temporal_client, pool) as queue:
        order_id, sku = await _delivered_order(temporal_client, queue, pool)
        return_id = str(uuid.uuid4())
        request = ReturnRequest(
            order_id, return_id, [ReturnItem(sku, 1)], "too big", receive_timeout_s=1, timing=FAST
        )
        wid = return_workflow_id(return_id)
        assert (await _request(temporal_client, queue, RETURN_WORKFLOW, wid, request)).accepted
        handle = temporal_client.get_workflow_handle(wid)
        assert (await handle.execute_update(UPDATE_APPROVE_RETURN, result_type=Decision)).accepted
        assert await asyncio.wait_for(handle.result(), 30) == "closed"

    order = await OrderRepository(EventStore(pool)).load(order_id)
    assert order is not None and order.returns[return_id].status == "closed"
    assert order.refunded_total == 0
    await assert_ledgers_balance(pool, [order_id])


async def _approved_while_the_carrier_is_down(
    client: Client, queue: str, pool: asyncpg.Pool
) -> tuple[str, str, WorkflowHandle[Any, Any]]:
    """A return of one of two units approved while the carrier is down: its label step stalls."""
    order_id, sku = await _delivered_order(client, queue, pool)
    return_id = str(uuid.uuid4())
    request = ReturnRequest(order_id, return_id, [ReturnItem(sku, 1)], "too big", timing=FAST)
    wid = return_workflow_id(return_id)
    assert (await _request(client, queue, RETURN_WORKFLOW, wid, request)).accepted
    handle = client.get_workflow_handle(wid)
    await SandboxLedger(pool).set_available("shipping", False)
    assert (await handle.execute_update(UPDATE_APPROVE_RETURN, result_type=Decision)).accepted
    for _ in range(200):
        progress = await handle.query(QUERY_PROGRESS, result_type=Progress)
        if progress.status == "stalled":
            break
        await asyncio.sleep(0.05)
    assert (progress.status, progress.step) == ("stalled", "create_return_label")
    return order_id, return_id, handle


async def test_goods_received_while_the_label_step_stalls_are_restocked_and_refunded(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    try:
        async with running_worker(temporal_client, pool) as queue:
            order_id, return_id, handle = await _approved_while_the_carrier_is_down(
                temporal_client, queue, pool
            )
            receipt = await handle.execute_update(
                UPDATE_RECEIVE_RETURN, ReturnReceipt(), result_type=Decision
            )
            assert receipt.accepted
            assert await asyncio.wait_for(handle.result(), 30) == "refunded"
    finally:
        await SandboxLedger(pool).set_available("shipping", True)

    order = await OrderRepository(EventStore(pool)).load(order_id)
    assert order is not None and order.returns[return_id].status == "refunded"
    assert order.returns[return_id].tracking_number is None  # no label was needed any more
    assert order.refunded_total == 1500
    await assert_ledgers_balance(pool, [order_id])


async def test_a_stalled_label_step_retried_once_the_carrier_is_back_labels_the_return(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    try:
        async with running_worker(temporal_client, pool) as queue:
            order_id, return_id, handle = await _approved_while_the_carrier_is_down(
                temporal_client, queue, pool
            )
            await SandboxLedger(pool).set_available("shipping", True)
            await handle.execute_update(UPDATE_RETRY_STEP, result_type=str)
            for _ in range(200):
                order = await OrderRepository(EventStore(pool)).load(order_id)
                assert order is not None
                if order.returns[return_id].tracking_number is not None:
                    break
                await asyncio.sleep(0.05)
            assert (await handle.query(QUERY_PROGRESS, result_type=Progress)).status == "approved"
            await handle.execute_update(
                UPDATE_RECEIVE_RETURN, ReturnReceipt(), result_type=Decision
            )
            assert await asyncio.wait_for(handle.result(), 30) == "refunded"
    finally:
        await SandboxLedger(pool).set_available("shipping", True)

    labels = await pool.fetchval(
        "SELECT count(*) FROM sandbox_ledger WHERE order_id = $1 AND operation = 'return_label'",
        order_id,
    )
    assert labels == 1
    assert str(order.returns[return_id].tracking_number).startswith("RTN")


async def test_a_refund_whose_answer_is_lost_is_taken_once(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    ports = dataclasses.replace(
        sandbox_ports(pool), payments=RefundsButLosesTheAnswer(SandboxLedger(pool))
    )
    async with running_worker(temporal_client, pool, ports) as queue:
        order_id, _ = await _delivered_order(temporal_client, queue, pool)
        request_id = str(uuid.uuid4())
        request = RefundRequest(order_id, request_id, 700, "goodwill", timing=FAST)
        wid = refund_workflow_id(request_id)
        assert (await _request(temporal_client, queue, REFUND_WORKFLOW, wid, request)).accepted
        outcome = await asyncio.wait_for(temporal_client.get_workflow_handle(wid).result(), 30)

    assert outcome == "issued"
    refunds = await pool.fetchval(
        "SELECT count(*) FROM sandbox_ledger WHERE order_id = $1 AND operation = 'refund'",
        order_id,
    )
    assert refunds == 1
    await assert_ledgers_balance(pool, [order_id])
