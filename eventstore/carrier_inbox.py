"""The carrier webhook's inbox (one answer per carrier event id and body) and tracking-number
lookups (an order's parcel, a return's parcel)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import asyncpg


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """A carrier event id as first received: the digest of its body (None on rows kept before
    digests were) and, once delivered, the answer it got."""

    request_digest: str | None
    http_status: int | None
    answer: dict[str, Any] | None

    def same_body(self, digest: str) -> bool:
        return self.request_digest is None or self.request_digest == digest


def _entry(row: asyncpg.Record | None) -> InboxEntry | None:
    if row is None:
        return None
    answer = None if row["answer"] is None else json.loads(row["answer"])
    return InboxEntry(row["request_digest"], row["http_status"], answer)


_SELECT = "SELECT request_digest, http_status, answer FROM carrier_events WHERE event_id = $1"


class CarrierInbox:
    """Remembers each carrier event id with its body's digest and the answer it got, so a
    replayed one gets that answer again and a reused id with another body is recognised."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def entry(self, event_id: str) -> InboxEntry | None:
        return _entry(await self._pool.fetchrow(_SELECT, event_id))

    async def take(self, event_id: str, order_id: str, status: str, digest: str) -> InboxEntry:
        """Claim the event id for this body unless it is claimed; returns the entry as stored
        (first wins), so a caller holding another digest must refuse."""
        await self._pool.execute(
            "INSERT INTO carrier_events (event_id, order_id, status, request_digest)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING",
            event_id, order_id, status, digest,
        )  # fmt: skip
        entry = await self.entry(event_id)
        assert entry is not None
        return entry

    async def keep(self, event_id: str, http_status: int, answer: dict[str, Any]) -> InboxEntry:
        """Store the answer unless one is stored already; returns the entry (first wins)."""
        await self._pool.execute(
            "UPDATE carrier_events SET http_status = $2, answer = $3::jsonb"
            " WHERE event_id = $1 AND answer IS NULL",
            event_id, http_status, json.dumps(answer),
        )  # fmt: skip
        entry = await self.entry(event_id)
        assert entry is not None
        return entry

    async def order_for_tracking_number(self, tracking_number: str) -> str | None:
        order_id: str | None = await self._pool.fetchval(
            "SELECT data ->> 'order_id' FROM events WHERE event_type = 'ShipmentCreated'"
            " AND data ->> 'tracking_number' = $1 LIMIT 1",
            tracking_number,
        )
        return order_id

    async def return_for_tracking_number(self, tracking_number: str) -> tuple[str, str] | None:
        """(order id, return id) of the return whose label has this tracking number, if any."""
        row = await self._pool.fetchrow(
            "SELECT data ->> 'order_id' AS order_id, data ->> 'return_id' AS return_id"
            " FROM events WHERE event_type = 'ReturnLabelCreated'"
            " AND data ->> 'tracking_number' = $1 LIMIT 1",
            tracking_number,
        )
        return None if row is None else (str(row["order_id"]), str(row["return_id"]))
