"""Checkouts: each cart converts once; a customer's idempotency key always names one order.

A record holds what its checkout decided (the order id, the request's digest, the currency and
the lines at checkout prices), so a replay is answered from the record alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from domain.values import OrderLine
from eventstore.cursors import CursorFormat, timestamp, uuid_text

# A list of orders newest first, ordered by (created_at, order_id).
ORDER_CURSOR = CursorFormat("orders", (timestamp, uuid_text))


@dataclass(frozen=True, slots=True)
class CheckoutRecord:
    """One checkout; `lines` and `currency` are None only on a record written by a version
    that appended OrderPlaced itself right after."""

    order_id: str
    customer_id: str
    cart_id: str
    idempotency_key: str | None
    request_hash: str
    currency: str | None = None
    lines: tuple[OrderLine, ...] | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    """The outcome of claiming a cart: `record` is the checkout that owns it, new or earlier."""

    record: CheckoutRecord
    created: bool


def _record(row: asyncpg.Record) -> CheckoutRecord:
    fields = dict(row)
    lines = fields.pop("lines")
    fields["currency"] = None if fields["currency"] is None else fields["currency"].strip()
    if lines is not None:
        fields["lines"] = tuple(OrderLine(**line) for line in json.loads(lines))
    return CheckoutRecord(**fields)


def _lines(record: CheckoutRecord) -> str | None:
    if record.lines is None:
        return None
    return json.dumps(
        [
            {"sku": x.sku, "name": x.name, "quantity": x.quantity, "unit_price": x.unit_price}
            for x in record.lines
        ]
    )


_FIELDS = (
    "order_id, customer_id, cart_id, idempotency_key, request_hash, currency, lines::text,"
    " created_at"
)


class Checkouts:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def find(
        self, customer_id: str, idempotency_key: str | None, cart_id: str
    ) -> CheckoutRecord | None:
        """The customer's checkout recorded under this Idempotency-Key, else the one that
        converted this cart; None when there is neither."""
        row = await self._pool.fetchrow(
            f"SELECT {_FIELDS} FROM checkouts WHERE customer_id = $1"
            " AND (idempotency_key = $2 OR cart_id = $3)"
            " ORDER BY (idempotency_key = $2) DESC NULLS LAST LIMIT 1",
            customer_id, idempotency_key, cart_id,
        )  # fmt: skip
        return None if row is None else _record(row)

    async def claim(self, record: CheckoutRecord) -> Claim:
        """Record a new checkout, or return the one that already holds its order id, its key
        or its cart. Concurrent claims wait for the first to commit, so all see one record."""
        r = record
        row = await self._pool.fetchrow(
            "INSERT INTO checkouts (order_id, customer_id, cart_id, idempotency_key,"
            " request_hash, currency, lines, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, now())"
            f" ON CONFLICT DO NOTHING RETURNING {_FIELDS}",
            r.order_id, r.customer_id, r.cart_id, r.idempotency_key, r.request_hash,
            r.currency, _lines(r),
        )  # fmt: skip
        if row is not None:
            return Claim(_record(row), created=True)
        existing = await self._pool.fetchrow(
            f"SELECT {_FIELDS} FROM checkouts WHERE order_id = $1 OR cart_id = $2"
            " OR (customer_id = $3 AND idempotency_key = $4)"
            " ORDER BY (order_id = $1) DESC LIMIT 1",
            r.order_id, r.cart_id, r.customer_id, r.idempotency_key,
        )  # fmt: skip
        if existing is None:  # the conflicting row was rolled back meanwhile; claim again
            return await self.claim(record)
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
        after = ORDER_CURSOR.decode(cursor)
        rows = await self._pool.fetch(
            "SELECT order_id, created_at FROM checkouts WHERE customer_id = $1"
            " AND ($2::timestamptz IS NULL OR (created_at, order_id) < ($2, $3))"
            " ORDER BY created_at DESC, order_id DESC LIMIT $4",
            customer_id, after[0] if after else None, after[1] if after else "", limit + 1,
        )  # fmt: skip
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = (
            ORDER_CURSOR.encode(rows[-1]["created_at"], rows[-1]["order_id"]) if more else None
        )
        return [r["order_id"] for r in rows], next_cursor
