"""Value objects carried inside order events, and how an order's lines are priced."""

from dataclasses import dataclass

from domain.cart import CartLine, validate_quantity
from domain.errors import EmptyOrder, InvalidMoney
from domain.money import Money

# An order line is the cart line it was checked out from: one sku, a quantity, the unit price.
OrderLine = CartLine


@dataclass(frozen=True, slots=True, kw_only=True)
class ShippingAddress:
    """Where the shipment goes; the shipping provider decides if it is deliverable."""

    name: str
    line1: str
    city: str
    postal_code: str
    country: str


def price_lines(currency: str, lines: tuple[OrderLine, ...]) -> int:
    """Subtotal of `lines` in minor units, refusing an empty order or a malformed line."""
    if not lines:
        raise EmptyOrder("an order needs at least one line")
    subtotal = Money.zero(currency)
    for line in lines:
        validate_quantity(line.quantity)
        price = Money(line.unit_price, currency)
        if price.amount < 0:
            raise InvalidMoney(f"unit price of {line.sku} is negative: {line.unit_price}")
        subtotal += price.times(line.quantity)
    return subtotal.amount
