"""Read models of orders and sagas: how a batch of events changes them, and how they are read."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from domain import events as ev
from domain.status import OrderStatus
from eventstore.checkouts import ORDER_CURSOR
from eventstore.cursors import InvalidCursor
from eventstore.store import RecordedEvent

__all__ = ["InvalidCursor", "OrderSummaries", "apply_to_read_models", "projector_lag"]

S = OrderStatus
PROJECTION = "order_summaries"
_PUBLIC = (
    "order_id, customer_id, status, currency, total, item_count, failure_reason, failed_step,"
    " tracking_number, created_at, updated_at, completed_at"
)
_STORED = f"{_PUBLIC}, resume_status, last_position"
_UPSERT = (
    f"INSERT INTO order_summaries ({_STORED}) VALUES ({', '.join(f'${i}' for i in range(1, 15))})"
    " ON CONFLICT (order_id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in _STORED.split(", ")[1:])
)
_STATUS_AFTER: dict[str, OrderStatus] = {
    ev.PaymentAuthorized.type: S.PAYMENT_AUTHORIZED,
    ev.PaymentActionRequired.type: S.AWAITING_PAYMENT,
    ev.InventoryReserved.type: S.INVENTORY_RESERVED,
    ev.ShipmentCreated.type: S.SHIPMENT_CREATED,
    ev.OrderConfirmed.type: S.CONFIRMED,
    ev.PaymentCaptured.type: S.PAYMENT_CAPTURED,
    ev.OrderCompleted.type: S.COMPLETED,
    ev.CancellationRequested.type: S.COMPENSATING,
    ev.CompensationStarted.type: S.COMPENSATING,
    ev.OrderFailed.type: S.FAILED,
    ev.OrderCancelled.type: S.CANCELLED,
    ev.AmendmentProposed.type: S.AWAITING_CUSTOMER,
    ev.AmendmentAccepted.type: S.PAYMENT_AUTHORIZED,
}
_COMPENSATIONS = {ev.PaymentVoided.type, ev.ReservationReleased.type, ev.ShipmentCancelled.type}


def placed_summary(event: ev.OrderPlaced, at: datetime) -> dict[str, Any]:
    return dict(
        order_id=event.order_id, customer_id=event.customer_id, status=S.PENDING.value,
        currency=event.currency, total=event.total,
        item_count=sum(line.quantity for line in event.lines), failure_reason=None,
        failed_step=None, tracking_number=None, created_at=at, updated_at=at, completed_at=None,
        resume_status=None,
    )  # fmt: skip


def change_summary(summary: dict[str, Any], event: ev.DomainEvent, at: datetime) -> None:
    """Mirror of OrderState.apply for the fields a listing shows (tests/unit/
    test_read_model_status.py holds the status to the aggregate's)."""
    after = _STATUS_AFTER.get(event.type)
    match event:
        case ev.SagaStalled():
            summary["resume_status"], summary["status"] = summary["status"], S.STALLED.value
        case ev.SagaResumed():
            summary["status"], summary["resume_status"] = (
                summary["resume_status"] or S.PENDING,
                None,
            )
        case ev.CompensationStarted():
            summary["resume_status"] = None
        case ev.PaymentCaptured():
            # Also the answer to a capture in doubt: any stall is over, and an order being
            # undone stays so (the capture is refunded).
            summary["resume_status"] = None
            if summary["status"] == S.COMPENSATING:
                after = S.COMPENSATING
        case ev.ShipmentCreated():
            summary["tracking_number"] = event.tracking_number
        case ev.OrderFailed():
            summary["failure_reason"], summary["failed_step"] = event.reason, event.step
        case ev.OrderCompleted():
            summary["completed_at"] = at
        case ev.AmendmentAccepted():
            summary["total"] = event.total
            summary["item_count"] = sum(line.quantity for line in event.lines)
    if after is not None:
        summary["status"] = str(after)
    summary["updated_at"] = at


async def apply_to_read_models(
    conn: asyncpg.Connection, batch: Sequence[tuple[RecordedEvent, ev.DomainEvent]]
) -> None:
    """Apply decoded events, in feed order, inside the caller's transaction.

    An event read a second time (at or before its order's `last_position`: an order's events
    have rising positions) changes nothing, so a checkpoint set back a little (migration 0064)
    costs no double count."""
    ids = list({event.order_id for _, event in batch})
    rows = await conn.fetch(f"SELECT {_STORED} FROM order_summaries WHERE order_id = ANY($1)", ids)
    summaries = {r["order_id"]: dict(r) for r in rows}
    touched: set[str] = set()
    step_failures: Counter[str] = Counter()
    counters: Counter[str] = Counter()
    for recorded, event in batch:
        summary = summaries.get(event.order_id)
        if summary is not None and summary["last_position"] >= recorded.global_position:
            continue  # applied already
        if isinstance(event, ev.OrderFailed | ev.SagaStalled):
            step_failures[event.step] += 1
        if event.type in _COMPENSATIONS:
            counters["compensations"] += 1
        if isinstance(event, ev.OrderPlaced):
            summaries[event.order_id] = placed_summary(event, recorded.recorded_at)
        elif summary is not None:
            change_summary(summary, event, recorded.recorded_at)
        else:
            continue  # no OrderPlaced for it: not an order this read model knows
        summaries[event.order_id]["last_position"] = recorded.global_position
        touched.add(event.order_id)
    columns = _STORED.split(", ")
    await conn.executemany(_UPSERT, [[summaries[i][c] for c in columns] for i in touched])
    await _add(conn, "saga_step_failures", "step", "failures", step_failures)
    await _add(conn, "saga_counters", "name", "value", counters)


async def _add(
    conn: asyncpg.Connection, table: str, key: str, value: str, by: Counter[str]
) -> None:
    if by:
        await conn.execute(
            f"INSERT INTO {table} ({key}, {value}) SELECT * FROM unnest($1::text[], $2::bigint[])"
            f" ON CONFLICT ({key}) DO UPDATE SET {value} = {table}.{value} + EXCLUDED.{value}",
            list(by), list(by.values()),
        )  # fmt: skip


async def projector_lag(conn: asyncpg.Connection | asyncpg.Pool, name: str = PROJECTION) -> int:
    """Events in the store beyond the projection's checkpoint (EventStore.head_position)."""
    lag = await conn.fetchval(
        "SELECT greatest((SELECT coalesce(max(global_position), 0) FROM events) - coalesce("
        " (SELECT position FROM projection_checkpoints WHERE name = $1), 0), 0)",
        name,
    )
    return int(lag)


_STATISTICS = """
SELECT count(*) FILTER (WHERE status = 'completed' AND completed_at > now() - interval '1 hour')
         AS completed_last_hour,
       percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (
         ORDER BY extract(epoch FROM completed_at - created_at) * 1000
       ) FILTER (WHERE status = 'completed') AS durations
FROM order_summaries
"""


class OrderSummaries:
    """Order listings and saga statistics from the projected read models; they may lag the
    streams by `projector_lag` events, while a single order read from its stream never does."""

    def __init__(self, pool: asyncpg.Pool, projection: str = PROJECTION) -> None:
        self._pool = pool
        self._projection = projection

    async def page(
        self, customer_id: str | None, status: str | None, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Summaries newest first, optionally filtered, and the next page's cursor (None on the
        last page). Raises InvalidCursor for a cursor this service did not hand out."""
        where: list[str] = []
        args: list[object] = []
        for column, value in (("customer_id", customer_id), ("status", status)):
            if value is not None:
                args.append(value)
                where.append(f"{column} = ${len(args)}")
        after = ORDER_CURSOR.decode(cursor)
        if after is not None:
            args.extend(after)
            where.append(f"(created_at, order_id) < (${len(args) - 1}, ${len(args)})")
        rows = await self._pool.fetch(
            f"SELECT {_PUBLIC} FROM order_summaries WHERE {' AND '.join(where) or 'true'}"
            f" ORDER BY created_at DESC, order_id DESC LIMIT {int(limit) + 1}",
            *args,
        )
        items = [dict(r) for r in rows[:limit]]
        if len(rows) <= limit or not items:
            return items, None
        return items, ORDER_CURSOR.encode(items[-1]["created_at"], items[-1]["order_id"])

    async def statuses(self, order_ids: Sequence[str]) -> dict[str, str]:
        """The projected status of each of these orders the read model has."""
        if not order_ids:
            return {}
        rows = await self._pool.fetch(
            "SELECT order_id, status FROM order_summaries WHERE order_id = ANY($1)", order_ids
        )
        return {r["order_id"]: r["status"] for r in rows}

    async def lag(self) -> int:
        return await projector_lag(self._pool, self._projection)

    async def statistics(self) -> dict[str, Any]:
        """API.md's saga statistics plus `projector_lag`, all read from one snapshot."""
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            by_status = {s.value: 0 for s in OrderStatus}
            for row in await conn.fetch("SELECT status, count(*) FROM order_summaries GROUP BY 1"):
                by_status[row["status"]] = row["count"]
            stats = await conn.fetchrow(_STATISTICS)
            failures = await conn.fetch("SELECT step, failures FROM saga_step_failures")
            compensations = await conn.fetchval(
                "SELECT coalesce(sum(value), 0) FROM saga_counters WHERE name = 'compensations'"
            )
            lag = await projector_lag(conn, self._projection)
        assert stats is not None
        durations = stats["durations"] or [None, None, None]
        return {
            "total": sum(by_status.values()),
            "by_status": by_status,
            "completed_last_hour": stats["completed_last_hour"],
            "duration_ms": {
                key: None if value is None else round(value)
                for key, value in zip(("p50", "p95", "p99"), durations, strict=True)
            },
            "step_failures": {r["step"]: r["failures"] for r in failures},
            "compensations": int(compensations),
            "projector_lag": lag,
        }
