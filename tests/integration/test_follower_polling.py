"""What a follower of the feed costs PostgreSQL while nothing happens, counted with
`pg_stat_statements` on the session's server (nothing else follows the feed in the suite).

A follower polls every 0.2 s (the webhook ranges every 0.1 s) and sets its lag gauge; the lag
needs the store's head, `max(global_position)` over the events, a statement of its own. Read on
every poll it was a third of the statements an idle worker sends.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from activities.sandbox import SandboxNotifications
from commerce.bench.counters import PostgresCounters
from commerce.customer_notifications import CHECKPOINT, CustomerNotifications
from commerce.notification_templates import NotificationTemplates
from eventstore.feed_lag import LAG_READ_EVERY_S
from eventstore.projections import Projector
from eventstore.sandbox import SandboxLedger
from eventstore.store import EventStore

POLLS = 20


async def _head_reads(counters: PostgresCounters) -> int:
    """Calls so far of the statements that read the store's head (`max(global_position)`)."""
    statements = (await counters.read()).statements
    return sum(n for text, n in statements.items() if "max(global_position)" in text)


@pytest.fixture
async def counters(postgres_url: str) -> AsyncIterator[PostgresCounters]:
    counters = await PostgresCounters.connect(postgres_url)
    yield counters
    await counters.close()


async def _idle_polls(
    counters: PostgresCounters, poll: Callable[[], Awaitable[int]]
) -> tuple[int, float]:
    """Catch up, then poll POLLS times with nothing new: the head reads and the seconds taken."""
    while await poll():
        pass
    before, started = await _head_reads(counters), time.monotonic()
    for _ in range(POLLS):
        assert await poll() == 0
    return await _head_reads(counters) - before, time.monotonic() - started


async def test_an_idle_projector_reads_the_stores_head_at_most_once_a_second(
    pool: asyncpg.Pool, counters: PostgresCounters
) -> None:
    projector = Projector(pool, name="idle-polling")
    await pool.execute(  # a projection of its own, from the head (the session's events are many)
        "INSERT INTO projection_checkpoints (name, transaction_id, position) VALUES ($1, $2, $3)"
        " ON CONFLICT (name) DO UPDATE SET transaction_id = $2, position = $3",
        "idle-polling", *await EventStore(pool).feed_head(),
    )  # fmt: skip
    try:
        reads, seconds = await _idle_polls(counters, projector.run_once)
    finally:
        await projector.close()

    assert reads <= 1 + seconds / LAG_READ_EVERY_S, f"{reads} head reads in {POLLS} idle polls"


async def test_idle_customer_notifications_read_the_stores_head_at_most_once_a_second(
    pool: asyncpg.Pool, counters: PostgresCounters
) -> None:
    await pool.execute(  # from the head: the session's earlier orders are not this test's
        "UPDATE projection_checkpoints SET transaction_id = $2, position = $3 WHERE name = $1",
        CHECKPOINT, *await EventStore(pool).feed_head(),
    )  # fmt: skip
    notifier = SandboxNotifications(SandboxLedger(pool))
    follower = CustomerNotifications(pool, notifier, NotificationTemplates("https://shop.test"))
    try:
        reads, seconds = await _idle_polls(counters, follower.run_once)
    finally:
        await follower.close()

    assert reads <= 1 + seconds / LAG_READ_EVERY_S, f"{reads} head reads in {POLLS} idle polls"
