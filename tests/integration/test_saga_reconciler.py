"""The saga-start outbox and its reconciler on the real PostgreSQL and Temporal dev server: what a
pass starts, marks, leaves and forgets, one leader at a time, and a Temporal it cannot reach.

The outbox is shared by the whole session, so every assertion is about this test's own orders.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from temporalio.client import Client
from temporalio.service import RetryConfig, RPCError, RPCStatusCode

from commerce.saga_reconciler import SagaReconciler
from commerce.saga_start import SagaStart, seal, unseal
from commerce.settings import Settings
from eventstore.orders import OrderRepository
from eventstore.saga_starts import SagaStarts
from eventstore.store import EventStore
from tests.integration.saga_support import FAST, add_product, ledger, place_order
from tests.tcp_proxy import TcpProxy
from workflows.contract import OrderFulfillmentInput, order_workflow_id

pytestmark = pytest.mark.usefixtures("saga_worker")
UNPOLLED = "no-worker-polls-this-queue"


@pytest.fixture
async def reconciler(pool: asyncpg.Pool, temporal_client: Client) -> AsyncIterator[SagaReconciler]:
    """A reconciler that finds due what was recorded more than half a second ago."""
    reconciler = SagaReconciler(pool, temporal_client, reconcile_s=1, customer_key=str.upper)
    yield reconciler
    await reconciler.close()


async def _placed(pool: asyncpg.Pool) -> str:
    """An order with its OrderPlaced recorded and nothing else, as checkout leaves it."""
    return await place_order(pool, [(await add_product(pool, on_hand=10), 1)])


async def _requested(
    pool: asyncpg.Pool, client: Client, order_id: str, age_s: float = 60, token: str = "tok_ok"
) -> SagaStart:
    """A start request as checkout records it, dated `age_s` seconds ago."""
    start = SagaStart(
        OrderFulfillmentInput(order_id, "customer-1", token, FAST), total=3000, customer_key="c-1"
    )
    await SagaStarts(pool).record(order_id, start.total, await seal(client, start.input))
    await _age(pool, order_id, age_s)
    return start


async def _age(pool: asyncpg.Pool, order_id: str, age_s: float) -> None:
    await pool.execute(
        "UPDATE saga_starts SET requested_at = now() - make_interval(secs => $2)"
        " WHERE order_id = $1",
        order_id, age_s,
    )  # fmt: skip


async def _row(pool: asyncpg.Pool, order_id: str) -> tuple[bool, str | None] | None:
    """(still holds its sealed input, started_by), None once forgotten."""
    row = await pool.fetchrow(
        "SELECT sealed_input IS NOT NULL AS sealed, started_by FROM saga_starts"
        " WHERE order_id = $1",
        order_id,
    )
    return None if row is None else (row["sealed"], row["started_by"])


async def _latest_run(client: Client, order_id: str) -> str | None:
    """The run id of the order's latest saga (a second start would be a newer run), if any."""
    try:
        return (await client.get_workflow_handle(order_workflow_id(order_id)).describe()).run_id
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return None
        raise


async def test_a_sealed_start_request_holds_no_token_in_clear_and_unseals_to_its_input(
    temporal_client: Client,
) -> None:
    saga_input = OrderFulfillmentInput("order-x", "customer-secret", "tok_secret_4242", FAST)

    sealed = await seal(temporal_client, saga_input)

    assert b"tok_secret_4242" not in sealed and b"customer-secret" not in sealed
    assert await unseal(temporal_client, sealed) == saga_input
    clear = temporal_client.data_converter.payload_converter.to_payload(saga_input)
    with pytest.raises(ValueError, match="not a sealed payload"):
        await unseal(temporal_client, clear.SerializeToString())
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(ValueError, match="does not authenticate"):
        await unseal(temporal_client, tampered)


async def test_a_placed_order_left_without_a_saga_is_started_once_and_completes(
    pool: asyncpg.Pool, temporal_client: Client, reconciler: SagaReconciler
) -> None:
    order_id = await _placed(pool)
    await _requested(pool, temporal_client, order_id)

    done = await reconciler.run_once()
    again = await reconciler.run_once()

    assert order_id in done.started and order_id not in again.started + again.earlier
    assert await _row(pool, order_id) == (False, "reconciler")
    handle = temporal_client.get_workflow_handle(order_workflow_id(order_id))
    await handle.result()
    assert await _latest_run(temporal_client, order_id) == (await handle.describe()).run_id
    assert await ledger(pool, order_id) == ["authorize", "ship", "capture"]


async def test_a_running_saga_is_joined_not_started_again(
    pool: asyncpg.Pool, temporal_client: Client, reconciler: SagaReconciler
) -> None:
    """Checkout started the saga but could not mark its request (it crashed in between)."""
    order_id = await _placed(pool)
    start = await _requested(pool, temporal_client, order_id)
    running = await temporal_client.start_workflow(
        "OrderFulfillmentWorkflow", start.input, id=order_workflow_id(order_id), task_queue=UNPOLLED
    )

    done = await reconciler.run_once()

    assert order_id in done.started
    assert await _latest_run(temporal_client, order_id) == running.result_run_id
    await temporal_client.get_workflow_handle(order_workflow_id(order_id)).terminate()


async def test_a_saga_that_already_ran_is_marked_without_starting_it(
    pool: asyncpg.Pool, temporal_client: Client, reconciler: SagaReconciler
) -> None:
    closed = await _placed(pool)  # its workflow ended before recording a step
    start = await _requested(pool, temporal_client, closed)
    handle = await temporal_client.start_workflow(
        "OrderFulfillmentWorkflow", start.input, id=order_workflow_id(closed), task_queue=UNPOLLED
    )
    await handle.terminate()
    progressed = await _placed(pool)  # its saga recorded steps; Temporal forgot it
    await _requested(pool, temporal_client, progressed)
    orders = OrderRepository(EventStore(pool))
    order = await orders.load(progressed)
    assert order is not None
    order.authorize_payment("auth-forgotten", order.total)
    await orders.save(order)

    done = await reconciler.run_once()

    assert {closed, progressed} <= set(done.earlier) and not {closed, progressed} & set(
        done.started
    )
    assert await _row(pool, closed) == await _row(pool, progressed) == (False, "earlier")
    assert await _latest_run(temporal_client, closed) == handle.result_run_id
    assert await _latest_run(temporal_client, progressed) is None


async def test_a_request_is_left_alone_until_due_and_one_never_placed_is_forgotten_when_abandoned(
    pool: asyncpg.Pool, temporal_client: Client, reconciler: SagaReconciler
) -> None:
    young = await _placed(pool)
    await _requested(pool, temporal_client, young, age_s=0)
    unplaced, abandoned = str(uuid.uuid4()), str(uuid.uuid4())
    await _requested(pool, temporal_client, unplaced)
    await _requested(pool, temporal_client, abandoned, age_s=2 * 3600)

    done = await reconciler.run_once()

    assert young not in done.started and await _row(pool, young) == (True, None)
    assert {unplaced, abandoned} <= set(done.unplaced)
    assert await _row(pool, unplaced) == (True, None)
    assert await _row(pool, abandoned) is None
    assert await _latest_run(temporal_client, unplaced) is None


async def test_a_repeated_checkout_renews_its_request_and_learns_when_the_saga_started(
    pool: asyncpg.Pool, temporal_client: Client
) -> None:
    starts = SagaStarts(pool)
    order_id = str(uuid.uuid4())
    await _requested(pool, temporal_client, order_id, age_s=2 * 3600)

    assert await starts.record(order_id, 3000, b"a repeat's sealed input") is False
    assert await pool.fetchval(
        "SELECT requested_at > now() - interval '1 minute' FROM saga_starts WHERE order_id = $1",
        order_id,
    )
    await starts.mark_started([order_id], "checkout")
    assert await starts.record(order_id, 3000, b"a late repeat's sealed input") is True
    assert await _row(pool, order_id) == (False, "checkout")


async def test_one_reconciler_leads_at_a_time(pool: asyncpg.Pool, temporal_client: Client) -> None:
    first = SagaReconciler(pool, temporal_client, reconcile_s=1, customer_key=str.upper)
    second = SagaReconciler(pool, temporal_client, reconcile_s=1, customer_key=str.upper)
    order_id = await _placed(pool)
    try:
        await first.run_once()
        await _requested(pool, temporal_client, order_id)

        follower = await second.run_once()
        assert first.is_leader and not second.is_leader and order_id not in follower.started

        await first.close()
        leader = await second.run_once()
        assert second.is_leader and order_id in leader.started
    finally:
        await first.close()
        await second.close()


async def test_a_request_that_cannot_be_unsealed_waits_and_does_not_hold_up_the_others(
    pool: asyncpg.Pool, temporal_client: Client, reconciler: SagaReconciler
) -> None:
    unreadable, readable = await _placed(pool), await _placed(pool)
    await SagaStarts(pool).record(unreadable, 3000, b"\x00not a payload")
    await _age(pool, unreadable, 120)
    await _requested(pool, temporal_client, readable)

    done = await reconciler.run_once()

    assert unreadable in done.unreadable and readable in done.started
    assert await _row(pool, unreadable) == (True, None)
    await pool.execute("DELETE FROM saga_starts WHERE order_id = $1", unreadable)  # no more logs


async def test_a_temporal_it_cannot_reach_leaves_the_request_for_the_next_pass(
    pool: asyncpg.Pool, temporal_client: Client, settings: Settings
) -> None:
    order_id = await _placed(pool)
    await _requested(pool, temporal_client, order_id)
    async with TcpProxy(settings.temporal_address) as proxy:
        client = await Client.connect(
            proxy.address,
            data_converter=temporal_client.data_converter,
            retry_config=RetryConfig(max_elapsed_time_millis=200),
        )
        reconciler = SagaReconciler(pool, client, reconcile_s=1, customer_key=str.upper)
        await proxy.cut()
        with pytest.raises(RPCError) as unreachable:
            await reconciler.run_once()
        assert unreachable.value.status == RPCStatusCode.UNAVAILABLE
        assert await _row(pool, order_id) == (True, None)
        await reconciler.close()

        stop = asyncio.Event()
        running = asyncio.create_task(reconciler.run_forever(stop))  # as the worker runs it
        try:
            await asyncio.sleep(1.5)  # passes that fail, logged, and retried
            assert await _row(pool, order_id) == (True, None) and not running.done()
            await proxy.restore()
            for _ in range(300):
                if await _row(pool, order_id) != (True, None):
                    break
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            await running

    assert await _row(pool, order_id) == (False, "reconciler")
    await temporal_client.get_workflow_handle(order_workflow_id(order_id)).result()
