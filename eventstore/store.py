"""Append-only event store on PostgreSQL with optimistic concurrency per stream."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy

NO_STREAM = 0


class ConcurrencyError(Exception):
    """The stream moved past the expected version: another writer appended first."""

    def __init__(self, stream_id: str, expected_version: int, actual_version: int) -> None:
        super().__init__(
            f"stream {stream_id} is at version {actual_version}, expected {expected_version}"
        )
        self.stream_id = stream_id
        self.expected_version = expected_version
        self.actual_version = actual_version


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append. The id is chosen by the caller so a retried append is recognised."""

    event_id: UUID
    type: str
    data: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)


class FeedPosition(NamedTuple):
    """A place in the global feed, which is ordered by (transaction id, global position).

    Positions are handed out when a row is inserted and transaction ids when a transaction first
    writes, both before commit and in no fixed order between concurrent appends: a younger
    transaction can hold a lower position and commit later. Ordering by transaction id first, and
    reading only below the oldest transaction still in flight, means nothing can later appear
    behind a place a follower has passed. Within one stream the order is the stream's own, as
    each append is a single-statement transaction started after the previous one committed.
    """

    transaction_id: int
    global_position: int


FEED_START = FeedPosition(0, 0)


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    global_position: int
    stream_id: str
    stream_version: int
    event_id: UUID
    type: str
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: datetime
    transaction_id: int  # of the transaction that appended it (xid8)

    @property
    def feed_position(self) -> FeedPosition:
        return FeedPosition(self.transaction_id, self.global_position)


# The expected-version check. A stream's versions run from 1 without a gap (every append goes
# through here), so "the stream ends at $2" is: version $2 exists (nothing to probe for a new
# stream), and version $2 + 1 does not — the unique key on (stream_id, stream_version) refuses
# that one at insert time. One index probe at most, none for a new stream.
_AT_EXPECTED_VERSION = (
    "($2::int = 0 OR EXISTS (SELECT 1 FROM events WHERE stream_id = $1 AND stream_version = $2))"
)
_APPEND = f"""
INSERT INTO events (stream_id, stream_version, event_id, event_type, data, metadata)
SELECT $1, $2::int + n.ord, n.event_id, n.event_type, n.data::jsonb, n.metadata::jsonb
FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[])
     WITH ORDINALITY AS n(event_id, event_type, data, metadata, ord)
WHERE {_AT_EXPECTED_VERSION}
"""
# One event (most appends: each saga step records one): no arrays to build and unnest.
_APPEND_ONE = f"""
INSERT INTO events (stream_id, stream_version, event_id, event_type, data, metadata)
SELECT $1, $2::int + 1, $3::uuid, $4::text, $5::jsonb, $6::jsonb
WHERE {_AT_EXPECTED_VERSION}
"""

_COLUMNS = (
    "global_position, stream_id, stream_version, event_id, event_type,"
    " data::text AS data, metadata::text AS metadata, recorded_at, transaction_id"
)


# A follower's checkpoint and the batch after it (read_all's conditions), or the checkpoint
# alone (event columns NULL) when nothing follows it yet.
_FROM_CHECKPOINT = f"""
SELECT c.transaction_id AS checkpoint_transaction_id, c.position AS checkpoint_position, e.*
FROM projection_checkpoints c
LEFT JOIN LATERAL (
    SELECT {_COLUMNS} FROM events
    WHERE (transaction_id, global_position) > (c.transaction_id, c.position)
      AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
    ORDER BY transaction_id, global_position LIMIT $2
) e ON true
WHERE c.name = $1
ORDER BY e.transaction_id, e.global_position
"""


def _recorded(row: asyncpg.Record) -> RecordedEvent:
    return RecordedEvent(
        global_position=row["global_position"],
        stream_id=row["stream_id"],
        stream_version=row["stream_version"],
        event_id=row["event_id"],
        type=row["event_type"],
        data=json.loads(row["data"]),
        metadata=json.loads(row["metadata"]),
        recorded_at=row["recorded_at"],
        transaction_id=row["transaction_id"],
    )


class EventStore:
    """Streams of events in one table; each append is one statement, hence one transaction."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def append(
        self, stream_id: str, events: Sequence[NewEvent], expected_version: int
    ) -> int:
        """Append after `expected_version`; returns the new version.

        Re-appending events that are already in the stream (a retried call whose first attempt
        committed: the same ids, types and data) is a no-op that returns the current version. Any
        other conflict raises ConcurrencyError — also the same event ids with other data: a retry
        that decided something else is never silently taken for the first decision.
        """
        if not events:
            return expected_version
        args = (
            [e.event_id for e in events],
            [e.type for e in events],
            [json.dumps(e.data) for e in events],
            [json.dumps(e.metadata) for e in events],
        )
        statement, values = (
            (_APPEND_ONE, [column[0] for column in args]) if len(events) == 1 else (_APPEND, args)
        )
        async with self._pool.acquire() as conn:
            try:
                status = await conn.execute(statement, stream_id, expected_version, *values)
            except asyncpg.UniqueViolationError:
                status = "INSERT 0 0"
            if status != "INSERT 0 0":
                return expected_version + len(events)
            return await self._settle_conflict(conn, stream_id, args, expected_version)

    async def _settle_conflict(
        self,
        conn: asyncpg.Connection,
        stream_id: str,
        args: tuple[list[Any], ...],
        expected_version: int,
    ) -> int:
        ids, types, data, _ = args
        row = await conn.fetchrow(
            "SELECT coalesce(max(stream_version), 0) AS version,"
            " count(*) FILTER (WHERE (event_id, event_type, data) IN ("
            "   SELECT i, t, d::jsonb FROM unnest($2::uuid[], $3::text[], $4::text[]) AS x(i, t, d)"
            " )) AS already"
            " FROM events WHERE stream_id = $1",
            stream_id, ids, types, data,
        )  # fmt: skip
        assert row is not None
        if row["already"] == len(ids):
            return int(row["version"])
        raise ConcurrencyError(stream_id, expected_version, int(row["version"]))

    async def read_stream(self, stream_id: str, after_version: int = 0) -> list[RecordedEvent]:
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM events WHERE stream_id = $1 AND stream_version > $2"
            " ORDER BY stream_version",
            stream_id,
            after_version,
        )
        return [_recorded(r) for r in rows]

    async def read_streams(self, stream_ids: Sequence[str]) -> dict[str, list[RecordedEvent]]:
        """Several whole streams in one query, keyed by stream id."""
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM events WHERE stream_id = ANY($1::text[])"
            " ORDER BY stream_id, stream_version",
            list(stream_ids),
        )
        streams: dict[str, list[RecordedEvent]] = {stream_id: [] for stream_id in stream_ids}
        for row in rows:
            streams[row["stream_id"]].append(_recorded(row))
        return streams

    async def read_all(
        self, after: FeedPosition = FEED_START, limit: int = 500
    ) -> list[RecordedEvent]:
        """Up to `limit` events of the global feed after `after`, in feed order (FeedPosition).

        Rows of transactions no older than the oldest one still in flight are held back: they
        could still be joined by rows that sort before them. A follower that checkpoints the last
        event's `feed_position` therefore never skips one."""
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM events"
            " WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint)"
            " AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())"
            " ORDER BY transaction_id, global_position LIMIT $3",
            after.transaction_id,
            after.global_position,
            limit,
        )
        return [_recorded(r) for r in rows]

    async def read_from_checkpoint(
        self,
        conn: asyncpg.Connection | PoolConnectionProxy | asyncpg.Pool,
        follower: str,
        limit: int = 500,
    ) -> tuple[FeedPosition, list[RecordedEvent]] | None:
        """The follower's checkpoint (its `projection_checkpoints` row) and up to `limit` events
        after it, as `read_checkpoint` and then `read_all` give them, in one statement: a
        follower polls every 0.2 s. None when the follower has no row. `conn`: the follower's
        leader connection, or the pool."""
        rows = await conn.fetch(_FROM_CHECKPOINT, follower, limit)
        if not rows:
            return None
        at = FeedPosition(rows[0]["checkpoint_transaction_id"], rows[0]["checkpoint_position"])
        return at, [_recorded(r) for r in rows if r["global_position"] is not None]

    async def feed_head(self) -> FeedPosition:
        """Where a follower starts to receive only what commits from now on: every transaction
        older than the oldest one in flight has ended, every later event sorts after this."""
        xmin = await self._pool.fetchval("SELECT pg_snapshot_xmin(pg_current_snapshot())")
        return FeedPosition(int(xmin), 0)

    async def head_position(self) -> int:
        """The highest global position; a follower's lag is this minus its checkpoint's (nearly
        the events it has still to read: positions and feed order differ only among appends
        that ran at the same moment)."""
        value = await self._pool.fetchval("SELECT coalesce(max(global_position), 0) FROM events")
        return int(value)
