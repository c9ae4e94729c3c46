"""Placing an order validates lines and currency before any event exists."""

import pytest

from domain.errors import EmptyOrder, InvalidMoney, InvalidQuantity
from domain.events import OrderLine
from domain.order import Order
from tests.unit.order_scenarios import ADDRESS, LINES


def line(quantity: int = 1, unit_price: int = 100) -> OrderLine:
    return OrderLine(sku="SKU-9", name="Thing", quantity=quantity, unit_price=unit_price)


def place(lines: tuple[OrderLine, ...] = LINES, currency: str = "USD") -> Order:
    return Order.place("o-1", "c-1", "cart-1", currency, lines, ADDRESS)


def test_order_without_lines_is_refused() -> None:
    with pytest.raises(EmptyOrder):
        place(())


@pytest.mark.parametrize("quantity", [0, -1, 1001, True])
def test_line_quantity_outside_1_to_1000_is_refused(quantity: int) -> None:
    with pytest.raises(InvalidQuantity):
        place((line(quantity=quantity),))


def test_negative_unit_price_is_refused() -> None:
    with pytest.raises(InvalidMoney):
        place((line(unit_price=-1),))


def test_float_unit_price_is_refused() -> None:
    with pytest.raises(InvalidMoney):
        place((line(unit_price=1.5),))  # type: ignore[arg-type]


@pytest.mark.parametrize("currency", ["usd", "US", "EURO", "", "12A"])
def test_malformed_currency_is_refused(currency: str) -> None:
    with pytest.raises(InvalidMoney):
        place(currency=currency)


def test_free_items_and_maximum_quantity_are_accepted() -> None:
    order = place((line(quantity=1000, unit_price=0), line(quantity=3, unit_price=7)))
    assert order.subtotal == order.total == 21


def test_line_total_is_quantity_times_unit_price() -> None:
    assert line(quantity=3, unit_price=250).line_total == 750
