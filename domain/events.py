"""Order events: immutable facts, named in the past tense, stored as JSON.

The happy-path events live here; stall, cancellation, compensation and cleanup events live in
`domain.saga_events`, refunds in `domain.payment_events`, the shipment lifecycle's in
`domain.shipment_events`, partial availability's in `domain.amendment_events`; all are
re-exported, so callers import from here.
"""

from dataclasses import dataclass
from typing import Any

from domain.amendment_events import (
    AmendmentAccepted,
    AmendmentDeclined,
    AmendmentExpired,
    AmendmentProposed,
    PaymentReauthorized,
)
from domain.codec import decode
from domain.errors import UnknownEventType
from domain.event_base import DomainEvent
from domain.payment_events import (
    PaymentActionExpired,
    PaymentActionRequired,
    RefundFailed,
    RefundIssued,
    RefundRequested,
)
from domain.return_events import (
    ReturnApproved,
    ReturnClosed,
    ReturnLabelCreated,
    ReturnLine,
    ReturnReceived,
    ReturnRejected,
    ReturnRequested,
)
from domain.saga_events import (
    CancellationRequested,
    CleanupCompleted,
    CleanupDeferred,
    CompensationStarted,
    OrderCancelled,
    OrderFailed,
    PaymentVoided,
    ReservationReleased,
    SagaResumed,
    SagaStalled,
    ShipmentCancelled,
    UnrecordedEffectUndone,
)
from domain.shipment_events import (
    DeliveryOverdue,
    ShipmentDelivered,
    ShipmentDispatched,
    ShipmentLabelCreated,
    ShipmentLost,
    ShipmentReturned,
)
from domain.values import OrderLine, ShippingAddress

__all__ = [
    "AmendmentAccepted",
    "AmendmentDeclined",
    "AmendmentExpired",
    "AmendmentProposed",
    "CancellationRequested",
    "CleanupCompleted",
    "CleanupDeferred",
    "CompensationStarted",
    "DeliveryOverdue",
    "DomainEvent",
    "InventoryReserved",
    "NotificationsSent",
    "OrderCancelled",
    "OrderCompleted",
    "OrderConfirmed",
    "OrderFailed",
    "OrderLine",
    "OrderPlaced",
    "PaymentActionExpired",
    "PaymentActionRequired",
    "PaymentAuthorized",
    "PaymentCaptured",
    "PaymentReauthorized",
    "PaymentVoided",
    "RefundFailed",
    "RefundIssued",
    "RefundRequested",
    "ReservationReleased",
    "ReturnApproved",
    "ReturnClosed",
    "ReturnLabelCreated",
    "ReturnLine",
    "ReturnReceived",
    "ReturnRejected",
    "ReturnRequested",
    "SagaResumed",
    "SagaStalled",
    "ShipmentCancelled",
    "ShipmentCreated",
    "ShipmentDelivered",
    "ShipmentDispatched",
    "ShipmentLabelCreated",
    "ShipmentLost",
    "ShipmentReturned",
    "ShippingAddress",
    "UnknownEventType",
    "event_from_data",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderPlaced(DomainEvent):
    """A customer checked out a cart; amounts are in `currency` minor units."""

    customer_id: str
    cart_id: str
    currency: str
    lines: tuple[OrderLine, ...]
    shipping_address: ShippingAddress
    subtotal: int
    total: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentAuthorized(DomainEvent):
    """The payment provider holds `amount` for the order."""

    authorization_id: str
    amount: int


@dataclass(frozen=True, slots=True, kw_only=True)
class InventoryReserved(DomainEvent):
    """Stock for every line is set aside."""

    reservation_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ShipmentCreated(DomainEvent):
    """The shipping provider accepted the parcel."""

    shipment_id: str
    tracking_number: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderConfirmed(DomainEvent):
    """Every reversible step succeeded; the order is promised to the customer."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentCaptured(DomainEvent):
    """The authorized money was taken."""

    capture_id: str
    amount: int


@dataclass(frozen=True, slots=True, kw_only=True)
class NotificationsSent(DomainEvent):
    """The customer was told, on these channels."""

    channels: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderCompleted(DomainEvent):
    """The saga finished successfully. `delivery_due_at` (RFC 3339): when the parcel must have
    been delivered, after which the delivery sweep marks it overdue; empty for orders whose
    delivery a ShipmentTrackingWorkflow follows (completed before the sweep existed)."""

    delivery_due_at: str = ""


# Listed by hand rather than collected by __init_subclass__: slots=True makes
# dataclass replace each class, and an explicit list is what a reader greps for.
EVENT_TYPES: tuple[type[DomainEvent], ...] = (
    OrderPlaced,
    PaymentAuthorized,
    InventoryReserved,
    ShipmentCreated,
    OrderConfirmed,
    PaymentCaptured,
    NotificationsSent,
    OrderCompleted,
    SagaStalled,
    SagaResumed,
    CompensationStarted,
    CancellationRequested,
    PaymentVoided,
    ReservationReleased,
    ShipmentCancelled,
    OrderFailed,
    OrderCancelled,
    ShipmentLabelCreated,
    ShipmentDispatched,
    ShipmentDelivered,
    ShipmentLost,
    ShipmentReturned,
    DeliveryOverdue,
    AmendmentProposed,
    AmendmentAccepted,
    AmendmentDeclined,
    AmendmentExpired,
    PaymentReauthorized,
    UnrecordedEffectUndone,
    RefundIssued,
    CleanupDeferred,
    CleanupCompleted,
    PaymentActionRequired,
    PaymentActionExpired,
    RefundRequested,
    RefundFailed,
    ReturnRequested,
    ReturnApproved,
    ReturnRejected,
    ReturnReceived,
    ReturnClosed,
    ReturnLabelCreated,
)
_REGISTRY: dict[str, type[DomainEvent]] = {cls.type: cls for cls in EVENT_TYPES}


def event_from_data(type: str, data: dict[str, Any]) -> DomainEvent:
    """Rebuild an event from its stored type name and `to_data()` output."""
    try:
        cls = _REGISTRY[type]
    except KeyError:
        raise UnknownEventType(f"unknown event type {type!r}") from None
    event: DomainEvent = decode(cls, data)
    return event
