"""A follower's lag gauge, read from the store at most once a second.

The lag is the store's head (`EventStore.head_position`, a `max(global_position)` over the
events: a statement of its own) minus the follower's position. Followers poll every 0.1-0.2 s;
reading the head on every poll was a third of what an idle worker asked of PostgreSQL
(`make bench`, statements at rest). A Prometheus gauge scraped every 15 s loses nothing when it
is at most a second old.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from eventstore.store import EventStore

LAG_READ_EVERY_S = 1.0  # seconds between two reads of the store's head by one follower


class GaugeChild(Protocol):
    """A labelled Prometheus gauge (`Gauge.labels(...)`)."""

    def set(self, value: float) -> None: ...


class AtMostEvery:
    """`due()` is True at most once every `every_s` seconds (the first call always is): how a
    gauge that costs a statement is kept fresh enough (the followers' lag, a webhook lane's)."""

    def __init__(
        self, every_s: float = LAG_READ_EVERY_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._every_s = every_s
        self._clock = clock
        self._last: float | None = None

    def due(self) -> bool:
        now = self._clock()
        if self._last is not None and now - self._last < self._every_s:
            return False
        self._last = now
        return True


class FeedLag:
    """Sets `gauge` to the events between the store's head and a follower's position, reading
    the head at most every `every_s` seconds (the first call always reads)."""

    def __init__(
        self,
        store: EventStore,
        gauge: GaugeChild,
        every_s: float = LAG_READ_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._gauge = gauge
        self._reads = AtMostEvery(every_s, clock)

    async def observe(self, position: int) -> None:
        """The follower has read up to global position `position` (an event count, not bytes)."""
        if self._reads.due():
            self._gauge.set(max(await self._store.head_position() - position, 0))
