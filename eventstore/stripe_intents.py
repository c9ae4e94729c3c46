"""Which Stripe PaymentIntent each payment call of an order made, by its idempotency key."""

from __future__ import annotations

import asyncpg


class PaymentIntentNotes:
    """Notes written before a Stripe call that may create or capture a PaymentIntent, completed
    with its id once Stripe names it (table `stripe_payment_intents`)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def attempt(self, key: str, order_id: str) -> tuple[bool, str | None]:
        """Note a call under `key`; returns (an earlier call was noted, the PaymentIntent known
        for `key` or None)."""
        row = await self._pool.fetchrow(
            "WITH new AS (INSERT INTO stripe_payment_intents (idempotency_key, order_id)"
            " VALUES ($1, $2) ON CONFLICT (idempotency_key) DO NOTHING RETURNING 1)"
            " SELECT EXISTS (SELECT 1 FROM new) AS fresh, (SELECT payment_intent_id"
            " FROM stripe_payment_intents WHERE idempotency_key = $1) AS payment_intent_id",
            key, order_id,
        )  # fmt: skip
        assert row is not None
        return not row["fresh"], row["payment_intent_id"]

    async def payment_intent_of(self, key: str) -> str | None:
        value: str | None = await self._pool.fetchval(
            "SELECT payment_intent_id FROM stripe_payment_intents WHERE idempotency_key = $1", key
        )
        return value

    async def record(self, key: str, order_id: str, payment_intent_id: str) -> str:
        """Name the PaymentIntent of `key`; the first named wins and is returned."""
        value: str = await self._pool.fetchval(
            "INSERT INTO stripe_payment_intents (idempotency_key, order_id, payment_intent_id)"
            " VALUES ($1, $2, $3) ON CONFLICT (idempotency_key) DO UPDATE"
            " SET payment_intent_id = coalesce(stripe_payment_intents.payment_intent_id,"
            " EXCLUDED.payment_intent_id) RETURNING payment_intent_id",
            key, order_id, payment_intent_id,
        )  # fmt: skip
        return value

    async def of_order(self, order_id: str) -> list[str]:
        """Every PaymentIntent noted for the order, oldest first."""
        rows = await self._pool.fetch(
            "SELECT DISTINCT ON (payment_intent_id) payment_intent_id, noted_at"
            " FROM stripe_payment_intents WHERE order_id = $1 AND payment_intent_id IS NOT NULL"
            " ORDER BY payment_intent_id, noted_at",
            order_id,
        )
        return [r["payment_intent_id"] for r in sorted(rows, key=lambda r: r["noted_at"])]
