"""What the webhook dispatcher asks PostgreSQL for while nothing happens: with a subscription
and no events, its range polls every 0.05 s here (0.1 s in the worker) and its lane every
0.25 s; neither reads a lag (the store's head, the oldest pending delivery) more than once a
second. Counted with `pg_stat_statements` on the session's server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from commerce.bench.counters import PostgresCounters
from commerce.webhook_receiver import WebhookReceiver
from eventstore.feed_lag import LAG_READ_EVERY_S
from tests.e2e.webhooks.conftest import Dispatching, Subscribe

IDLE_S = 2.5


@pytest.fixture
async def counters(postgres_url: str) -> AsyncIterator[PostgresCounters]:
    counters = await PostgresCounters.connect(postgres_url)
    yield counters
    await counters.close()


async def _lag_reads(counters: PostgresCounters) -> tuple[int, int]:
    """Calls so far of the store's head read and of the oldest pending delivery's."""
    statements = (await counters.read()).statements
    head = sum(n for text, n in statements.items() if "max(global_position)" in text)
    oldest = sum(n for text, n in statements.items() if "min(recorded_at)" in text)
    return head, oldest


async def test_an_idle_dispatcher_reads_each_lag_at_most_once_a_second(
    dispatching: Dispatching,
    subscribe: Subscribe,
    receiver: WebhookReceiver,
    counters: PostgresCounters,
) -> None:
    await subscribe(receiver.url)
    async with dispatching():
        await asyncio.sleep(0.5)  # the range leads, the lane runs
        (head_before, oldest_before), started = await _lag_reads(counters), time.monotonic()
        await asyncio.sleep(IDLE_S)
        head_after, oldest_after = await _lag_reads(counters)
        seconds = time.monotonic() - started

    most = 1 + seconds / LAG_READ_EVERY_S
    head = head_after - head_before
    assert head <= most, f"store's head read {head}x in {seconds:.1f}s"
    oldest = oldest_after - oldest_before
    assert oldest <= most, f"oldest pending delivery read {oldest}x in {seconds:.1f}s"
