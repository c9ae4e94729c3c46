"""Partial availability: the saga offers the customer the lines it can fill, at a new total.

A line whose stock is short is dropped whole (never reduced to what is left): the customer
agreed to each line's quantity, and an order with nothing left to keep fails as before.
"""

from dataclasses import dataclass

from domain.event_base import DomainEvent
from domain.values import OrderLine


@dataclass(frozen=True, slots=True, kw_only=True)
class Amendment:
    """The offer shown to the customer: the lines kept and what they cost; `status` is
    proposed, accepted, declined or expired."""

    lines: tuple[OrderLine, ...]
    subtotal: int
    total: int
    dropped_skus: tuple[str, ...]
    original_subtotal: int
    original_total: int
    status: str = "proposed"


@dataclass(frozen=True, slots=True, kw_only=True)
class AmendmentProposed(DomainEvent):
    """Some lines are out of stock: the order waits for the customer to accept the rest."""

    lines: tuple[OrderLine, ...]
    subtotal: int
    total: int
    dropped_skus: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class AmendmentAccepted(DomainEvent):
    """The customer accepted the amended order; its lines and totals replace the original's
    (which OrderPlaced keeps)."""

    lines: tuple[OrderLine, ...]
    subtotal: int
    total: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AmendmentDeclined(DomainEvent):
    """The customer cancelled instead of accepting the amended order."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AmendmentExpired(DomainEvent):
    """The customer did not answer within `timeout_s`; the order is cancelled."""

    timeout_s: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentReauthorized(DomainEvent):
    """The original authorization was voided and `amount`, the amended total, authorized."""

    superseded_authorization_id: str
    authorization_id: str
    amount: int
