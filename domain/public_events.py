"""The public event catalogue: which order facts leave the service, under which name and shape.

Each entry turns one domain event, with the order as it stood once that event was applied, into
the `data` of a versioned public event (`order.placed` v1, ...). Payloads carry amounts in minor
units with their currency, opaque ids, and no more personal data than a subscriber needs: the
customer id but never a name or street address, and never a payment token, a client secret or a
provider's authorization reference. Events marked `admin` are for operators' systems (they are
never shown to customers). One JSON Schema per event type lives in `domain/event_schemas/`.

To add an event: write its payload function, add an entry to CATALOGUE and a schema file named
after it; the tests check that both exist and agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from domain import events as ev
from domain.order_state import OrderState
from domain.return_payloads import (
    return_closed,
    return_fact,
    return_received,
    return_rejected,
    return_requested,
)
from domain.values import OrderLine

Audience = Literal["public", "admin"]
Payload = Callable[[OrderState, Any], dict[str, Any]]
WILDCARD = "*"


@dataclass(frozen=True, slots=True)
class PublicEventType:
    """One entry of the catalogue: `name` (`family.fact`), the domain event it comes from, its
    schema `version`, who may see it, and how its `data` is built."""

    name: str
    source: type[ev.DomainEvent]
    version: int
    audience: Audience
    description: str
    payload: Payload

    @property
    def family(self) -> str:
        return self.name.split(".", 1)[0]


def _items(lines: Iterable[OrderLine]) -> list[dict[str, Any]]:
    return [
        {"sku": line.sku, "name": line.name, "quantity": line.quantity,
         "unit_price": line.unit_price, "line_total": line.unit_price * line.quantity}
        for line in lines
    ]  # fmt: skip


def _placed(order: OrderState, _: ev.OrderPlaced) -> dict[str, Any]:
    return {
        "customer_id": order.customer_id,
        "currency": order.currency,
        "items": _items(order.lines),
        "subtotal": order.subtotal,
        "total": order.total,
        "shipping_country": order.shipping_address.country,
    }


def _payment_action(order: OrderState, event: ev.PaymentActionRequired) -> dict[str, Any]:
    # The client secret completes the payment: it goes to the customer's storefront only.
    return {
        "customer_id": order.customer_id,
        "action_type": event.action_type,
        "currency": order.currency,
        "total": order.total,
    }


def _amendment_proposed(order: OrderState, event: ev.AmendmentProposed) -> dict[str, Any]:
    offer = order.amendment
    original_total = offer.original_total if offer else order.total
    return {
        "customer_id": order.customer_id,
        "currency": order.currency,
        "items": _items(event.lines),
        "dropped_skus": list(event.dropped_skus),
        "subtotal": event.subtotal,
        "total": event.total,
        "original_total": original_total,
    }


def _amendment_expired(order: OrderState, event: ev.AmendmentExpired) -> dict[str, Any]:
    return {"customer_id": order.customer_id, "timeout_s": event.timeout_s}


def _completed(order: OrderState, _: ev.OrderCompleted) -> dict[str, Any]:
    return {
        "customer_id": order.customer_id,
        "currency": order.currency,
        "items": _items(order.lines),
        "total": order.total,
        "charged": order.net_captured,
        "tracking_number": order.tracking_number,
    }


def _failed(order: OrderState, event: ev.OrderFailed) -> dict[str, Any]:
    return {
        "customer_id": order.customer_id,
        "reason": event.reason,
        "step": event.step,
        "currency": order.currency,
        "total": order.total,
        "charged": order.net_captured,
        "retry_cart_id": event.retry_cart_id,
    }


def _cancelled(order: OrderState, event: ev.OrderCancelled) -> dict[str, Any]:
    return {
        "customer_id": order.customer_id,
        "reason": event.reason,
        "currency": order.currency,
        "total": order.total,
        "refunded_total": order.refunded_total,
        "retry_cart_id": event.retry_cart_id,
    }


def _stalled(order: OrderState, event: ev.SagaStalled) -> dict[str, Any]:
    return {"step": event.step, "error": event.error, "resume_status": str(order.resume_status)}


def _carrier(order: OrderState, event: Any) -> dict[str, Any]:
    return {
        "customer_id": order.customer_id,
        "tracking_number": order.tracking_number,
        "carrier_event_id": event.carrier_event_id,
        "occurred_at": event.occurred_at,
    }


def _overdue(order: OrderState, event: ev.DeliveryOverdue) -> dict[str, Any]:
    return {
        "customer_id": order.customer_id,
        "tracking_number": order.tracking_number,
        "due_at": event.due_at,
    }


def _refund(order: OrderState, event: ev.RefundIssued) -> dict[str, Any]:
    return {
        "customer_id": order.customer_id,
        "refund_id": event.refund_id,
        "amount": event.amount,
        "currency": order.currency,
        "reason": event.reason,
        "refunded_total": order.refunded_total,
        "return_id": event.return_id or None,
    }


def _shipment(fact: str, source: type[ev.DomainEvent], description: str) -> PublicEventType:
    return PublicEventType(f"shipment.{fact}", source, 1, "public", description, _carrier)


CATALOGUE: tuple[PublicEventType, ...] = (
    PublicEventType("order.placed", ev.OrderPlaced, 1, "public",
                    "A customer checked out a cart; the saga starts.", _placed),
    PublicEventType("order.payment_action_required", ev.PaymentActionRequired, 1, "public",
                    "The bank asks the customer to confirm the payment (3-D Secure).",
                    _payment_action),
    PublicEventType("order.amendment_proposed", ev.AmendmentProposed, 1, "public",
                    "Some lines are out of stock: the rest is offered at a new total.",
                    _amendment_proposed),
    PublicEventType("order.amendment_expired", ev.AmendmentExpired, 1, "public",
                    "The customer did not answer the offer in time; the order is cancelled.",
                    _amendment_expired),
    PublicEventType("order.completed", ev.OrderCompleted, 1, "public",
                    "Paid in full and handed to the carrier.", _completed),
    PublicEventType("order.failed", ev.OrderFailed, 1, "public",
                    "The order ended unfulfilled; nothing stays charged.", _failed),
    PublicEventType("order.cancelled", ev.OrderCancelled, 1, "public",
                    "The order ended at the customer's request (or an unanswered offer).",
                    _cancelled),
    PublicEventType("order.stalled", ev.SagaStalled, 1, "admin",
                    "A step spent its retries and waits for an operator.", _stalled),
    _shipment("label_created", ev.ShipmentLabelCreated, "The carrier printed the label."),
    _shipment("dispatched", ev.ShipmentDispatched, "The parcel left for the customer."),
    _shipment("delivered", ev.ShipmentDelivered, "The customer received the parcel."),
    _shipment("lost", ev.ShipmentLost, "The carrier lost the parcel."),
    _shipment("returned", ev.ShipmentReturned, "The parcel went back to the shop."),
    PublicEventType("shipment.overdue", ev.DeliveryOverdue, 1, "public",
                    "No delivery was reported in time.", _overdue),
    PublicEventType("refund.issued", ev.RefundIssued, 1, "public",
                    "Money was given back to the customer (a cancel, a return, an operator).",
                    _refund),
    PublicEventType("return.requested", ev.ReturnRequested, 1, "public",
                    "The customer asked to return some lines of a delivered order.",
                    return_requested),
    PublicEventType("return.approved", ev.ReturnApproved, 1, "public",
                    "The shop accepted the return and waits for the goods.", return_fact),
    PublicEventType("return.label_created", ev.ReturnLabelCreated, 1, "public",
                    "The carrier issued the return label the goods go back under.",
                    return_fact),
    PublicEventType("return.rejected", ev.ReturnRejected, 1, "public",
                    "The shop refused the return.", return_rejected),
    PublicEventType("return.received", ev.ReturnReceived, 1, "public",
                    "The goods came back: restocked; their refund follows (refund.issued).",
                    return_received),
    PublicEventType("return.closed", ev.ReturnClosed, 1, "public",
                    "The goods never came back in time: closed without refund.", return_closed),
)  # fmt: skip
BY_NAME: dict[str, PublicEventType] = {entry.name: entry for entry in CATALOGUE}
BY_SOURCE: dict[str, PublicEventType] = {entry.source.type: entry for entry in CATALOGUE}


def envelope(
    entry: PublicEventType,
    order: OrderState,
    event: ev.DomainEvent,
    event_id: UUID,
    recorded_at: datetime,
) -> dict[str, Any]:
    """The public event: `id` (the domain event's id, also the webhook's `Webhook-Id`), `type`,
    `timestamp` (RFC 3339 UTC, when it was recorded), `order_id`, `schema_version`, `data`."""
    return {
        "id": str(event_id),
        "type": entry.name,
        "timestamp": recorded_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "order_id": order.order_id,
        "schema_version": entry.version,
        "data": entry.payload(order, event),
    }


def pattern_refusal(pattern: str) -> str | None:
    """Why `pattern` cannot name event types in a subscription, or None: an exact type of the
    catalogue, `family.*` for a family of it, or `*` for everything."""
    if pattern == WILDCARD or pattern in BY_NAME:
        return None
    family, dot, rest = pattern.partition(".")
    families = {entry.family for entry in CATALOGUE}
    if dot and rest == WILDCARD and family in families:
        return None
    return f"{pattern!r} is not an event type of the catalogue (nor family.* or *)"


def matches(patterns: Iterable[str], name: str) -> bool:
    """True when an event type `name` is selected by any of a subscription's patterns."""
    family = name.split(".", 1)[0]
    return any(p in (WILDCARD, name, f"{family}.{WILDCARD}") for p in patterns)
