"""Inputs and results of the saga's activities: small dataclasses, one parameter each.

Part of the workflows' contract (with `contract.py`): the workflows pass these, the activities
take them, the API builds the carrier's report it sends with an update. Plain types only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

# Business failures: the saga compensates instead of retrying.
BUSINESS_ERRORS = [
    "PaymentDeclined",
    "OutOfStock",
    "PartiallyOutOfStock",
    "AddressRejected",
    "CaptureDeclined",
    "SpendingLimitExceeded",
    "RefundDeclined",
]


@dataclass
class StepInput:
    order_id: str
    payment_token: str = ""
    # Completion: seconds from now until delivery is overdue (0: a tracking workflow follows it).
    delivery_timeout_s: int = 0


@dataclass
class StepResult:
    attempt: int
    awaiting_payment: bool = False  # the gateway needs the customer first (3-D Secure)


@dataclass
class PaymentActionOutcome:
    """Where a payment awaiting the customer stands: "authorized", "requires_action" or
    "failed" (with `reason`)."""

    status: str
    reason: str = ""


@dataclass
class ExpiryInput:
    """Record that the customer did not act within `timeout_s` seconds."""

    order_id: str
    timeout_s: int


@dataclass
class AmendmentInput:
    """Propose the lines whose sku is available, or record that the proposal expired."""

    order_id: str
    available_skus: list[str] = field(default_factory=list)
    timeout_s: int = 0


class SagaEventKind(StrEnum):
    STALLED = "stalled"
    RESUMED = "resumed"
    COMPENSATION_STARTED = "compensation_started"
    CANCELLATION_REQUESTED = "cancellation_requested"
    FAILED = "failed"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    CLEANUP_DEFERRED = "cleanup_deferred"
    CLEANUP_COMPLETED = "cleanup_completed"


@dataclass
class SagaEventInput:
    """A change of the saga's course, recorded in the order's stream (`steps`: the steps whose
    undoing is deferred, for CLEANUP_DEFERRED)."""

    order_id: str
    kind: SagaEventKind
    step: str = ""
    reason: str = ""
    steps: list[str] = field(default_factory=list)
    delivery_timeout_s: int = 0  # COMPLETED: as StepInput's


@dataclass
class CarrierReport:
    """One carrier webhook event for a completed order; `event_id` is the carrier's own."""

    order_id: str
    event_id: str
    status: str  # label_created, dispatched, delivered, lost, returned
    occurred_at: str  # RFC 3339


@dataclass
class CarrierAnswer:
    """What became of a carrier report: "recorded", "ignored" (stale or repeated) or "refused"
    (a different final status after a final one)."""

    order_id: str
    event_id: str
    outcome: str
    shipment_status: str | None
    detail: str = ""


@dataclass
class OverdueInput:
    order_id: str
    due_at: str  # RFC 3339


@dataclass
class UnrecordedStepInput:
    """A step that stalled without a recorded outcome: what it may have done gets undone."""

    order_id: str
    step: str
