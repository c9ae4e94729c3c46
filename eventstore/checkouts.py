"""Checkouts: each cart converts once; a customer's idempotency key always names one order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from eventstore.cursors import InvalidCursor, decode_cursor, encode_cursor


@dataclass(frozen=True, slots=True)
class CheckoutRecord:
    order_id: str
    customer_id: str
    cart_id: str
    idempotency_key: str | None
    request_hash: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Claim:
    """The outcome of claiming a cart: `record` is the checkout that owns it, new or earlier."""

    record: CheckoutRecord
    created: bool


def _record(row: asyncpg.Record) -> CheckoutRecord:
    return CheckoutRecord(**dict(row))


_FIELDS = "order_id, customer_id, cart_id, idempotency_key, request_hash, created_at"


class Checkouts:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def claim(
        self,
        order_id: str,
        customer_id: str,
        cart_id: str,
        idempotency_key: str | None,
        request_hash: str,
    ) -> Claim:
        """Record a new checkout, or return the one that already holds this key or cart.

        Concurrent claims with one key wait for the first to commit, so all see the same order.
        """
        row = await self._pool.fetchrow(
            f"INSERT INTO checkouts ({_FIELDS}) VALUES ($1, $2, $3, $4, $5, now())"
            f" ON CONFLICT DO NOTHING RETURNING {_FIELDS}",
            order_id, customer_id, cart_id, idempotency_key, request_hash,
        )  # fmt: skip
        if row is not None:
            return Claim(_record(row), created=True)
        existing = await self._pool.fetchrow(
            f"SELECT {_FIELDS} FROM checkouts WHERE (customer_id = $1 AND idempotency_key = $2)"
            " OR cart_id = $3 OR order_id = $4 ORDER BY (idempotency_key = $2) DESC NULLS LAST"
            " LIMIT 1",
            customer_id, idempotency_key, cart_id, order_id,
        )  # fmt: skip
        if existing is None:  # the conflicting row was rolled back meanwhile; claim again
            return await self.claim(order_id, customer_id, cart_id, idempotency_key, request_hash)
        return Claim(_record(existing), created=False)

    async def owner_of(self, order_id: str) -> str | None:
        value = await self._pool.fetchval(
            "SELECT customer_id FROM checkouts WHERE order_id = $1", order_id
        )
        return None if value is None else str(value)

    async def page_for_customer(
        self, customer_id: str, limit: int, cursor: str | None
    ) -> tuple[list[str], str | None]:
        """Order ids, newest first, and the cursor of the next page (None on the last)."""
        after = decode_page_cursor(cursor)
        rows = await self._pool.fetch(
            "SELECT order_id, created_at FROM checkouts WHERE customer_id = $1"
            " AND ($2::timestamptz IS NULL OR (created_at, order_id) < ($2, $3))"
            " ORDER BY created_at DESC, order_id DESC LIMIT $4",
            customer_id, after[0] if after else None, after[1] if after else "", limit + 1,
        )  # fmt: skip
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = (
            encode_page_cursor(rows[-1]["created_at"], rows[-1]["order_id"]) if more else None
        )
        return [r["order_id"] for r in rows], next_cursor


def encode_page_cursor(created_at: datetime, order_id: str) -> str:
    """The cursor after an item of a newest-first list ordered by (created_at, order_id)."""
    return encode_cursor(created_at.isoformat(), order_id)


def decode_page_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    if not cursor:
        return None
    created_at, order_id = decode_cursor(cursor, parts=2)
    try:
        return datetime.fromisoformat(created_at), order_id
    except ValueError as error:
        raise InvalidCursor("the cursor is not one this API handed out") from error
