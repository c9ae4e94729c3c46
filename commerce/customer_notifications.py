"""Customer notifications, driven by the event store rather than by saga steps.

A follower of the global feed (one leader among the workers, checkpointed like a projection)
renders a message for each event a customer hears of (`NOTIFIED`) and hands it to the notifier
port with the key `notify:<event id>`, so a batch sent again after a crash or an outage tells
nobody twice. While the notifier is down the follower waits and tries the same batch again
(backing off up to a minute): messages are late, never lost, never reordered per order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict

import asyncpg

from activities.providers import Notification, Notifier
from commerce.dispatch_metrics import DISPATCHER_LAG, NOTIFICATIONS_SENT
from commerce.notification_templates import NOTIFIED, NotificationTemplates
from eventstore.feed_checkpoints import advance_checkpoint, start_checkpoint
from eventstore.feed_lag import FeedLag
from eventstore.leadership import Leadership
from eventstore.public_feed import FeedItem, public_items
from eventstore.store import EventStore

log = logging.getLogger("commerce.notifications")

CHECKPOINT = "customer_notifications"  # a row of projection_checkpoints (migration 0031)
_LOCK_CLASS = 0x6E6F7469  # advisory lock namespace of notification leadership
_MAX_PAUSE_S = 60.0


class CustomerNotifications:
    """Follows the feed and notifies customers, `batch_size` events at a time."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        notifier: Notifier,
        templates: NotificationTemplates,
        batch_size: int = 200,
    ) -> None:
        self._store = EventStore(pool)
        self._notifier = notifier
        self._templates = templates
        self._batch_size = batch_size
        self._leadership = Leadership(pool, _LOCK_CLASS, CHECKPOINT)
        self._lag = FeedLag(self._store, DISPATCHER_LAG.labels(CHECKPOINT))

    @property
    def is_leader(self) -> bool:
        return self._leadership.connection is not None

    async def run_once(self) -> int:
        """Notify for the next batch if this process leads; the events consumed. Raises
        ProviderUnavailable (the checkpoint stays) while the notifier is down."""
        if not await self._leadership.acquire():
            return 0
        leader = self._leadership.connection
        assert leader is not None
        found = await self._store.read_from_checkpoint(leader, CHECKPOINT, self._batch_size)
        if found is None:  # the migration made the row; a wiped table starts at the head
            await start_checkpoint(leader, CHECKPOINT, await self._store.feed_head())
            return 0
        start, batch = found
        end = batch[-1].feed_position if batch else start
        if batch:
            items = [i for i in await public_items(self._store, batch) if i.entry.name in NOTIFIED]
            await self._send_all(items)
            await advance_checkpoint(leader, CHECKPOINT, start, end)
        await self._lag.observe(end.global_position)
        return len(batch)

    async def run_forever(self, stop: asyncio.Event, idle_s: float = 0.2) -> None:
        """Follow the feed until `stop` is set; a non-leader keeps trying to lead."""
        failures = 0
        try:
            while not stop.is_set():
                try:
                    consumed = await self.run_once()
                    failures = 0
                except Exception as error:  # the notifier or the database is down: retry later
                    failures += 1
                    log.warning("customer notifications paused: %s", error, exc_info=failures == 1)
                    await self._leadership.release()
                    consumed, pause = 0, min(2.0 ** (failures - 1), _MAX_PAUSE_S)
                else:
                    pause = idle_s
                if consumed == 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), pause)
        finally:
            await self._leadership.release()

    async def close(self) -> None:
        await self._leadership.release()

    async def _send_all(self, items: list[FeedItem]) -> None:
        """Each order's messages in order; different orders at once."""
        by_order: dict[str, list[tuple[str, Notification]]] = defaultdict(list)
        for item in items:
            try:
                message = self._templates.render(item)
            except Exception:  # a template fault must not hold every later message back
                log.exception("no notification for %s %s", item.entry.name, item.recorded.event_id)
                continue
            by_order[message.order_id].append((f"notify:{item.recorded.event_id}", message))

        async def send(messages: list[tuple[str, Notification]]) -> None:
            for key, message in messages:
                await self._notifier.notify(key, message)
                NOTIFICATIONS_SENT.labels(message.kind).inc()

        await asyncio.gather(*(send(messages) for messages in by_order.values()))
