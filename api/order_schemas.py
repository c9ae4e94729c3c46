"""Order request and response bodies (API.md's order object)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.ids import CartId
from api.line_items import LineItem
from api.validation import CountryCode, DisplayText, StorableText
from domain.order import Order
from domain.return_events import Return, ReturnLine
from eventstore.orders import domain_events
from eventstore.store import RecordedEvent

_Text = Field(min_length=1, max_length=200)
MAX_MINOR_UNITS = 10**15  # far above any real total, well inside bigint


class ShippingAddressIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: DisplayText = _Text
    line1: DisplayText = _Text
    city: DisplayText = Field(min_length=1, max_length=100)
    postal_code: DisplayText = Field(min_length=1, max_length=20)
    country: CountryCode


class CheckoutCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cart_id: CartId
    payment_token: StorableText = Field(min_length=1, max_length=200)
    shipping_address: ShippingAddressIn
    expected_total: int | None = Field(
        default=None,
        strict=True,
        ge=0,
        le=MAX_MINOR_UNITS,
        description="the total the customer agreed to, in minor units; if the cart's total at"
        " checkout prices differs, checkout answers 409 with the current cart",
    )


class CancelCreate(BaseModel):
    reason: DisplayText = Field(default="cancelled by the customer", max_length=500)


class AmendmentPublic(BaseModel):
    """The amended order offered when some lines are out of stock: short lines are dropped
    whole; `status` is proposed (awaiting the customer), accepted, declined or expired."""

    status: str
    items: list[LineItem]
    dropped_skus: list[str]
    subtotal: int
    total: int
    original_subtotal: int
    original_total: int
    currency: str


class PaymentActionPublic(BaseModel):
    """What the storefront completes while the order is awaiting_payment (3-D Secure): e.g.
    Stripe.js `handleNextAction` with `client_secret`."""

    type: str
    client_secret: str


class ReturnedLine(BaseModel):
    sku: str
    quantity: int


class OrderReturn(BaseModel):
    """A return of some of the order's lines: requested, approved, rejected, received, refunded
    or closed; `tracking_number` is its return label's, once the carrier issued one."""

    id: str
    status: str
    items: list[ReturnedLine]
    received: list[ReturnedLine]
    reason: str
    tracking_number: str | None = None


class HistoryEntry(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    at: datetime


class OrderPublic(BaseModel):
    id: str
    customer_id: str
    status: str
    items: list[LineItem]
    subtotal: int
    total: int
    currency: str
    shipping_address: dict[str, str]
    failure_reason: str | None
    tracking_number: str | None
    shipment_status: str | None = None  # after completion: the carrier's last report, or overdue
    amendment: AmendmentPublic | None = None  # partial availability's offer, if one was made
    payment_action: PaymentActionPublic | None = None  # while awaiting_payment
    retry_cart_id: str | None = Field(
        default=None,
        description="payment was never authorized: the customer's cart holding this order's"
        " lines at current prices; its checkout is a new order",
    )
    refunded_total: int = 0  # minor units given back (a cancel after capture refunds in full)
    returns: list[OrderReturn] = []  # the order's returns (RMA): id, status, items, received
    cancellation_requested: bool = False  # the customer's cancel was recorded
    created_at: datetime
    updated_at: datetime
    history: list[HistoryEntry]

    @classmethod
    def from_stream(cls, recorded: list[RecordedEvent]) -> OrderPublic:
        """The order as its (non-empty) stream tells it."""
        order = Order.rehydrate(domain_events(recorded))
        address = order.shipping_address
        return cls(
            id=order.order_id,
            customer_id=order.customer_id,
            status=str(order.status),
            items=[LineItem.of(line) for line in order.lines],
            subtotal=order.subtotal,
            total=order.total,
            currency=order.currency,
            shipping_address={
                "name": address.name,
                "line1": address.line1,
                "city": address.city,
                "postal_code": address.postal_code,
                "country": address.country,
            },
            failure_reason=order.failure_reason,
            tracking_number=order.tracking_number,
            shipment_status=None if order.shipment_status is None else str(order.shipment_status),
            amendment=_amendment(order),
            payment_action=_payment_action(order),
            retry_cart_id=order.retry_cart_id,
            refunded_total=order.refunded_total,
            returns=[_return(r) for r in order.returns.values()],
            cancellation_requested=order.cancellation_reason is not None,
            created_at=recorded[0].recorded_at,
            updated_at=recorded[-1].recorded_at,
            history=[HistoryEntry(type=r.type, at=r.recorded_at, **_facts(r)) for r in recorded],
        )


def _return(ret: Return) -> OrderReturn:
    def lines(of: tuple[ReturnLine, ...]) -> list[ReturnedLine]:
        return [ReturnedLine(sku=line.sku, quantity=line.quantity) for line in of]

    return OrderReturn(
        id=ret.return_id, status=ret.status, items=lines(ret.lines),
        received=lines(ret.received), reason=ret.reason, tracking_number=ret.tracking_number,
    )  # fmt: skip


def _payment_action(order: Order) -> PaymentActionPublic | None:
    action = order.payment_action
    if action is None or order.status != "awaiting_payment":
        return None
    return PaymentActionPublic(type=action.action_type, client_secret=action.client_secret)


def _amendment(order: Order) -> AmendmentPublic | None:
    offer = order.amendment
    if offer is None:
        return None
    return AmendmentPublic(
        status=offer.status,
        items=[LineItem.of(line) for line in offer.lines],
        dropped_skus=list(offer.dropped_skus),
        subtotal=offer.subtotal,
        total=offer.total,
        original_subtotal=offer.original_subtotal,
        original_total=offer.original_total,
        currency=order.currency,
    )


def _facts(recorded: RecordedEvent) -> dict[str, Any]:
    """What an event adds to the history line; the order's own fields are shown above it."""
    hidden = {"order_id", "lines", "shipping_address", "customer_id", "cart_id", "client_secret"}
    return {k: v for k, v in recorded.data.items() if k not in hidden}


class OrderList(BaseModel):
    items: list[OrderPublic]
    next_cursor: str | None
