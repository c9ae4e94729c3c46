"""The projector and read models on a real PostgreSQL: order streams written through the
OrderRepository, projected, killed, raced and rebuilt; the shared database is compared by the
order ids each test created or against the whole events table."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY

from domain.events import OrderLine
from domain.order import Order
from eventstore.cursors import InvalidCursor
from eventstore.orders import OrderRepository, order_stream
from eventstore.projections import Projector
from eventstore.read_models import OrderSummaries
from eventstore.store import EventStore
from tests.integration.saga_support import ADDRESS

Step = Callable[[Order], None]

# name: (the commands after placing, final status, failed step, compensations)
PATHS: dict[str, tuple[list[Step], str, str | None, int]] = {
    "completed": (
        [
            lambda o: o.authorize_payment("auth-1", o.total),
            lambda o: o.reserve_inventory("res-1"),
            lambda o: o.create_shipment("ship-1", "TRACK-1"),
            lambda o: o.confirm(),
            lambda o: o.capture_payment("cap-1", o.total),
            lambda o: o.record_notifications(["email"]),
            lambda o: o.complete(),
        ],
        "completed", None, 0,
    ),
    "declined": (
        [lambda o: o.fail("the card was declined", "authorize_payment")], "failed",
        "authorize_payment", 0,
    ),
    "capture_declined": (
        [
            lambda o: o.authorize_payment("auth-1", o.total),
            lambda o: o.reserve_inventory("res-1"),
            lambda o: o.create_shipment("ship-1", "TRACK-2"),
            lambda o: o.confirm(),
            lambda o: o.start_compensation("capture declined", "capture_payment"),
            lambda o: o.cancel_shipment(),
            lambda o: o.release_reservation(),
            lambda o: o.void_payment(),
            lambda o: o.fail("capture declined", "capture_payment"),
        ],
        "failed", "capture_payment", 3,
    ),
    "cancelled": (
        [
            lambda o: o.authorize_payment("auth-1", o.total),
            lambda o: o.request_cancellation("changed my mind"),
            lambda o: o.void_payment(),
            lambda o: o.mark_cancelled("changed my mind"),
        ],
        "cancelled", None, 1,
    ),
    "stalled": (
        [
            lambda o: o.authorize_payment("auth-1", o.total),
            lambda o: o.stall("reserve_inventory", "database restarting"),
        ],
        "stalled", None, 0,
    ),
    "resumed": (
        [
            lambda o: o.authorize_payment("auth-1", o.total),
            lambda o: o.reserve_inventory("res-1"),
            lambda o: o.stall("create_shipment", "provider down"),
            lambda o: o.resume("create_shipment"),
        ],
        "inventory_reserved", None, 0,
    ),
    "pending": ([], "pending", None, 0),
}  # fmt: skip
STALLS = {"stalled": "reserve_inventory", "resumed": "create_shipment"}


async def place_orders(pool: asyncpg.Pool, customer_id: str) -> dict[str, str]:
    """One order per path, their events saved in rounds so the streams interleave in the feed."""
    repository = OrderRepository(EventStore(pool))
    orders: dict[str, Order] = {}
    for n, path in enumerate(PATHS):
        lines = [OrderLine(sku="SKU-A", name="A", quantity=n + 1, unit_price=700)]
        order = Order.place(str(uuid.uuid4()), customer_id, f"cart-{n}", "USD", lines, ADDRESS)
        orders[path] = order
        await repository.save(order)
    for round_ in range(max(len(steps) for steps, *_ in PATHS.values())):
        for path, order in orders.items():
            steps = PATHS[path][0]
            if round_ < len(steps):
                steps[round_](order)
                await repository.save(order)
    return {path: order.order_id for path, order in orders.items()}


@pytest.fixture
async def projectors(pool: asyncpg.Pool) -> AsyncIterator[Callable[..., Projector]]:
    made: list[Projector] = []

    def make(batch_size: int = 500) -> Projector:
        made.append(Projector(pool, batch_size=batch_size))
        return made[-1]

    yield make
    for projector in made:
        await projector.close()


async def catch_up(projector: Projector) -> None:
    while await projector.run_once():
        pass
    assert projector.is_leader


async def summaries(pool: asyncpg.Pool, order_ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = await pool.fetch("SELECT * FROM order_summaries WHERE order_id = ANY($1)", order_ids)
    return {r["order_id"]: dict(r) for r in rows}


ReadModels = tuple[dict[str, dict[str, Any]], list[tuple[Any, ...]], list[tuple[Any, ...]]]


async def read_models(pool: asyncpg.Pool, order_ids: list[str]) -> ReadModels:
    failures = await pool.fetch("SELECT step, failures FROM saga_step_failures ORDER BY step")
    counters = await pool.fetch("SELECT name, value FROM saga_counters ORDER BY name")
    return (
        await summaries(pool, order_ids),
        [tuple(r) for r in failures],
        [tuple(r) for r in counters],
    )


LABELS = {"projection": "order_summaries"}


def applied_events() -> float:
    return REGISTRY.get_sample_value("commerce_projector_events_total", LABELS) or 0.0


async def truth_of_counters(pool: asyncpg.Pool) -> tuple[dict[str, int], int]:
    """Step failures and compensations counted straight from the whole events table."""
    rows = await pool.fetch(
        "SELECT data->>'step' AS step, count(*) FROM events"
        " WHERE event_type IN ('OrderFailed', 'SagaStalled') GROUP BY 1"
    )
    compensations = await pool.fetchval(
        "SELECT count(*) FROM events"
        " WHERE event_type IN ('PaymentVoided', 'ReservationReleased', 'ShipmentCancelled')"
    )
    return {r["step"]: r["count"] for r in rows}, compensations


async def projected_counters(pool: asyncpg.Pool) -> tuple[dict[str, int], int]:
    rows = await pool.fetch("SELECT step, failures FROM saga_step_failures")
    compensations = await pool.fetchval(
        "SELECT coalesce(sum(value), 0) FROM saga_counters WHERE name = 'compensations'"
    )
    return {r["step"]: r["failures"] for r in rows}, compensations


async def test_summaries_match_the_order_streams(
    pool: asyncpg.Pool, projectors: Callable[..., Projector]
) -> None:
    ids = await place_orders(pool, f"cust-{uuid.uuid4()}")
    await catch_up(projectors())

    projected = await summaries(pool, list(ids.values()))
    store = EventStore(pool)
    for n, (path, order_id) in enumerate(ids.items()):
        stream = await store.read_stream(order_stream(order_id))
        order = await OrderRepository(store).load(order_id)
        assert order is not None
        row = projected[order_id]
        _, status, failed_step, _ = PATHS[path]
        assert (row["status"], row["failed_step"]) == (order.status, failed_step) == (
            status, failed_step,
        )  # fmt: skip
        assert (row["customer_id"], row["currency"], row["total"], row["item_count"]) == (
            order.customer_id, "USD", order.total, n + 1,
        )  # fmt: skip
        assert (row["failure_reason"], row["tracking_number"]) == (
            order.failure_reason, order.tracking_number,
        )  # fmt: skip
        assert (row["created_at"], row["updated_at"], row["last_position"]) == (
            stream[0].recorded_at, stream[-1].recorded_at, stream[-1].global_position,
        )  # fmt: skip
        completed = stream[-1].recorded_at if status == "completed" else None
        assert row["completed_at"] == completed


async def test_projector_killed_mid_stream_resumes_to_what_a_rebuild_gives(
    pool: asyncpg.Pool, projectors: Callable[..., Projector]
) -> None:
    warm = projectors()
    await catch_up(warm)
    await warm.close()
    ids = list((await place_orders(pool, f"cust-{uuid.uuid4()}")).values())

    first = projectors(batch_size=3)
    assert [await first.run_once(), await first.run_once()] == [3, 3]
    assert first._leader is not None
    await pool.execute("SELECT pg_terminate_backend($1)", first._leader.get_server_pid())
    await first.close()  # hands the dead connection back to the pool; its lock died with it
    second = projectors(batch_size=7)
    await catch_up(second)
    resumed = await read_models(pool, ids)
    await second.close()
    await projectors().rebuild()

    assert await read_models(pool, ids) == resumed
    assert {row["status"] for row in resumed[0].values()} == {p[1] for p in PATHS.values()}


async def test_two_projectors_at_once_count_every_event_once(
    pool: asyncpg.Pool, projectors: Callable[..., Projector]
) -> None:
    ids = list((await place_orders(pool, f"cust-{uuid.uuid4()}")).values())
    await pool.execute(
        "TRUNCATE order_summaries, saga_step_failures, saga_counters;"
        " UPDATE projection_checkpoints SET transaction_id = '0', position = 0"
        " WHERE name = 'order_summaries'"
    )
    one, two = projectors(batch_size=50), projectors(batch_size=50)
    stop_one, stop_two = asyncio.Event(), asyncio.Event()
    tasks = [
        asyncio.create_task(one.run_forever(stop_one, idle_sleep_s=0.01)),
        asyncio.create_task(two.run_forever(stop_two, idle_sleep_s=0.01)),
    ]
    while not (one.is_leader or two.is_leader):
        await asyncio.sleep(0.005)
    (stop_one if one.is_leader else stop_two).set()  # the leader steps down mid-backlog
    async with asyncio.timeout(15):
        while await one.lag() > 0 or not (one.is_leader or two.is_leader):
            await asyncio.sleep(0.02)
    stop_one.set()
    stop_two.set()
    await asyncio.gather(*tasks)

    assert await projected_counters(pool) == await truth_of_counters(pool)
    placed = await pool.fetchval(
        "SELECT count(*) FROM events WHERE event_type = 'OrderPlaced' AND data ? 'customer_id'"
    )
    assert await pool.fetchval("SELECT count(*) FROM order_summaries") == placed
    assert set(await summaries(pool, ids)) == set(ids)


async def test_events_read_a_second_time_change_no_read_model(
    pool: asyncpg.Pool, projectors: Callable[..., Projector]
) -> None:
    ids = list((await place_orders(pool, f"cust-{uuid.uuid4()}")).values())
    projector = projectors()
    await catch_up(projector)
    before = await read_models(pool, ids)
    assert await projected_counters(pool) == await truth_of_counters(pool)

    await pool.execute(  # sent back without emptying the read models (as migration 0064 may)
        "UPDATE projection_checkpoints SET transaction_id = '0', position = 0"
        " WHERE name = 'order_summaries'"
    )
    await catch_up(projector)

    assert await read_models(pool, ids) == before
    assert await projected_counters(pool) == await truth_of_counters(pool)


async def test_statistics_add_up_to_the_orders_placed(
    pool: asyncpg.Pool, projectors: Callable[..., Projector]
) -> None:
    projector = projectors()
    await catch_up(projector)
    read = OrderSummaries(pool)
    before = await read.statistics()
    applied_before = applied_events()
    await place_orders(pool, f"cust-{uuid.uuid4()}")
    await catch_up(projector)
    after = await read.statistics()

    events = sum(len(steps) + 1 for steps, *_ in PATHS.values())
    assert applied_events() - applied_before >= events
    assert REGISTRY.get_sample_value("commerce_projector_lag_events", LABELS) is not None

    assert after["total"] - before["total"] == len(PATHS)
    assert sum(after["by_status"].values()) == after["total"]
    statuses = Counter(status for _, status, _, _ in PATHS.values())
    assert {s: after["by_status"][s] - before["by_status"][s] for s in after["by_status"]} == {
        s: statuses.get(s, 0) for s in after["by_status"]
    }
    assert after["completed_last_hour"] - before["completed_last_hour"] == 1
    assert after["compensations"] - before["compensations"] == 4
    failed = Counter([*STALLS.values(), "authorize_payment", "capture_payment"])
    assert Counter(after["step_failures"]) - Counter(before["step_failures"]) == failed
    assert all(isinstance(after["duration_ms"][p], int) for p in ("p50", "p95", "p99"))
    assert after["projector_lag"] >= 0
    assert (after["step_failures"], after["compensations"]) == await truth_of_counters(pool)
    placed = await pool.fetchval(
        "SELECT count(*) FROM events WHERE event_type = 'OrderPlaced' AND data ? 'customer_id'"
    )
    assert after["total"] == placed


async def test_an_event_held_back_by_an_open_transaction_is_not_skipped(
    pool: asyncpg.Pool, projectors: Callable[..., Projector]
) -> None:
    projector = projectors()
    await catch_up(projector)
    slow = Order.place(str(uuid.uuid4()), "cust-slow", "cart-slow", "USD",
                       [OrderLine(sku="SKU-A", name="A", quantity=1, unit_price=100)], ADDRESS)  # fmt: skip
    fast = Order.place(str(uuid.uuid4()), "cust-fast", "cart-fast", "USD",
                       [OrderLine(sku="SKU-A", name="A", quantity=2, unit_price=100)], ADDRESS)  # fmt: skip
    placed = slow.pending_events[0]
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        await conn.execute(
            "INSERT INTO events (stream_id, stream_version, event_id, event_type, data)"
            " VALUES ($1, 1, $2, $3, $4::jsonb)",
            order_stream(slow.order_id), uuid.uuid4(), placed.type, json.dumps(placed.to_data()),
        )  # fmt: skip
        await OrderRepository(EventStore(pool)).save(fast)
        await projector.run_once()
        assert await summaries(pool, [slow.order_id, fast.order_id]) == {}
        await tx.commit()
    await catch_up(projector)

    assert set(await summaries(pool, [slow.order_id, fast.order_id])) == {
        slow.order_id, fast.order_id,
    }  # fmt: skip


async def test_pages_list_a_customers_orders_newest_first_and_filter_by_status(
    pool: asyncpg.Pool, projectors: Callable[..., Projector]
) -> None:
    customer = f"cust-{uuid.uuid4()}"
    ids = await place_orders(pool, customer)
    await catch_up(projectors())
    read = OrderSummaries(pool)

    seen, cursor = [], None
    while True:
        items, cursor = await read.page(customer, None, 3, cursor)
        seen.extend(items)
        if cursor is None:
            break
    failed, _ = await read.page(customer, "failed", 50, None)

    assert sorted(item["order_id"] for item in seen) == sorted(ids.values())
    keys = [(item["created_at"], item["order_id"]) for item in seen]
    assert keys == sorted(keys, reverse=True)
    assert {item["order_id"] for item in failed} == {ids["declined"], ids["capture_declined"]}
    with pytest.raises(InvalidCursor):
        await read.page(customer, None, 3, "not-a-cursor")
