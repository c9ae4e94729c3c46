"""The per-customer spending limit on a real PostgreSQL: atomic, idempotent, released on failure."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from domain.errors import SpendingLimitExceeded
from eventstore.spending import SpendingLimit, SpendingLimits


@pytest.fixture
async def limits(pool: asyncpg.Pool) -> AsyncIterator[SpendingLimits]:
    limits = SpendingLimits(pool)
    previous = await limits.current()
    yield limits
    await limits.set(previous)


async def _attempt(limits: SpendingLimits, customer: str, amount: int) -> bool:
    try:
        await limits.hold(str(uuid.uuid4()), customer, "USD", amount)
    except SpendingLimitExceeded:
        return False
    return True


async def test_concurrent_orders_never_pass_the_limit_together(limits: SpendingLimits) -> None:
    await limits.set(SpendingLimit(10_000, "USD"))
    customer = f"c-{uuid.uuid4()}"

    accepted = await asyncio.gather(*(_attempt(limits, customer, 3_000) for _ in range(10)))

    assert accepted.count(True) == 3


async def test_deciding_again_for_one_order_gives_the_same_answer(limits: SpendingLimits) -> None:
    await limits.set(SpendingLimit(5_000, "USD"))
    customer, first, second = f"c-{uuid.uuid4()}", str(uuid.uuid4()), str(uuid.uuid4())
    await limits.hold(first, customer, "USD", 4_000)
    await limits.hold(first, customer, "USD", 4_000)  # a retried activity: still one hold
    with pytest.raises(SpendingLimitExceeded):
        await limits.hold(second, customer, "USD", 2_000)
    await limits.set(SpendingLimit(0, "USD"))
    with pytest.raises(SpendingLimitExceeded):
        await limits.hold(second, customer, "USD", 2_000)  # refused once, refused for good


async def test_released_holds_no_longer_count_and_zero_means_no_limit(
    limits: SpendingLimits,
) -> None:
    customer = f"c-{uuid.uuid4()}"
    await limits.set(SpendingLimit(5_000, "USD"))
    failed = str(uuid.uuid4())
    await limits.hold(failed, customer, "USD", 5_000)
    assert not await _attempt(limits, customer, 1)
    assert await limits.release(failed) is True
    assert await limits.release(failed) is False
    assert await _attempt(limits, customer, 5_000)
    await limits.set(SpendingLimit(0, "USD"))
    assert await _attempt(limits, customer, 10**9)


async def test_limit_applies_only_to_its_currency(limits: SpendingLimits) -> None:
    await limits.set(SpendingLimit(100, "USD"))
    customer = f"c-{uuid.uuid4()}"
    await limits.hold(str(uuid.uuid4()), customer, "EUR", 50_000)
    assert await _attempt(limits, customer, 100)


async def test_as_many_holds_at_once_as_the_pool_has_connections_all_finish(
    postgres_url: str, limits: SpendingLimits
) -> None:
    # A hold decides with the connection it holds: asking the pool for a second one while every
    # connection is held by a hold waiting for its own second one wedges them all (a worker after
    # a restart: its first dozen authorizations at once, each until its step timed out).
    await limits.set(SpendingLimit(10_000, "USD"))
    size = 4
    async with asyncpg.create_pool(postgres_url, min_size=size, max_size=size) as small:
        holds = SpendingLimits(small)
        started = [
            holds.hold(str(uuid.uuid4()), f"c-{uuid.uuid4()}", "USD", 100) for _ in range(size)
        ]
        async with asyncio.timeout(10):
            await asyncio.gather(*started)
