"""Inputs and results of the saga's activities: small dataclasses, one parameter each."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# Business failures: the saga compensates instead of retrying.
BUSINESS_ERRORS = [
    "PaymentDeclined",
    "OutOfStock",
    "AddressRejected",
    "CaptureDeclined",
    "SpendingLimitExceeded",
]


@dataclass
class StepInput:
    order_id: str
    payment_token: str = ""


@dataclass
class StepResult:
    attempt: int


class SagaEventKind(StrEnum):
    STALLED = "stalled"
    RESUMED = "resumed"
    COMPENSATION_STARTED = "compensation_started"
    CANCELLATION_REQUESTED = "cancellation_requested"
    FAILED = "failed"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


@dataclass
class SagaEventInput:
    """A change of the saga's course, recorded in the order's stream."""

    order_id: str
    kind: SagaEventKind
    step: str = ""
    reason: str = ""
