"""Orders kept by a worker process: a step reads only the events appended since it last saw the
order, whoever appended them, and nothing a step decided but did not store is ever kept.

"Another writer" is a repository on a pool of its own, as the API or a second worker is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

import asyncpg
import pytest
from temporalio.testing import ActivityEnvironment

from activities.fulfillment import FulfillmentActivities
from domain.errors import InvalidTransition
from domain.order import Order, OrderStatus
from eventstore.order_cache import OrderCache
from eventstore.orders import OrderRepository
from eventstore.store import ConcurrencyError, EventStore, NewEvent
from tests.integration.saga_support import add_product, event_types, place_order
from worker import sandbox_ports
from workflows.saga_inputs import StepInput

STREAM_READ = "FROM events WHERE stream_id"


class CountingPool:
    """A pool that counts each read of an order stream and the event rows it fetched."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self.stream_reads: list[int] = []  # rows fetched, one entry per read

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)

    async def fetch(self, query: str, *args: Any, **kwargs: Any) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self._pool.fetch(query, *args, **kwargs)
        if STREAM_READ in query:
            self.stream_reads.append(len(rows))
        return rows

    def as_pool(self) -> asyncpg.Pool:
        return cast(asyncpg.Pool, self)


class DropsTheConnection(EventStore):
    """Appends fail: before the statement reaches the server, or after it committed."""

    def __init__(self, pool: asyncpg.Pool, after_commit: bool) -> None:
        super().__init__(pool)
        self._after_commit = after_commit

    async def append(self, stream_id: str, events: Sequence[NewEvent], expected: int) -> int:
        if self._after_commit:
            await super().append(stream_id, events, expected)
        raise ConnectionResetError("the connection to the event store dropped")


@pytest.fixture
async def other_pool(postgres_url: str) -> AsyncIterator[asyncpg.Pool]:
    """Another process's connections to the same database."""
    pool = await asyncpg.create_pool(postgres_url, min_size=1, max_size=2)
    assert pool is not None
    yield pool
    await pool.close()


async def _new_order(pool: asyncpg.Pool) -> str:
    sku = await add_product(pool, on_hand=5)
    return await place_order(pool, [(sku, 1)])


def _cached(pool: asyncpg.Pool, size: int = 100) -> tuple[OrderRepository, OrderCache]:
    cache = OrderCache(size)
    return OrderRepository(EventStore(pool), cache), cache


async def _load(orders: OrderRepository, order_id: str) -> Order:
    order = await orders.load(order_id)
    assert order is not None
    return order


async def test_a_kept_order_is_loaded_with_the_events_another_writer_appended(
    pool: asyncpg.Pool, other_pool: asyncpg.Pool
) -> None:
    order_id = await _new_order(pool)
    counting = CountingPool(pool)
    worker, _ = _cached(counting.as_pool())
    other = OrderRepository(EventStore(other_pool))
    order = await _load(worker, order_id)
    order.authorize_payment("auth-1", order.total)
    await worker.save(order)  # kept at version 2

    elsewhere = await _load(other, order_id)
    elsewhere.reserve_inventory("res-1")
    await other.save(elsewhere)  # version 3, unseen by the worker's cache

    loaded = await _load(worker, order_id)
    assert counting.stream_reads == [1, 1]  # the whole stream once, then only what it missed
    assert loaded.status is OrderStatus.INVENTORY_RESERVED
    assert loaded.snapshot() == (await _load(other, order_id)).snapshot()
    loaded.create_shipment("ship-1", "TRACK-1")
    await worker.save(loaded)  # appended after the version it really was at
    assert (await event_types(pool, order_id))[-1] == "ShipmentCreated"


async def test_a_refused_or_unstored_decision_leaves_the_kept_order_as_it_was(
    pool: asyncpg.Pool,
) -> None:
    order_id = await _new_order(pool)
    counting = CountingPool(pool)
    orders, _ = _cached(counting.as_pool())
    await _load(orders, order_id)  # kept
    order = await _load(orders, order_id)  # from the cache
    order.authorize_payment("auth-1", order.total)  # decided, never stored:
    with pytest.raises(InvalidTransition):
        order.confirm()  # the step's next decision is refused

    again = await _load(orders, order_id)
    assert (again.status, again.version, again.pending_events) == (OrderStatus.PENDING, 1, [])
    again.authorize_payment("auth-1", again.total)
    await orders.save(again)  # kept at version 2
    again.reserve_inventory("res-1")  # the caller's order moves on, the kept one does not

    last = await _load(orders, order_id)
    assert (last.status, last.version) == (OrderStatus.PAYMENT_AUTHORIZED, 2)
    assert counting.stream_reads == [1, 0, 0, 0]


@pytest.mark.parametrize("after_commit", [False, True], ids=["not stored", "answer lost"])
async def test_a_failed_append_leaves_the_kept_order_as_it_was(
    pool: asyncpg.Pool, after_commit: bool
) -> None:
    order_id = await _new_order(pool)
    counting = CountingPool(pool)
    cache = OrderCache(100)
    failing = OrderRepository(DropsTheConnection(counting.as_pool(), after_commit), cache)
    await _load(failing, order_id)  # kept
    order = await _load(failing, order_id)  # from the cache
    order.authorize_payment("auth-1", order.total)
    with pytest.raises(ConnectionResetError):
        await failing.save(order)

    kept = cache.get(order_id)
    assert kept is not None
    assert (kept.status, kept.version) == (OrderStatus.PENDING, 1)
    # The retried step sees the stream as it is: the append that committed, or none.
    again = await _load(OrderRepository(EventStore(counting.as_pool()), cache), order_id)
    stored = OrderStatus.PAYMENT_AUTHORIZED if after_commit else OrderStatus.PENDING
    assert (again.status, again.version) == (stored, 1 + after_commit)
    assert counting.stream_reads == [1, 0, int(after_commit)]


async def test_a_conflicting_append_drops_the_kept_order_and_the_step_decides_again(
    pool: asyncpg.Pool, other_pool: asyncpg.Pool
) -> None:
    order_id = await _new_order(pool)
    worker, cache = _cached(pool)
    other = OrderRepository(EventStore(other_pool))
    order = await _load(worker, order_id)
    elsewhere = await _load(other, order_id)
    elsewhere.authorize_payment("auth-1", elsewhere.total)
    await other.save(elsewhere)

    order.request_cancellation("changed my mind")  # decided on version 1
    with pytest.raises(ConcurrencyError):
        await worker.save(order)
    assert cache.get(order_id) is None

    retried = await _load(worker, order_id)  # what the retried activity sees
    assert (retried.status, retried.version) == (OrderStatus.PAYMENT_AUTHORIZED, 2)
    retried.request_cancellation("changed my mind")
    await worker.save(retried)
    stored = await event_types(pool, order_id)
    assert stored[:3] == ["OrderPlaced", "PaymentAuthorized", "CancellationRequested"]
    assert stored.count("CancellationRequested") == 1  # decided once, on fresh state


_STEPS = (
    "authorize_payment", "reserve_inventory", "create_shipment",
    "confirm_order", "capture_payment", "send_notifications",
)  # fmt: skip


async def _run_steps(activities: FulfillmentActivities, order_id: str) -> None:
    env = ActivityEnvironment()
    for name in _STEPS:
        await env.run(getattr(activities, name), StepInput(order_id, "tok_ok"))


async def test_each_step_after_the_first_reads_only_the_stream_tail(pool: asyncpg.Pool) -> None:
    order_id = await _new_order(pool)
    counting = CountingPool(pool)
    # The worker's ports, as `commerce worker` builds them (COMMERCE_ORDER_CACHE_SIZE's default).
    await _run_steps(FulfillmentActivities(sandbox_ports(counting.as_pool())), order_id)

    # One read per step; the first reads OrderPlaced, the API's; each later one finds nothing new.
    assert counting.stream_reads == [1, 0, 0, 0, 0, 0]
    assert len(await event_types(pool, order_id)) == 7


async def test_without_a_cache_each_step_reads_the_whole_stream(pool: asyncpg.Pool) -> None:
    order_id = await _new_order(pool)
    counting = CountingPool(pool)
    ports = sandbox_ports(counting.as_pool(), order_cache_size=0)
    await _run_steps(FulfillmentActivities(ports), order_id)

    assert counting.stream_reads == [1, 2, 3, 4, 5, 6]
    assert await event_types(pool, order_id) == [
        "OrderPlaced", "PaymentAuthorized", "InventoryReserved", "ShipmentCreated",
        "OrderConfirmed", "PaymentCaptured", "OrderCompleted",
    ]  # fmt: skip
