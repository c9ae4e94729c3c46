"""The sandbox payment gateway's ledger, read per order: the provider's own records for
reconciliation (`activities/sandbox_records.py` turns them into its answer)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True, slots=True)
class PaymentEffect:
    """One row of the sandbox payment ledger. `operation`: authorize, capture, void or refund;
    `detail`: the authorization a void released, the capture a refund gave back from;
    `action_status`: for an authorization that needed the customer (3-D Secure), where that
    stands (requires_action, authorized, failed), else None."""

    order_id: str
    operation: str
    reference: str
    amount: int | None
    detail: str | None
    action_status: str | None


class SandboxPaymentLedger:
    """Reads `sandbox_ledger` (payment rows) and `sandbox_payment_actions`."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def effects_of(self, order_ids: Sequence[str]) -> list[PaymentEffect]:
        """The orders' payment effects, oldest first."""
        rows = await self._pool.fetch(
            "SELECT l.order_id, l.operation, l.reference, l.amount, l.detail,"
            " a.status AS action_status"
            " FROM sandbox_ledger l"
            " LEFT JOIN sandbox_payment_actions a ON a.authorization_id = l.reference"
            " WHERE l.provider = 'payment' AND l.order_id = ANY($1::text[])"
            " ORDER BY l.created_at, l.idempotency_key",
            list(order_ids),
        )
        return [PaymentEffect(**dict(row)) for row in rows]

    async def orders_since(self, since: datetime | None) -> set[str]:
        """Orders with a payment effect at or after `since` (all when None)."""
        rows = await self._pool.fetch(
            "SELECT DISTINCT order_id FROM sandbox_ledger"
            " WHERE provider = 'payment' AND ($1::timestamptz IS NULL OR created_at >= $1)",
            since,
        )
        return {row["order_id"] for row in rows}
