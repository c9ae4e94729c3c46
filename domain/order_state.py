"""The order aggregate's state and how each event changes it; no decisions here."""

from dataclasses import replace
from typing import Any

from domain import rules
from domain.amendment_events import (
    Amendment,
    AmendmentAccepted,
    AmendmentDeclined,
    AmendmentExpired,
    AmendmentProposed,
    PaymentReauthorized,
)
from domain.errors import InvalidTransition
from domain.events import (
    CancellationRequested,
    CleanupCompleted,
    CleanupDeferred,
    CompensationStarted,
    DeliveryOverdue,
    DomainEvent,
    InventoryReserved,
    NotificationsSent,
    OrderCancelled,
    OrderCompleted,
    OrderConfirmed,
    OrderFailed,
    OrderPlaced,
    PaymentActionExpired,
    PaymentActionRequired,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentVoided,
    RefundFailed,
    RefundIssued,
    RefundRequested,
    ReservationReleased,
    SagaResumed,
    SagaStalled,
    ShipmentCancelled,
    ShipmentCreated,
    UnrecordedEffectUndone,
)
from domain.return_events import (
    Return,
    ReturnApproved,
    ReturnClosed,
    ReturnLabelCreated,
    ReturnReceived,
    ReturnRejected,
    ReturnRequested,
)
from domain.shipment_events import (
    ShipmentDelivered,
    ShipmentDispatched,
    ShipmentLabelCreated,
    ShipmentLost,
    ShipmentReturned,
)
from domain.status import (
    TERMINAL_SHIPMENT_STATUSES,
    TERMINAL_STATUSES,
    OrderStatus,
    ShipmentStatus,
)

# The shipment stage each carrier event leaves a completed order in.
STAGE_AFTER: dict[str, ShipmentStatus] = {
    "ShipmentLabelCreated": ShipmentStatus.LABEL_CREATED,
    "ShipmentDispatched": ShipmentStatus.DISPATCHED,
    "ShipmentDelivered": ShipmentStatus.DELIVERED,
    "ShipmentLost": ShipmentStatus.LOST,
    "ShipmentReturned": ShipmentStatus.RETURNED,
}


class OrderState:
    """Fields of an order, built from its OrderPlaced event and changed only by `apply`."""

    def __init__(self, placed: OrderPlaced) -> None:
        self.order_id = placed.order_id
        self.customer_id = placed.customer_id
        self.cart_id = placed.cart_id
        self.currency = placed.currency
        self.lines = placed.lines
        self.shipping_address = placed.shipping_address
        self.subtotal = placed.subtotal
        self.total = placed.total
        self.status = OrderStatus.PENDING
        self.version = 1
        self.authorization_id: str | None = None
        # A payment action (3-D Secure) the customer completes before the provider authorizes.
        self.payment_action: PaymentActionRequired | None = None
        self.payment_action_expired = False
        self.authorized_amount: int | None = None
        self.superseded_authorization_id: str | None = None
        self.amendment: Amendment | None = None
        self.reservation_id: str | None = None
        self.shipment_id: str | None = None
        self.tracking_number: str | None = None
        self.confirmed = False  # OrderConfirmed recorded: a capture may follow
        self.capture_id: str | None = None
        self.captured_amount = 0  # minor units taken by the capture
        self.refunded_total = 0  # minor units given back since
        self.pending_refunds: dict[str, RefundRequested] = {}  # requested, not yet issued
        self.refund_outcomes: dict[str, str] = {}  # request id -> "issued" or "failed"
        self.returns: dict[str, Return] = {}
        self.delivered_at: str | None = None  # RFC 3339, as the carrier reported it
        # RFC 3339; None: a ShipmentTrackingWorkflow keeps the delivery clock (older orders).
        self.delivery_due_at: str | None = None
        self.notification_channels: tuple[str, ...] | None = None
        self.failure_reason: str | None = None
        self.retry_cart_id: str | None = None  # the cart that gave the lines back (rules)
        self.cancellation_reason: str | None = None
        self.compensation_step: str | None = None
        self.stalled_step: str | None = None
        self.stalled_error: str | None = None
        self.resume_status: OrderStatus | None = None
        self.payment_voided = False
        self.reservation_released = False
        self.shipment_cancelled = False
        self.unrecorded_undone: tuple[str, ...] = ()  # steps whose lost effect was undone
        self.cleanup_pending: tuple[str, ...] = ()  # undoing that goes on after the order ended
        # After completion: the carrier's last forward report, and whether delivery is overdue.
        self.shipment_stage: ShipmentStatus | None = None
        self.delivery_overdue = False
        self.carrier_event_ids: frozenset[str] = frozenset()

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def cancellation_refusal(self) -> str | None:
        """Why this order cannot be cancelled now, or None (the one rule: domain.rules)."""
        return rules.cancellation_refusal(
            self.status,
            cancelling=self.cancellation_reason is not None,
            shipment=self.shipment_stage,
        )

    @property
    def can_be_cancelled(self) -> bool:
        return self.cancellation_refusal is None

    @property
    def authorization_to_void(self) -> str | None:
        """The provider's authorization to release: the recorded one, or one still awaiting the
        customer's payment action."""
        if self.authorization_id is not None:
            return self.authorization_id
        return None if self.payment_action is None else self.payment_action.authorization_id

    @property
    def net_captured(self) -> int:
        """Money the customer is charged now: captured minus refunded, in minor units."""
        return self.captured_amount - self.refunded_total

    @property
    def shipment_status(self) -> ShipmentStatus | None:
        """None until the first carrier event; OVERDUE from the deadline until a final report."""
        if self.delivery_overdue and not self.shipment_is_terminal:
            return ShipmentStatus.OVERDUE
        return self.shipment_stage

    @property
    def shipment_is_terminal(self) -> bool:
        return self.shipment_stage in TERMINAL_SHIPMENT_STATUSES

    def snapshot(self) -> dict[str, Any]:
        """Every state field, for comparing two orders (e.g. live against replayed)."""
        return {name: value for name, value in vars(self).items() if name != "pending_events"}

    @property
    def amendment_pending(self) -> bool:
        return self.amendment is not None and self.amendment.status == "proposed"

    def _amendment_ended(self, status: str) -> None:
        if self.amendment is not None:
            self.amendment = replace(self.amendment, status=status)

    def _settle_request(self, request_id: str, outcome: str) -> None:
        if request_id:
            self.pending_refunds = {
                k: v for k, v in self.pending_refunds.items() if k != request_id
            }
            self.refund_outcomes = {**self.refund_outcomes, request_id: outcome}

    def _return_moved(self, return_id: str, status: str, **changes: Any) -> None:
        if return_id in self.returns:
            moved = replace(self.returns[return_id], status=status, **changes)
            self.returns = {**self.returns, return_id: moved}

    def _return_labelled(self, return_id: str, tracking_number: str) -> None:
        if return_id in self.returns:
            labelled = replace(self.returns[return_id], tracking_number=tracking_number)
            self.returns = {**self.returns, return_id: labelled}

    @property
    def refundable(self) -> int:
        """Minor units that may still be refunded: captured - refunded - refunds under way."""
        return self.net_captured - sum(r.amount for r in self.pending_refunds.values())

    def apply(self, event: DomainEvent) -> None:
        """Change state for one event; events are facts, so nothing is refused here."""
        match event:
            case PaymentAuthorized():
                self.authorization_id = event.authorization_id
                self.authorized_amount = event.amount
                self.status = OrderStatus.PAYMENT_AUTHORIZED
            case PaymentActionRequired():
                self.payment_action = event
                self.status = OrderStatus.AWAITING_PAYMENT
            case PaymentActionExpired():
                self.payment_action_expired = True
            case AmendmentProposed():
                self.amendment = Amendment(
                    lines=event.lines,
                    subtotal=event.subtotal,
                    total=event.total,
                    dropped_skus=event.dropped_skus,
                    original_subtotal=self.subtotal,
                    original_total=self.total,
                )
                self.status = OrderStatus.AWAITING_CUSTOMER
            case AmendmentAccepted():
                self.lines, self.subtotal, self.total = event.lines, event.subtotal, event.total
                self._amendment_ended("accepted")
                self.status = OrderStatus.PAYMENT_AUTHORIZED
            case AmendmentDeclined():
                self._amendment_ended("declined")
            case AmendmentExpired():
                self._amendment_ended("expired")
            case PaymentReauthorized():
                self.superseded_authorization_id = event.superseded_authorization_id
                self.authorization_id = event.authorization_id
                self.authorized_amount = event.amount
            case InventoryReserved():
                self.reservation_id = event.reservation_id
                self.status = OrderStatus.INVENTORY_RESERVED
            case ShipmentCreated():
                self.shipment_id = event.shipment_id
                self.tracking_number = event.tracking_number
                self.status = OrderStatus.SHIPMENT_CREATED
            case OrderConfirmed():
                self.confirmed = True
                self.status = OrderStatus.CONFIRMED
            case PaymentCaptured():
                self.capture_id = event.capture_id
                self.captured_amount = event.amount
                # Also the answer to a capture that stalled in doubt: the stall is over, and an
                # order already being undone stays so (the capture is refunded).
                self.resume_status = self.stalled_step = self.stalled_error = None
                if self.status is not OrderStatus.COMPENSATING:
                    self.status = OrderStatus.PAYMENT_CAPTURED
            case RefundRequested():
                self.pending_refunds = {**self.pending_refunds, event.refund_id: event}
            case RefundIssued():
                self.refunded_total += event.amount
                self._settle_request(event.request_id, "issued")
                self._return_moved(event.return_id, "refunded")
            case RefundFailed():
                self._settle_request(event.request_id, "failed")
            case ReturnRequested():
                self.returns = {
                    **self.returns,
                    event.return_id: Return(
                        return_id=event.return_id, lines=event.lines, reason=event.reason
                    ),
                }
            case ReturnApproved():
                self._return_moved(event.return_id, "approved")
            case ReturnLabelCreated():
                self._return_labelled(event.return_id, event.tracking_number)
            case ReturnRejected():
                self._return_moved(event.return_id, "rejected")
            case ReturnReceived():
                self._return_moved(event.return_id, "received", received=event.lines)
            case ReturnClosed():
                self._return_moved(event.return_id, "closed")
            case NotificationsSent():
                self.notification_channels = event.channels
            case OrderCompleted():
                self.delivery_due_at = event.delivery_due_at or None
                self.status = OrderStatus.COMPLETED
            case SagaStalled():
                self.resume_status = self.status
                self.stalled_step, self.stalled_error = event.step, event.error
                self.status = OrderStatus.STALLED
            case SagaResumed():
                # Only a stream that skipped SagaStalled lacks resume_status; stay readable then.
                self.status = self.resume_status or OrderStatus.PENDING
                self.resume_status = self.stalled_step = self.stalled_error = None
            case CancellationRequested():
                self.cancellation_reason = event.reason
                self.status = OrderStatus.COMPENSATING
            case CompensationStarted():
                self.compensation_step = event.step
                self.resume_status = None
                self.status = OrderStatus.COMPENSATING
            case PaymentVoided():
                self.payment_voided = True
            case ReservationReleased():
                self.reservation_released = True
            case ShipmentCancelled():
                self.shipment_cancelled = True
            case UnrecordedEffectUndone():
                self.unrecorded_undone = (*self.unrecorded_undone, event.step)
            case CleanupDeferred():
                self.cleanup_pending = event.steps
            case CleanupCompleted():
                self.cleanup_pending = ()
            case OrderFailed():
                self.failure_reason = event.reason
                self.retry_cart_id = event.retry_cart_id
                self.status = OrderStatus.FAILED
            case OrderCancelled():
                self.retry_cart_id = event.retry_cart_id
                self.status = OrderStatus.CANCELLED
            case (
                ShipmentLabelCreated()
                | ShipmentDispatched()
                | ShipmentDelivered()
                | ShipmentLost()
                | ShipmentReturned()
            ):
                self.shipment_stage = STAGE_AFTER[event.type]
                self.carrier_event_ids = self.carrier_event_ids | {event.carrier_event_id}
                if isinstance(event, ShipmentDelivered):
                    self.delivered_at = event.occurred_at
            case DeliveryOverdue():
                self.delivery_overdue = True
            case _:
                # A second OrderPlaced (or a new event type) means a corrupt stream.
                raise InvalidTransition(self.status, event.type, "not applicable to a placed order")
        self.version += 1
