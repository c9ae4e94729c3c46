"""The work a batch of orders costs the servers, counted stage by stage: Redis per cart, per
add-to-cart and per checkout; PostgreSQL statements, transactions and bytes; Temporal history
events and SQLite bytes. Used by `make bench` (`commerce.bench.work_rows`) and held to ceilings
by tests/e2e/test_work_per_order.py.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import redis.asyncio as redis
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from commerce.bench.counters import (
    PostgresCounters,
    PostgresWork,
    RedisWork,
    read_redis,
    sqlite_used_bytes,
)
from commerce.bench.histories import TemporalWork, count_events, fetch_histories, started_since
from commerce.bench.shoppers import Shopper, add_line, check_out, open_carts


@dataclass(frozen=True)
class OrderWork:
    """Totals for `orders` orders; divide by it for one order."""

    orders: int
    redis: dict[str, RedisWork]  # by stage: "cart", "add", "checkout" (the request and the saga)
    stages: dict[str, PostgresWork]  # the same stages, and "settle" (read models catching up)
    postgres: PostgresWork  # from the first cart to the end of `settle`
    temporal: TemporalWork  # every execution whose workflow id names one of the orders
    temporal_db_bytes: int | None  # growth of the dev server's SQLite file, when it has one
    seconds: float  # from the first cart to the end of `settle`


@dataclass(frozen=True)
class Servers:
    """Where the counters are read."""

    postgres: PostgresCounters
    redis: redis.Redis
    temporal: Client
    temporal_db: Path | None  # None: the dev server keeps its database in memory


async def count_orders(
    servers: Servers,
    http: httpx.AsyncClient,
    shoppers: Sequence[Shopper],
    sku: str,
    concurrency: int,
    settle: Callable[[], Awaitable[None]],
) -> OrderWork:
    """Drive one order per shopper stage by stage (all carts, all lines, all checkouts to the
    saga's end), reading the counters between stages; `settle` waits until the work the orders
    left behind (projections, notifications, counters' flush) is done."""
    pg, since = servers.postgres, datetime.now(UTC) - timedelta(seconds=1)
    started = time.perf_counter()
    sqlite_before = sqlite_used_bytes(servers.temporal_db)
    readings = [(await pg.read(), await read_redis(servers.redis))]
    stages = {
        "cart": lambda: open_carts(http, shoppers, concurrency),
        "add": lambda: add_line(http, shoppers, sku, concurrency),
        "checkout": lambda: check_out(http, servers.temporal, shoppers, concurrency),
    }
    for stage in stages.values():
        await stage()
        readings.append((await pg.read(), await read_redis(servers.redis)))
    await settle()
    end = await pg.read()
    seconds = time.perf_counter() - started
    sqlite_after = sqlite_used_bytes(servers.temporal_db)
    names = list(stages)
    redis_work = {name: readings[i + 1][1] - readings[i][1] for i, name in enumerate(names)}
    pg_stages = {name: readings[i + 1][0] - readings[i][0] for i, name in enumerate(names)}
    pg_stages["settle"] = end - readings[-1][0]
    temporal = await order_executions(servers.temporal, since, [s.order_id for s in shoppers])
    grown = None if sqlite_before is None or sqlite_after is None else sqlite_after - sqlite_before
    total = end - readings[0][0]
    return OrderWork(len(shoppers), redis_work, pg_stages, total, temporal, grown, seconds)


async def order_executions(client: Client, since: datetime, order_ids: list[str]) -> TemporalWork:
    """Counted from the histories of every execution that names one of the orders in its id:
    those visibility lists as started since `since`, and the children the histories start."""
    listed = {i for i in await started_since(client, since) if any(o in i for o in order_ids)}
    histories = dict(zip(listed, await fetch_histories(client, listed), strict=True))
    while children := _children(histories.values()) - histories.keys():
        histories |= dict(zip(children, await fetch_histories(client, children), strict=True))
    return count_events(histories.values())


def _children(histories: Iterable[Sequence[HistoryEvent]]) -> set[str]:
    started = EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
    return {
        event.start_child_workflow_execution_initiated_event_attributes.workflow_id
        for events in histories
        for event in events
        if event.event_type == started
    }
