"""Customer notifications rendered from Jinja2 templates, one pair per public event type.

`commerce/templates/notifications/<type>.txt` is the plain text (its `{% set subject = ... %}`
is the subject) and `<type>.html` the HTML (autoescaped) of the message about that event. The
context: `order_id`, `customer_name`, `currency`, `items`, `total`, `tracking_number`, `data`
(the public event's data), `event` (the domain event) and `links` built from
COMMERCE_STOREFRONT_URL (`order`, `pay`, `accept`, `decline`, `retry_cart`). Money goes through
the `money` filter: `{{ total | money(currency) }}` → `19.99 USD`.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from activities.providers import Notification
from domain.public_events import envelope
from eventstore.public_feed import FeedItem

# The events a customer hears of (DESIGN.md, issue 14); each has a .txt and an .html template.
NOTIFIED = (
    "order.placed",
    "order.payment_action_required",
    "order.amendment_proposed",
    "order.completed",
    "order.failed",
    "order.cancelled",
    "shipment.dispatched",
    "shipment.delivered",
    "refund.issued",
    "return.approved",
    "return.label_created",
    "return.rejected",
    "return.received",
    "return.closed",
)
# ISO 4217 currencies whose minor unit is not a hundredth.
_EXPONENTS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX",
                     "UYI", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}  # fmt: skip


def money(amount: int, currency: str) -> str:
    """Minor units as a decimal amount and its code: money(1999, "USD") == "19.99 USD"."""
    exponent = _EXPONENTS.get(currency, 2)
    sign, units = ("-" if amount < 0 else ""), abs(amount)
    if exponent == 0:
        return f"{sign}{units} {currency}"
    whole, fraction = divmod(units, 10**exponent)
    return f"{sign}{whole}.{fraction:0{exponent}d} {currency}"


class NotificationTemplates:
    """Renders the message about a feed item for its customer."""

    def __init__(self, storefront_url: str) -> None:
        self._storefront = storefront_url.rstrip("/")
        self._env = Environment(
            loader=PackageLoader("commerce", "templates/notifications"),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )
        self._env.filters["money"] = money

    def render(self, item: FeedItem) -> Notification:
        kind = item.entry.name
        context = self._context(item)
        text = self._env.get_template(f"{kind}.txt").make_module(context)
        subject = str(getattr(text, "subject"))  # noqa: B009 -- set by the template
        html = self._env.get_template(f"{kind}.html").render(context | {"subject": subject})
        return Notification(
            customer_id=item.order.customer_id, order_id=item.order.order_id, kind=kind,
            subject=subject, text=str(text).strip() + "\n", html=html,
        )  # fmt: skip

    def _context(self, item: FeedItem) -> dict[str, Any]:
        order, recorded = item.order, item.recorded
        public = envelope(item.entry, order, item.event, recorded.event_id, recorded.recorded_at)
        page = f"{self._storefront}/orders/{order.order_id}"
        # The cart an order whose payment was never authorized gave back (domain.rules).
        retry_cart = recorded.data.get("retry_cart_id")
        return {
            "order_id": order.order_id,
            "customer_name": order.shipping_address.name,
            "currency": order.currency,
            "items": public["data"].get("items") or _items(item),
            "total": order.total,
            "tracking_number": order.tracking_number,
            "data": public["data"],
            "event": item.event,
            "links": {
                "order": page,
                "pay": f"{page}/payment",
                "accept": f"{page}/amendment?answer=accept",
                "decline": f"{page}/amendment?answer=decline",
                "retry_cart": f"{self._storefront}/cart/{retry_cart}" if retry_cart else None,
            },
        }


def _items(item: FeedItem) -> list[dict[str, Any]]:
    return [
        {"sku": line.sku, "name": line.name, "quantity": line.quantity,
         "line_total": line.unit_price * line.quantity}
        for line in item.order.lines
    ]  # fmt: skip
