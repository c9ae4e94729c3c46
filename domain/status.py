"""Order statuses and the groups of them the transition rules refer to."""

from enum import StrEnum


class OrderStatus(StrEnum):
    """Where an order is in the fulfilment saga."""

    PENDING = "pending"
    PAYMENT_AUTHORIZED = "payment_authorized"
    INVENTORY_RESERVED = "inventory_reserved"
    SHIPMENT_CREATED = "shipment_created"
    CONFIRMED = "confirmed"
    PAYMENT_CAPTURED = "payment_captured"
    COMPLETED = "completed"
    COMPENSATING = "compensating"
    FAILED = "failed"
    CANCELLED = "cancelled"
    STALLED = "stalled"


TERMINAL_STATUSES: frozenset[OrderStatus] = frozenset(
    {OrderStatus.COMPLETED, OrderStatus.FAILED, OrderStatus.CANCELLED}
)

# Before capture every step can still be undone; after it money has moved.
REVERSIBLE_STATUSES: frozenset[OrderStatus] = frozenset(
    {
        OrderStatus.PENDING,
        OrderStatus.PAYMENT_AUTHORIZED,
        OrderStatus.INVENTORY_RESERVED,
        OrderStatus.SHIPMENT_CREATED,
        OrderStatus.CONFIRMED,
    }
)

STALLABLE_STATUSES: frozenset[OrderStatus] = REVERSIBLE_STATUSES | {OrderStatus.PAYMENT_CAPTURED}
