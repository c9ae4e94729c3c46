"""The carrier webhook's inbox (one answer per carrier event id) and tracking-number lookup."""

from __future__ import annotations

import json
from typing import Any

import asyncpg


class CarrierInbox:
    """Remembers the answer given to each carrier event, so a replayed one gets it again."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def answer_of(self, event_id: str) -> tuple[int, dict[str, Any]] | None:
        row = await self._pool.fetchrow(
            "SELECT http_status, answer FROM carrier_events WHERE event_id = $1", event_id
        )
        return None if row is None else (row["http_status"], json.loads(row["answer"]))

    async def keep(
        self, event_id: str, order_id: str, status: str, http_status: int, answer: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        """Store the answer unless one is stored already; returns the stored one (first wins)."""
        await self._pool.execute(
            "INSERT INTO carrier_events (event_id, order_id, status, http_status, answer)"
            " VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT (event_id) DO NOTHING",
            event_id, order_id, status, http_status, json.dumps(answer),
        )  # fmt: skip
        kept = await self.answer_of(event_id)
        assert kept is not None
        return kept

    async def order_for_tracking_number(self, tracking_number: str) -> str | None:
        order_id: str | None = await self._pool.fetchval(
            "SELECT data ->> 'order_id' FROM events WHERE event_type = 'ShipmentCreated'"
            " AND data ->> 'tracking_number' = $1 LIMIT 1",
            tracking_number,
        )
        return order_id
