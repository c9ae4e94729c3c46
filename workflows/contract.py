"""The order saga's contract: task queue, workflow id, input, views, update and query names.

HTTP handlers and the worker import this module; it holds no orchestration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from domain.status import OrderStatus
from workflows.saga_inputs import CarrierAnswer, CarrierReport

__all__ = ["CarrierAnswer", "CarrierReport"]  # the carrier update's types, re-exported

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

# Partial availability: the amended order offered to the customer, and its answer.
PARTIALLY_OUT_OF_STOCK = "PartiallyOutOfStock"
PROPOSE_AMENDMENT = "propose_amendment"
ACCEPT_AMENDMENT = "accept_amendment"
EXPIRE_AMENDMENT = "expire_amendment"
REAUTHORIZE_PAYMENT = "reauthorize_payment"
ADJUST_PAYMENT_FOR_AMENDMENT = "adjust_payment_for_amendment"  # capture less, or re-authorize

# Payments that need the customer (3-D Secure): the saga waits, re-checking with backoff.
CHECK_PAYMENT_ACTION = "check_payment_action"
EXPIRE_PAYMENT_ACTION = "expire_payment_action"
SIGNAL_PAYMENT_UPDATED = "payment_updated"

# Resolving a stalled step whose answer was lost, and undoing after a capture.
RESOLVE_CAPTURE = "resolve_capture"
UNDO_UNRECORDED_STEP = "undo_unrecorded_step"
REFUND_PAYMENT = "refund_payment"

QUERY_SAGA = "saga"
# What operators list sagas by in Temporal's visibility (the admin list's `?status=`, the
# Temporal UI's `OrderStatus = "stalled"`): a saga that waits on someone, is being undone, or
# ended. Since the operator-statuses patch the saga upserts `OrderStatus` only on entering or
# leaving one of these; the forward path's statuses in between (pending → payment_captured) come
# from the read model, where the admin list reads them.
OPERATOR_STATUSES: frozenset[OrderStatus] = frozenset({
    OrderStatus.STALLED, OrderStatus.AWAITING_CUSTOMER, OrderStatus.AWAITING_PAYMENT,
    OrderStatus.COMPENSATING, OrderStatus.COMPLETED, OrderStatus.FAILED, OrderStatus.CANCELLED,
})  # fmt: skip
UPDATE_CANCEL = "cancel"
UPDATE_ACCEPT_AMENDMENT = "accept_amendment"
UPDATE_RETRY = "retry"
SIGNAL_RETRY = "retry_stalled_step"

# The shipment lifecycle after a completed saga (ShipmentTrackingWorkflow).
SHIPMENT_WORKFLOW_TYPE = "ShipmentTrackingWorkflow"
UPDATE_CARRIER_EVENT = "carrier_event"
QUERY_SHIPMENT = "shipment"
RECORD_CARRIER_EVENT = "record_carrier_event"
RECORD_DELIVERY_OVERDUE = "record_delivery_overdue"
FINAL_SHIPMENT_STATUSES = ("delivered", "lost", "returned", "cancelled")


def order_workflow_id(order_id: str) -> str:
    return f"order-{order_id}"


def shipment_workflow_id(order_id: str) -> str:
    return f"shipment-{order_id}"


@dataclass
class SagaPolicy:
    """Retry timing, fixed per order when its saga starts (settings are read by the starter)."""

    step_max_attempts: int = 10
    step_initial_retry_ms: int = 1000
    stall_timeout_s: int = 86400
    delivery_timeout_s: int = 14 * 86400  # after completion; then DeliveryOverdue
    amendment_timeout_s: int = 86400  # an amended order not accepted by then is cancelled
    # Undoing that waits on a provider is tried this often before the order ends without it
    # (the rest goes on in the background: pending cleanup).
    cleanup_prompt_attempts: int = 3
    # A payment awaiting the customer (3-D Secure): cancelled when not completed by then, and
    # re-checked at the gateway after this many seconds (doubling), in case a webhook is lost.
    payment_action_timeout_s: int = 1800
    payment_recheck_s: int = 10


@dataclass
class OrderFulfillmentInput:
    order_id: str
    customer_id: str
    payment_token: str
    policy: SagaPolicy = field(default_factory=SagaPolicy)
    # For what the Temporal UI shows ("capture 25.98 USD"); 0/"" for sagas started without them.
    total: int = 0
    currency: str = ""
    items: int = 0


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
    pending_cleanup: list[str] = field(default_factory=list)  # steps still being undone


@dataclass
class CancelRequest:
    reason: str = "cancelled by the customer"


@dataclass
class SagaOutcome:
    order_id: str
    status: str
    failure_reason: str | None = None


@dataclass
class ShipmentTrackingInput:
    """Start (or continue-as-new) of a shipment's tracking; `since` is when the delivery clock
    started (None: now), the other fields carry state over a continue-as-new."""

    order_id: str
    delivery_timeout_s: int = 14 * 86400
    since: datetime | None = None
    shipment_status: str | None = None
    overdue: bool = False
    reports_per_run: int = 500


@dataclass
class ShipmentView:
    order_id: str
    shipment_status: str | None
    overdue: bool
    due_at: datetime | None
    reports_this_run: int
