"""Input types shared by request bodies."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field

from domain.countries import is_country
from domain.currencies import is_price_currency

# Embeddings, overrides and isolates (LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI): they reorder
# how the text around them is shown, so a name could display as something else (Trojan Source,
# CVE-2021-42574). Marks (LRM, RLM) only steer neutral characters and stay allowed.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Cc: C0/C1 controls (NUL, BEL, ESC, newline, ...); Zl, Zp: line and paragraph separators.
_LINE_BREAKING = frozenset({"Cc", "Zl", "Zp"})


def _storable(text: str) -> str:
    """PostgreSQL text holds neither NUL nor lone surrogates (which JSON escapes can carry)."""
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError("must be valid Unicode text") from error
    return text


def _displayable(text: str) -> str:
    """One line as people will see it: no control characters, no line breaks, no bidirectional
    embedding, override or isolate characters."""
    for char in text:
        if char in BIDI_CONTROLS:
            raise ValueError(f"must not contain the bidirectional control U+{ord(char):04X}")
        if unicodedata.category(char) in _LINE_BREAKING:
            raise ValueError(f"must not contain the control character U+{ord(char):04X}")
    return text


def _utc_representable(moment: datetime) -> datetime:
    """A time whose zone puts it outside years 1 to 9999 once in UTC (`0001-01-01T00:00+14:00`)
    cannot be compared or stored: refused here rather than overflowing in a query."""
    if moment.tzinfo is not None:
        try:
            moment.astimezone(UTC)
        except OverflowError as error:
            raise ValueError("must fall within years 1 to 9999 in UTC") from error
    return moment


def _price_currency(code: str) -> str:
    if not is_price_currency(code):
        raise ValueError(
            f"{code!r} is not an ISO 4217 currency a price may be in (e.g. USD, EUR, JPY)"
        )
    return code


def _country(code: str) -> str:
    if not is_country(capitals := code.upper()):
        raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code (e.g. US, GB, DE)")
    return capitals


StorableText = Annotated[str, AfterValidator(_storable)]
# Either case is taken, as before; the order keeps it in capitals.
CountryCode = Annotated[
    str,
    Field(
        min_length=2,
        max_length=2,
        pattern="^[A-Za-z]{2}$",
        description="an ISO 3166-1 alpha-2 country code, either case (kept in capitals)",
    ),
    AfterValidator(_country),
]
# The three capital letters show in the OpenAPI document; the list itself is the domain's.
CurrencyCode = Annotated[
    str,
    Field(
        pattern=r"^[A-Z]{3}$",
        examples=["USD"],
        description="an ISO 4217 currency with minor units (not XXX, XTS, a metal or a fund)",
    ),
    AfterValidator(_price_currency),
]
DisplayText = Annotated[str, AfterValidator(_storable), AfterValidator(_displayable)]
"""Text shown to people (names, address lines, reasons): StorableText on one line, without
control or bidirectional control characters."""
Moment = Annotated[datetime, AfterValidator(_utc_representable)]
"""A date or time, with or without a zone, that falls within years 1 to 9999 in UTC."""
AwareMoment = Annotated[AwareDatetime, AfterValidator(_utc_representable)]
"""A Moment that carries its zone."""
