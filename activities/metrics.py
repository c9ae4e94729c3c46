"""The worker's business metrics, counted in activities (workflow code replays; activities
run once per attempt) and only for events that were actually appended."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from prometheus_client import Counter, Histogram
from temporalio import activity
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from domain import events as ev
from eventstore.shipment_metrics import SHIPMENT_REPORTS

ORDERS_COMPLETED = Counter("commerce_orders_completed_total", "Orders whose saga completed")
ORDERS_FAILED = Counter("commerce_orders_failed_total", "Orders that failed and were compensated")
ORDERS_CANCELLED = Counter("commerce_orders_cancelled_total", "Orders cancelled and compensated")
SAGAS_STALLED = Counter(
    "commerce_sagas_stalled_total", "Times a saga step spent its retries and the saga stalled"
)
SAGA_COMPENSATIONS = Counter(
    "commerce_saga_compensations_total",
    "Effects undone: authorizations voided, reservations released, shipments cancelled",
)
DELIVERIES_OVERDUE = Counter(
    "commerce_deliveries_overdue_total",
    "Completed orders not delivered within COMMERCE_DELIVERY_TIMEOUT_S (DeliveryOverdue appended)",
)
CLEANUPS_DEFERRED = Counter(
    "commerce_saga_cleanups_deferred_total",
    "Orders that ended while undoing still waited on a provider (CleanupDeferred appended);"
    " minus commerce_saga_cleanups_completed_total, the cleanups pending now",
)
CLEANUPS_COMPLETED = Counter(
    "commerce_saga_cleanups_completed_total",
    "Deferred cleanups finished (CleanupCompleted appended)",
)
REFUNDS = Counter(
    "commerce_refunds_total", "Refunds recorded (RefundIssued appended), e.g. cancels after capture"
)
SAGA_STEP_DURATION = Histogram(
    "commerce_saga_step_duration_seconds",
    "Duration of one attempt of a saga step activity, successful or not",
    ["step"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
SAGA_STEP_FAILURES = Counter(
    "commerce_saga_step_failures_total",
    "Failed attempts of a saga step activity (transient or business)",
    ["step"],
)

_COUNTED: tuple[tuple[type[ev.DomainEvent], Counter], ...] = (
    (ev.OrderCompleted, ORDERS_COMPLETED),
    (ev.OrderFailed, ORDERS_FAILED),
    (ev.OrderCancelled, ORDERS_CANCELLED),
    (ev.SagaStalled, SAGAS_STALLED),
    (ev.PaymentVoided, SAGA_COMPENSATIONS),
    (ev.ReservationReleased, SAGA_COMPENSATIONS),
    (ev.ShipmentCancelled, SAGA_COMPENSATIONS),
    (ev.DeliveryOverdue, DELIVERIES_OVERDUE),
    (ev.CleanupDeferred, CLEANUPS_DEFERRED),
    (ev.CleanupCompleted, CLEANUPS_COMPLETED),
    (ev.RefundIssued, REFUNDS),
)
_SHIPMENT_STATUS = {
    ev.ShipmentLabelCreated: "label_created",
    ev.ShipmentDispatched: "dispatched",
    ev.ShipmentDelivered: "delivered",
    ev.ShipmentLost: "lost",
    ev.ShipmentReturned: "returned",
}

log = logging.getLogger("commerce.saga")


def count_appended(appended: Iterable[ev.DomainEvent]) -> None:
    """Count outcomes among events just appended (a retry that appends nothing counts nothing)."""
    for event in appended:
        for event_type, counter in _COUNTED:
            if isinstance(event, event_type):
                counter.inc()
        if type(event) in _SHIPMENT_STATUS:
            SHIPMENT_REPORTS.labels(_SHIPMENT_STATUS[type(event)]).inc()


class SagaStepMetrics(Interceptor):
    """Times every attempt of the given step activities, counts failed ones, logs each outcome."""

    def __init__(self, steps: Iterable[str]) -> None:
        self._steps = frozenset(steps)

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _StepObserver(next, self._steps)


class _StepObserver(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, steps: frozenset[str]) -> None:
        super().__init__(next)
        self._steps = steps

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        step = activity.info().activity_type
        if step not in self._steps:
            return await super().execute_activity(input)
        started = time.perf_counter()
        try:
            result = await super().execute_activity(input)
        except Exception as error:
            SAGA_STEP_FAILURES.labels(step).inc()
            log.warning("step %s failed: %s", step, error or type(error).__name__)
            raise
        finally:
            elapsed = time.perf_counter() - started
            SAGA_STEP_DURATION.labels(step).observe(elapsed)
        log.info("step %s succeeded in %.1f ms", step, elapsed * 1000)
        return result
