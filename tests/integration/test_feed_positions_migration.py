"""Migration 0064 on a database whose followers checkpointed positions alone: each checkpoint
becomes a FeedPosition from which nothing it had not read is skipped."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from eventstore.store import EventStore, FeedPosition
from tests.integration.migration_support import apply_migrations_named, database_before

_INSERT = (
    "INSERT INTO events (stream_id, stream_version, event_id, event_type, data)"
    " VALUES ($1, 1, $2, $3, '{}') RETURNING global_position"
)


@pytest.fixture
async def database(postgres_url: str) -> AsyncIterator[str]:
    """A database of its own, migrated up to (not including) 0064."""
    async with database_before(postgres_url, "0064") as url:
        yield url


async def _migrate(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await apply_migrations_named(conn, lambda file_name: file_name.startswith("0064"))
    finally:
        await conn.close()


async def test_a_position_checkpoint_becomes_a_pair_that_skips_nothing_unread(
    database: str,
) -> None:
    pool = await asyncpg.create_pool(database, min_size=2, max_size=4)
    try:
        await pool.execute(_INSERT, "order-read", uuid.uuid4(), "Read")
        # A transaction that took its id first but its position last (the fault 0064 fixes).
        async with pool.acquire() as first, pool.acquire() as second:
            async with first.transaction():
                await first.fetchval("SELECT pg_current_xact_id()")
                async with second.transaction():
                    lower = await second.fetchval(_INSERT, "order-lower", uuid.uuid4(), "Lower")
                await first.fetchval(_INSERT, "order-higher", uuid.uuid4(), "Higher")
        # An old follower read up to `lower`; the event after it is still to come.
        await pool.execute(
            "UPDATE projection_checkpoints SET position = $1 WHERE name = 'customer_notifications'",
            lower,
        )
        await pool.execute(
            "INSERT INTO projection_checkpoints (name, position) VALUES ('order_summaries', $1)",
            lower,
        )
        await pool.execute(
            "INSERT INTO webhook_subscriptions (id, url, event_types, secret_sealed, position)"
            " VALUES ($1, 'https://erp.test/hook', '{}', '\\x00', $2)",
            uuid.uuid4(), lower,
        )  # fmt: skip
        head = await pool.fetchval("SELECT max(global_position) FROM events")
        await pool.execute(
            "INSERT INTO projection_checkpoints (name, position) VALUES ('caught_up', $1)", head
        )

        await _migrate(database)

        store = EventStore(pool)
        rows = await pool.fetch(
            "SELECT transaction_id, position FROM projection_checkpoints WHERE name <> 'caught_up'"
            " UNION ALL SELECT position_transaction_id, position FROM webhook_subscriptions"
        )
        assert len(rows) == 3
        for row in rows:
            after = [r.type for r in await store.read_all(FeedPosition(*row))]
            assert "Higher" in after and "Read" not in after  # nothing lost, little read again
        caught_up = await pool.fetchrow(
            "SELECT transaction_id, position FROM projection_checkpoints WHERE name = 'caught_up'"
        )
        assert await store.read_all(FeedPosition(*caught_up)) == []
        await pool.execute(_INSERT, "order-next", uuid.uuid4(), "Next")
        assert [r.type for r in await store.read_all(FeedPosition(*caught_up))] == ["Next"]
    finally:
        await pool.close()
