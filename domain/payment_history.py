"""An order's money as its events tell it: every authorization, capture, void and refund, with
the totals they add up to (the admin payments view, and our side of reconciliation).

Pure: it reads events and the times they were recorded, nothing else. Amounts are in the
order's currency's minor units.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from domain import events as ev

AUTHORIZATION, CAPTURE, VOID, REFUND = "authorization", "capture", "void", "refund"
# An authorization the provider has not granted yet (the customer completes 3-D Secure first), a
# refund requested and not yet answered, and one the provider refused.
SUCCEEDED, REQUIRES_ACTION, PENDING, FAILED = "succeeded", "requires_action", "pending", "failed"


@dataclass(frozen=True, slots=True)
class PaymentTransaction:
    """One money movement of an order, as recorded by the event `event` at `at`.

    `type` is authorization, capture, void or refund; `status` succeeded, requires_action (an
    authorization awaiting the customer), pending (a refund under way) or failed (a refund the
    provider refused). `reference` is the provider's id: the authorization's (for an
    authorization and the void that released it), the capture's, the refund's (None until the
    provider issued it). `authorization_id` names the authorization a capture or void acted on.
    """

    type: str
    status: str
    amount: int
    currency: str
    reference: str | None
    at: datetime
    event: str
    authorization_id: str | None = None
    request_id: str | None = None
    return_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class PaymentHistory:
    """Every money movement of one order, oldest first, and what they add up to."""

    order_id: str
    currency: str
    transactions: tuple[PaymentTransaction, ...]

    def authorizations(self) -> dict[str, int]:
        """Authorization id -> amount, for each authorization recorded (granted or awaiting the
        customer)."""
        return {t.reference: t.amount for t in self._of(AUTHORIZATION) if t.reference}

    def granted(self) -> frozenset[str]:
        """Ids of the authorizations the provider granted, by our records."""
        return frozenset(t.reference for t in self._of(AUTHORIZATION, SUCCEEDED) if t.reference)

    def voided(self) -> frozenset[str]:
        """Ids of the authorizations recorded as voided."""
        return frozenset(t.reference for t in self._of(VOID) if t.reference)

    def captures(self) -> dict[str, int]:
        """Capture id -> amount taken."""
        return {t.reference: t.amount for t in self._of(CAPTURE) if t.reference}

    def refunds(self) -> dict[str, int]:
        """Provider refund id -> amount given back, for each refund issued."""
        return {t.reference: t.amount for t in self._of(REFUND, SUCCEEDED) if t.reference}

    @property
    def authorized(self) -> int:
        """Granted authorizations not voided (the one captured included)."""
        voided = self.voided()
        granted = self._of(AUTHORIZATION, SUCCEEDED)
        return sum(t.amount for t in granted if t.reference not in voided)

    @property
    def captured(self) -> int:
        return sum(t.amount for t in self._of(CAPTURE))

    @property
    def refunded(self) -> int:
        return sum(t.amount for t in self._of(REFUND, SUCCEEDED))

    @property
    def refund_pending(self) -> int:
        """Refunds requested that the provider has not answered yet."""
        answered = {t.request_id for t in self._of(REFUND) if t.status != PENDING}
        requested = self._of(REFUND, PENDING)
        return sum(t.amount for t in requested if t.request_id not in answered)

    @property
    def net(self) -> int:
        """What the customer is charged now: captured - refunded."""
        return self.captured - self.refunded

    def _of(self, kind: str, status: str | None = None) -> list[PaymentTransaction]:
        return [
            t
            for t in self.transactions
            if t.type == kind and (status is None or t.status == status)
        ]


def payment_history(recorded: Iterable[tuple[ev.DomainEvent, datetime]]) -> PaymentHistory:
    """The payment history of one order's stream, given as (event, recorded at) pairs starting
    with OrderPlaced. Raises ValueError when the stream does not start so."""
    stream = iter(recorded)
    first = next(stream, None)
    if first is None or not isinstance(first[0], ev.OrderPlaced):
        raise ValueError("an order stream starts with OrderPlaced")
    book = _Book(first[0])
    for event, at in stream:
        book.add(event, at)
    return PaymentHistory(book.order_id, book.currency, tuple(book.transactions))


class _Book:
    """Follows the order's total and authorizations to give each movement its amount."""

    def __init__(self, placed: ev.OrderPlaced) -> None:
        self.order_id, self.currency, self.total = placed.order_id, placed.currency, placed.total
        self.transactions: list[PaymentTransaction] = []
        self.amounts: dict[str, int] = {}  # authorization id -> amount
        self.current: str | None = None  # the authorization a capture takes
        self.requests: dict[str, ev.RefundRequested] = {}

    def add(self, event: ev.DomainEvent, at: datetime) -> None:
        match event:
            case ev.AmendmentAccepted():
                self.total = event.total
            case ev.PaymentActionRequired():
                # The provider asks the customer before it grants the order's total.
                self._authorize(event, at, event.authorization_id, self.total, REQUIRES_ACTION)
            case ev.PaymentAuthorized():
                self._authorize(event, at, event.authorization_id, event.amount, SUCCEEDED)
            case ev.PaymentReauthorized():
                self._void(event, at, event.superseded_authorization_id, "superseded")
                self._authorize(event, at, event.authorization_id, event.amount, SUCCEEDED)
            case ev.UnrecordedEffectUndone(step="authorize_payment"):
                # An authorization whose answer was lost, found by its key and voided; it was
                # asked for the order's total.
                self._authorize(event, at, event.reference, self.total, SUCCEEDED)
                self._void(event, at, event.reference, "found after its answer was lost")
            case ev.PaymentVoided():
                self._void(event, at, event.authorization_id, None)
            case ev.PaymentCaptured():
                self._add(
                    event, at, CAPTURE, SUCCEEDED, event.amount, event.capture_id,
                    authorization_id=self.current,
                )  # fmt: skip
            case ev.RefundRequested():
                self.requests[event.refund_id] = event
                self._add(
                    event, at, REFUND, PENDING, event.amount, None, request_id=event.refund_id,
                    return_id=event.return_id or None, reason=event.reason,
                )  # fmt: skip
            case ev.RefundIssued():
                self._add(
                    event, at, REFUND, SUCCEEDED, event.amount, event.refund_id,
                    request_id=event.request_id or None, return_id=event.return_id or None,
                    reason=event.reason,
                )  # fmt: skip
            case ev.RefundFailed():
                request = self.requests.get(event.request_id)
                self._add(
                    event, at, REFUND, FAILED, request.amount if request else 0, None,
                    request_id=event.request_id,
                    return_id=(request.return_id or None) if request else None,
                    reason=event.reason,
                )  # fmt: skip

    def _authorize(
        self, event: ev.DomainEvent, at: datetime, authorization_id: str, amount: int, status: str
    ) -> None:
        self.amounts[authorization_id] = amount
        self.current = authorization_id
        self._add(
            event, at, AUTHORIZATION, status, amount, authorization_id,
            authorization_id=authorization_id,
        )  # fmt: skip

    def _void(
        self, event: ev.DomainEvent, at: datetime, authorization_id: str, reason: str | None
    ) -> None:
        self._add(
            event, at, VOID, SUCCEEDED, self.amounts.get(authorization_id, 0), authorization_id,
            authorization_id=authorization_id, reason=reason,
        )  # fmt: skip

    def _add(
        self,
        event: ev.DomainEvent,
        at: datetime,
        kind: str,
        status: str,
        amount: int,
        reference: str | None,
        **extra: str | None,
    ) -> None:
        self.transactions.append(
            PaymentTransaction(
                type=kind, status=status, amount=amount, currency=self.currency,
                reference=reference, at=at, event=event.type, **extra,
            )
        )  # fmt: skip
