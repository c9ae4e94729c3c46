"""Handing a connection back to the product's pool costs no round trip, and leaves nothing behind:
an open transaction is rolled back, and a leader's advisory lock never rides a pooled connection."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import asyncpg
import pytest

from commerce.connections import create_pool
from commerce.settings import Settings
from eventstore.leadership import Leadership


class CountingConnection(asyncpg.Connection):  # type: ignore[misc]
    """Notes every statement sent with `execute`, as asyncpg's own reset on release sends it."""

    statements: ClassVar[list[str]] = []

    async def execute(self, query: str, *args: Any, **kwargs: Any) -> str:
        CountingConnection.statements.append(query)
        return str(await super().execute(query, *args, **kwargs))


@pytest.fixture
async def counted_pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    CountingConnection.statements = []
    pool = await create_pool(settings, connection_class=CountingConnection, min_size=1)
    yield pool
    await pool.close()


async def test_releasing_a_connection_sends_no_statement(counted_pool: asyncpg.Pool) -> None:
    for _ in range(20):
        assert await counted_pool.fetchval("SELECT 1") == 1

    assert CountingConnection.statements == []  # asyncpg's default: a reset query per release


async def test_a_connection_released_inside_a_transaction_is_rolled_back(
    counted_pool: asyncpg.Pool, pool: asyncpg.Pool
) -> None:
    table = f"probe_{uuid.uuid4().hex[:12]}"
    await pool.execute(f"CREATE TABLE {table} (n int)")
    try:
        conn = await counted_pool.acquire()
        await conn.transaction().start()  # never committed nor rolled back by its owner
        await conn.execute(f"INSERT INTO {table} VALUES (1)")
        await counted_pool.release(conn)

        async with counted_pool.acquire() as again:
            assert not again.is_in_transaction()
        assert await pool.fetchval(f"SELECT count(*) FROM {table}") == 0
    finally:
        await pool.execute(f"DROP TABLE {table}")


class UnlockRefused(Leadership):
    """A leader whose unlock statement fails on a live connection (a deadline, a server error)."""

    UNLOCK = "SELECT pg_advisory_unlock($1, hashtext($2)) / 0"


async def test_a_leader_that_cannot_unlock_leaves_no_lock_on_the_pool(
    counted_pool: asyncpg.Pool, pool: asyncpg.Pool
) -> None:
    name = f"pool-release-{uuid.uuid4()}"
    leader = UnlockRefused(counted_pool, 99, name)
    assert await leader.acquire()

    await leader.release()

    successor = Leadership(pool, 99, name)
    try:
        for _ in range(50):  # the server lets go of the lock once the closed session has ended
            if await successor.acquire():
                break
            await asyncio.sleep(0.1)
        assert successor.connection is not None  # the lock went with its connection
    finally:
        await successor.release()


class SlowLeadership(Leadership):
    """A leader whose lock and unlock take a while, so a stop can cancel them midway."""

    LOCK = "SELECT pg_try_advisory_lock($1, hashtext($2)) FROM pg_sleep(0.5)"
    UNLOCK = "SELECT pg_advisory_unlock($1, hashtext($2)) FROM pg_sleep(0.5)"


@pytest.mark.parametrize("cancelled_in", ["acquire", "release"])
async def test_a_leader_cancelled_midway_hands_its_connection_back(
    settings: Settings, cancelled_in: str
) -> None:
    own = await create_pool(settings, min_size=1, max_size=2)
    leader = SlowLeadership(own, 99, f"pool-release-{uuid.uuid4()}")
    try:
        if cancelled_in == "release":
            assert await leader.acquire()
        step = asyncio.create_task(getattr(leader, cancelled_in)())
        await asyncio.sleep(0.1)  # the statement is on its way
        step.cancel()  # as a worker's shutdown cancels its leaders
        with pytest.raises(asyncio.CancelledError):
            await step
        assert leader.connection is None
        await asyncio.wait_for(own.close(), 5)  # waits for every connection handed out
    finally:
        own.terminate()
