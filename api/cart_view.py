"""A cart as the API shows it (`CartView`) and as Redis keeps it (`StoredCart`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from api import cart_analytics as analytics
from api.line_items import LineItem
from domain.cart import NO_CURRENCY, Cart, CartLine, CartStatus, Prices


def cart_key(cart_id: str) -> str:
    return f"{analytics.CART_KEY_PREFIX}{cart_id}"


def active_key(customer_id: str) -> str:
    """The key naming the customer's active cart (expires with it)."""
    return f"cart:active:{customer_id}"


def unix_ms(moment: datetime) -> int:
    """A moment as Redis's PXAT takes it: Unix time in milliseconds."""
    return int(moment.timestamp() * 1000)


class CartView(BaseModel):
    """A cart as the API shows it; prices in minor units of `currency`, from the catalog now."""

    id: str
    customer_id: str
    status: CartStatus
    items: list[LineItem]
    subtotal: int
    currency: str | None
    expires_at: datetime
    created_at: datetime
    updated_at: datetime
    order_id: str | None = None
    retry_of: str | None = Field(
        default=None,
        description="the failed order whose lines this cart gives back (its retry cart)",
    )
    unsold_skus: list[str] = Field(
        default_factory=list,
        description="lines the catalog no longer sells in the cart's currency: checkout is 409"
        " until they are removed",
    )


class CheckoutMark(BaseModel):
    """The checkout that converted a cart: the order it became, the digest of the checkout
    request, and that request's Idempotency-Key (None without one)."""

    order_id: str
    request_digest: str
    idempotency_key: str | None = None


class StoredCart(CartView):
    """The Redis document: the view's fields as of the last write, and the checkout mark."""

    checkout: CheckoutMark | None = None

    def to_domain(self) -> Cart:
        lines = tuple(
            CartLine(sku=i.sku, name=i.name, quantity=i.quantity, unit_price=i.unit_price)
            for i in self.items
        )
        return Cart(
            id=self.id,
            customer_id=self.customer_id,
            currency=self.currency or NO_CURRENCY,
            status=self.status,
            lines=lines,
        )

    def with_cart(self, cart: Cart, now: datetime, ttl: timedelta) -> StoredCart:
        """The document after a write that decided `cart`: its TTL starts again."""
        return self._priced(cart).model_copy(update={"updated_at": now, "expires_at": now + ttl})

    def shown(self, prices: Prices | None = None) -> CartView:
        """The view the API answers: an active cart at the catalog's current `prices`."""
        if prices is None or self.status is not CartStatus.ACTIVE:
            return CartView.model_validate(self.model_dump(exclude={"checkout"}))
        cart = self.to_domain()
        priced = self._priced(cart.repriced(prices))
        view = CartView.model_validate(priced.model_dump(exclude={"checkout"}))
        view.unsold_skus = cart.unsold_skus(prices)
        return view

    def document(self) -> str:
        return self.model_dump_json(exclude={"unsold_skus"})

    def contribution(self) -> analytics.Contribution:
        if self.status is not CartStatus.ACTIVE:
            return analytics.Contribution()
        quantity = sum(item.quantity for item in self.items)
        return analytics.Contribution(quantity, self.subtotal, self.currency or "")

    def _priced(self, cart: Cart) -> StoredCart:
        currency = None if cart.currency == NO_CURRENCY else cart.currency
        return self.model_copy(
            update={
                "status": cart.status,
                "items": [LineItem.of(line) for line in cart.lines],
                "subtotal": cart.subtotal,
                "currency": currency,
            }
        )
