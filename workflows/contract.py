"""The order saga's contract: task queue, workflow id, input, views, update and query names.

HTTP handlers and the worker import this module; it holds no orchestration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

TASK_QUEUE = "order-fulfillment"

AUTHORIZE_PAYMENT = "authorize_payment"
RESERVE_INVENTORY = "reserve_inventory"
CREATE_SHIPMENT = "create_shipment"
CONFIRM_ORDER = "confirm_order"
CAPTURE_PAYMENT = "capture_payment"
SEND_NOTIFICATIONS = "send_notifications"
STEPS = (
    AUTHORIZE_PAYMENT,
    RESERVE_INVENTORY,
    CREATE_SHIPMENT,
    CONFIRM_ORDER,
    CAPTURE_PAYMENT,
    SEND_NOTIFICATIONS,
)

QUERY_SAGA = "saga"
UPDATE_CANCEL = "cancel"
UPDATE_RETRY = "retry"
SIGNAL_RETRY = "retry_stalled_step"


def order_workflow_id(order_id: str) -> str:
    return f"order-{order_id}"


@dataclass
class SagaPolicy:
    """Retry timing, fixed per order when its saga starts (settings are read by the starter)."""

    step_max_attempts: int = 10
    step_initial_retry_ms: int = 1000
    stall_timeout_s: int = 86400


@dataclass
class OrderFulfillmentInput:
    order_id: str
    customer_id: str
    payment_token: str
    policy: SagaPolicy = field(default_factory=SagaPolicy)


@dataclass
class StepView:
    name: str
    status: str = "pending"  # pending, running, succeeded, failed, stalled, compensated, skipped
    attempts: int = 0
    last_error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass
class SagaView:
    order_id: str
    status: str
    current_step: str | None
    steps: list[StepView]
    compensations: int = 0


@dataclass
class CancelRequest:
    reason: str = "cancelled by the customer"


@dataclass
class SagaOutcome:
    order_id: str
    status: str
    failure_reason: str | None = None
