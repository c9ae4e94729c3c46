"""The orders placed since a time, in the order they were placed, page by page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import asyncpg

from eventstore.orders import order_stream

_PREFIX = order_stream("")


class PlacedOrders:
    """Order ids by their OrderPlaced event (index `events_orders_placed`)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def since(self, since: datetime | None, page: int = 500) -> AsyncIterator[list[str]]:
        """Pages of the ids of orders placed at or after `since` (all when None), oldest first."""
        after: tuple[datetime, int] | None = None
        while True:
            rows = await self._pool.fetch(
                "SELECT stream_id, recorded_at, global_position FROM events"
                " WHERE event_type = 'OrderPlaced'"
                " AND ($1::timestamptz IS NULL OR recorded_at >= $1)"
                " AND ($2::timestamptz IS NULL OR (recorded_at, global_position) > ($2, $3))"
                " ORDER BY recorded_at, global_position LIMIT $4",
                since, after[0] if after else None, after[1] if after else 0, page,
            )  # fmt: skip
            ids = [
                r["stream_id"].removeprefix(_PREFIX)
                for r in rows
                if r["stream_id"].startswith(_PREFIX)
            ]
            if ids:
                yield ids
            if len(rows) < page:
                return
            after = (rows[-1]["recorded_at"], rows[-1]["global_position"])
