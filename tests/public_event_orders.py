"""Orders that together record every event of the public catalogue, built with the aggregate.

Each builder takes an order id and returns the order with all its events pending, so a unit test
can read them and an integration test can store them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from domain.events import OrderLine, ShippingAddress
from domain.order import Order
from domain.public_events import BY_SOURCE
from domain.return_events import ReturnLine
from domain.status import ShipmentStatus
from eventstore.public_feed import FeedItem
from eventstore.store import RecordedEvent

CUSTOMER = "customer-notified"
CLIENT_SECRET = "pi_3ds_client_secret_never_public"
LINES = (
    OrderLine(sku="MUG", name="Mug", quantity=2, unit_price=1250),
    OrderLine(sku="TEA", name="Tea <Earl Grey>", quantity=1, unit_price=499),
)
ADDRESS = ShippingAddress(
    name="Ada <b>Lovelace</b>", line1="1 Analytical St", city="London", postal_code="N1 9GU",
    country="GB",
)  # fmt: skip


def _placed(order_id: str) -> Order:
    return Order.place(order_id, CUSTOMER, f"cart-{order_id}", "USD", LINES, ADDRESS)


def _captured(order_id: str) -> Order:
    order = _placed(order_id)
    order.authorize_payment("auth-1", order.total)
    order.reserve_inventory("res-1")
    order.create_shipment("ship-1", "TRK-1")
    order.confirm()
    order.capture_payment("cap-1", order.total)
    return order


def delivered(order_id: str) -> Order:
    order = _captured(order_id)
    order.complete()
    for n, stage in enumerate(("label_created", "dispatched", "delivered")):
        order.track_shipment(ShipmentStatus(stage), f"evt-{n}", "2025-06-01T12:00:00Z")
    return order


def lost_late(order_id: str) -> Order:
    order = _captured(order_id)
    order.complete()
    order.mark_delivery_overdue("2025-06-15T12:00:00Z")
    order.track_shipment(ShipmentStatus.LOST, "evt-lost", "2025-06-20T12:00:00Z")
    return order


def returned(order_id: str) -> Order:
    order = _captured(order_id)
    order.complete()
    order.track_shipment(ShipmentStatus.RETURNED, "evt-back", "2025-06-20T12:00:00Z")
    return order


def refunded(order_id: str) -> Order:
    order = _captured(order_id)
    order.request_cancellation("changed my mind")
    order.refund_payment("ref-1", order.total, "changed my mind")
    order.release_reservation()
    order.cancel_shipment()
    order.mark_cancelled("changed my mind")
    return order


RETRY_CART = "retry-cart-1"


def cancelled_after_completion(order_id: str) -> Order:
    """Completed, then cancelled before dispatch: shipment cancelled, stock back, refunded."""
    order = _captured(order_id)
    order.complete()
    order.track_shipment(ShipmentStatus.LABEL_CREATED, "evt-label", "2025-06-01T12:00:00Z")
    order.request_cancellation("found it cheaper")
    order.cancel_shipment()
    order.release_reservation()
    order.refund_payment("ref-1", order.total, "found it cheaper")
    order.mark_cancelled("found it cheaper")
    return order


RETURN_ASKED_AT = datetime(2025, 6, 2, tzinfo=UTC)


def _return_asked(order_id: str, *lines: tuple[str, int]) -> Order:
    order = delivered(order_id)
    back = [ReturnLine(sku=sku, quantity=quantity) for sku, quantity in lines]
    order.request_return("ret-1", back, "too big", now=RETURN_ASKED_AT, window_days=30)
    return order


def returned_by_carrier(order_id: str) -> Order:
    """A return of one mug, labelled, received through the carrier and refunded; then an
    operator's goodwill refund."""
    order = _return_asked(order_id, ("MUG", 1))
    order.approve_return("ret-1")
    order.label_return("ret-1", "RTN-1")
    order.receive_return("ret-1", [ReturnLine(sku="MUG", quantity=1)])
    order.request_refund("return-ret-1", order.return_refund("ret-1"), "return ret-1",
                         return_id="ret-1")  # fmt: skip
    order.settle_refund("return-ret-1", "re_1")
    order.request_refund("goodwill-1", 100, "sorry for the trouble")  # an operator's
    order.settle_refund("goodwill-1", "re_2")
    return order


def return_rejected(order_id: str) -> Order:
    order = _return_asked(order_id, ("TEA", 1))
    order.reject_return("ret-1", "opened")
    return order


def return_closed(order_id: str) -> Order:
    order = _return_asked(order_id, ("MUG", 2), ("TEA", 1))
    order.approve_return("ret-1")
    order.label_return("ret-1", "RTN-1")
    order.close_return("ret-1", "not received within 2592000 s")
    return order


def declined(order_id: str) -> Order:
    order = _placed(order_id)
    order.fail("the card was declined", "authorize_payment", RETRY_CART)
    return order


def payment_expired(order_id: str) -> Order:
    order = _placed(order_id)
    order.require_payment_action("pi_3ds", "use_stripe_sdk", CLIENT_SECRET)
    order.expire_payment_action(1800)
    order.request_cancellation("the payment was not completed within 1800 s")
    order.void_payment()
    order.mark_cancelled("the payment was not completed within 1800 s", RETRY_CART)
    return order


def awaiting_payment(order_id: str) -> Order:
    order = _placed(order_id)
    order.require_payment_action("pi_3ds", "use_stripe_sdk", CLIENT_SECRET)
    return order


def amendment_expired(order_id: str) -> Order:
    order = _placed(order_id)
    order.authorize_payment("auth-1", order.total)
    order.propose_amendment(["MUG"])
    order.expire_amendment(86400)
    order.request_cancellation("the amended order was not accepted in time")
    order.void_payment()
    order.mark_cancelled("the amended order was not accepted in time")
    return order


def stalled(order_id: str) -> Order:
    order = _placed(order_id)
    order.stall("authorize_payment", "gateway timed out")
    return order


SCENARIOS: dict[str, Callable[[str], Order]] = {
    "delivered": delivered,
    "lost_late": lost_late,
    "returned": returned,
    "refunded": refunded,
    "cancelled_after_completion": cancelled_after_completion,
    "returned_by_carrier": returned_by_carrier,
    "return_rejected": return_rejected,
    "return_closed": return_closed,
    "declined": declined,
    "awaiting_payment": awaiting_payment,
    "amendment_expired": amendment_expired,
    "payment_expired": payment_expired,
    "stalled": stalled,
}


def feed_items(order: Order, first_position: int = 1) -> list[FeedItem]:
    """The catalogue events among the order's pending events, as the feed would yield them."""
    events = list(order.pending_events)
    items = []
    for version, event in enumerate(events, start=1):
        entry = BY_SOURCE.get(event.type)
        if entry is None:
            continue
        recorded = RecordedEvent(
            global_position=first_position + version - 1,
            stream_id=f"order-{order.order_id}",
            stream_version=version,
            event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{order.order_id}/{version}"),
            type=event.type,
            data=event.to_data(),
            metadata={},
            recorded_at=datetime(2025, 6, 1, 12, 0, version, tzinfo=UTC),
            transaction_id=first_position + version - 1,
        )
        items.append(FeedItem(recorded, entry, event, Order.rehydrate(events[:version])))
    return items
