"""What the saga's activities act through, built once per worker process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from activities.providers import Notifier, PaymentGateway, ShippingCarrier
from eventstore.inventory import Inventory
from eventstore.orders import OrderRepository
from eventstore.spending import SpendingLimits


@dataclass(frozen=True, slots=True)
class SagaPorts:
    """The order streams, stock, spending limits and the three providers."""

    orders: OrderRepository
    inventory: Inventory
    spending: SpendingLimits
    payments: PaymentGateway
    shipping: ShippingCarrier
    notifier: Notifier


def saga_activities(ports: SagaPorts) -> list[Callable[..., Any]]:
    """Every activity of the saga, bound to `ports`."""
    from activities.after_sale import AfterSaleActivities
    from activities.amendment import AmendmentActivities
    from activities.compensation import CompensationActivities
    from activities.fulfillment import FulfillmentActivities
    from activities.in_doubt import InDoubtActivities
    from activities.shipment import ShipmentActivities

    forward, undo = FulfillmentActivities(ports), CompensationActivities(ports)
    in_doubt = InDoubtActivities(ports)
    shipment = ShipmentActivities(ports)
    amendment = AmendmentActivities(ports)
    after_sale = AfterSaleActivities(ports)
    return [
        forward.authorize_payment,
        forward.check_payment_action,
        forward.expire_payment_action,
        forward.reserve_inventory,
        forward.create_shipment,
        forward.confirm_order,
        forward.capture_payment,
        forward.send_notifications,
        undo.void_payment,
        undo.release_inventory,
        undo.cancel_shipment,
        undo.refund_payment,
        in_doubt.undo_unrecorded_step,
        in_doubt.resolve_capture,
        undo.record_saga_event,
        shipment.record_carrier_event,
        shipment.record_delivery_overdue,
        amendment.propose_amendment,
        amendment.accept_amendment,
        amendment.expire_amendment,
        amendment.reauthorize_payment,
        after_sale.request_cancellation_after_sale,
        after_sale.request_refund,
        after_sale.issue_refund,
        after_sale.request_return,
        after_sale.approve_return,
        after_sale.create_return_label,
        after_sale.reject_return,
        after_sale.receive_return,
        after_sale.close_return,
        after_sale.restock_return,
        after_sale.request_return_refund,
    ]
