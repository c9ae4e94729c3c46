"""Inputs and answers of the post-sale workflows' activities and updates.

Part of the workflows' contract (with `after_sale_contract.py`): the API sends the requests and
reads the decisions, the workflows carry them, the activities take them. Plain types only.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class StepTiming:
    """Retry timing of post-sale steps (as the saga's), fixed when the workflow starts."""

    step_max_attempts: int = 10
    step_initial_retry_ms: int = 1000


@dataclass
class Decision:
    """The answer to a request: accepted, or refused with the HTTP status that says why (409:
    not now, 422: not valid) and the reason."""

    accepted: bool
    status: int = 202
    reason: str = ""


@dataclass
class CancellationRequest:
    """Cancel a completed order whose parcel has not left: cancel the shipment, restock, refund
    in full."""

    order_id: str
    reason: str
    timing: StepTiming = field(default_factory=StepTiming)


@dataclass
class RefundRequest:
    """An operator's refund of `amount` minor units; `digest` is of the HTTP request, so a
    reused Idempotency-Key with another body is refused."""

    order_id: str
    request_id: str
    amount: int
    reason: str
    digest: str = ""
    timing: StepTiming = field(default_factory=StepTiming)


@dataclass
class ReturnItem:
    sku: str
    quantity: int


@dataclass
class ReturnRequest:
    """A customer's return of some lines, asked within `window_days` of delivery; never
    received within `receive_timeout_s` of approval, it is closed without refund."""

    order_id: str
    return_id: str
    items: list[ReturnItem]
    reason: str
    digest: str = ""
    window_days: int = 30
    receive_timeout_s: int = 30 * 86400
    timing: StepTiming = field(default_factory=StepTiming)


@dataclass
class ReturnReceipt:
    """What came back (an operator's count, or a carrier's report: every line asked for)."""

    items: list[ReturnItem] = field(default_factory=list)


@dataclass
class ReturnReview:
    reason: str = ""


@dataclass
class Progress:
    """Where a post-sale workflow is: its status, the step running or stalled, its last error."""

    status: str
    step: str | None = None
    last_error: str | None = None
    attempts: int = 0


@dataclass
class ReturnStep:
    """One step of a return: `items` for a receipt (None: all it asked for), `reason` for a
    rejection or closing."""

    order_id: str
    return_id: str
    reason: str = ""
    items: list[ReturnItem] | None = None
