"""The order aggregate: commands decide and record events; `apply` changes state."""

from collections.abc import Iterable

from domain import events as ev
from domain import rules
from domain.after_sale import AfterSale
from domain.errors import AmountMismatch, InvalidTransition
from domain.shipment_events import CarrierEvent
from domain.status import (
    REVERSIBLE_STATUSES,
    SHIPMENT_STAGES,
    STALLABLE_STATUSES,
    TERMINAL_STATUSES,
    OrderStatus,
    ShipmentStatus,
)
from domain.values import price_lines

__all__ = ["TERMINAL_STATUSES", "Order", "OrderStatus", "ShipmentStatus"]

S = OrderStatus
_CARRIER_EVENTS: dict[ShipmentStatus, type[CarrierEvent]] = {
    ShipmentStatus.LABEL_CREATED: ev.ShipmentLabelCreated,
    ShipmentStatus.DISPATCHED: ev.ShipmentDispatched,
    ShipmentStatus.DELIVERED: ev.ShipmentDelivered,
    ShipmentStatus.LOST: ev.ShipmentLost,
    ShipmentStatus.RETURNED: ev.ShipmentReturned,
}


# Undoing happens while compensating, and goes on after the end for cleanup that was deferred.
_UNDOING = (S.COMPENSATING, S.FAILED, S.CANCELLED)


class Order(AfterSale):
    """An order in the fulfilment saga and after it; new events wait in `pending_events`."""

    @classmethod
    def place(
        cls,
        order_id: str,
        customer_id: str,
        cart_id: str,
        currency: str,
        lines: Iterable[ev.OrderLine],
        shipping_address: ev.ShippingAddress,
    ) -> "Order":
        order_lines = tuple(lines)
        subtotal = price_lines(currency, order_lines)
        placed = ev.OrderPlaced(
            order_id=order_id,
            customer_id=customer_id,
            cart_id=cart_id,
            currency=currency,
            lines=order_lines,
            shipping_address=shipping_address,
            subtotal=subtotal,
            total=subtotal,
        )
        order = cls(placed)
        order.pending_events.append(placed)
        return order

    @classmethod
    def rehydrate(cls, events: Iterable[ev.DomainEvent]) -> "Order":
        """Rebuild an order from its stored stream, which starts with OrderPlaced."""
        stream = iter(events)
        placed = next(stream, None)
        if not isinstance(placed, ev.OrderPlaced):
            raise ValueError(f"an order stream starts with OrderPlaced, not {placed!r}")
        order = cls(placed)
        for event in stream:
            order.apply(event)
        return order

    def authorize_payment(self, authorization_id: str, amount: int) -> None:
        self._require(ev.PaymentAuthorized, S.PENDING, S.AWAITING_PAYMENT)
        self._require_total(amount)
        self._record(
            ev.PaymentAuthorized(
                order_id=self.order_id, authorization_id=authorization_id, amount=amount
            )
        )

    def require_payment_action(
        self, authorization_id: str, action_type: str, client_secret: str
    ) -> None:
        """The provider asks the customer to act (3-D Secure) before it authorizes."""
        self._require(ev.PaymentActionRequired, S.PENDING)
        self._record(
            ev.PaymentActionRequired(
                order_id=self.order_id, authorization_id=authorization_id,
                action_type=action_type, client_secret=client_secret,
            )
        )  # fmt: skip

    def expire_payment_action(self, timeout_s: int) -> None:
        self._require(ev.PaymentActionExpired, S.AWAITING_PAYMENT)
        self._record(ev.PaymentActionExpired(order_id=self.order_id, timeout_s=timeout_s))

    def reserve_inventory(self, reservation_id: str) -> None:
        self._require(ev.InventoryReserved, S.PAYMENT_AUTHORIZED)
        # An authorization above the total is fine: capture takes the total, releasing the rest.
        uncovered = self.authorized_amount is not None and self.authorized_amount < self.total
        self._refuse_if(uncovered, ev.InventoryReserved, "the authorization does not cover it")
        self._record(ev.InventoryReserved(order_id=self.order_id, reservation_id=reservation_id))

    def propose_amendment(self, available_skus: Iterable[str]) -> None:
        """Offer the lines whose sku is available in full; short lines are dropped whole."""
        self._require(ev.AmendmentProposed, S.PAYMENT_AUTHORIZED)
        self._refuse_if(self.amendment is not None, ev.AmendmentProposed, "already proposed")
        available = set(available_skus)
        kept = tuple(line for line in self.lines if line.sku in available)
        self._refuse_if(not kept, ev.AmendmentProposed, "no line is available")
        self._refuse_if(len(kept) == len(self.lines), ev.AmendmentProposed, "nothing to amend")
        subtotal = price_lines(self.currency, kept)
        dropped = tuple(dict.fromkeys(line.sku for line in self.lines if line not in kept))
        self._record(
            ev.AmendmentProposed(
                order_id=self.order_id, lines=kept, subtotal=subtotal, total=subtotal,
                dropped_skus=dropped,
            )
        )  # fmt: skip

    def accept_amendment(self) -> None:
        refusal = rules.amendment_acceptance_refusal(
            self.status,
            amendment_pending=self.amendment_pending,
            cancelling=self.cancellation_reason is not None,
        )
        self._refuse_if(refusal is not None, ev.AmendmentAccepted, refusal or "")
        amendment = self.amendment
        assert amendment is not None
        self._record(
            ev.AmendmentAccepted(
                order_id=self.order_id,
                lines=amendment.lines,
                subtotal=amendment.subtotal,
                total=amendment.total,
            )
        )

    def expire_amendment(self, timeout_s: int) -> None:
        self._require(ev.AmendmentExpired, S.AWAITING_CUSTOMER)
        self._refuse_if(not self.amendment_pending, ev.AmendmentExpired, "no amendment pending")
        self._record(ev.AmendmentExpired(order_id=self.order_id, timeout_s=timeout_s))

    def reauthorize_payment(self, authorization_id: str, amount: int) -> None:
        """The accepted amendment's total replaces the original authorization."""
        self._require(ev.PaymentReauthorized, S.PAYMENT_AUTHORIZED)
        accepted = self.amendment is not None and self.amendment.status == "accepted"
        self._refuse_if(not accepted, ev.PaymentReauthorized, "no accepted amendment")
        covered = self.authorized_amount == self.total
        self._refuse_if(covered, ev.PaymentReauthorized, "the total is already authorized")
        self._require_total(amount)
        assert self.authorization_id is not None
        self._record(
            ev.PaymentReauthorized(
                order_id=self.order_id,
                superseded_authorization_id=self.authorization_id,
                authorization_id=authorization_id,
                amount=amount,
            )
        )

    def create_shipment(self, shipment_id: str, tracking_number: str) -> None:
        self._require(ev.ShipmentCreated, S.INVENTORY_RESERVED)
        self._record(
            ev.ShipmentCreated(
                order_id=self.order_id, shipment_id=shipment_id, tracking_number=tracking_number
            )
        )

    def confirm(self) -> None:
        self._require(ev.OrderConfirmed, S.SHIPMENT_CREATED)
        self._record(ev.OrderConfirmed(order_id=self.order_id))

    def capture_payment(self, capture_id: str, amount: int) -> None:
        self._require(ev.PaymentCaptured, S.CONFIRMED)
        self._require_total(amount)
        self._record(
            ev.PaymentCaptured(order_id=self.order_id, capture_id=capture_id, amount=amount)
        )

    def record_found_capture(self, capture_id: str, amount: int) -> None:
        """A capture whose answer never arrived, found at the provider by its idempotency key
        after its step stalled (also once a cancel of the stalled order began): it happened, so
        it is recorded as it happened (the amount the provider took)."""
        in_doubt = self.confirmed and self.capture_id is None
        self._require(ev.PaymentCaptured, S.STALLED, S.COMPENSATING)
        self._refuse_if(not in_doubt, ev.PaymentCaptured, "no capture is in doubt")
        self._record(
            ev.PaymentCaptured(order_id=self.order_id, capture_id=capture_id, amount=amount)
        )

    def refund_payment(self, refund_id: str, amount: int, reason: str) -> None:
        """Give back `amount` (minor units, > 0) of the capture, never more than is left of it
        (captured - refunded)."""
        self._require(ev.RefundIssued, S.COMPENSATING)
        self._refuse_if(self.capture_id is None, ev.RefundIssued, "nothing was captured")
        self._refuse_if(amount <= 0, ev.RefundIssued, f"a refund of {amount} is not positive")
        left = self.net_captured
        self._refuse_if(amount > left, ev.RefundIssued, f"only {left} of the capture is left")
        self._record(
            ev.RefundIssued(order_id=self.order_id, refund_id=refund_id, amount=amount,
                            reason=reason)
        )  # fmt: skip

    def record_notifications(self, channels: Iterable[str]) -> None:
        self._require(ev.NotificationsSent, S.PAYMENT_CAPTURED)
        already_sent = self.notification_channels is not None
        self._refuse_if(already_sent, ev.NotificationsSent, "notifications were already sent")
        self._record(ev.NotificationsSent(order_id=self.order_id, channels=tuple(channels)))

    def complete(self, delivery_due_at: str = "") -> None:
        """End the saga; `delivery_due_at` (RFC 3339) starts the delivery clock."""
        self._require(ev.OrderCompleted, S.PAYMENT_CAPTURED)
        charged = self.net_captured
        wrong = charged != self.total
        self._refuse_if(
            wrong, ev.OrderCompleted, f"{charged} is charged, the total is {self.total}"
        )
        self._record(ev.OrderCompleted(order_id=self.order_id, delivery_due_at=delivery_due_at))

    def stall(self, step: str, error: str) -> None:
        self._require(ev.SagaStalled, *STALLABLE_STATUSES)
        self._record(ev.SagaStalled(order_id=self.order_id, step=step, error=error))

    def resume(self, step: str) -> None:
        cancelling = self.cancellation_reason is not None
        refusal = rules.retry_refusal(self.status, retry_requested=False, cancelling=cancelling)
        self._refuse_if(refusal is not None, ev.SagaResumed, refusal or "")
        # Resuming another step than the one that stalled would silently skip it.
        wrong_step = step != self.stalled_step
        self._refuse_if(wrong_step, ev.SagaResumed, f"the stalled step is {self.stalled_step}")
        self._record(ev.SagaResumed(order_id=self.order_id, step=step))

    def start_compensation(self, reason: str, step: str) -> None:
        self._require(ev.CompensationStarted, *REVERSIBLE_STATUSES, S.STALLED)
        captured = self.status is S.STALLED and self.resume_status not in REVERSIBLE_STATUSES
        self._refuse_if(captured, ev.CompensationStarted, "payment was already captured")
        self._record(ev.CompensationStarted(order_id=self.order_id, reason=reason, step=step))

    def request_cancellation(self, reason: str) -> None:
        """Cancel until the saga completes the order (domain.rules); this is itself the start
        of compensation, which refunds a capture in full."""
        refusal = self.cancellation_refusal
        self._refuse_if(refusal is not None, ev.CancellationRequested, refusal or "")
        if self.amendment_pending:
            self._record(ev.AmendmentDeclined(order_id=self.order_id, reason=reason))
        self._record(ev.CancellationRequested(order_id=self.order_id, reason=reason))
        # So every compensation, after a failed step or a cancel, is counted the same way.
        self._record(ev.CompensationStarted(order_id=self.order_id, reason=reason, step="cancel"))

    def void_payment(self) -> None:
        auth_id = self._undoable(ev.PaymentVoided, self.authorization_to_void, self.payment_voided)
        captured = self.capture_id is not None
        self._refuse_if(captured, ev.PaymentVoided, "the authorization was captured: refund it")
        self._record(ev.PaymentVoided(order_id=self.order_id, authorization_id=auth_id))

    def release_reservation(self) -> None:
        released = self.reservation_released
        res_id = self._undoable(ev.ReservationReleased, self.reservation_id, released)
        self._record(ev.ReservationReleased(order_id=self.order_id, reservation_id=res_id))

    def cancel_shipment(self) -> None:
        ship_id = self._undoable(ev.ShipmentCancelled, self.shipment_id, self.shipment_cancelled)
        self._record(ev.ShipmentCancelled(order_id=self.order_id, shipment_id=ship_id))

    def gives_cart_back(self, ending: OrderStatus, step: str = "") -> bool:
        """Whether ending now in `ending` (after `step` failed) names a retry cart (rules)."""
        expired = self.payment_action_expired
        return rules.gives_cart_back(ending, step=step, payment_action_expired=expired)

    def fail(self, reason: str, step: str, retry_cart_id: str | None = None) -> None:
        """End unfulfilled; `retry_cart_id` names the cart that gives the lines back, when the
        rule gives one (`gives_cart_back`)."""
        # From pending: a decline at the first step has nothing to undo.
        self._require(ev.OrderFailed, S.COMPENSATING, S.PENDING)
        self._refuse_if_charged(ev.OrderFailed)
        self._refuse_unless_due(ev.OrderFailed, retry_cart_id, S.FAILED, step)
        self._record(
            ev.OrderFailed(
                order_id=self.order_id, reason=reason, step=step, retry_cart_id=retry_cart_id
            )
        )

    def mark_cancelled(self, reason: str, retry_cart_id: str | None = None) -> None:
        self._require(ev.OrderCancelled, S.COMPENSATING)
        not_requested = self.cancellation_reason is None
        self._refuse_if(not_requested, ev.OrderCancelled, "no cancellation was requested")
        self._refuse_if_charged(ev.OrderCancelled)
        self._refuse_unless_due(ev.OrderCancelled, retry_cart_id, S.CANCELLED)
        self._record(
            ev.OrderCancelled(order_id=self.order_id, reason=reason, retry_cart_id=retry_cart_id)
        )

    def _refuse_unless_due(
        self, event: type[ev.DomainEvent], retry_cart_id: str | None, ending: S, step: str = ""
    ) -> None:
        undue = retry_cart_id is not None and not self.gives_cart_back(ending, step)
        self._refuse_if(undue, event, "this ending gives no cart back")

    def defer_cleanup(self, steps: Iterable[str]) -> None:
        """Undoing that waits on a provider goes on after the order ends (`steps` names it)."""
        pending = tuple(steps)
        self._require(ev.CleanupDeferred, S.COMPENSATING)
        self._refuse_if(not pending, ev.CleanupDeferred, "nothing to defer")
        self._refuse_if(bool(self.cleanup_pending), ev.CleanupDeferred, "already deferred")
        self._record(ev.CleanupDeferred(order_id=self.order_id, steps=pending))

    def complete_cleanup(self) -> None:
        self._require(ev.CleanupCompleted, S.FAILED, S.CANCELLED)
        pending = self.cleanup_pending
        self._refuse_if(not pending, ev.CleanupCompleted, "no cleanup is pending")
        self._record(ev.CleanupCompleted(order_id=self.order_id, steps=pending))

    def _refuse_if_charged(self, event: type[ev.DomainEvent]) -> None:
        """A failed or cancelled order charges nothing: a capture is refunded before it ends."""
        charged = self.net_captured
        self._refuse_if(charged != 0, event, f"{charged} is still captured: refund it first")

    def is_stale_shipment_report(self, status: ShipmentStatus) -> bool:
        """A carrier report at or behind the shipment's stage (out of order, or repeated): callers
        ignore it rather than refuse it. A different final status after a final one is not stale:
        `track_shipment` refuses it."""
        if self.shipment_stage is None or status not in SHIPMENT_STAGES:
            return False
        behind = SHIPMENT_STAGES[status] < SHIPMENT_STAGES[self.shipment_stage]
        return behind or status == self.shipment_stage

    def track_shipment(self, status: ShipmentStatus, carrier_event_id: str, at: str) -> None:
        """Record a carrier report that moves a completed order's shipment forward; a later stage
        may come without the earlier ones."""
        event = _CARRIER_EVENTS.get(status)
        if event is None:
            raise InvalidTransition(self.status, str(status), "not a carrier status")
        self._require(event, S.COMPLETED)
        self._refuse_if(self.shipment_is_terminal, event, f"shipment {self.shipment_stage}")
        self._refuse_if(self.is_stale_shipment_report(status), event, "stale carrier report")
        self._record(
            event(order_id=self.order_id, carrier_event_id=carrier_event_id, occurred_at=at)
        )

    def take_carrier_report(self, status: ShipmentStatus, carrier_event_id: str, at: str) -> str:
        """Record the report if it moves the shipment forward. Answers "recorded" (also for a
        report already recorded), "ignored" (stale or repeated) or "refused" (a different final
        status after a final one) — never raises, so no carrier report can fail a request."""
        if carrier_event_id in self.carrier_event_ids:
            return "recorded"
        if self.status is not S.COMPLETED or status not in _CARRIER_EVENTS:
            return "refused"
        if self.is_stale_shipment_report(status):
            return "ignored"
        if self.shipment_is_terminal:
            return "refused"
        self.track_shipment(status, carrier_event_id, at)
        return "recorded"

    def mark_delivery_overdue(self, due_at: str) -> None:
        self._require(ev.DeliveryOverdue, S.COMPLETED)
        self._refuse_if(self.shipment_is_terminal, ev.DeliveryOverdue, "the shipment ended")
        self._refuse_if(self.delivery_overdue, ev.DeliveryOverdue, "already overdue")
        self._record(ev.DeliveryOverdue(order_id=self.order_id, due_at=due_at))

    def undo_unrecorded(self, step: str, reference: str) -> None:
        """Record that compensation undid a stalled step's effect the saga never recorded."""
        self._require(ev.UnrecordedEffectUndone, *_UNDOING)
        self._refuse_if(step in self.unrecorded_undone, ev.UnrecordedEffectUndone, "already undone")
        self._record(
            ev.UnrecordedEffectUndone(order_id=self.order_id, step=step, reference=reference)
        )

    def _undoable(self, event: type[ev.DomainEvent], done_id: str | None, undone: bool) -> str:
        """The id of the thing to undo, if it was done and is not undone yet."""
        self._require(event, *_UNDOING)
        if done_id is None:
            raise InvalidTransition(self.status, event.type, "nothing to undo")
        self._refuse_if(undone, event, "already undone")
        return done_id

    def _require_total(self, amount: int) -> None:
        if amount != self.total:
            raise AmountMismatch(f"amount {amount} is not the order total {self.total}")
