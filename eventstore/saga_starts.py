"""The saga-start outbox (table `saga_starts`): each checkout's request to start its order's saga,
kept until Temporal has the saga, so that no placed order is left without one.

Rows hold the saga's input only sealed (encrypted by the caller; this module never sees a payment
token) and drop it once the saga has started. Checkout writes a row before it appends OrderPlaced
and marks it after starting the saga; the worker's reconciler starts the rows left unmarked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import asyncpg

from eventstore.orders import order_stream

StartedBy = Literal["checkout", "reconciler", "earlier"]

# A row whose order was never placed (the checkout failed before OrderPlaced and was not repeated)
# is forgotten after this: far longer than any request takes, and a repeat of that checkout
# records it again before placing the order.
ABANDONED_AFTER = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class PendingStart:
    """An unmarked start request and how far its order got. `stream_version` is 0 when the order
    was never placed, 1 when only OrderPlaced is recorded, more once a saga has recorded a step."""

    order_id: str
    total: int  # minor units
    sealed_input: bytes
    requested_at: datetime
    stream_version: int


class SagaStarts:
    """The outbox through a pool, or through one connection (the reconciler's leader's, so that
    losing it, and with it leadership, fails the pass)."""

    def __init__(self, pool: asyncpg.Pool | asyncpg.Connection) -> None:
        self._pool = pool

    async def record(self, order_id: str, total: int, sealed_input: bytes) -> bool:
        """Keep an order's start request; returns True when its saga is known to have started
        already (a repeat of a finished checkout), so the caller need not ask Temporal.

        The first request recorded for an order stays; a repeat only renews an unmarked one's
        time, so the reconciler cannot forget it as abandoned while it is being placed. One
        statement.
        """
        started_at = await self._pool.fetchval(
            "WITH recorded AS (INSERT INTO saga_starts (order_id, total, sealed_input)"
            " VALUES ($1, $2, $3) ON CONFLICT (order_id) DO UPDATE SET requested_at = now()"
            " WHERE saga_starts.started_at IS NULL RETURNING started_at)"
            " SELECT started_at FROM recorded UNION ALL SELECT started_at FROM saga_starts"
            " WHERE order_id = $1 AND NOT EXISTS (SELECT FROM recorded)",
            order_id, total, sealed_input,
        )  # fmt: skip
        return started_at is not None

    async def mark_started(self, order_ids: Sequence[str], by: StartedBy) -> None:
        """Mark these orders' sagas started and drop their sealed inputs (idempotent)."""
        if not order_ids:
            return
        await self._pool.execute(
            "UPDATE saga_starts SET started_at = now(), started_by = $2, sealed_input = NULL"
            " WHERE order_id = ANY($1::text[]) AND started_at IS NULL",
            list(order_ids),
            by,
        )

    async def due(
        self, older_than_s: float, limit: int, after: PendingStart | None = None
    ) -> list[PendingStart]:
        """Unmarked requests recorded at least `older_than_s` seconds ago, oldest first, from
        the one after `after` (the last of the previous page)."""
        rows = await self._pool.fetch(
            "SELECT order_id, total, sealed_input, requested_at FROM saga_starts"
            " WHERE started_at IS NULL AND requested_at <= now() - make_interval(secs => $1)"
            " AND ($3::timestamptz IS NULL OR (requested_at, order_id) > ($3, $4))"
            " ORDER BY requested_at, order_id LIMIT $2",
            older_than_s, limit,
            after and after.requested_at, after.order_id if after else "",
        )  # fmt: skip
        if not rows:
            return []
        versions = dict(
            await self._pool.fetch(
                "SELECT stream_id, max(stream_version) FROM events"
                " WHERE stream_id = ANY($1::text[]) GROUP BY stream_id",
                [order_stream(r["order_id"]) for r in rows],
            )
        )
        return [
            PendingStart(
                r["order_id"],
                r["total"],
                r["sealed_input"],
                r["requested_at"],
                versions.get(order_stream(r["order_id"]), 0),
            )
            for r in rows
        ]

    async def forget(self, order_ids: Sequence[str]) -> None:
        """Delete unmarked requests of orders never placed, once ABANDONED_AFTER old (a request
        renewed meanwhile by a repeat of its checkout is kept)."""
        if not order_ids:
            return
        await self._pool.execute(
            "DELETE FROM saga_starts WHERE order_id = ANY($1::text[]) AND started_at IS NULL"
            " AND requested_at <= now() - $2::interval",
            list(order_ids),
            ABANDONED_AFTER,
        )
