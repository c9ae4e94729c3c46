"""Webhook deliveries and their attempts in PostgreSQL.

One delivery per (subscription, event), made when the dispatcher fans the event out; its body is
stored, so every attempt and every redelivery sends the same bytes under the same `Webhook-Id`.
An attempt is stored when it starts (so one cut short by a dying worker still shows) and
completed when it ends. Order is kept per order id: only the oldest pending delivery of each
order is ever due.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from eventstore.cursors import CursorFormat, timestamp, uuid_text


@dataclass(frozen=True, slots=True)
class NewDelivery:
    event_id: UUID
    event_type: str
    order_id: str
    global_position: int
    recorded_at: datetime
    payload: str


@dataclass(frozen=True, slots=True)
class DueDelivery:
    """A delivery to attempt now: its id, the event (`Webhook-Id`), the body, its window."""

    id: UUID
    event_id: UUID
    event_type: str
    order_id: str
    payload: str
    attempts: int
    retry_until: datetime


@dataclass(frozen=True, slots=True)
class DeliveryView:
    id: UUID
    event_id: UUID
    event_type: str
    order_id: str
    status: str
    attempts: int
    last_response_code: int | None
    last_error: str | None
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AttemptView:
    attempt: int
    started_at: datetime
    finished_at: datetime | None
    response_code: int | None
    error: str | None


_CURSOR = CursorFormat("deliveries", (timestamp, uuid_text))  # newest first: (created_at, id)
_VIEW = (
    "id, event_id, event_type, order_id, status, attempts, last_response_code, last_error,"
    " last_attempt_at, CASE WHEN status = 'pending' THEN next_attempt_at END AS next_attempt_at,"
    " delivered_at, created_at"
)
# The oldest pending delivery of each order of a subscription, where it is due.
_DUE = """
SELECT id, event_id, event_type, order_id, payload, attempts, retry_until FROM (
    SELECT DISTINCT ON (order_id) id, event_id, event_type, order_id, payload, attempts,
           retry_until, next_attempt_at, global_position
    FROM webhook_deliveries WHERE subscription_id = $1 AND status = 'pending'
    ORDER BY order_id, global_position
) heads WHERE next_attempt_at <= now() ORDER BY global_position LIMIT $2
"""


async def fan_out(
    conn: asyncpg.Connection,
    subscription_id: UUID,
    deliveries: Sequence[NewDelivery],
    retry_window_s: float,
) -> None:
    """Store one pending delivery per event (an event already fanned out is left alone)."""
    if not deliveries:
        return
    await conn.executemany(
        "INSERT INTO webhook_deliveries (id, subscription_id, event_id, event_type, order_id,"
        " global_position, recorded_at, payload, retry_until)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + $9 * interval '1 second')"
        " ON CONFLICT (subscription_id, event_id) DO NOTHING",
        [(uuid4(), subscription_id, d.event_id, d.event_type, d.order_id, d.global_position,
          d.recorded_at, d.payload, retry_window_s) for d in deliveries],
    )  # fmt: skip


class WebhookDeliveries:
    """What the dispatcher and the admin API read and change about deliveries."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def due(self, subscription_id: UUID, limit: int) -> list[DueDelivery]:
        rows = await self._pool.fetch(_DUE, subscription_id, limit)
        return [DueDelivery(**dict(r)) for r in rows]

    async def start_attempt(self, delivery_id: UUID, lease_s: float) -> int | None:
        """Count and store a new attempt; the delivery is not due again for `lease_s` (longer
        than an attempt can take), so only a worker that died during it repeats it. None when
        the delivery is no longer pending."""
        value = await self._pool.fetchval(
            "WITH d AS (UPDATE webhook_deliveries SET attempts = attempts + 1,"
            " last_attempt_at = now(), next_attempt_at = now() + $2 * interval '1 second'"
            " WHERE id = $1 AND status = 'pending' RETURNING attempts)"
            " INSERT INTO webhook_attempts (delivery_id, attempt) SELECT $1, attempts FROM d"
            " RETURNING attempt",
            delivery_id, lease_s,
        )  # fmt: skip
        return None if value is None else int(value)

    async def finish_attempt(
        self,
        delivery_id: UUID,
        attempt: int,
        response_code: int | None,
        error: str | None,
        status: str,
        next_attempt_at: datetime | None = None,
    ) -> None:
        """Store the attempt's outcome; the delivery becomes `status` (pending: retried at
        `next_attempt_at`)."""
        await self._pool.execute(
            "WITH a AS (UPDATE webhook_attempts SET finished_at = clock_timestamp(),"
            " response_code = $3, error = $4 WHERE delivery_id = $1 AND attempt = $2)"
            " UPDATE webhook_deliveries SET status = $5,"
            " next_attempt_at = coalesce($6, next_attempt_at),"
            " last_response_code = $3, last_error = $4,"
            " delivered_at = CASE WHEN $5 = 'delivered' THEN now() END"
            " WHERE id = $1 AND attempts = $2",
            delivery_id, attempt, response_code, error, status, next_attempt_at,
        )  # fmt: skip

    async def page(
        self, subscription_id: UUID, status: str | None, limit: int, cursor: str | None
    ) -> tuple[list[DeliveryView], str | None]:
        """Newest first, optionally only those in `status`."""
        args: list[Any] = [subscription_id, limit + 1, status]
        where = "subscription_id = $1 AND ($3::text IS NULL OR status = $3)"
        if after := _CURSOR.decode(cursor):
            where += " AND (created_at, id) < ($4::timestamptz, $5::uuid)"
            args += after
        rows = await self._pool.fetch(
            f"SELECT {_VIEW} FROM webhook_deliveries WHERE {where}"
            " ORDER BY created_at DESC, id DESC LIMIT $2",
            *args,
        )
        items = [DeliveryView(**dict(r)) for r in rows[:limit]]
        last = items[-1] if items and len(rows) > limit else None
        return items, None if last is None else _CURSOR.encode(last.created_at, last.id)

    async def get(
        self, subscription_id: UUID, delivery_id: UUID
    ) -> tuple[DeliveryView, list[AttemptView]] | None:
        row = await self._pool.fetchrow(
            f"SELECT {_VIEW} FROM webhook_deliveries WHERE subscription_id = $1 AND id = $2",
            subscription_id, delivery_id,
        )  # fmt: skip
        if row is None:
            return None
        attempts = await self._pool.fetch(
            "SELECT attempt, started_at, finished_at, response_code, error"
            " FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempt",
            delivery_id,
        )
        return DeliveryView(**dict(row)), [AttemptView(**dict(a)) for a in attempts]

    async def redeliver(
        self, subscription_id: UUID, delivery_id: UUID, retry_window_s: float
    ) -> bool:
        """Send a delivery again (delivered or failed alike), same body and `Webhook-Id`, with a
        new retry window; False when there is no such delivery."""
        status = await self._pool.execute(
            "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now(),"
            " retry_until = now() + $3 * interval '1 second'"
            " WHERE subscription_id = $1 AND id = $2",
            subscription_id, delivery_id, retry_window_s,
        )  # fmt: skip
        return bool(status == "UPDATE 1")

    async def oldest_pending_at(self, subscription_id: UUID) -> datetime | None:
        """When the oldest event not yet delivered to the subscription was recorded (its lag)."""
        value = await self._pool.fetchval(
            "SELECT min(recorded_at) FROM webhook_deliveries"
            " WHERE subscription_id = $1 AND status = 'pending'",
            subscription_id,
        )
        return value if isinstance(value, datetime) else None
