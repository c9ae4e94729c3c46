"""Cart rules shared by the API's cart store: quantities, lines, subtotal."""

from dataclasses import dataclass, replace
from enum import StrEnum

from domain.errors import CartLineNotFound, CartNotActive, InvalidQuantity
from domain.money import Money

MAX_LINE_QUANTITY = 1000


def validate_quantity(quantity: int, allow_zero: bool = False) -> int:
    """Return `quantity` if it is a whole number in range; zero only when it means "remove"."""
    lowest = 0 if allow_zero else 1
    if type(quantity) is not int or not lowest <= quantity <= MAX_LINE_QUANTITY:
        raise InvalidQuantity(
            f"quantity must be an integer from {lowest} to {MAX_LINE_QUANTITY}, got {quantity!r}"
        )
    return quantity


class CartStatus(StrEnum):
    """A cart is editable while active; checkout converts it, once."""

    ACTIVE = "active"
    CONVERTED = "converted"


@dataclass(frozen=True, slots=True, kw_only=True)
class CartLine:
    """One sku at the catalog's unit price (minor units), in a cart and, once checked out, in
    its order (`domain.values.OrderLine` is this class)."""

    sku: str
    name: str
    quantity: int
    unit_price: int

    @property
    def line_total(self) -> int:
        return self.quantity * self.unit_price


@dataclass(frozen=True, slots=True, kw_only=True)
class Cart:
    """A customer's cart; changes return a new cart so the store can compare and swap."""

    id: str
    customer_id: str
    currency: str
    status: CartStatus = CartStatus.ACTIVE
    lines: tuple[CartLine, ...] = ()

    def __post_init__(self) -> None:
        Money.zero(self.currency)  # refuses a malformed currency code

    @property
    def subtotal(self) -> int:
        return sum(line.line_total for line in self.lines)

    def add_item(self, sku: str, name: str, quantity: int, unit_price: int) -> "Cart":
        """Add `quantity` of `sku`, on top of what the cart already holds."""
        self._require_active()
        validate_quantity(quantity)
        existing = self._find(sku)
        if existing is None:
            line = CartLine(sku=sku, name=name, quantity=quantity, unit_price=unit_price)
            return replace(self, lines=(*self.lines, line))
        return self.set_quantity(sku, existing.quantity + quantity)

    def set_quantity(self, sku: str, quantity: int) -> "Cart":
        """Set the line's quantity; zero removes the line."""
        self._require_active()
        validate_quantity(quantity, allow_zero=True)
        if self._find(sku) is None:
            raise CartLineNotFound(f"cart has no line for sku {sku!r}")
        if quantity == 0:
            return self.remove_item(sku)
        lines = tuple(
            replace(line, quantity=quantity) if line.sku == sku else line for line in self.lines
        )
        return replace(self, lines=lines)

    def remove_item(self, sku: str) -> "Cart":
        """Drop the line; an absent sku changes nothing, so a retried DELETE is harmless."""
        self._require_active()
        return replace(self, lines=tuple(line for line in self.lines if line.sku != sku))

    def convert(self) -> "Cart":
        """Mark the cart as checked out; a cart converts into at most one order."""
        self._require_active()
        return replace(self, status=CartStatus.CONVERTED)

    def _find(self, sku: str) -> CartLine | None:
        return next((line for line in self.lines if line.sku == sku), None)

    def _require_active(self) -> None:
        if self.status is not CartStatus.ACTIVE:
            raise CartNotActive(f"cart {self.id} is {self.status} and cannot be changed")
