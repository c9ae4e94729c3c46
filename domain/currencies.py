"""The currencies a price may be in: those of ISO 4217's published table that have minor units.

The `iso4217` package carries the maintenance agency's table (`PUBLISHED` is its date). A
currency with minor units 0 to 4 is accepted (JPY, USD, KWD, CLF); those the standard gives
none ("N.A.") are not: gold, silver and the other metals (XAU, ...), special drawing rights
(XDR), the codes for testing (XTS) and for no currency (XXX, which a cart uses internally
before its first product gives it one). Amounts stay integers in minor units (`domain.money`).
"""

from iso4217 import Currency
from iso4217 import __published__ as PUBLISHED

PRICE_CURRENCIES: frozenset[str] = frozenset(
    currency.code for currency in Currency if currency.exponent is not None
)

__all__ = ["PRICE_CURRENCIES", "PUBLISHED", "is_price_currency"]


def is_price_currency(code: object) -> bool:
    """True for an ISO 4217 code (upper case, as published) a price may be in."""
    return isinstance(code, str) and code in PRICE_CURRENCIES
