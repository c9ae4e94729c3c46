"""FeedLag reads the store's head at most once per interval and never reports a negative lag."""

from __future__ import annotations

from typing import Any, cast

from eventstore.feed_lag import AtMostEvery, FeedLag
from eventstore.store import EventStore


class _Store:
    def __init__(self, head: int) -> None:
        self.head, self.reads = head, 0

    async def head_position(self) -> int:
        self.reads += 1
        return self.head


class _Gauge:
    def __init__(self) -> None:
        self.values: list[float] = []

    def set(self, value: float) -> None:
        self.values.append(value)


async def test_the_head_is_read_at_once_then_at_most_every_interval() -> None:
    store, gauge, now = _Store(head=100), _Gauge(), [50.0]
    lag = FeedLag(cast(EventStore, store), gauge, every_s=1.0, clock=lambda: now[0])

    await lag.observe(90)
    for _ in range(10):
        now[0] += 0.09
        await lag.observe(95)
    now[0] += 0.2  # 1.1 s after the first read
    store.head = 120
    await lag.observe(100)

    assert store.reads == 2
    assert gauge.values == [10, 20]


async def test_a_follower_ahead_of_the_head_it_read_shows_no_negative_lag() -> None:
    store, gauge = _Store(head=7), _Gauge()
    lag = FeedLag(cast(EventStore, store), cast(Any, gauge))

    await lag.observe(9)

    assert gauge.values == [0]


def test_at_most_every_is_due_at_once_then_once_per_interval() -> None:
    now = [10.0]
    reads = AtMostEvery(every_s=1.0, clock=lambda: now[0])

    due = [reads.due()]
    for _ in range(12):
        now[0] += 0.25  # exact in binary: no step lands a hair short of the interval
        due.append(reads.due())

    assert [i for i, d in enumerate(due) if d] == [0, 4, 8, 12]
