"""Event store appends through `EventStore.append` beside plain asyncpg INSERTs of the same rows."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

import asyncpg

from commerce.bench.measure import Row, abba, comparison, drive
from eventstore.store import NO_STREAM, EventStore, NewEvent

ORDER_STEPS = (
    "OrderPlaced", "PaymentAuthorized", "InventoryReserved",
    "ShipmentCreated", "OrderConfirmed", "PaymentCaptured",
)  # fmt: skip
CONFIGS = ((1, 1), (1, 16), (6, 1), (6, 16))  # (events per append, concurrency)
TIMEOUT_S = 300.0
MIN_RATIO = 0.9  # issue 16: appends at least 90% of raw asyncpg at every size and concurrency

_RAW_INSERT = (
    "INSERT INTO events (stream_id, stream_version, event_id, event_type, data, metadata)"
    " VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb)"
)


def order_like_batches(count: int, size: int) -> list[tuple[str, list[NewEvent]]]:
    """`count` new streams, each with the first `size` events of an order's life."""
    batches = []
    for _ in range(count):
        order_id = str(uuid.uuid4())
        events = [
            NewEvent(
                uuid.uuid4(),
                ORDER_STEPS[step],
                {
                    "order_id": order_id,
                    "sku": "BENCH-1",
                    "quantity": 2,
                    "amount": 2500,
                    "currency": "USD",
                    "step": step + 1,
                },
                {"correlation_id": order_id, "causation_id": order_id, "actor": "bench"},
            )
            for step in range(size)
        ]
        batches.append((f"order-{order_id}", events))
    return batches


async def raw_insert(pool: asyncpg.Pool, stream_id: str, events: Sequence[NewEvent]) -> None:
    """The baseline: one parameterised INSERT per event, in one transaction per batch."""
    rows = [
        (stream_id, version, e.event_id, e.type, json.dumps(e.data), json.dumps(e.metadata))
        for version, e in enumerate(events, start=1)
    ]
    async with pool.acquire() as conn:
        if len(rows) == 1:
            await conn.execute(_RAW_INSERT, *rows[0])
            return
        async with conn.transaction():
            await conn.executemany(_RAW_INSERT, rows)


async def _appends(pool: asyncpg.Pool, size: int, concurrency: int, count: int) -> Row:
    store = EventStore(pool)
    ours_batches = order_like_batches(count, size)
    raw_batches = order_like_batches(count, size)

    async def ours(index: int) -> None:
        stream_id, events = ours_batches[index]
        await store.append(stream_id, events, NO_STREAM)

    async def raw(index: int) -> None:
        await raw_insert(pool, *raw_batches[index])

    label = f"{size} event(s)/append, concurrency {concurrency}"
    ours_m, raw_m = await abba(
        count, concurrency, TIMEOUT_S, (f"EventStore {label}", ours), (f"raw INSERT {label}", raw)
    )
    return comparison(
        "eventstore", f"EventStore.append, {size} event(s)/append", "events/s", concurrency,
        ours_m, "raw asyncpg INSERT" + (" (executemany, 1 tx)" if size > 1 else ""), raw_m,
        min_ratio=MIN_RATIO, units_per_op=size,
    )  # fmt: skip


async def bench_event_store(database_url: str, quick: bool) -> list[Row]:
    """Appends to new streams (expected version 0) at concurrency 1 and 16, each beside raw;
    in a full run, as many single-event appends as events in the six-event runs (18,000), so
    each half lasts seconds, not the half second 3,000 single appends took."""
    count = 300 if quick else 3000
    pool = await asyncpg.create_pool(database_url, min_size=16, max_size=16)
    assert pool is not None
    try:
        for _, concurrency in CONFIGS[:2]:  # warm up connections and caches, unmeasured
            await drive("warm-up", 20, concurrency, lambda i: _warm(pool, i), TIMEOUT_S)
        return [
            await _appends(pool, size, conc, count if quick else count * 6 // size)
            for size, conc in CONFIGS
        ]
    finally:
        await pool.close()


async def _warm(pool: asyncpg.Pool, _: int) -> None:
    stream_id, events = order_like_batches(1, 6)[0]
    await EventStore(pool).append(stream_id, events, NO_STREAM)
    await raw_insert(pool, *order_like_batches(1, 6)[0])
