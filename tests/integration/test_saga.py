"""The order saga on a real Temporal dev server and PostgreSQL, every sandbox path."""

from __future__ import annotations

import asyncpg
from temporalio.client import Client

from domain.events import ShippingAddress
from tests.integration.saga_support import (
    add_product,
    event_types,
    ledger,
    place_order,
    running_worker,
    start_saga,
    stock_of,
)
from workflows.order_fulfillment import OrderFulfillmentWorkflow

FORWARD_EVENTS = [
    "OrderPlaced",
    "PaymentAuthorized",
    "InventoryReserved",
    "ShipmentCreated",
    "OrderConfirmed",
    "PaymentCaptured",
    "OrderCompleted",
]


async def test_good_card_completes_the_order_and_sells_the_stock(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    sku = await add_product(pool, on_hand=10)
    order_id = await place_order(pool, [(sku, 3)])
    async with running_worker(temporal_client, pool) as queue:
        handle = await start_saga(temporal_client, queue, order_id)
        outcome = await handle.result()
        saga = await handle.query(OrderFulfillmentWorkflow.saga)

    assert outcome.status == "completed"
    assert await event_types(pool, order_id) == FORWARD_EVENTS
    assert await stock_of(pool, sku) == (7, 0)
    assert await ledger(pool, order_id) == ["authorize", "ship", "capture"]
    assert [s.status for s in saga.steps] == ["succeeded"] * 6


async def test_declined_card_fails_order_and_leaves_stock_untouched(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, 1)])
    async with running_worker(temporal_client, pool) as queue:
        outcome = await (await start_saga(temporal_client, queue, order_id, "tok_decline")).result()

    assert (outcome.status, outcome.failure_reason) == ("failed", "the card was declined")
    assert await event_types(pool, order_id) == ["OrderPlaced", "OrderFailed"]
    assert await stock_of(pool, sku) == (5, 0)
    assert await ledger(pool, order_id) == []


async def test_capture_decline_compensates_shipment_stock_and_authorization(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, 2)])
    async with running_worker(temporal_client, pool) as queue:
        handle = await start_saga(temporal_client, queue, order_id, "tok_capture_decline")
        outcome = await handle.result()

    assert outcome.status == "failed"
    assert await event_types(pool, order_id) == [
        *FORWARD_EVENTS[:5],
        "CompensationStarted",
        "ShipmentCancelled",
        "ReservationReleased",
        "PaymentVoided",
        "OrderFailed",
    ]
    assert await stock_of(pool, sku) == (5, 0)
    assert await ledger(pool, order_id) == ["authorize", "ship", "cancel_shipment", "void"]


async def test_rejected_address_releases_stock_and_voids_authorization(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    sku = await add_product(pool, on_hand=5)

    undeliverable = ShippingAddress(
        name="A", line1="Nowhere 1", city="Void", postal_code="00000", country="US"
    )
    order_id = await place_order(pool, [(sku, 2)], undeliverable)
    async with running_worker(temporal_client, pool) as queue:
        outcome = await (await start_saga(temporal_client, queue, order_id)).result()

    assert outcome.status == "failed" and "00000" in (outcome.failure_reason or "")
    assert (await event_types(pool, order_id))[-4:] == [
        "CompensationStarted",
        "ReservationReleased",
        "PaymentVoided",
        "OrderFailed",
    ]
    assert await stock_of(pool, sku) == (5, 0)
    assert await ledger(pool, order_id) == ["authorize", "void"]


async def test_flaky_gateway_is_retried_and_the_order_completes(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    sku = await add_product(pool, on_hand=5)
    order_id = await place_order(pool, [(sku, 1)])
    async with running_worker(temporal_client, pool) as queue:
        handle = await start_saga(temporal_client, queue, order_id, "tok_flaky")
        outcome = await handle.result()
        saga = await handle.query(OrderFulfillmentWorkflow.saga)

    assert outcome.status == "completed"
    assert saga.steps[0].attempts >= 3
    assert (await ledger(pool, order_id)).count("authorize") == 1


async def test_out_of_stock_fails_the_order_and_voids_the_authorization(
    temporal_client: Client, pool: asyncpg.Pool
) -> None:
    sku = await add_product(pool, on_hand=1)
    order_id = await place_order(pool, [(sku, 2)])
    async with running_worker(temporal_client, pool) as queue:
        outcome = await (await start_saga(temporal_client, queue, order_id)).result()

    assert outcome.status == "failed" and sku in (outcome.failure_reason or "")
    assert await stock_of(pool, sku) == (1, 0)
    assert await ledger(pool, order_id) == ["authorize", "void"]
