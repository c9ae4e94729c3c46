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
from commerce.bench.counters import PostgresCounters
from commerce.customer_notifications import CHECKPOINT, CustomerNotifications
from commerce.notification_templates import NotificationTemplates
from eventstore.feed_lag import LAG_READ_EVERY_S
from eventstore.projections import Projector
from eventstore.sandbox import SandboxLedger
from eventstore.store import EventStore

POLLS = 20


async def _statements(counters: PostgresCounters) -> tuple[int, int]:
    """Calls so far of every statement, and of those that read the store's head
    (`max(global_position)`); the counters' own reading is not among them."""
    statements = (await counters.read()).statements
    head = sum(n for text, n in statements.items() if "max(global_position)" in text)
    return sum(statements.values()), head


@pytest.fixture
async def counters(postgres_url: str) -> AsyncIterator[PostgresCounters]:
    counters = await PostgresCounters.connect(postgres_url)
    yield counters
    await counters.close()


async def _idle_polls(
    counters: PostgresCounters, poll: Callable[[], Awaitable[int]]
) -> tuple[int, int, float]:
    """Catch up, then poll POLLS times with nothing new: the statements sent, the head reads
    among them, and the seconds taken."""
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
    pool: asyncpg.Pool, counters: PostgresCounters
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
    pool: asyncpg.Pool, counters: PostgresCounters
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
