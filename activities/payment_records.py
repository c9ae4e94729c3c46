"""What reconciliation asks the payment provider: its own record of each order's money.

A provider plugs in by implementing `PaymentRecords` over its own data (the sandbox's ledger,
Stripe's PaymentIntents by `metadata.order_id` with their charges and refunds). The rules that
compare both sides live in `domain/reconciliation.py`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from domain.provider_payments import ProviderPayments


class PaymentRecords(Protocol):
    """The payment provider's record of orders, read only."""

    async def payments_of(self, order_ids: Sequence[str]) -> Mapping[str, ProviderPayments]:
        """Each order's authorizations (with their status), captures and refunds as the
        provider holds them, amounts in minor units; an order it knows nothing of maps to an
        empty `ProviderPayments`. Raises ProviderUnavailable when the provider cannot say."""
        ...

    async def orders_since(self, since: datetime | None) -> set[str]:
        """Ids of the orders the provider moved money for at or after `since` (every order when
        None), so that money it holds for an order we never recorded is found too. Raises
        ProviderUnavailable."""
        ...
