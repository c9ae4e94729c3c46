"""A priced line as the API shows it, in carts and in orders alike."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel


class PricedLine(Protocol):
    @property
    def sku(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def quantity(self) -> int: ...
    @property
    def unit_price(self) -> int: ...
    @property
    def line_total(self) -> int: ...


class LineItem(BaseModel):
    """One sku at the catalog's unit price; money in minor units of the owner's currency."""

    sku: str
    name: str
    quantity: int
    unit_price: int
    line_total: int

    @classmethod
    def of(cls, line: PricedLine) -> LineItem:
        return cls(
            sku=line.sku,
            name=line.name,
            quantity=line.quantity,
            unit_price=line.unit_price,
            line_total=line.line_total,
        )
