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
    AWAITING_CUSTOMER = "awaiting_customer"  # an amended order (partial stock) awaits an answer
    AWAITING_PAYMENT = "awaiting_payment"  # the customer completes a payment action (3-D Secure)


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
        OrderStatus.AWAITING_CUSTOMER,
        OrderStatus.AWAITING_PAYMENT,
    }
)

# Waiting for the customer is not a step: it times out on its own, it never stalls.
STALLABLE_STATUSES: frozenset[OrderStatus] = (
    REVERSIBLE_STATUSES - {OrderStatus.AWAITING_CUSTOMER, OrderStatus.AWAITING_PAYMENT}
) | {OrderStatus.PAYMENT_CAPTURED}


class ShipmentStatus(StrEnum):
    """Where a completed order's parcel is, as its carrier reported it (OVERDUE: not delivered
    in time; shown until a terminal status arrives)."""

    LABEL_CREATED = "label_created"
    DISPATCHED = "dispatched"
    DELIVERED = "delivered"
    LOST = "lost"
    RETURNED = "returned"
    OVERDUE = "overdue"


# Lifecycle order of the carrier's statuses: a move to a lower or equal stage is stale.
SHIPMENT_STAGES: dict[ShipmentStatus, int] = {
    ShipmentStatus.LABEL_CREATED: 1,
    ShipmentStatus.DISPATCHED: 2,
    ShipmentStatus.DELIVERED: 3,
    ShipmentStatus.LOST: 3,
    ShipmentStatus.RETURNED: 3,
}
TERMINAL_SHIPMENT_STATUSES: frozenset[ShipmentStatus] = frozenset(
    {ShipmentStatus.DELIVERED, ShipmentStatus.LOST, ShipmentStatus.RETURNED}
)
