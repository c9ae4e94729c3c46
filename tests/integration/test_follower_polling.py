"""What a follower of the feed costs PostgreSQL while nothing happens, counted with
`pg_stat_statements` on the session's server (nothing else follows the feed in the suite).

A follower polls every 0.2 s (the webhook ranges every 0.1 s) and sets its lag gauge; the lag
needs the store's head, `max(global_position)` over the events, a statement of its own: read on
every poll it was a third of the statements an idle worker sent, the checkpoint read before
each batch another third.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from activities.sandbox import SandboxNotifications
from commerce.customer_notifications import CHECKPOINT, CustomerNotifications
from commerce.notification_templates import NotificationTemplates
from eventstore.feed_lag import LAG_READ_EVERY_S
from eventstore.projections import Projector
from eventstore.sandbox import SandboxLedger
from eventstore.store import EventStore

POLLS = 20


# What a follower of the feed sends: its checkpoint, the feed after it, the store's head. Other
# work in the session's database (a saga step of an earlier test) reads streams by id, not these.
_FEED_READS = """
SELECT coalesce(sum(calls) FILTER (WHERE query LIKE ANY($1::text[])), 0) AS feed,
       coalesce(sum(calls) FILTER (WHERE query LIKE '%max(global_position)%'), 0) AS head
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND query NOT LIKE '%pg_stat_statements%'
"""
_FEED = [
    "%projection_checkpoints%",
    "%(transaction_id, global_position) >%",
    "%max(global_position)%",
]


@pytest.fixture
async def counters(postgres_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection of its own to read `pg_stat_statements` (whole statement texts) through."""
    conn = await asyncpg.connect(postgres_url)
    await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    yield conn
    await conn.close()


async def _statements(counters: asyncpg.Connection) -> tuple[int, int]:
    """Calls so far of the feed's statements, and of those among them that read the store's
    head (`max(global_position)`)."""
    row = await counters.fetchrow(_FEED_READS, _FEED)
    assert row is not None
    return int(row["feed"]), int(row["head"])


async def _idle_polls(
    counters: asyncpg.Connection, poll: Callable[[], Awaitable[int]]
) -> tuple[int, int, float]:
    """Catch up, then poll POLLS times with nothing new: the feed's statements sent, the head
    reads among them, and the seconds taken."""
    while await poll():
        pass
    (all_before, head_before), started = await _statements(counters), time.monotonic()
    for _ in range(POLLS):
        assert await poll() == 0
    seconds = time.monotonic() - started
    all_after, head_after = await _statements(counters)
    return all_after - all_before, head_after - head_before, seconds


def _assert_one_statement_a_poll_and_a_head_read_a_second(
    statements: int, reads: int, seconds: float
) -> None:
    assert reads <= 1 + seconds / LAG_READ_EVERY_S, f"{reads} head reads in {POLLS} idle polls"
    assert statements - reads == POLLS, "one statement per idle poll: checkpoint and batch at once"


async def test_an_idle_projector_sends_one_statement_a_poll_and_reads_the_head_once_a_second(
    pool: asyncpg.Pool, counters: asyncpg.Connection
) -> None:
    projector = Projector(pool, name="idle-polling")
    await pool.execute(  # a projection of its own, from the head (the session's events are many)
        "INSERT INTO projection_checkpoints (name, transaction_id, position) VALUES ($1, $2, $3)"
        " ON CONFLICT (name) DO UPDATE SET transaction_id = $2, position = $3",
        "idle-polling", *await EventStore(pool).feed_head(),
    )  # fmt: skip
    try:
        statements, reads, seconds = await _idle_polls(counters, projector.run_once)
    finally:
        await projector.close()

    _assert_one_statement_a_poll_and_a_head_read_a_second(statements, reads, seconds)


async def test_idle_notifications_send_one_statement_a_poll_and_read_the_head_once_a_second(
    pool: asyncpg.Pool, counters: asyncpg.Connection
) -> None:
    await pool.execute(  # from the head: the session's earlier orders are not this test's
        "UPDATE projection_checkpoints SET transaction_id = $2, position = $3 WHERE name = $1",
        CHECKPOINT, *await EventStore(pool).feed_head(),
    )  # fmt: skip
    notifier = SandboxNotifications(SandboxLedger(pool))
    follower = CustomerNotifications(pool, notifier, NotificationTemplates("https://shop.test"))
    try:
        statements, reads, seconds = await _idle_polls(counters, follower.run_once)
    finally:
        await follower.close()

    _assert_one_statement_a_poll_and_a_head_read_a_second(statements, reads, seconds)
