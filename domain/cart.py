"""Cart rules shared by the API's cart store: quantities, lines, subtotal, prices, checkout."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from domain.errors import (
    CartLineNotFound,
    CartNotActive,
    CurrencyMismatch,
    DomainError,
    EmptyOrder,
    InvalidQuantity,
)
from domain.money import Money

MAX_LINE_QUANTITY = 1000
NO_CURRENCY = "XXX"  # ISO 4217 "no currency": a new cart takes its first product's currency


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
class CatalogPrice:
    """What the catalog sells `sku` for right now: its name and unit price in minor units of
    `currency`. A product that is no longer sold has no price."""

    sku: str
    name: str
    unit_price: int
    currency: str


# The current prices of some skus, by sku; a sku that is no longer sold is absent.
Prices = Mapping[str, CatalogPrice]


class ProductsNotSold(DomainError):
    """Checkout refused: these lines are no longer sold, or not in the cart's currency."""

    def __init__(self, skus: Iterable[str], currency: str) -> None:
        self.skus = sorted(skus)
        super().__init__(f"no longer sold in {currency}: {', '.join(self.skus)}")


class TotalChanged(DomainError):
    """Checkout refused: at today's prices the cart's total is not the one the customer saw."""

    def __init__(self, expected_total: int, total: int, currency: str) -> None:
        self.expected_total = expected_total
        self.total = total
        super().__init__(
            f"the cart's total is now {total} {currency} (minor units), not {expected_total}"
        )


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

    @classmethod
    def given_back(
        cls, cart_id: str, customer_id: str, currency: str, lines: Iterable[CartLine],
        prices: Prices,
    ) -> "Cart":  # fmt: skip
        """The retry cart of an order whose payment was never authorized: the order's skus and
        quantities at the catalog's `prices` now; a line no longer sold keeps the order's price
        and is named by `unsold_skus` (checkout refuses it until it is removed)."""
        cart = cls(id=cart_id, customer_id=customer_id, currency=currency, lines=tuple(lines))
        return cart.repriced(prices)

    @property
    def subtotal(self) -> int:
        return sum(line.line_total for line in self.lines)

    def in_currency_of(self, price: CatalogPrice) -> "Cart":
        """The cart, ready to take `price`'s product: a cart without a currency takes its
        currency; a cart in another currency raises CurrencyMismatch."""
        if self.currency == NO_CURRENCY:
            return replace(self, currency=price.currency)
        if price.currency != self.currency:
            raise CurrencyMismatch(
                f"{price.sku} is priced in {price.currency}, the cart is in {self.currency}"
            )
        return self

    def add_item(self, sku: str, name: str, quantity: int, unit_price: int) -> "Cart":
        """Add `quantity` of `sku`, on top of what the cart already holds."""
        self.require_active()
        validate_quantity(quantity)
        existing = self._find(sku)
        if existing is None:
            line = CartLine(sku=sku, name=name, quantity=quantity, unit_price=unit_price)
            return replace(self, lines=(*self.lines, line))
        return self.set_quantity(sku, existing.quantity + quantity)

    def set_quantity(self, sku: str, quantity: int) -> "Cart":
        """Set the line's quantity; zero removes the line."""
        self.require_active()
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
        self.require_active()
        return replace(self, lines=tuple(line for line in self.lines if line.sku != sku))

    def convert(self) -> "Cart":
        """Mark the cart as checked out; a cart converts into at most one order."""
        self.require_active()
        return replace(self, status=CartStatus.CONVERTED)

    def repriced(self, prices: Prices) -> "Cart":
        """Every line at its current catalog name and price; a line no longer sold in the
        cart's currency keeps the last price it had (see `unsold_skus`)."""
        lines = tuple(
            replace(line, name=price.name, unit_price=price.unit_price)
            if (price := self._price_of(line.sku, prices)) is not None
            else line
            for line in self.lines
        )
        return replace(self, lines=lines)

    def unsold_skus(self, prices: Prices) -> list[str]:
        """Skus of lines the catalog no longer sells, or no longer sells in this currency."""
        return sorted(line.sku for line in self.lines if self._price_of(line.sku, prices) is None)

    def check_out(self, prices: Prices, expected_total: int | None = None) -> "Cart":
        """The converted cart, every line priced from the catalog at this moment.

        Raises EmptyOrder (no lines), ProductsNotSold (lines no longer sold in the cart's
        currency) or TotalChanged (`expected_total`, minor units, given and not the total)."""
        self.require_active()
        if not self.lines:
            raise EmptyOrder(f"cart {self.id} has no items")
        unsold = self.unsold_skus(prices)
        if unsold:
            raise ProductsNotSold(unsold, self.currency)
        priced = self.repriced(prices)
        if expected_total is not None and expected_total != priced.subtotal:
            raise TotalChanged(expected_total, priced.subtotal, self.currency)
        return replace(priced, status=CartStatus.CONVERTED)

    def _price_of(self, sku: str, prices: Prices) -> CatalogPrice | None:
        price = prices.get(sku)
        return price if price is not None and price.currency == self.currency else None

    def _find(self, sku: str) -> CartLine | None:
        return next((line for line in self.lines if line.sku == sku), None)

    def require_active(self) -> None:
        """Raise CartNotActive unless the cart can still change."""
        if self.status is not CartStatus.ACTIVE:
            raise CartNotActive(
                f"cart {self.id} is being checked out or already was ({self.status});"
                " it can no longer change"
            )
