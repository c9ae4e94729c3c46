"""Deduplication compares what was asked, not only the id: a reused idempotency key or order with
a different request is refused, never answered as if it were the first."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from eventstore.inventory import Inventory, ReservationConflict
from eventstore.sandbox import IdempotencyKeyReused, SandboxLedger
from tests.integration.saga_support import add_product, stock_of


async def test_a_gateway_key_reused_for_another_amount_is_refused(pool: asyncpg.Pool) -> None:
    ledger, order_id = SandboxLedger(pool), str(uuid.uuid4())
    key = f"order-{order_id}:capture"
    first = await ledger.record(key, "payment", "capture", order_id, 1500)

    assert await ledger.record(key, "payment", "capture", order_id, 1500) == first
    with pytest.raises(IdempotencyKeyReused):
        await ledger.record(key, "payment", "capture", order_id, 1400)
    with pytest.raises(IdempotencyKeyReused):
        await ledger.record(key, "payment", "refund", order_id, 1500)


async def test_a_reservation_repeated_with_other_lines_is_refused(pool: asyncpg.Pool) -> None:
    sku, other = await add_product(pool, on_hand=5), await add_product(pool, on_hand=5)
    inventory, order_id = Inventory(pool), str(uuid.uuid4())
    await inventory.reserve(order_id, [(sku, 2)])

    assert await inventory.reserve(order_id, [(sku, 2)]) == order_id  # a retry: nothing more
    with pytest.raises(ReservationConflict):
        await inventory.reserve(order_id, [(sku, 1), (other, 1)])
    assert (await stock_of(pool, sku), await stock_of(pool, other)) == ((5, 2), (5, 0))
