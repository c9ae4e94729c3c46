"""The work an order costs the servers, counted on the session's real servers and held to
ceilings, so that more work per order fails here even where a timing could not show it.

Counts, not timings: the same counters as `make bench`'s "work per order" table
(commerce/bench/work.py). Each ceiling sits a little above what an order costs today; lower it
when a change makes an order cheaper, and raise it only with the reason in the commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
import redis.asyncio as redis
from temporalio.client import Client

from commerce.bench.counters import PostgresCounters
from commerce.bench.shoppers import Shopper
from commerce.bench.work import OrderWork, Servers, count_orders
from commerce.settings import Settings
from eventstore.orders import order_stream
from tests.e2e.conftest import CreateProduct, make_caller

pytestmark = pytest.mark.usefixtures("saga_worker")

ORDERS = 5

# (what is counted, per order or per request, its ceiling). No projector or notification
# dispatcher runs in the test session, so the PostgreSQL figures are the API's and the saga's
# activities' alone (`make bench` adds the worker's followers of the feed).
CEILINGS = {
    # Temporal, from the histories of every execution whose workflow id names the order.
    "executions started": 1,  # the saga alone: delivery is watched by the worker's sweep
    "history events": 37,  # every event of those executions' histories, open ones so far
    "workflow tasks": 5,  # WorkflowTaskStarted: each a round of the worker with the server
    # ActivityTaskScheduled: the three steps that call a provider (authorize, ship, capture)
    "activity tasks": 3,
    # MarkerRecorded of a local activity: reserve, confirm, complete (our own stores only)
    "local activities": 3,
    # UpsertWorkflowSearchAttributes, each a visibility write: `OrderStatus` once (completed),
    # and TemporalChangeVersion once per `workflow.patched` a new saga passes (four today)
    "search-attribute upserts": 5,
    "history bytes": 9_200,  # the events' protobuf size, payloads as stored (encrypted)
    # PostgreSQL, from pg_stat_statements and the transaction id counter. Both count the whole
    # server: sagas other tests left retrying add a little, so these two keep ~10% headroom.
    "statements": 55,  # every statement, BEGIN/COMMIT included (released connections send none)
    "write transactions": 20,  # transaction ids assigned: each transaction or savepoint that wrote
    "event store bytes": 3_500,  # pg_column_size of the order's rows in `events`
    # Redis, from INFO: commands processed and read events (a pipeline sent at once is one).
    "redis commands per add-to-cart": 27,
    "redis round trips per add-to-cart": 3,  # the write budgets (2) and the cart's one script
    "redis commands per checkout": 31,  # the checkout request and everything the saga does
    "redis round trips per checkout": 6,
}


@pytest.fixture
async def counters(postgres_url: str) -> AsyncIterator[PostgresCounters]:
    counters = await PostgresCounters.connect(postgres_url)
    yield counters
    await counters.close()


async def _event_store_bytes(pool: asyncpg.Pool, order_ids: list[str]) -> int:
    streams = [order_stream(order_id) for order_id in order_ids]
    size = await pool.fetchval(
        "SELECT sum(pg_column_size(e.*)) FROM events e WHERE stream_id = ANY($1)", streams
    )
    return int(size)


def _per_order(work: OrderWork, event_store_bytes: int) -> dict[str, float]:
    n, temporal, pg = work.orders, work.temporal, work.postgres
    add, checkout = work.redis["add"], work.redis["checkout"]
    counted = {
        "executions started": temporal.executions,
        "history events": temporal.events,
        "workflow tasks": temporal.workflow_tasks,
        "activity tasks": temporal.activities,
        "local activities": temporal.local_activities,
        "search-attribute upserts": temporal.upserts,
        "history bytes": temporal.history_bytes,
        "statements": pg.statement_count,
        "write transactions": pg.write_transactions,
        "event store bytes": event_store_bytes,
        "redis commands per add-to-cart": add.commands,
        "redis round trips per add-to-cart": add.round_trips,
        "redis commands per checkout": checkout.commands,
        "redis round trips per checkout": checkout.round_trips,
    }
    return {name: value / n for name, value in counted.items()}


async def _nothing_to_wait_for() -> None:
    return None


async def test_an_order_costs_no_more_than_its_ceilings(
    http: httpx.AsyncClient, settings: Settings, temporal_client: Client,
    redis_client: redis.Redis, pool: asyncpg.Pool, counters: PostgresCounters,
    create_product: CreateProduct,
) -> None:  # fmt: skip
    sku = str((await create_product(stock=ORDERS + 1))["sku"])
    shoppers = [Shopper(make_caller(settings).headers) for _ in range(ORDERS)]
    servers = Servers(counters, redis_client, temporal_client, temporal_db=None)
    # One order first, not counted: Redis learns the scripts (a first call answers NOSCRIPT).
    warm_up = [Shopper(make_caller(settings).headers)]
    await count_orders(servers, http, warm_up, sku, 1, _nothing_to_wait_for)

    work = await count_orders(servers, http, shoppers, sku, 1, _nothing_to_wait_for)

    stored = await _event_store_bytes(pool, [s.order_id for s in shoppers])
    per_order = _per_order(work, stored)
    over = {name: value for name, value in per_order.items() if value > CEILINGS[name]}
    assert not over, f"over the ceiling: {over}; all figures: {per_order}"
    # Every step ran, once, three remote and three local (the counts are not vacuous).
    assert (per_order["activity tasks"], per_order["local activities"]) == (3, 3)
