"""The fault matrix: for each of the saga's six steps, the step's effect happens and its record
fails (the event store refuses that step's event until healed), so the step stalls with its
effect unrecorded; then an operator retries it after healing, or the customer cancels, or nobody
answers and the stall times out. Every cell must end with the ledgers balanced (tests/ledgers.py):
nothing charged that is not the final charge, no authorization or shipment left behind, stock
exact, each step's event at most once, and the order reconciled with the payment provider's
records (`commerce reconcile`'s rules). The matrix is printed as a table."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import asyncpg
from temporalio.client import Client, WorkflowHandle

from domain.order import Order
from eventstore.orders import OrderRepository
from eventstore.store import EventStore
from tests.integration.saga_support import add_product, place_order, running_worker, start_saga
from tests.ledgers import ledger_violations
from worker import sandbox_ports
from workflows.contract import CancelRequest, SagaPolicy
from workflows.order_fulfillment import OrderFulfillmentWorkflow

STEPS = {
    "authorize_payment": "PaymentAuthorized",
    "reserve_inventory": "InventoryReserved",
    "create_shipment": "ShipmentCreated",
    "confirm_order": "OrderConfirmed",
    "capture_payment": "PaymentCaptured",
    "send_notifications": "OrderCompleted",
}
ACTIONS = ("retry", "cancel", "timeout")
# What each cell must end as: a capture that happened is resolved forward (a timeout completes
# the order, a cancel refunds it); the last step never stalls (the saga completes the order
# without it), so every action finds it done.
EXPECTED = (
    {
        (step, action): {"retry": "completed", "cancel": "cancelled", "timeout": "failed"}[action]
        for step in STEPS
        for action in ACTIONS
    }
    | {("capture_payment", "timeout"): "completed"}
    | {("send_notifications", action): "completed" for action in ACTIONS}
)
POLICY = SagaPolicy(step_max_attempts=2, step_initial_retry_ms=50, stall_timeout_s=2)
ON_HAND = 10


class RecordsFailUntilHealed(OrderRepository):
    """The event store refuses one event type per order (its step's) until that order is healed."""

    def __init__(self, store: EventStore) -> None:
        super().__init__(store)
        self.failing: dict[str, str] = {}  # order id -> event type refused

    async def save(self, order: Order, metadata: dict[str, Any] | None = None) -> int:
        refused = self.failing.get(order.order_id)
        if refused is not None and any(e.type == refused for e in order.pending_events):
            raise ConnectionResetError(f"the event store went away before {refused} was stored")
        return await super().save(order, metadata)


async def _status(handle: WorkflowHandle[Any, Any]) -> str:
    return (await handle.query(OrderFulfillmentWorkflow.saga)).status


async def _until(handle: WorkflowHandle[Any, Any], statuses: set[str], timeout_s: float) -> str:
    async def reached() -> str:
        while (status := await _status(handle)) not in statuses:
            await asyncio.sleep(0.05)
        return status

    return await asyncio.wait_for(reached(), timeout_s)


async def _until_step_failed(handle: WorkflowHandle[Any, Any], step: str, timeout_s: float) -> None:
    async def failed() -> None:
        while True:
            view = await handle.query(OrderFulfillmentWorkflow.saga)
            if any(s.name == step and s.status == "failed" for s in view.steps):
                return
            await asyncio.sleep(0.05)

    await asyncio.wait_for(failed(), timeout_s)


async def _cell(
    client: Client,
    queue: str,
    orders: RecordsFailUntilHealed,
    order_id: str,
    step: str,
    action: str,
) -> str:
    policy = POLICY if action == "timeout" else dataclasses.replace(POLICY, stall_timeout_s=3600)
    orders.failing[order_id] = STEPS[step]
    handle = await start_saga(client, queue, order_id, policy=policy)
    if step == "send_notifications":
        # The last step never stalls: once its attempts are spent, the saga records the
        # completion itself, and does so as soon as the event store takes it again.
        await _until_step_failed(handle, step, 60)
        del orders.failing[order_id]
    elif await _until(handle, {"stalled", "completed"}, 60) == "stalled":
        del orders.failing[order_id]  # healed: what happens next may be recorded again
        if action == "retry":
            await handle.execute_update(OrderFulfillmentWorkflow.retry)
        elif action == "cancel":
            await handle.execute_update(OrderFulfillmentWorkflow.cancel, CancelRequest("matrix"))
    else:
        orders.failing.pop(order_id, None)
    outcome = await asyncio.wait_for(handle.result(), 90)
    return str(outcome.status)


async def test_every_step_with_its_record_lost_ends_balanced_whatever_follows(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    orders = RecordsFailUntilHealed(EventStore(pool))
    ports = dataclasses.replace(sandbox_ports(pool), orders=orders)
    cells = [(step, action) for step in STEPS for action in ACTIONS]
    skus = [await add_product(pool, on_hand=ON_HAND) for _ in cells]
    order_ids = [await place_order(pool, [(sku, 2)]) for sku in skus]
    async with running_worker(temporal_client, pool, ports) as queue:
        outcomes = await asyncio.gather(*(
            _cell(temporal_client, queue, orders, order_id, step, action)
            for order_id, (step, action) in zip(order_ids, cells, strict=True)
        ))  # fmt: skip

    rows: dict[str, dict[str, str]] = {step: {} for step in STEPS}
    wrong = []
    for order_id, sku, (step, action), outcome in zip(
        order_ids, skus, cells, outcomes, strict=True
    ):
        problems = await ledger_violations(pool, [order_id], {sku: ON_HAND})
        expected = EXPECTED[(step, action)]
        ok = outcome == expected and not problems
        rows[step][action] = f"{outcome} {'ok' if ok else 'WRONG'}"
        if not ok:
            wrong.append(f"{step} x {action}: {outcome} (expected {expected}) {problems}")
    print("\n" + _table(rows))
    assert not wrong, "\n".join(wrong)


def _table(rows: dict[str, dict[str, str]]) -> str:
    """The matrix as text: a row per step whose record failed, a column per what followed."""
    header = ["step whose record failed", *(f"then {action}" for action in ACTIONS)]
    lines = [[step, *(rows[step][a] for a in ACTIONS)] for step in rows]
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    fmt = " | ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*header), "-+-".join("-" * w for w in widths)] + [
        fmt.format(*line) for line in lines
    ])  # fmt: skip
