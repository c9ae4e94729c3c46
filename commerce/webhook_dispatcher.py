"""The webhook dispatcher: the event store is the outbox, delivered at least once.

Subscriptions are split into RANGES by id; each range has one leader among the worker processes
(a PostgreSQL advisory lock, as the projector), so more workers share the deliveries. A leader:

1. follows the global feed (in FeedPosition order) from the positions of its active
   subscriptions and, in one transaction per batch, stores a delivery per matching event and
   subscription and moves each subscription's position (an event is fanned out exactly once);
2. runs one lane per subscription: the oldest pending delivery of each order is due (order kept
   per order id), attempts go out concurrently (IN_FLIGHT per subscription), so a slow or dead
   endpoint holds only its own lane, never another subscription's, nor the saga. While an
   endpoint is failing its lane sends one delivery at a time and rests between failed ones as a
   single delivery's retries would, so a dead endpoint does not take the others' share of the
   machine either.

An attempt is stored before it is sent. A failed one is retried with exponential backoff and
jitter for COMMERCE_WEBHOOK_RETRY_HOURS, then the delivery is failed; a subscription whose every
attempt failed for that long is disabled. A worker that dies mid-attempt leaves the delivery
pending: the next leader sends it again, same body, same `Webhook-Id`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import httpx

from commerce.dispatch_metrics import (
    DISPATCHER_LAG,
    WEBHOOK_ATTEMPTS,
    WEBHOOK_DELIVERIES_FAILED,
    WEBHOOK_LAG,
    WEBHOOK_SUBSCRIPTIONS_DISABLED,
)
from commerce.payload_codec import EncryptionCodec
from commerce.settings import Settings
from commerce.webhook_sender import AttemptOutcome, WebhookSender
from commerce.webhook_signing import signature_headers, unseal_secret
from domain.public_events import envelope, matches
from domain.webhook_rules import disables, gives_up, retry_delay_s
from eventstore.feed_lag import AtMostEvery, FeedLag
from eventstore.leadership import Leadership
from eventstore.public_feed import FeedItem, public_items
from eventstore.store import EventStore, FeedPosition
from eventstore.webhook_deliveries import DueDelivery, NewDelivery, WebhookDeliveries, fan_out
from eventstore.webhook_subscriptions import Subscription, WebhookSubscriptions

log = logging.getLogger("commerce.webhooks")

RANGES = 4  # subscription ranges, each with its own leader (fixed: positions live per subscription)
IN_FLIGHT = 16  # concurrent attempts per subscription
_LOCK_CLASS = 0x77656268  # advisory lock namespace of webhook range leadership
_BATCH = 500
_CATCH_UP = 100  # events per pass for a subscription behind the others of its range


class DeliveryPolicy:
    """Timeouts, the retry window and the jitter source every lane of a process shares."""

    def __init__(self, settings: Settings, rng: random.Random | None = None) -> None:
        self.window = timedelta(hours=settings.webhook_retry_hours)
        self.initial_s = settings.webhook_retry_initial_s
        self.timeout = httpx.Timeout(
            settings.webhook_timeout_s, connect=settings.webhook_connect_timeout_s
        )
        # Longer than any attempt can take: only a dead worker's attempt is repeated early.
        self.lease_s = settings.webhook_connect_timeout_s + settings.webhook_timeout_s + 5
        self.rng = rng or random.Random()
        self.sender = WebhookSender(
            production=settings.environment == "production",
            allow_private=settings.webhook_allow_private,
        )


class Lane:
    """Delivers one subscription's due deliveries until cancelled."""

    def __init__(
        self,
        subscription_id: UUID,
        pool: asyncpg.Pool,
        codec: EncryptionCodec,
        policy: DeliveryPolicy,
        idle_s: float = 0.25,
    ) -> None:
        self.subscription_id = subscription_id
        self.wake = asyncio.Event()
        self.stopping = False  # finish the attempts in flight, start no more
        self._lag_reads = AtMostEvery()  # a statement of its own: once a second at most
        self._subscriptions = WebhookSubscriptions(pool)
        self._deliveries = WebhookDeliveries(pool)
        self._codec = codec
        self._policy = policy
        self._idle_s = idle_s
        # While the endpoint is failing, one delivery at a time probes it; after each failed
        # probe the lane rests as a delivery would (retry_delay_s), so a dead endpoint costs one
        # attempt per backoff, not IN_FLIGHT attempts per round trip for every new event.
        self._failed_probes = 0
        self._probe_at = 0.0  # time.monotonic() of the next probe

    async def run(self) -> None:
        # An idle connection is reused for 1 s at most: below the keep-alive of the servers our
        # customers run (gunicorn 2 s; Node.js, uvicorn, Apache 5 s), which would otherwise hang
        # up as a delivery is sent on it and fail a healthy endpoint's attempt.
        limits = httpx.Limits(
            max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT, keepalive_expiry=1.0
        )
        label = str(self.subscription_id)
        try:
            async with httpx.AsyncClient(timeout=self._policy.timeout, limits=limits) as client:
                while not self.stopping and await self._round(client, label):
                    pass
        finally:
            with contextlib.suppress(KeyError):
                WEBHOOK_LAG.remove(label)

    async def _round(self, client: httpx.AsyncClient, label: str) -> bool:
        """Attempt what is due, or wait for more; False once the subscription is not active."""
        try:
            subscription = await self._subscriptions.get(self.subscription_id)
            if subscription is None or not subscription.active:
                return False
            failing = subscription.failing_since is not None
            if not failing:
                self._failed_probes = 0
            resting = failing and time.monotonic() < self._probe_at
            due = (
                []
                if resting
                else await self._deliveries.due(subscription.id, 1 if failing else IN_FLIGHT)
            )
            if self._lag_reads.due():
                await self._measure_lag(label)
            if due:
                secrets = await self._secrets(subscription)
                delivered = await asyncio.gather(
                    *(self._attempt(client, subscription, secrets, d) for d in due)
                )
                if failing and not any(delivered):
                    self._rest_after_failed_probe()
                return True
            if await self._disable_if_failing(subscription.id, subscription.failing_since):
                return False
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            log.exception("webhook lane %s failed; retrying", self.subscription_id)
            await asyncio.sleep(1.0)
            return True
        self.wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), self._idle_s)
        return True

    def _rest_after_failed_probe(self) -> None:
        self._failed_probes += 1
        delay = retry_delay_s(self._failed_probes, self._policy.initial_s, self._policy.rng)
        self._probe_at = time.monotonic() + delay

    async def _secrets(self, subscription: Subscription) -> list[str]:
        """The current secret, and the previous one while its grace period lasts."""
        secrets = [await unseal_secret(self._codec, subscription.secret_sealed)]
        expires = subscription.previous_secret_expires_at
        if subscription.previous_secret_sealed and expires and expires > datetime.now(UTC):
            secrets.append(await unseal_secret(self._codec, subscription.previous_secret_sealed))
        return secrets

    async def _attempt(
        self,
        client: httpx.AsyncClient,
        subscription: Subscription,
        secrets: list[str],
        delivery: DueDelivery,
    ) -> bool:
        """One attempt at `delivery`; True when the endpoint took it."""
        attempt = await self._deliveries.start_attempt(delivery.id, self._policy.lease_s)
        if attempt is None:
            return False  # delivered or redelivered meanwhile
        headers = signature_headers(
            secrets, str(delivery.event_id), datetime.now(UTC), delivery.payload
        )
        outcome = await self._policy.sender.send(
            client, subscription.url, headers, delivery.payload
        )
        if outcome.delivered:
            await self._deliveries.finish_attempt(
                delivery.id, attempt, outcome.response_code, None, "delivered"
            )
            WEBHOOK_ATTEMPTS.labels("delivered").inc()
            if subscription.failing_since is not None:
                await self._subscriptions.record_success(subscription.id)
            return True
        await self._failed(subscription, delivery, attempt, outcome)
        return False

    async def _failed(
        self,
        subscription: Subscription,
        delivery: DueDelivery,
        attempt: int,
        outcome: AttemptOutcome,
    ) -> None:
        now = datetime.now(UTC)
        delay = retry_delay_s(attempt, self._policy.initial_s, self._policy.rng)
        next_at = now + timedelta(seconds=delay)
        code, error = outcome.response_code, outcome.error
        if gives_up(delivery.retry_until, next_at):
            await self._deliveries.finish_attempt(delivery.id, attempt, code, error, "failed")
            WEBHOOK_ATTEMPTS.labels("failed").inc()
            WEBHOOK_DELIVERIES_FAILED.inc()
            log.warning(
                "webhook %s: delivery %s of %s failed after %d attempts: %s",
                subscription.id, delivery.id, delivery.event_type, attempt, error,
            )  # fmt: skip
        else:
            await self._deliveries.finish_attempt(
                delivery.id, attempt, code, error, "pending", next_at
            )
            WEBHOOK_ATTEMPTS.labels("retrying").inc()
        since = await self._subscriptions.record_failure(subscription.id)
        await self._disable_if_failing(subscription.id, since, error)

    async def _disable_if_failing(
        self, subscription_id: UUID, since: datetime | None, error: str | None = None
    ) -> bool:
        """Disable the subscription once no attempt has succeeded for a whole retry window."""
        if since is None or not disables(since, datetime.now(UTC), self._policy.window):
            return False
        reason = f"every attempt failed since {since.isoformat()}"
        reason += f"; last: {error}" if error else ""
        if await self._subscriptions.disable(subscription_id, reason):
            WEBHOOK_SUBSCRIPTIONS_DISABLED.inc()
            log.warning("webhook %s disabled: %s", subscription_id, reason)
        return True

    async def _measure_lag(self, label: str) -> None:
        oldest = await self._deliveries.oldest_pending_at(self.subscription_id)
        lag = 0.0 if oldest is None else (datetime.now(UTC) - oldest).total_seconds()
        WEBHOOK_LAG.labels(label).set(max(lag, 0.0))


class RangeDispatcher:
    """Leader of one subscription range: fans the feed out and runs the range's lanes."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        codec: EncryptionCodec,
        policy: DeliveryPolicy,
        range_no: int,
        ranges: int = RANGES,
    ) -> None:
        self._pool = pool
        self._store = EventStore(pool)
        self._subscriptions = WebhookSubscriptions(pool)
        self._codec = codec
        self._policy = policy
        self._range = (range_no, ranges)
        self._name = f"webhooks-{range_no}"
        self._leadership = Leadership(pool, _LOCK_CLASS, self._name)
        self._lanes: dict[UUID, tuple[Lane, asyncio.Task[None]]] = {}
        self._lag = FeedLag(self._store, DISPATCHER_LAG.labels(self._name))

    @property
    def is_leader(self) -> bool:
        return self._leadership.connection is not None

    async def run_once(self) -> int:
        """Fan out the next batch if this process leads the range; the events consumed.

        Subscriptions at the same position share one read. The most advanced ones (those
        keeping up) go first with a full batch; each one further behind (re-activated after a
        pause, catching up) gets a smaller batch per pass, so a backlog never holds the others'
        fan-out back by more than that."""
        if not await self._leadership.acquire():
            return 0
        subscriptions = await self._subscriptions.active_in_range(*self._range)
        self._sync_lanes(subscriptions)
        if not subscriptions:
            DISPATCHER_LAG.labels(self._name).set(0)
            return 0
        groups: dict[FeedPosition, list[Subscription]] = {}
        for subscription in subscriptions:
            groups.setdefault(subscription.feed_position, []).append(subscription)
        consumed, ends = 0, []
        for rank, position in enumerate(sorted(groups, reverse=True)):
            batch = await self._store.read_all(position, _BATCH if rank == 0 else _CATCH_UP)
            if batch:
                items = await public_items(self._store, batch)
                woken = await self._fan_out(groups[position], items, batch[-1].feed_position)
                for subscription_id in woken:
                    self._lanes[subscription_id][0].wake.set()
            consumed += len(batch)
            ends.append(batch[-1].global_position if batch else position.global_position)
        await self._lag.observe(min(ends))
        return consumed

    async def run_forever(self, stop: asyncio.Event, idle_s: float = 0.1) -> None:
        """Lead (or keep trying to) and follow the feed until `stop` is set."""
        try:
            while not stop.is_set():
                try:
                    consumed = await self.run_once()
                except Exception:  # a database outage must not end the dispatcher; retry
                    log.exception("webhook range %s failed; retrying", self._name)
                    await self.close(graceful=False)
                    consumed, pause = 0, 1.0
                else:
                    pause = idle_s if self._lanes else 1.0
                if consumed == 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), pause)
        finally:
            await self.close()

    async def close(self, graceful: bool = True) -> None:
        """Stop the lanes (letting attempts in flight end, when `graceful`, for as long as one
        may take) and give up leadership."""
        lanes, self._lanes = self._lanes, {}
        for lane, _ in lanes.values():
            lane.stopping = True
            lane.wake.set()
        tasks = [task for _, task in lanes.values()]
        if graceful and tasks:
            await asyncio.wait(tasks, timeout=self._policy.lease_s)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._leadership.release()

    def _sync_lanes(self, subscriptions: list[Subscription]) -> None:
        wanted = {s.id for s in subscriptions}
        for subscription_id, (_, task) in list(self._lanes.items()):
            if subscription_id not in wanted or task.done():
                task.cancel()
                del self._lanes[subscription_id]
        for subscription_id in wanted - self._lanes.keys():
            lane = Lane(subscription_id, self._pool, self._codec, self._policy)
            self._lanes[subscription_id] = (lane, asyncio.create_task(lane.run()))

    async def _fan_out(
        self, subscriptions: list[Subscription], items: list[FeedItem], end: FeedPosition
    ) -> list[UUID]:
        """Store the deliveries of a batch and move the positions, in one transaction."""
        leader = self._leadership.connection
        assert leader is not None
        window_s = self._policy.window.total_seconds()
        woken = []
        async with leader.transaction():
            for subscription in subscriptions:
                if subscription.feed_position >= end:
                    continue
                new = [_delivery(item) for item in items
                       if item.recorded.feed_position > subscription.feed_position
                       and matches(subscription.event_types, item.entry.name)]  # fmt: skip
                await fan_out(leader, subscription.id, new, window_s)
                moved = await WebhookSubscriptions.advance(
                    leader, subscription.id, subscription.feed_position, end
                )
                if not moved:  # another process moved it: undo this batch, re-read next pass
                    raise _PositionMoved(subscription.id)
                if new:
                    woken.append(subscription.id)
        return woken


class _PositionMoved(Exception):
    """A subscription's position changed under a fan-out (a leader that lost its lock)."""


def _delivery(item: FeedItem) -> NewDelivery:
    recorded = item.recorded
    body = envelope(item.entry, item.order, item.event, recorded.event_id, recorded.recorded_at)
    return NewDelivery(
        event_id=recorded.event_id,
        event_type=item.entry.name,
        order_id=item.order.order_id,
        global_position=recorded.global_position,
        recorded_at=recorded.recorded_at,
        payload=json.dumps(body, separators=(",", ":"), ensure_ascii=False),
    )
