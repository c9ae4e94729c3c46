"""`make bench`'s "work per order" table: what one order costs the servers, counted from real
runs, beside the bare six-activity workflow's cost counted the same way."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as redis
from temporalio.client import Client

from commerce.bench.counters import (
    STATS_FLUSH_S,
    PostgresCounters,
    feed_caught_up,
    read_redis,
    sqlite_used_bytes,
)
from commerce.bench.cpu import ROLES, cpu_seconds, spent
from commerce.bench.histories import TemporalWork, count_events, fetch_histories, started_since
from commerce.bench.measure import Row, drive
from commerce.bench.orders import bearer, expect, running_bare
from commerce.bench.shoppers import Shopper, add_line, check_out, open_carts
from commerce.bench.work import OrderWork, Servers, count_orders
from commerce.settings import Settings

ORDERS, QUICK_ORDERS, WARM_UP, CONCURRENCY = 50, 10, 5, 10
CATCH_UP_TIMEOUT_S = 120.0
QUICK_REST_S = 3.0  # `--quick`'s window at rest: statements and Redis commands only
TIMEOUT_S = 300.0
BARE_TYPE = "BenchBareWorkflow"


async def bench_work(
    settings: Settings, temporal: Client, quick: bool, app_pids: dict[str, int]
) -> list[Row]:
    """Warm up, measure the worker's polling at rest, count the orders, count as many bare
    workflows; rows of section "work", each per order (or per request). `app_pids` names the
    API's and worker's processes, for their CPU time."""
    count = QUICK_ORDERS if quick else ORDERS
    counters = await PostgresCounters.connect(settings.database_url)
    cache = redis.from_url(settings.redis_url)
    temporal_db = settings.data_dir.resolve() / "temporal" / "temporal.db"
    servers = Servers(counters, cache, temporal, temporal_db)
    base_url = f"http://127.0.0.1:{settings.api_port}"
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=120) as http:
            sku = await _product(settings, http, count + WARM_UP)
            await _orders(settings, http, temporal, sku, WARM_UP)
            rest = await _at_rest(servers, QUICK_REST_S if quick else STATS_FLUSH_S)
            shoppers = _shoppers(settings, count)
            cpu_start, cpu_caught_up = cpu_seconds(app_pids), dict[str, float]()
            settle = _settler(
                counters, lambda: cpu_caught_up.update(cpu_seconds(app_pids)), flush=not quick
            )
            work = await count_orders(servers, http, shoppers, sku, CONCURRENCY, settle)
        bare, bare_bytes, bare_cpu = await _bare(temporal, temporal_db, count, app_pids)
    finally:
        await counters.close()
        await cache.aclose()
    return work_rows(work, rest, bare, bare_bytes, transactions=not quick) + cpu_rows(
        spent(cpu_start, cpu_caught_up), bare_cpu, count
    )


def _shoppers(settings: Settings, count: int) -> list[Shopper]:
    return [Shopper(bearer(settings, f"work-{uuid.uuid4().hex[:12]}", "customer"))
            for _ in range(count)]  # fmt: skip


async def _product(settings: Settings, http: httpx.AsyncClient, units: int) -> str:
    sku = f"WORK-{uuid.uuid4().hex[:8]}"
    product = {"name": "Work widget", "price": 1250, "currency": "USD", "stock": units}
    admin = bearer(settings, "bench-admin", "admin")
    await expect(await http.put(f"/api/v1/admin/products/{sku}", json=product, headers=admin), 201)
    return sku


async def _orders(
    settings: Settings, http: httpx.AsyncClient, temporal: Client, sku: str, count: int
) -> None:
    shoppers = _shoppers(settings, count)
    await open_carts(http, shoppers, CONCURRENCY)
    await add_line(http, shoppers, sku, CONCURRENCY)
    await check_out(http, temporal, shoppers, CONCURRENCY)


def _settler(counters: PostgresCounters, caught_up: Callable[[], None], flush: bool) -> Any:
    """Until the feed's followers caught up; with `flush`, also until the backends' transaction
    counts reached the statistics view (`STATS_FLUSH_S`; `--quick` does not count them)."""

    async def settle() -> None:
        await feed_caught_up(counters, CATCH_UP_TIMEOUT_S)
        caught_up()
        if flush:
            await asyncio.sleep(STATS_FLUSH_S)

    return settle


@dataclass(frozen=True)
class AtRest:
    """Work per second with no order in flight; `transactions_per_s` None where not read."""

    statements_per_s: float
    transactions_per_s: float | None
    redis_commands_per_s: float


async def _at_rest(servers: Servers, window_s: float) -> AtRest:
    """What the processes do with no order in flight (the worker's followers of the feed poll),
    per second, over `window_s` seconds. Statements and Redis commands count at once;
    transactions reach the view only after a stats flush (`STATS_FLUSH_S`), so they are read
    only over a window at least that long (a full run; `--quick` gives None)."""
    await feed_caught_up(servers.postgres, CATCH_UP_TIMEOUT_S)
    flushed = window_s >= STATS_FLUSH_S
    if flushed:
        await asyncio.sleep(STATS_FLUSH_S)  # the warm-up's transactions reach the view first
    before, redis_before = await servers.postgres.read(), await read_redis(servers.redis)
    await asyncio.sleep(window_s)
    after, redis_after = await servers.postgres.read(), await read_redis(servers.redis)
    work = after - before
    return AtRest(
        statements_per_s=work.statement_count / window_s,
        transactions_per_s=work.transactions / window_s if flushed else None,
        redis_commands_per_s=(redis_after - redis_before).commands / window_s,
    )


async def _bare(
    temporal: Client, temporal_db: Path, count: int, app_pids: dict[str, int]
) -> tuple[TemporalWork, int | None, dict[str, float]]:
    since = datetime.now(UTC) - timedelta(seconds=1)
    before = sqlite_used_bytes(temporal_db)
    async with running_bare(temporal) as bare:
        cpu_before = cpu_seconds(app_pids)
        done = await drive("bare workflows (work)", count, CONCURRENCY, bare, TIMEOUT_S)
        cpu = spent(cpu_before, cpu_seconds(app_pids))
    if done.errors:
        raise RuntimeError(f"bare workflows: {done.errors} failed; first: {done.first_error}")
    async with asyncio.timeout(30):
        while True:  # visibility is written a moment after the start
            ids = await started_since(temporal, since, workflow_type=BARE_TYPE)
            if len(ids) >= count:
                break
            await asyncio.sleep(0.2)
    after = sqlite_used_bytes(temporal_db)
    grown = None if before is None or after is None else after - before
    return count_events(await fetch_histories(temporal, ids)), grown, cpu


def _row(group: str, name: str, ours: float, bare: float | None, **extra: Any) -> Row:
    return {"section": "work", "group": group, "name": name, "ours": round(ours, 2),
            "bare": None if bare is None else round(bare, 2), **extra}  # fmt: skip


def work_rows(
    work: OrderWork,
    rest: AtRest,
    bare: TemporalWork,
    bare_bytes: int | None,
    transactions: bool = True,
) -> list[Row]:
    """The table's rows, per order; `transactions` False (`--quick`): the transaction counts,
    which reach PostgreSQL's statistics view only after a flush the run did not wait for, are
    left out rather than shown short."""
    n, b = work.orders, bare.executions or 1
    ours = work.temporal
    rows = [
        _row("Temporal", name, value(ours) / n, value(bare) / b) for name, value in TEMPORAL_FIGURES
    ]
    if work.temporal_db_bytes is not None and bare_bytes is not None:
        rows.append(_row("Temporal", "SQLite bytes in use", work.temporal_db_bytes / n,
                         bare_bytes / b))  # fmt: skip
    pg = work.postgres
    per_order_s = work.seconds / n  # the seconds of the run, per order
    top = [[query, round(calls / n, 2)] for query, calls in pg.statements.most_common(15)]
    at_rest = "  as many seconds at rest (the worker's polling)"
    rows += [
        _row("PostgreSQL", "statements (cart to read models caught up)", pg.statement_count / n,
             0, top=top, at_rest_per_s=round(rest.statements_per_s, 2)),
        _row("PostgreSQL", at_rest, rest.statements_per_s * per_order_s, 0),
    ]  # fmt: skip
    if transactions:
        rows.append(_row("PostgreSQL", "transactions (xact_commit + xact_rollback)",
                         pg.transactions / n, 0))  # fmt: skip
        if rest.transactions_per_s is not None:
            rows.append(_row("PostgreSQL", at_rest, rest.transactions_per_s * per_order_s, 0))
    rows += [
        _row("PostgreSQL", "write transactions (xids; savepoints too)",
             pg.write_transactions / n, 0),
        _row("PostgreSQL", "event store bytes (events, indexes, TOAST)",
             pg.event_store_bytes / n, 0),
        _row("PostgreSQL", "database bytes (every table)", pg.database_bytes / n, 0),
    ]  # fmt: skip
    for stage, label in (("cart", "per new cart"), ("add", "per add-to-cart"),
                         ("checkout", "per checkout (request and saga)")):  # fmt: skip
        used = work.redis[stage]
        by_command = {name: round(calls / n, 2) for name, calls in used.by_command.most_common()}
        rows.append(_row("Redis", f"commands {label}", used.commands / n, 0, by_command=by_command))
        rows.append(_row("Redis", f"round trips {label}", used.round_trips / n, 0))
    return rows


def cpu_rows(ours: dict[str, float], bare: dict[str, float], count: int) -> list[Row]:
    """CPU milliseconds per order by process, and in all, beside the bare workflow's: ours from
    the first cart until the feed's followers caught up, the bare workflows' from the first
    start to the last result (`commerce.bench.cpu`)."""
    rows = [
        _row("CPU ms", label, ours[role] * 1000 / count, bare[role] * 1000 / count)
        for role, label in ROLES.items()
    ]
    total_ours, total_bare = sum(ours.values()), sum(bare.values())
    rows.append(_row("CPU ms", "all of them", total_ours * 1000 / count,
                     total_bare * 1000 / count))  # fmt: skip
    return rows


TEMPORAL_FIGURES = (
    ("workflow executions started", lambda w: w.executions),
    ("history events", lambda w: w.events),
    ("workflow tasks", lambda w: w.workflow_tasks),
    ("activity tasks scheduled", lambda w: w.activities),
    ("activity attempts (retries too)", lambda w: w.activity_attempts),
    ("local activities (a marker each, no task)", lambda w: w.local_activities),
    ("search-attribute upserts", lambda w: w.upserts),
    ("markers of patches", lambda w: w.patches),
    ("timers started", lambda w: w.count("TIMER_STARTED")),
    ("child workflows started", lambda w: w.count("START_CHILD_WORKFLOW_EXECUTION_INITIATED")),
    ("visibility writes (start, upserts, close; derived)", lambda w: w.visibility_writes),
    ("history bytes", lambda w: w.history_bytes),
)
