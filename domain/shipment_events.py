"""Events of a completed order's shipment, as its carrier reports it, and the overdue mark."""

from dataclasses import dataclass

from domain.event_base import DomainEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class ShipmentLabelCreated(DomainEvent):
    """The carrier printed the parcel's label."""

    carrier_event_id: str
    occurred_at: str  # RFC 3339, as the carrier reported it


@dataclass(frozen=True, slots=True, kw_only=True)
class ShipmentDispatched(DomainEvent):
    """The parcel left for the customer."""

    carrier_event_id: str
    occurred_at: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ShipmentDelivered(DomainEvent):
    """The customer received the parcel."""

    carrier_event_id: str
    occurred_at: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ShipmentLost(DomainEvent):
    """The carrier lost the parcel."""

    carrier_event_id: str
    occurred_at: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ShipmentReturned(DomainEvent):
    """The parcel went back to the shop."""

    carrier_event_id: str
    occurred_at: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryOverdue(DomainEvent):
    """No delivery was reported by `due_at` (RFC 3339); a late carrier event still lands."""

    due_at: str


CarrierEvent = (
    ShipmentLabelCreated | ShipmentDispatched | ShipmentDelivered | ShipmentLost | ShipmentReturned
)
