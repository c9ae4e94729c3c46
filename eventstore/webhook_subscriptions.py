"""Webhook subscriptions in PostgreSQL: URL, event types, active flag, sealed signing secrets,
and each one's position in the global feed (its fan-out checkpoint)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from eventstore.cursors import CursorFormat, timestamp, uuid_text
from eventstore.store import FeedPosition

_CURSOR = CursorFormat("webhooks", (timestamp, uuid_text))  # newest first: (created_at, id)
_COLUMNS = (
    "id, url, event_types, active, description, secret_sealed, previous_secret_sealed,"
    " previous_secret_expires_at, position_transaction_id, position, failing_since, disabled_reason,"
    " created_at, updated_at"
)


@dataclass(frozen=True, slots=True)
class Subscription:
    """A stored subscription; the secrets stay sealed (`commerce.webhook_signing` opens them)."""

    id: UUID
    url: str
    event_types: tuple[str, ...]
    active: bool
    description: str
    secret_sealed: bytes
    previous_secret_sealed: bytes | None
    previous_secret_expires_at: datetime | None
    position_transaction_id: int  # with `position`, the FeedPosition fanned out up to
    position: int
    failing_since: datetime | None
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def feed_position(self) -> FeedPosition:
        return FeedPosition(self.position_transaction_id, self.position)


def _subscription(row: asyncpg.Record) -> Subscription:
    values = dict(row)
    values["event_types"] = tuple(values["event_types"])
    return Subscription(**values)


def range_of(subscription_id: UUID, ranges: int) -> int:
    """The dispatcher range a subscription belongs to (its leader delivers it)."""
    return subscription_id.int % ranges


class WebhookSubscriptions:
    """Create, read, change and delete subscriptions; move their feed positions."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._db = pool

    async def create(
        self, url: str, event_types: Sequence[str], active: bool, description: str, sealed: bytes
    ) -> Subscription:
        """A new subscription, positioned at the head of the feed (EventStore.feed_head): it
        receives every event that commits from now on."""
        row = await self._db.fetchrow(
            "INSERT INTO webhook_subscriptions (id, url, event_types, active, description,"
            " secret_sealed, position_transaction_id, position)"
            " VALUES ($1, $2, $3, $4, $5, $6, pg_snapshot_xmin(pg_current_snapshot()), 0)"
            f" RETURNING {_COLUMNS}",
            uuid.uuid4(), url, list(event_types), active, description, sealed,
        )  # fmt: skip
        assert row is not None
        return _subscription(row)

    async def get(self, subscription_id: UUID) -> Subscription | None:
        row = await self._db.fetchrow(
            f"SELECT {_COLUMNS} FROM webhook_subscriptions WHERE id = $1", subscription_id
        )
        return None if row is None else _subscription(row)

    async def page(self, limit: int, cursor: str | None) -> tuple[list[Subscription], str | None]:
        """Newest first; the cursor is the last item's (created_at, id)."""
        args: list[Any] = [limit + 1]
        where = ""
        if after := _CURSOR.decode(cursor):
            where = "WHERE (created_at, id) < ($2::timestamptz, $3::uuid)"
            args += after
        rows = await self._db.fetch(
            f"SELECT {_COLUMNS} FROM webhook_subscriptions {where}"
            " ORDER BY created_at DESC, id DESC LIMIT $1",
            *args,
        )
        items = [_subscription(r) for r in rows[:limit]]
        more = len(rows) > limit
        last = items[-1] if items else None
        next_cursor = _CURSOR.encode(last.created_at, last.id) if more and last else None
        return items, next_cursor

    async def update(
        self, subscription_id: UUID, changes: dict[str, Any], retry_window_s: float
    ) -> Subscription | None:
        """Change `url`, `event_types`, `description` or `active`. Activating clears the reason it
        was disabled and its failure streak; its deliveries that waited meanwhile are tried again
        at once, each with a new retry window of `retry_window_s`."""
        allowed = {"url", "event_types", "description", "active"}
        assert set(changes) <= allowed, set(changes) - allowed
        sets = [f"{name} = ${i}" for i, name in enumerate(changes, start=2)]
        if changes.get("active"):
            sets += ["disabled_reason = NULL", "failing_since = NULL"]
        values = [list(v) if isinstance(v, tuple) else v for v in changes.values()]
        async with self._db.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"UPDATE webhook_subscriptions SET {', '.join([*sets, 'updated_at = now()'])}"
                f" WHERE id = $1 RETURNING {_COLUMNS}",
                subscription_id, *values,
            )  # fmt: skip
            if row is not None and changes.get("active"):
                await conn.execute(
                    "UPDATE webhook_deliveries SET next_attempt_at = now(),"
                    " retry_until = now() + $2 * interval '1 second'"
                    " WHERE subscription_id = $1 AND status = 'pending'",
                    subscription_id, retry_window_s,
                )  # fmt: skip
        return None if row is None else _subscription(row)

    async def rotate_secret(
        self, subscription_id: UUID, sealed: bytes, grace_s: int
    ) -> Subscription | None:
        """Make `sealed` the secret; the one it replaces still signs for `grace_s` seconds."""
        row = await self._db.fetchrow(
            "UPDATE webhook_subscriptions SET previous_secret_sealed = secret_sealed,"
            " previous_secret_expires_at = now() + $3 * interval '1 second',"
            f" secret_sealed = $2, updated_at = now() WHERE id = $1 RETURNING {_COLUMNS}",
            subscription_id, sealed, grace_s,
        )  # fmt: skip
        return None if row is None else _subscription(row)

    async def delete(self, subscription_id: UUID) -> bool:
        status = await self._db.execute(
            "DELETE FROM webhook_subscriptions WHERE id = $1", subscription_id
        )
        return bool(status == "DELETE 1")

    async def active_in_range(self, range_no: int, ranges: int) -> list[Subscription]:
        """The active subscriptions a range's leader delivers."""
        rows = await self._db.fetch(
            f"SELECT {_COLUMNS} FROM webhook_subscriptions WHERE active"
            " ORDER BY position_transaction_id, position, id"
        )
        return [s for s in map(_subscription, rows) if range_of(s.id, ranges) == range_no]

    @staticmethod
    async def advance(
        conn: asyncpg.Connection, subscription_id: UUID, start: FeedPosition, end: FeedPosition
    ) -> bool:
        """Move the position from `start` to `end` (compare-and-set: False if it moved), on the
        connection whose transaction also stores the deliveries fanned out."""
        status = await conn.execute(
            "UPDATE webhook_subscriptions SET position_transaction_id = $4, position = $5"
            " WHERE id = $1 AND position_transaction_id = $2 AND position = $3",
            subscription_id, *start, *end,
        )  # fmt: skip
        return bool(status == "UPDATE 1")

    async def record_success(self, subscription_id: UUID) -> None:
        await self._db.execute(
            "UPDATE webhook_subscriptions SET failing_since = NULL"
            " WHERE id = $1 AND failing_since IS NOT NULL",
            subscription_id,
        )

    async def record_failure(self, subscription_id: UUID) -> datetime | None:
        """Start (or keep) the failure streak; returns since when it has been failing."""
        value = await self._db.fetchval(
            "UPDATE webhook_subscriptions SET failing_since = coalesce(failing_since, now())"
            " WHERE id = $1 RETURNING failing_since",
            subscription_id,
        )
        return value if isinstance(value, datetime) else None

    async def disable(self, subscription_id: UUID, reason: str) -> bool:
        status = await self._db.execute(
            "UPDATE webhook_subscriptions SET active = false, disabled_reason = $2,"
            " updated_at = now() WHERE id = $1 AND active",
            subscription_id, reason,
        )  # fmt: skip
        return bool(status == "UPDATE 1")
