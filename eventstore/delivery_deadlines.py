"""Delivery deadlines: when each completed order's parcel must have been delivered, so one sweep
finds the late ones without a workflow (or a timer) per order."""

from __future__ import annotations

from datetime import datetime

import asyncpg


class DeliveryDeadlines:
    """`delivery_deadlines`: one row per completed order, settled once it was marked overdue or
    needs no watching (a final carrier report, a cancel)."""

    def __init__(self, pool: asyncpg.Pool | asyncpg.Connection) -> None:
        self._db = pool

    async def set(self, order_id: str, due_at: datetime) -> datetime:
        """Keep the order's deadline and answer it: the first one set wins, so a retry of the
        completion records the same deadline as the attempt that set it."""
        kept: datetime = await self._db.fetchval(
            "INSERT INTO delivery_deadlines (order_id, due_at) VALUES ($1, $2)"
            " ON CONFLICT (order_id) DO UPDATE SET order_id = EXCLUDED.order_id RETURNING due_at",
            order_id,
            due_at,
        )
        return kept

    async def due(self, limit: int = 100) -> list[str]:
        """Orders past their deadline and not settled, the longest overdue first."""
        rows = await self._db.fetch(
            "SELECT order_id FROM delivery_deadlines WHERE NOT settled AND due_at <= now()"
            " ORDER BY due_at LIMIT $1",
            limit,
        )
        return [row["order_id"] for row in rows]

    async def settle(self, order_ids: list[str]) -> None:
        await self._db.execute(
            "UPDATE delivery_deadlines SET settled = true WHERE order_id = ANY($1::text[])",
            order_ids,
        )
