"""Cart rules: quantities, merging lines, integer subtotal, conversion."""

import pytest

from domain.cart import MAX_LINE_QUANTITY, Cart, CartStatus, validate_quantity
from domain.errors import CartLineNotFound, CartNotActive, InvalidMoney, InvalidQuantity


def cart() -> Cart:
    return Cart(id="cart-1", customer_id="c-1", currency="USD")


@pytest.mark.parametrize("quantity", [0, -1, MAX_LINE_QUANTITY + 1, True, 1.0])
def test_quantity_outside_1_to_1000_is_refused(quantity: int) -> None:
    with pytest.raises(InvalidQuantity):
        validate_quantity(quantity)


def test_zero_quantity_is_allowed_only_when_it_means_remove() -> None:
    assert validate_quantity(0, allow_zero=True) == 0
    assert validate_quantity(MAX_LINE_QUANTITY) == MAX_LINE_QUANTITY


def test_adding_an_existing_sku_adds_to_its_quantity() -> None:
    updated = cart().add_item("SKU-1", "Mug", 2, 1250).add_item("SKU-1", "Mug", 3, 1250)
    assert [(line.sku, line.quantity) for line in updated.lines] == [("SKU-1", 5)]
    assert updated.subtotal == 6250


def test_adding_beyond_the_line_maximum_is_refused() -> None:
    full = cart().add_item("SKU-1", "Mug", MAX_LINE_QUANTITY, 1)
    with pytest.raises(InvalidQuantity):
        full.add_item("SKU-1", "Mug", 1, 1)


def test_setting_quantity_zero_removes_the_line() -> None:
    updated = cart().add_item("SKU-1", "Mug", 2, 1250).add_item("SKU-2", "Tea", 1, 499)
    assert updated.set_quantity("SKU-1", 0).lines == updated.remove_item("SKU-1").lines
    assert updated.set_quantity("SKU-2", 4).subtotal == 2 * 1250 + 4 * 499


def test_setting_quantity_of_absent_sku_is_refused() -> None:
    with pytest.raises(CartLineNotFound):
        cart().set_quantity("SKU-404", 1)


def test_removing_an_absent_sku_changes_nothing() -> None:
    assert cart().remove_item("SKU-404") == cart()


def test_converted_cart_cannot_be_changed_or_converted_again() -> None:
    converted = cart().add_item("SKU-1", "Mug", 1, 100).convert()
    assert converted.status is CartStatus.CONVERTED
    for change in (
        lambda: converted.add_item("SKU-2", "Tea", 1, 499),
        lambda: converted.set_quantity("SKU-1", 2),
        lambda: converted.remove_item("SKU-1"),
        converted.convert,
    ):
        with pytest.raises(CartNotActive):
            change()


def test_cart_refuses_malformed_currency() -> None:
    with pytest.raises(InvalidMoney):
        Cart(id="cart-1", customer_id="c-1", currency="dollars")
