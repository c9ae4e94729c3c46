"""Migration 0009 on a database that already has checkouts: lines come from OrderPlaced."""

from __future__ import annotations

import json
import uuid

import asyncpg

from tests.integration.migration_support import apply_migrations_named, database_before

PLACED = {
    "order_id": "o-1", "customer_id": "c-1", "cart_id": "cart-1", "currency": "EUR",
    "lines": [{"sku": "MUG", "name": "Mug", "quantity": 2, "unit_price": 450}],
    "shipping_address": {}, "subtotal": 900, "total": 900,
}  # fmt: skip


async def test_checkout_records_get_their_orders_lines_and_unplaced_claims_go(
    postgres_url: str,
) -> None:
    async with database_before(postgres_url, "0009") as url:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(
                "INSERT INTO checkouts (order_id, customer_id, cart_id, request_hash) VALUES"
                " ('o-1', 'c-1', 'cart-1', 'h1'), ('o-2', 'c-1', 'cart-2', 'h2')"
            )
            await conn.execute(
                "INSERT INTO events (stream_id, stream_version, event_id, event_type, data,"
                " metadata) VALUES ('order-o-1', 1, $1, 'OrderPlaced', $2::jsonb, '{}')",
                uuid.uuid4(), json.dumps(PLACED),
            )  # fmt: skip
            await apply_migrations_named(conn, lambda name: name.startswith(("0009", "0010")))
            rows = await conn.fetch("SELECT order_id, currency, lines::text FROM checkouts")
        finally:
            await conn.close()
    assert [(r["order_id"], r["currency"], json.loads(r["lines"])) for r in rows] == [
        ("o-1", "EUR", PLACED["lines"])
    ]
