"""A failing endpoint is probed one delivery at a time, resting between failed probes, so it
costs one attempt per backoff rather than a burst for every event; once it answers again, every
delivery waiting for it arrives."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from commerce.webhook_receiver import Received, WebhookReceiver
from eventstore.orders import OrderRepository
from eventstore.store import EventStore
from tests.e2e.webhooks.conftest import Dispatching, Subscribe
from tests.public_event_orders import SCENARIOS

ORDERS = 12


async def test_a_failing_endpoint_is_probed_not_flooded_and_gets_everything_back(
    pool: asyncpg.Pool,
    receiver: WebhookReceiver,
    subscribe: Subscribe,
    dispatching: Dispatching,
) -> None:
    down = True

    async def down_then_up(request: Received) -> int:
        return 503 if down else 200

    receiver.respond = down_then_up
    await subscribe(receiver.url, "order.placed")
    order_ids = [str(uuid.uuid4()) for _ in range(ORDERS)]
    async with dispatching(webhook_retry_initial_s=0.2):
        for order_id in order_ids[: ORDERS // 2]:
            await OrderRepository(EventStore(pool)).save(SCENARIOS["declined"](order_id))
        await receiver.wait_for(lambda got: len(got) >= 1, 10)
        await asyncio.sleep(0.5)  # the endpoint is known to fail; more events arrive meanwhile
        for order_id in order_ids[ORDERS // 2 :]:
            await OrderRepository(EventStore(pool)).save(SCENARIOS["declined"](order_id))
        await asyncio.sleep(2.0)
        while_down = len(receiver.received)
        down = False
        received = await receiver.wait_for(
            lambda got: {r.event["order_id"] for r in got[while_down:]} >= set(order_ids),
            15,
        )

    # Each delivery alone would have been tried 4-5 times in 2.5 s (0.1-0.2 s, doubling): about
    # 50 attempts. Probing: the first burst (one event per order at most) and a probe per rest.
    assert while_down <= ORDERS // 2 + 8, while_down
    placed = [r.event["order_id"] for r in received[while_down:]]
    assert sorted(set(placed)) == sorted(order_ids)
