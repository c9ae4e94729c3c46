"""The per-customer spending limit: each order holds its total against it, atomically."""

from __future__ import annotations

import json
from dataclasses import dataclass

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from domain.errors import SpendingLimitExceeded

_SETTING = "spending_limit"


@dataclass(frozen=True, slots=True)
class SpendingLimit:
    """Cumulative spend allowed per customer, in minor units of `currency`; 0 means no limit."""

    amount: int
    currency: str


async def _read_limit(db: asyncpg.Pool | asyncpg.Connection | PoolConnectionProxy) -> SpendingLimit:
    value = await db.fetchval("SELECT value::text FROM shop_settings WHERE name = $1", _SETTING)
    return SpendingLimit(**json.loads(value)) if value else SpendingLimit(0, "USD")


class SpendingLimits:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def current(self) -> SpendingLimit:
        return await _read_limit(self._pool)

    async def set(self, limit: SpendingLimit) -> None:
        await self._pool.execute(
            "INSERT INTO shop_settings (name, value) VALUES ($1, $2::jsonb) ON CONFLICT (name)"
            " DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
            _SETTING,
            json.dumps({"amount": limit.amount, "currency": limit.currency}),
        )

    async def hold(self, order_id: str, customer_id: str, currency: str, amount: int) -> None:
        """Hold the order's total against the limit, or raise SpendingLimitExceeded.

        Holds of one customer are decided one at a time (an advisory lock on the customer), so
        two concurrent orders can never together pass the limit. Deciding again for the same
        order gives the same answer.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", customer_id)
            decided = await conn.fetchval(
                "SELECT status FROM spending_holds WHERE order_id = $1", order_id
            )
            if decided is None:
                decided = await self._decide(conn, order_id, customer_id, currency, amount)
        if decided == "refused":
            raise SpendingLimitExceeded(
                f"the order's {amount} {currency} would take the customer past the spending limit"
            )

    async def _decide(
        self, conn: asyncpg.Connection, order_id: str, customer_id: str, currency: str, amount: int
    ) -> str:
        limit = await _read_limit(conn)  # the held connection: never a second one from the pool
        spent = await conn.fetchval(
            "SELECT coalesce(sum(amount), 0) FROM spending_holds"
            " WHERE customer_id = $1 AND currency = $2 AND status = 'held'",
            customer_id,
            currency,
        )
        limited = limit.amount > 0 and limit.currency == currency
        status = "refused" if limited and spent + amount > limit.amount else "held"
        await conn.execute(
            "INSERT INTO spending_holds (order_id, customer_id, currency, amount, status)"
            " VALUES ($1, $2, $3, $4, $5)",
            order_id, customer_id, currency, amount, status,
        )  # fmt: skip
        return status

    async def lower(self, order_id: str, amount: int) -> None:
        """The order shrank (an accepted amendment): it holds only its new total. Lowering a
        hold can never pass the limit, so nothing is decided again."""
        await self._pool.execute(
            "UPDATE spending_holds SET amount = LEAST(amount, $2)"
            " WHERE order_id = $1 AND status = 'held'",
            order_id,
            amount,
        )

    async def release(self, order_id: str) -> bool:
        """The order failed or was cancelled: its total no longer counts."""
        status = await self._pool.execute(
            "UPDATE spending_holds SET status = 'released' WHERE order_id = $1 AND status = 'held'",
            order_id,
        )
        return status != "UPDATE 0"
