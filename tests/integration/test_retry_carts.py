"""Retry carts on the real Redis and the real saga: made once per order however many attempts
ask at once or again, priced from the catalog when made, named by the order's end; an expired
payment action gives one, a customer's cancel none; a cart store that does not answer delays the
order's end a few attempts, then the order ends without one."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest
import redis.asyncio as redis
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities.compensation import RETRY_CART_ATTEMPTS, CompensationActivities
from api.cart_store import CartStore
from api.retry_carts import RedisRetryCarts, retry_cart_id
from commerce.embedded import free_port
from commerce.settings import Settings
from domain.events import OrderLine
from domain.order import Order
from eventstore.catalog import Catalog
from eventstore.orders import OrderRepository
from eventstore.store import EventStore
from tests.integration.saga_support import (
    ADDRESS,
    FAST,
    add_product,
    running_worker,
    start_saga,
)
from worker import sandbox_ports
from workflows.contract import CancelRequest
from workflows.order_fulfillment import OrderFulfillmentWorkflow
from workflows.saga_inputs import SagaEventInput, SagaEventKind

WAITS = dataclasses.replace(FAST, payment_action_timeout_s=3600, payment_recheck_s=3600)


async def _order(pool: asyncpg.Pool, customer_id: str, lines: list[tuple[str, int, int]]) -> str:
    """A placed order of `lines` (sku, quantity, unit price at checkout) in USD."""
    order_id = str(uuid.uuid4())
    order = Order.place(
        order_id, customer_id, f"cart-{order_id}", "USD",
        [OrderLine(sku=sku, name=sku, quantity=q, unit_price=p) for sku, q, p in lines], ADDRESS,
    )  # fmt: skip
    await OrderRepository(EventStore(pool)).save(order)
    return order_id


async def _load(pool: asyncpg.Pool, order_id: str) -> Order:
    order = await OrderRepository(EventStore(pool)).load(order_id)
    assert order is not None
    return order


@pytest.fixture
def retry_carts(
    redis_client: redis.Redis, pool: asyncpg.Pool, settings: Settings
) -> RedisRetryCarts:
    return RedisRetryCarts(redis_client, Catalog(pool), settings)


async def test_the_retry_cart_is_made_once_however_many_ask_at_once(
    pool: asyncpg.Pool, redis_client: redis.Redis, retry_carts: RedisRetryCarts
) -> None:
    sku = await add_product(pool, on_hand=5, price=1500)
    customer = f"customer-{uuid.uuid4().hex[:8]}"
    order_id = await _order(pool, customer, [(sku, 3, 1500)])
    lines = (await _load(pool, order_id)).lines
    stats_before = await redis_client.hgetall("carts:stats")

    named = await asyncio.gather(
        *(retry_carts.give_back(order_id, customer, "USD", lines) for _ in range(20))
    )
    again = await retry_carts.give_back(order_id, customer, "USD", lines)

    assert set(named) == {again} == {retry_cart_id(order_id)}
    stats = await redis_client.hgetall("carts:stats")
    assert int(stats["created"]) - int(stats_before.get("created", 0)) == 1
    assert int(stats["items"]) - int(stats_before.get("items", 0)) == 3
    assert await redis_client.hget("carts:contrib", again) == "3:4500:USD"
    assert await redis_client.get(f"cart:active:{customer}") == again


async def test_the_retry_cart_holds_the_lines_at_the_catalogs_prices_when_it_is_made(
    pool: asyncpg.Pool,
    redis_client: redis.Redis,
    retry_carts: RedisRetryCarts,
    settings: Settings,
) -> None:
    dearer, stopped, abroad = [await add_product(pool, on_hand=5) for _ in range(3)]
    customer = f"customer-{uuid.uuid4().hex[:8]}"
    order_id = await _order(pool, customer, [(dearer, 2, 1500), (stopped, 1, 1500),
                                             (abroad, 1, 1500)])  # fmt: skip
    await pool.execute("UPDATE products SET price = 1700, name = 'Dearer' WHERE sku = $1", dearer)
    await Catalog(pool).discontinue(stopped)
    await pool.execute("UPDATE products SET currency = 'EUR' WHERE sku = $1", abroad)
    lines = (await _load(pool, order_id)).lines

    cart_id = await retry_carts.give_back(order_id, customer, "USD", lines)

    raw = await redis_client.get(f"cart:{cart_id}")
    stored = json.loads(raw)
    assert (stored["customer_id"], stored["status"], stored["currency"]) == (
        customer, "active", "USD"
    )  # fmt: skip
    assert stored["retry_of"] == order_id and stored["checkout"] is None
    assert [(i["sku"], i["name"], i["quantity"], i["unit_price"]) for i in stored["items"]] == [
        (dearer, "Dearer", 2, 1700), (stopped, stopped, 1, 1500), (abroad, abroad, 1, 1500),
    ]  # fmt: skip
    assert stored["subtotal"] == 2 * 1700 + 1500 + 1500
    ttl_ms = await redis_client.pttl(f"cart:{cart_id}")
    assert settings.cart_ttl_s * 1000 - 60_000 < ttl_ms <= settings.cart_ttl_s * 1000
    shown = await CartStore(redis_client, Catalog(pool), settings).active(customer)
    assert shown is not None and shown.id == cart_id
    assert shown.unsold_skus == sorted([stopped, abroad])
    expires = datetime.fromisoformat(stored["expires_at"])
    assert expires > datetime.now(UTC)


class LosesTheAnswerOnce:
    """The real retry carts, whose first answer is lost after the cart was made."""

    def __init__(self, carts: RedisRetryCarts) -> None:
        self._carts = carts
        self.calls = 0

    async def give_back(
        self, order_id: str, customer_id: str, currency: str, lines: tuple[OrderLine, ...]
    ) -> str:
        self.calls += 1
        cart_id = await self._carts.give_back(order_id, customer_id, currency, lines)
        if self.calls == 1:
            raise ConnectionResetError("lost the answer after the cart was made")
        return cart_id


async def test_a_decline_whose_cart_answer_was_lost_names_the_one_cart_made(
    temporal_client: Client,
    pool: asyncpg.Pool,
    redis_client: redis.Redis,
    retry_carts: RedisRetryCarts,
) -> None:
    sku = await add_product(pool, on_hand=5)
    customer = f"customer-{uuid.uuid4().hex[:8]}"
    order_id = await _order(pool, customer, [(sku, 1, 1500)])
    carts = LosesTheAnswerOnce(retry_carts)
    ports = sandbox_ports(pool, carts)
    async with running_worker(temporal_client, pool, ports) as queue:
        handle = await start_saga(temporal_client, queue, order_id, "tok_decline")
        outcome = await asyncio.wait_for(handle.result(), 30)

    assert outcome.status == "failed" and carts.calls == 2
    order = await _load(pool, order_id)
    assert order.retry_cart_id == retry_cart_id(order_id)
    assert await redis_client.get(f"cart:active:{customer}") == order.retry_cart_id


async def test_a_payment_action_nobody_completes_cancels_the_order_and_gives_the_cart_back(
    temporal_client: Client, pool: asyncpg.Pool, retry_carts: RedisRetryCarts
) -> None:
    sku = await add_product(pool, on_hand=5)
    customer = f"customer-{uuid.uuid4().hex[:8]}"
    order_id = await _order(pool, customer, [(sku, 2, 1500)])
    expires = dataclasses.replace(WAITS, payment_action_timeout_s=2, payment_recheck_s=1)
    async with running_worker(temporal_client, pool, sandbox_ports(pool, retry_carts)) as queue:
        handle = await start_saga(temporal_client, queue, order_id, "tok_3ds", expires)
        outcome = await asyncio.wait_for(handle.result(), 30)

    assert outcome.status == "cancelled"
    order = await _load(pool, order_id)
    assert order.payment_action_expired and order.retry_cart_id == retry_cart_id(order_id)


async def test_a_customers_cancel_while_the_payment_awaits_them_gives_no_cart_back(
    temporal_client: Client, pool: asyncpg.Pool, retry_carts: RedisRetryCarts
) -> None:
    sku = await add_product(pool, on_hand=5)
    customer = f"customer-{uuid.uuid4().hex[:8]}"
    order_id = await _order(pool, customer, [(sku, 1, 1500)])
    async with running_worker(temporal_client, pool, sandbox_ports(pool, retry_carts)) as queue:
        handle = await start_saga(temporal_client, queue, order_id, "tok_3ds", WAITS)
        while (await handle.query(OrderFulfillmentWorkflow.saga)).status != "awaiting_payment":
            await asyncio.sleep(0.05)
        await handle.execute_update(OrderFulfillmentWorkflow.cancel, CancelRequest("changed mind"))
        outcome = await asyncio.wait_for(handle.result(), 30)

    assert outcome.status == "cancelled"
    assert (await _load(pool, order_id)).retry_cart_id is None


async def test_the_order_ends_without_a_retry_cart_once_the_cart_store_never_answered(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    sku = await add_product(pool, on_hand=5)
    order_id = await _order(pool, f"customer-{uuid.uuid4().hex[:8]}", [(sku, 1, 1500)])
    nowhere = redis.from_url(
        f"redis://127.0.0.1:{free_port()}/0", decode_responses=True, socket_connect_timeout=1
    )
    carts = RedisRetryCarts(nowhere, Catalog(pool), settings)
    activities = CompensationActivities(sandbox_ports(pool, carts))
    declined = SagaEventInput(order_id, SagaEventKind.FAILED, "authorize_payment", "declined")
    env = ActivityEnvironment()
    try:
        with pytest.raises(redis.ConnectionError):  # the recording is retried: the end waits
            await env.run(activities.record_saga_event, declined)
        assert (await _load(pool, order_id)).status == "pending"

        env.info = dataclasses.replace(env.info, attempt=RETRY_CART_ATTEMPTS)
        await env.run(activities.record_saga_event, declined)
    finally:
        await nowhere.aclose()

    order = await _load(pool, order_id)
    assert (order.status, order.retry_cart_id) == ("failed", None)
