"""What the cart store refuses, as types; api/problems.py maps each to its HTTP status."""

from __future__ import annotations

from api.cart_view import CartView
from domain.cart import ProductsNotSold, TotalChanged


class CartNotFound(Exception):
    """No such cart for this customer (another customer's cart is not revealed)."""


class CartAlreadyConverted(Exception):
    """The cart was checked out already; `order_id` is the order it became."""

    def __init__(self, cart_id: str, order_id: str | None) -> None:
        super().__init__(f"cart {cart_id} was already checked out into order {order_id}")
        self.order_id = order_id


class UnknownProduct(Exception):
    """The sku is not in the catalog, or no longer sold."""


class CartBusy(Exception):
    """Too many concurrent writers on one cart; the client may retry."""


class CheckoutRefused(Exception):
    """Checkout refused with nothing changed: lines no longer sold (`skus`), or a total that is
    not the `expected_total` the customer agreed to; `cart` is the cart as it stands now."""

    title = "Cart needs the customer's agreement"

    def __init__(self, reason: ProductsNotSold | TotalChanged, cart: CartView) -> None:
        super().__init__(str(reason))
        self.cart = cart.model_dump(mode="json")
        if isinstance(reason, ProductsNotSold):
            self.skus = reason.skus
            self.title = "Products no longer sold"
        else:
            self.expected_total = reason.expected_total
            self.total = reason.total
            self.title = "Cart total changed"


class IdempotencyKeyReused(Exception):
    """The Idempotency-Key already checked out another cart or another request."""

    title = "Idempotency key reused"
