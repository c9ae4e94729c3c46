"""Cart prices: re-pricing from the catalog, lines no longer sold, and checkout's refusals."""

import pytest

from domain.cart import (
    NO_CURRENCY,
    Cart,
    CartStatus,
    CatalogPrice,
    ProductsNotSold,
    TotalChanged,
)
from domain.errors import CartNotActive, CurrencyMismatch, EmptyOrder


def price(sku: str, unit_price: int, currency: str = "USD", name: str = "") -> CatalogPrice:
    return CatalogPrice(sku=sku, name=name or sku.title(), unit_price=unit_price, currency=currency)


def cart(*lines: tuple[str, int, int]) -> Cart:
    held = Cart(id="cart-1", customer_id="c-1", currency="USD")
    for sku, quantity, unit_price in lines:
        held = held.add_item(sku, sku.title(), quantity, unit_price)
    return held


def test_repricing_takes_every_lines_current_name_and_price() -> None:
    repriced = cart(("MUG", 2, 1000), ("TEA", 1, 499)).repriced(
        {"MUG": price("MUG", 2000, name="Big mug"), "TEA": price("TEA", 450)}
    )
    assert [(x.sku, x.name, x.unit_price) for x in repriced.lines] == [
        ("MUG", "Big mug", 2000),
        ("TEA", "Tea", 450),
    ]
    assert repriced.subtotal == 4450


def test_a_line_no_longer_sold_or_sold_in_another_currency_keeps_its_price_and_is_unsold() -> None:
    held = cart(("MUG", 1, 1000), ("TEA", 1, 499), ("CAP", 1, 250))
    prices = {"MUG": price("MUG", 1100), "TEA": price("TEA", 500, currency="EUR")}
    assert [x.unit_price for x in held.repriced(prices).lines] == [1100, 499, 250]
    assert held.unsold_skus(prices) == ["CAP", "TEA"]


def test_checkout_prices_every_line_and_converts() -> None:
    converted = cart(("MUG", 3, 1000)).check_out({"MUG": price("MUG", 1200)}, expected_total=3600)
    assert converted.status is CartStatus.CONVERTED
    assert (converted.lines[0].unit_price, converted.subtotal) == (1200, 3600)


def test_checkout_names_the_skus_no_longer_sold() -> None:
    with pytest.raises(ProductsNotSold) as refused:
        cart(("MUG", 1, 1000), ("TEA", 1, 499)).check_out({"TEA": price("TEA", 499, "EUR")})
    assert refused.value.skus == ["MUG", "TEA"]
    assert "MUG, TEA" in str(refused.value)


def test_checkout_refuses_a_total_the_customer_did_not_see() -> None:
    with pytest.raises(TotalChanged) as refused:
        cart(("MUG", 2, 1000)).check_out({"MUG": price("MUG", 1100)}, expected_total=2000)
    assert (refused.value.expected_total, refused.value.total) == (2000, 2200)


def test_checkout_refuses_an_empty_or_converted_cart() -> None:
    with pytest.raises(EmptyOrder):
        cart().check_out({})
    converted = cart(("MUG", 1, 1000)).convert()
    with pytest.raises(CartNotActive):
        converted.check_out({"MUG": price("MUG", 1000)})


def test_a_cart_without_currency_takes_its_first_products_and_refuses_others() -> None:
    new = Cart(id="cart-2", customer_id="c-1", currency=NO_CURRENCY)
    in_sek = new.in_currency_of(price("MUG", 100, "SEK"))
    assert in_sek.currency == "SEK"
    with pytest.raises(CurrencyMismatch):
        in_sek.in_currency_of(price("TEA", 100, "USD"))
