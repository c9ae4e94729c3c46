"""Helpers for the post-sale tests on Stripe (localstripe): orders taken through the saga with
the worker's Stripe ports, the post-sale workflows started as the API starts them, the money
read back from localstripe, and reconciliation against Stripe's records."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from activities.stripe_records import StripePaymentRecords
from commerce.reconcile import Reconciler
from commerce.settings import Settings
from domain.events import RefundIssued
from domain.order import Order
from domain.status import ShipmentStatus
from eventstore.orders import OrderRepository, domain_events, order_stream
from eventstore.store import EventStore
from tests.integration.saga_support import add_product, place_order, start_saga
from tests.integration.stripe_support import AUTH, VISA, payment_intents_of
from workflows.after_sale_contract import Decision


async def load(pool: asyncpg.Pool, order_id: str) -> Order:
    order = await OrderRepository(EventStore(pool)).load(order_id)
    assert order is not None
    return order


async def issued_refunds(pool: asyncpg.Pool, order_id: str) -> list[str]:
    """The provider's id of each refund our events say was issued, in order."""
    recorded = await EventStore(pool).read_stream(order_stream(order_id))
    return [e.refund_id for e in domain_events(recorded) if isinstance(e, RefundIssued)]


async def completed_order(
    client: Client, queue: str, pool: asyncpg.Pool, quantity: int = 3
) -> tuple[str, str]:
    """(order id, sku): `quantity` units at 1500 paid with a card at Stripe, completed."""
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, quantity)])
    await (await start_saga(client, queue, order_id, token=VISA)).result()
    assert (await load(pool, order_id)).status == "completed"
    return order_id, sku


async def carrier_reports(pool: asyncpg.Pool, order_id: str, stage: ShipmentStatus) -> None:
    """The carrier's report on the parcel, as the carrier webhook records it."""
    orders = OrderRepository(EventStore(pool))
    order = await load(pool, order_id)
    order.track_shipment(stage, f"evt-{uuid.uuid4()}", datetime.now(UTC).isoformat())
    await orders.save(order)


async def request(client: Client, queue: str, workflow: str, wid: str, body: Any) -> Decision:
    """A post-sale request as the API makes it: its workflow started with its `request` update."""
    start: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
        workflow, body, id=wid, task_queue=queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )  # fmt: skip
    decision: Decision = await client.execute_update_with_start_workflow(
        "request", body, start_workflow_operation=start, result_type=Decision
    )
    return decision


async def charge_of(api_base: str, order_id: str) -> dict[str, Any]:
    """The charge of the order's one PaymentIntent at localstripe."""
    [intent] = await payment_intents_of(api_base, order_id)
    charge: dict[str, Any] = intent["latest_charge"]
    return charge


async def refunds_at_stripe(api_base: str, charge_id: str) -> list[dict[str, Any]]:
    """Every refund localstripe holds for the charge, ours (with our key) or not, oldest first."""
    found: list[dict[str, Any]] = []
    after: str | None = None
    async with httpx.AsyncClient(base_url=api_base, headers=AUTH, timeout=10) as client:
        while True:
            params: dict[str, Any] = {"charge": charge_id, "limit": 100}
            params |= {"starting_after": after} if after else {}
            page = (await client.get("/v1/refunds", params=params)).json()
            found += page["data"]
            if not page["has_more"] or not page["data"]:
                return sorted(found, key=lambda r: (r["created"], r["id"]))
            after = page["data"][-1]["id"]


def ours(refunds: list[dict[str, Any]]) -> dict[str, int]:
    """Our refunds among them (they carry our idempotency key): key -> amount."""
    return {r["metadata"]["idempotency_key"]: r["amount"] for r in refunds if r["metadata"]}


async def refund_at_stripe(
    api_base: str, charge_id: str, amount: int, metadata: dict[str, str] | None = None
) -> str:
    """A refund made at Stripe directly, outside the service (the dashboard, a script)."""
    body = {"charge": charge_id, "amount": str(amount)}
    body |= {f"metadata[{k}]": v for k, v in (metadata or {}).items()}
    async with httpx.AsyncClient(base_url=api_base, headers=AUTH, timeout=10) as client:
        answer = await client.post("/v1/refunds", data=body)
    answer.raise_for_status()
    return str(answer.json()["id"])


async def stripe_mismatches(
    pool: asyncpg.Pool, settings: Settings, order_ids: list[str]
) -> list[str]:
    """What reconciliation against Stripe's records reports for these orders, one line each."""
    records = StripePaymentRecords.from_settings(settings, pool)
    report = await Reconciler(pool, records).reconcile_orders(order_ids)
    return [
        f"{m.order_id}: {m.kind.value} {m.operation} {m.reference} (ours {m.recorded_amount},"
        f" Stripe {m.provider_amount}): {m.detail}"
        for m in report.mismatches
    ]
