"""What the cart store refuses, as types; api/problems.py maps each to its HTTP status."""

from __future__ import annotations

from api.cart_view import CartView
from domain.cart import ProductsNotSold, TotalChanged


class CartNotFound(Exception):
    """No such cart for this customer (another customer's cart is not revealed)."""


class CartAlreadyConverted(Exception):
    """The cart was checked out already, by another request; `order_id` is the order it became.
    When that order's payment was never authorized, `retry_cart_id` is the cart holding its
    lines again, the one to check out now."""

    title = "Cart already converted"

    def __init__(
        self,
        cart_id: str,
        order_id: str | None,
        retry_cart_id: str | None = None,
        failure_reason: str | None = None,
    ) -> None:
        detail = f"cart {cart_id} was already checked out into order {order_id}"
        if retry_cart_id is not None:
            detail += (
                f", which was not paid ({failure_reason}): its items are in cart"
                f" {retry_cart_id}; check that one out"
            )
        super().__init__(detail)
        self.order_id = order_id
        if retry_cart_id is not None:
            self.retry_cart_id = retry_cart_id  # only then a field of the problem


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
