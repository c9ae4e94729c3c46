"""Reconciliation: every order's money events against the payment provider's own records
(`commerce reconcile`, GET /api/v1/admin/reconciliation).

Orders are read in batches: first their streams, then the provider's records, so a movement the
provider made after our read of a settled order can only be one of ours on its way; an order
whose stream moved while it was judged is judged again. The rules are `domain/reconciliation.py`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

import asyncpg
from pydantic import TypeAdapter

from activities.payment_records import PaymentRecords
from activities.providers import ProviderUnavailable
from activities.sandbox_records import SandboxPaymentRecords
from commerce.settings import Settings
from domain.order import Order
from domain.payment_history import payment_history
from domain.provider_payments import ProviderPayments
from domain.reconciliation import (
    NEVER_PLACED,
    Mismatch,
    MismatchKind,
    OrderStanding,
    order_mismatches,
)
from eventstore.orders import domain_events, order_stream
from eventstore.placed_orders import PlacedOrders
from eventstore.reconciliation_runs import ReconciliationRun, ReconciliationRuns
from eventstore.store import EventStore, RecordedEvent

BATCH = 200
REJUDGE_ROUNDS = 3  # an order still moving after these is reported as last judged
T = TypeVar("T")


class ReconciliationUnavailable(ProviderUnavailable):
    """The payment provider did not answer: the run could not judge the orders (HTTP 503, exit
    status 2). Callers of `Reconciler` catch this, not the providers' own error types."""


@dataclass(frozen=True, slots=True)
class ReconciliationReport:
    """A run's answer: `orders_checked` orders were compared (placed since `since`, or with
    provider records since then; all when None), `orders_in_flight` of them were still moving
    (only what we recorded was judged for those), `mismatches` lists each disagreement and
    `counts` their number by kind (every kind listed). Clean when `mismatches` is empty."""

    started_at: datetime
    finished_at: datetime
    since: datetime | None
    orders_checked: int
    orders_in_flight: int
    clean: bool
    counts: dict[str, int]
    mismatches: list[Mismatch] = field(default_factory=list)


REPORT_JSON = TypeAdapter(ReconciliationReport)


def as_utc(moment: datetime) -> datetime:
    """A time without a zone is taken as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def payment_records(settings: Settings, pool: asyncpg.Pool) -> PaymentRecords:
    """The records of the payment gateway `COMMERCE_PAYMENT_PROVIDER` chooses: the sandbox's
    ledger, or Stripe's PaymentIntents and refunds (one instance per run)."""
    if settings.payment_provider == "stripe":
        from activities.stripe_records import StripePaymentRecords

        return StripePaymentRecords.from_settings(settings, pool)
    return SandboxPaymentRecords(pool)


@dataclass
class _Judged:
    version: int
    settled: bool
    mismatches: list[Mismatch]


class Reconciler:
    """Compares our records of orders with the provider's (`records`), in batches."""

    def __init__(self, pool: asyncpg.Pool, records: PaymentRecords, batch: int = BATCH) -> None:
        self._pool = pool
        self._store = EventStore(pool)
        self._records = records
        self._batch = batch

    async def reconcile(self, since: datetime | None = None) -> ReconciliationReport:
        """The whole shop: orders placed at or after `since` and orders the provider moved
        money for since then (every order when None). The run is stored, for the metric.
        Raises ReconciliationUnavailable."""
        started_at = datetime.now(UTC)
        since = as_utc(since) if since else None
        judged: dict[str, _Judged] = {}
        at_provider = await _answered(self._records.orders_since(since))
        async for page in PlacedOrders(self._pool).since(since, self._batch):
            judged |= await self._judge(page)
        rest = sorted(at_provider - judged.keys())
        for start in range(0, len(rest), self._batch):
            judged |= await self._judge(rest[start : start + self._batch])
        report = _report(started_at, since, judged)
        await ReconciliationRuns(self._pool).record(
            ReconciliationRun(
                report.started_at, report.finished_at, report.since, report.orders_checked,
                report.orders_in_flight, report.counts,
            )
        )  # fmt: skip
        return report

    async def reconcile_orders(self, order_ids: Sequence[str]) -> ReconciliationReport:
        """These orders only (not stored). Raises ReconciliationUnavailable."""
        started_at = datetime.now(UTC)
        judged: dict[str, _Judged] = {}
        ids = list(dict.fromkeys(order_ids))
        for start in range(0, len(ids), self._batch):
            judged |= await self._judge(ids[start : start + self._batch])
        return _report(started_at, None, judged)

    async def _judge(self, order_ids: Sequence[str]) -> dict[str, _Judged]:
        judged = await self._judge_now(order_ids)
        for _ in range(REJUDGE_ROUNDS):
            suspects = [i for i, j in judged.items() if j.mismatches]
            if not suspects:
                break
            versions = await self._versions(suspects)
            moved = [i for i in suspects if versions[i] != judged[i].version]
            if not moved:
                break
            judged |= await self._judge_now(moved)
        return judged

    async def _judge_now(self, order_ids: Sequence[str]) -> dict[str, _Judged]:
        streams = await self._store.read_streams([order_stream(i) for i in order_ids])
        provider = await _answered(self._records.payments_of(order_ids))
        return {
            order_id: _judge(streams[order_stream(order_id)], provider[order_id])
            for order_id in order_ids
        }

    async def _versions(self, order_ids: Sequence[str]) -> dict[str, int]:
        streams = await self._store.read_streams([order_stream(i) for i in order_ids])
        return {i: len(streams[order_stream(i)]) for i in order_ids}


async def _answered(question: Awaitable[T]) -> T:
    try:
        return await question
    except ProviderUnavailable as silent:
        raise ReconciliationUnavailable(str(silent)) from silent


def _judge(recorded: list[RecordedEvent], provider: ProviderPayments) -> _Judged:
    if not recorded:
        return _Judged(0, True, order_mismatches(None, provider, NEVER_PLACED))
    events = domain_events(recorded)
    order = Order.rehydrate(events)
    settled = order.is_terminal and not order.cleanup_pending and not order.pending_refunds
    standing = OrderStanding(closed=order.is_terminal, settled=settled)
    history = payment_history(zip(events, (r.recorded_at for r in recorded), strict=True))
    return _Judged(len(recorded), settled, order_mismatches(history, provider, standing))


def _report(
    started_at: datetime, since: datetime | None, judged: dict[str, _Judged]
) -> ReconciliationReport:
    mismatches = [m for j in judged.values() for m in j.mismatches]
    counts = {kind.value: 0 for kind in MismatchKind}
    for mismatch in mismatches:
        counts[mismatch.kind.value] += 1
    return ReconciliationReport(
        started_at=started_at,
        finished_at=datetime.now(UTC),
        since=since,
        orders_checked=len(judged),
        orders_in_flight=sum(not j.settled for j in judged.values()),
        clean=not mismatches,
        counts=counts,
        mismatches=mismatches,
    )
