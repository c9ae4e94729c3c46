"""The currencies a price may be in: those of ISO 4217's published table that have minor units
and are not funds.

The `iso4217` package carries the maintenance agency's table (`PUBLISHED` is its date). A
currency with minor units 0 to 4 is accepted (JPY, USD, KWD, UYW); left out are those the standard
gives no minor units ("N.A."): gold, silver and the other metals (XAU, ...), special drawing
rights (XDR), the codes for testing (XTS) and for no currency (XXX, which a cart uses
internally before its first product gives it one); and the funds the table marks `IsFund`
(USN, CLF, ...: units of account, not what a shop charges in). Amounts stay integers in minor
units (`domain.money`).
"""

from iso4217 import Currency, raw_xml
from iso4217 import __published__ as PUBLISHED

_FUNDS = frozenset(
    entry.findtext("Ccy")
    for entry in raw_xml.findall("CcyTbl/CcyNtry")
    if (name := entry.find("CcyNm")) is not None and name.get("IsFund") == "true"
)
PRICE_CURRENCIES: frozenset[str] = frozenset(
    currency.code
    for currency in Currency
    if currency.exponent is not None and currency.code not in _FUNDS
)

__all__ = ["PRICE_CURRENCIES", "PUBLISHED", "is_price_currency"]


def is_price_currency(code: object) -> bool:
    """True for an ISO 4217 code (upper case, as published) a price may be in."""
    return isinstance(code, str) and code in PRICE_CURRENCIES
