"""Stock reservations: all lines of an order or none, never below zero, whatever the concurrency."""

from __future__ import annotations

import json
from collections.abc import Sequence

import asyncpg

from domain.errors import OutOfStock, PartiallyOutOfStock


class ReservationConflict(Exception):
    """The order already holds a reservation of other lines: a repeat must ask for the same."""


class Inventory:
    """Holds, releases and commits an order's stock in `stock` with one transaction each.

    Rows are locked in sku order, so two multi-line reservations never deadlock.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def reserve(self, order_id: str, lines: Sequence[tuple[str, int]]) -> str:
        """Hold every line or raise OutOfStock (PartiallyOutOfStock when some lines could be held
        in full); a repeat for the same order and lines is a no-op, for other lines it raises
        ReservationConflict. A refusal stores nothing, so the order
        may reserve again later, e.g. the fewer lines of an accepted amendment."""
        wanted = dict(sorted(lines))
        async with self._pool.acquire() as conn, conn.transaction():
            inserted = await conn.fetchval(
                "INSERT INTO reservations (order_id, status, lines) VALUES ($1, 'held', $2::jsonb)"
                " ON CONFLICT (order_id) DO NOTHING RETURNING order_id",
                order_id,
                json.dumps(wanted),
            )
            if inserted is None:
                held = await conn.fetchval(
                    "SELECT lines = $2::jsonb FROM reservations WHERE order_id = $1",
                    order_id,
                    json.dumps(wanted),
                )
                if not held:
                    raise ReservationConflict(f"order {order_id} holds other lines than {wanted}")
                return order_id
            rows = await conn.fetch(
                "SELECT sku, on_hand - reserved AS available FROM stock"
                " WHERE sku = ANY($1::text[]) ORDER BY sku FOR UPDATE",
                list(wanted),
            )
            available = {r["sku"]: r["available"] for r in rows}
            short = [sku for sku, qty in wanted.items() if available.get(sku, 0) < qty]
            if short:
                message = f"not enough stock for {', '.join(short)}"
                fits = tuple(sku for sku in wanted if sku not in short)
                raise PartiallyOutOfStock(message, fits) if fits else OutOfStock(message)
            await conn.execute(
                "UPDATE stock SET reserved = stock.reserved + w.qty"
                " FROM unnest($1::text[], $2::int[]) AS w(sku, qty) WHERE stock.sku = w.sku",
                list(wanted),
                list(wanted.values()),
            )
        return order_id

    async def release(self, order_id: str) -> bool:
        """Give the order's stock back: held stock stops being reserved, stock already committed
        (a capture was refunded) goes back on hand. False when there is nothing to give back
        (never reserved, or released already)."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "UPDATE reservations r SET status = 'released', updated_at = now()"
                " FROM (SELECT status FROM reservations WHERE order_id = $1 FOR UPDATE) AS before"
                " WHERE r.order_id = $1 AND r.status <> 'released'"
                " RETURNING r.lines::text AS lines, before.status AS was",
                order_id,
            )
            if row is None:
                return False
            lines = json.loads(row["lines"])
            if row["was"] == "committed":
                await _move_stock(conn, lines, reserved_sign=0, on_hand_sign=+1)  # restock
            else:
                await _move_stock(conn, lines, reserved_sign=-1, on_hand_sign=0)
        return True

    async def restock(
        self, order_id: str, return_id: str, lines: Sequence[tuple[str, int]]
    ) -> bool:
        """Put a return's goods back on hand, once per return; False when it was done already."""
        back = dict(sorted(lines))
        async with self._pool.acquire() as conn, conn.transaction():
            inserted = await conn.fetchval(
                "INSERT INTO restocks (return_id, order_id, lines) VALUES ($1, $2, $3::jsonb)"
                " ON CONFLICT (return_id) DO NOTHING RETURNING return_id",
                return_id,
                order_id,
                json.dumps(back),
            )
            if inserted is None:
                return False
            await _move_stock(conn, back, reserved_sign=0, on_hand_sign=+1)
        return True

    async def commit(self, order_id: str) -> bool:
        """The goods are sold: held stock leaves on_hand and reserved together."""
        async with self._pool.acquire() as conn, conn.transaction():
            lines = await conn.fetchval(
                "UPDATE reservations SET status = 'committed', updated_at = now()"
                " WHERE order_id = $1 AND status = 'held' RETURNING lines::text",
                order_id,
            )
            if lines is None:
                return False
            await _move_stock(conn, json.loads(lines), reserved_sign=-1, on_hand_sign=-1)
        return True


async def _move_stock(
    conn: asyncpg.Connection, lines: dict[str, int], *, reserved_sign: int, on_hand_sign: int
) -> None:
    """Move each line's quantity in and out of reserved and on_hand (rows locked in sku order)."""
    await conn.execute(
        "UPDATE stock SET reserved = stock.reserved + $3 * w.qty,"
        " on_hand = stock.on_hand + $4 * w.qty"
        " FROM (SELECT * FROM unnest($1::text[], $2::int[]) ORDER BY 1) AS w(sku, qty)"
        " WHERE stock.sku = w.sku",
        list(lines),
        list(lines.values()),
        reserved_sign,
        on_hand_sign,
    )
