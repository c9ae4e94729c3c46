"""Money: integer minor units in one currency."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import CurrencyMismatch, InvalidMoney
from domain.money import Money


def test_amounts_in_the_same_currency_add_and_subtract() -> None:
    assert Money(1999, "USD") + Money(1, "USD") == Money(2000, "USD")
    assert Money(500, "EUR") - Money(700, "EUR") == Money(-200, "EUR")


def test_times_multiplies_by_whole_numbers() -> None:
    assert Money(250, "GBP").times(4) == Money(1000, "GBP")


@pytest.mark.parametrize("n", [1.5, True])
def test_times_refuses_non_integers(n: object) -> None:
    with pytest.raises(InvalidMoney):
        Money(250, "GBP").times(n)  # type: ignore[arg-type]


def test_zero_is_zero_in_the_given_currency() -> None:
    assert Money.zero("JPY") == Money(0, "JPY")


@pytest.mark.parametrize("operation", ["__add__", "__sub__"])
def test_arithmetic_across_currencies_is_refused(operation: str) -> None:
    with pytest.raises(CurrencyMismatch):
        getattr(Money(1, "USD"), operation)(Money(1, "EUR"))


@pytest.mark.parametrize("amount", [1.0, True, "100", None])
def test_amount_must_be_an_int(amount: object) -> None:
    with pytest.raises(InvalidMoney):
        Money(amount, "USD")  # type: ignore[arg-type]


@pytest.mark.parametrize("currency", ["usd", "US", "USDT", "", "U1D", "ÜSD", 840])
def test_currency_must_be_three_uppercase_letters(currency: object) -> None:
    with pytest.raises(InvalidMoney):
        Money(1, currency)  # type: ignore[arg-type]


def test_money_is_immutable_and_hashable() -> None:
    price = Money(100, "USD")
    assert {price, Money(100, "USD")} == {price}
    with pytest.raises(AttributeError):
        price.amount = 5  # type: ignore[misc]


def test_adding_something_else_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        Money(1, "USD") + 1  # type: ignore[operator]


@given(st.integers(), st.integers(), st.integers(-1000, 1000))
def test_arithmetic_matches_integer_arithmetic(a: int, b: int, n: int) -> None:
    x, y = Money(a, "CHF"), Money(b, "CHF")
    assert (x + y).amount == a + b
    assert (x - y + y) == x
    assert x.times(n).amount == a * n
