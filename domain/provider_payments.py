"""What the payment provider says happened to an order's money: its answer to reconciliation
(`activities/payment_records.py`), in the provider's references and minor units."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class AuthorizationStatus(StrEnum):
    """An authorization at the provider: OPEN holds the customer's money; REQUIRES_ACTION waits
    for the customer (3-D Secure) and holds nothing yet; FAILED was never granted."""

    OPEN = "open"
    REQUIRES_ACTION = "requires_action"
    CAPTURED = "captured"
    VOIDED = "voided"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ProviderAuthorization:
    authorization_id: str
    amount: int
    status: AuthorizationStatus


@dataclass(frozen=True, slots=True)
class ProviderMovement:
    """A capture or a refund at the provider: its reference and amount."""

    reference: str
    amount: int


@dataclass(frozen=True, slots=True)
class ProviderPayments:
    """What the payment provider says happened to one order's money."""

    order_id: str
    authorizations: tuple[ProviderAuthorization, ...] = ()
    captures: tuple[ProviderMovement, ...] = ()
    refunds: tuple[ProviderMovement, ...] = ()
