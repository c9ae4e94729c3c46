"""What every saga activity shares: load the order, store its decisions, classify errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.metrics import count_appended
from activities.ports import SagaPorts
from commerce.telemetry import current_trace_id
from domain.errors import BusinessRuleViolation
from domain.order import Order


def idempotency_key(order_id: str, operation: str) -> str:
    """The key a provider sees for one effect of one order, the same on every retry."""
    return f"order-{order_id}:{operation}"


@contextmanager
def business_failures_are_final() -> Iterator[None]:
    """A declined card or missing stock is not retried: the saga compensates instead."""
    try:
        yield
    except BusinessRuleViolation as failure:
        raise ApplicationError(
            str(failure),
            activity.info().attempt,
            *failure.details,
            type=type(failure).__name__,
            non_retryable=True,
        ) from failure


class OrderSteps:
    """Base of the activity classes: the ports they act through, loading and storing orders."""

    def __init__(self, ports: SagaPorts) -> None:
        self._ports = ports
        self._orders = ports.orders

    async def _load(self, order_id: str) -> Order:
        order = await self._orders.load(order_id)
        if order is None:
            raise ApplicationError(f"order {order_id} has no events", non_retryable=True)
        return order

    async def _complete(self, order: Order, delivery_timeout_s: int) -> None:
        """Complete the order; with a delivery timeout its deadline is kept first, so the
        delivery sweep knows every completed order it must watch."""
        due = ""
        deadlines = self._ports.deadlines
        if delivery_timeout_s and deadlines is not None:
            wanted = datetime.now(UTC) + timedelta(seconds=delivery_timeout_s)
            due = (await deadlines.set(order.order_id, wanted)).isoformat()
        order.complete(due)

    async def _save(self, order: Order) -> None:
        if order.pending_events:
            appended = list(order.pending_events)
            await self._orders.save(order, _metadata())
            count_appended(appended)


def _metadata() -> dict[str, Any]:
    info = activity.info()
    metadata: dict[str, Any] = {
        "correlation_id": info.workflow_id,
        "causation_id": f"{info.workflow_run_id}/{info.activity_id}",
        "actor": "saga",
        "activity": info.activity_type,
        "attempt": info.attempt,
    }
    trace_id = current_trace_id()
    if trace_id is not None:
        metadata["trace_id"] = trace_id
    return metadata
