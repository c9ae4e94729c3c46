"""The projector: follows the global feed from a checkpoint and keeps the read models current."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from domain import events as ev
from domain.events import event_from_data
from eventstore.feed_checkpoints import (
    advance_checkpoint,
    reset_checkpoint,
    start_checkpoint,
)
from eventstore.feed_lag import FeedLag
from eventstore.leadership import Leadership
from eventstore.projection_metrics import PROJECTOR_EVENTS, PROJECTOR_LAG
from eventstore.read_models import PROJECTION, apply_to_read_models, projector_lag
from eventstore.store import EventStore, RecordedEvent

log = logging.getLogger("commerce.projector")

_LOCK_CLASS = 0x70726F6A  # advisory lock namespace of projector leadership; the name is the key
_READ_MODELS = "order_summaries, saga_step_failures, saga_counters"


def _decoded(batch: list[RecordedEvent]) -> list[tuple[RecordedEvent, ev.DomainEvent]]:
    decoded = []
    for recorded in batch:
        try:
            decoded.append((recorded, event_from_data(recorded.type, recorded.data)))
        except (KeyError, TypeError, ValueError):  # not an order event: nothing to project
            log.debug("skipping %s at %d", recorded.type, recorded.global_position)
    return decoded


class Projector:
    """Applies events to the read models in batches, each batch and its checkpoint in one
    transaction. One projector per name leads (a session advisory lock); others wait. The
    checkpoint is also compared-and-set, so a rebuild racing a leader's batch wins cleanly."""

    def __init__(self, pool: asyncpg.Pool, name: str = PROJECTION, batch_size: int = 500) -> None:
        self._pool = pool
        self._store = EventStore(pool)
        self._name = name
        self._batch_size = batch_size
        self._leadership = Leadership(pool, _LOCK_CLASS, name)
        self._lag = FeedLag(self._store, PROJECTOR_LAG.labels(name))

    @property
    def is_leader(self) -> bool:
        return self._leadership.connection is not None

    @property
    def _leader(self) -> asyncpg.pool.PoolConnectionProxy | None:
        return self._leadership.connection

    async def run_once(self) -> int:
        """Apply the next batch if this projector leads; returns the number of events consumed."""
        if not await self._lead():
            return 0
        assert self._leader is not None
        found = await self._store.read_from_checkpoint(self._leader, self._name, self._batch_size)
        if found is None:  # its row was deleted while this process led: begin again
            await start_checkpoint(self._leader, self._name)
            return 0
        start, batch = found
        end = batch[-1].feed_position if batch else start
        if batch:
            async with self._leader.transaction():
                if not await advance_checkpoint(self._leader, self._name, start, end):
                    return 0  # a rebuild reset the checkpoint meanwhile
                await apply_to_read_models(self._leader, _decoded(batch))
            PROJECTOR_EVENTS.labels(self._name).inc(len(batch))
        await self._lag.observe(end.global_position)
        return len(batch)

    async def run_forever(self, stop: asyncio.Event, idle_sleep_s: float = 0.2) -> None:
        """Catch up and follow the feed until `stop` is set; a non-leader keeps trying to lead."""
        try:
            while not stop.is_set():
                try:
                    applied = await self.run_once()
                except Exception:  # a database outage must not end the projector; retry
                    log.exception("projection %s failed; retrying", self._name)
                    await self.close()
                    applied, idle_sleep = 0, max(idle_sleep_s, 1.0)
                else:
                    idle_sleep = idle_sleep_s
                if applied == 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), idle_sleep)
        finally:
            await self.close()

    async def rebuild(self) -> int:
        """Empty the read models and the checkpoint, then catch up; returns the events applied.

        When another process leads, it is the one that catches up (its next batch sees the reset).
        Returns with leadership given up, so a caller may close its pool.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            # The checkpoint row first, as a batch locks it: the same order cannot deadlock.
            await reset_checkpoint(conn, self._name)
            await conn.execute(f"TRUNCATE {_READ_MODELS}")
        applied = 0
        try:
            while consumed := await self.run_once():
                applied += consumed
        finally:
            await self.close()
        return applied

    async def lag(self) -> int:
        """Head position of the store minus this projection's checkpoint."""
        return await projector_lag(self._pool, self._name)

    async def close(self) -> None:
        """Give up leadership (the advisory lock) and the connection that holds it."""
        await self._leadership.release()

    async def _lead(self) -> bool:
        if self._leader is not None:
            return True
        if not await self._leadership.acquire():
            return False
        assert self._leader is not None
        await start_checkpoint(self._leader, self._name)
        return True
