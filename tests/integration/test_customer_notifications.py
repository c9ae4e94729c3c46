"""Customer notifications from the event store: every event a customer hears of, rendered from
its templates, handed to the sandbox notifier once per event, late (never lost) while it is down."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from activities.providers import ProviderUnavailable
from activities.sandbox import SandboxNotifications
from commerce.customer_notifications import CHECKPOINT, CustomerNotifications
from commerce.notification_templates import NOTIFIED, NotificationTemplates
from eventstore.feed_checkpoints import read_checkpoint
from eventstore.orders import OrderRepository
from eventstore.sandbox import SandboxLedger
from eventstore.store import EventStore, FeedPosition
from tests.public_event_orders import CLIENT_SECRET, RETRY_CART, SCENARIOS

STOREFRONT = "https://shop.test"
EXPECTED = {
    "delivered": ["order.placed", "order.completed", "shipment.dispatched", "shipment.delivered"],
    "lost_late": ["order.placed", "order.completed"],
    "returned": ["order.placed", "order.completed"],
    "refunded": ["order.placed", "refund.issued", "order.cancelled"],
    "declined": ["order.placed", "order.failed"],
    "awaiting_payment": ["order.placed", "order.payment_action_required"],
    "amendment_expired": ["order.placed", "order.amendment_proposed", "order.cancelled"],
    "payment_expired": ["order.placed", "order.payment_action_required", "order.cancelled"],
    "stalled": ["order.placed"],
    "cancelled_after_completion": [
        "order.placed", "order.completed", "refund.issued", "order.cancelled",
    ],
    "returned_by_carrier": [
        "order.placed", "order.completed", "shipment.dispatched", "shipment.delivered",
        "return.approved", "return.label_created", "return.received", "refund.issued",
        "refund.issued",
    ],
    "return_rejected": [
        "order.placed", "order.completed", "shipment.dispatched", "shipment.delivered",
        "return.rejected",
    ],
    "return_closed": [
        "order.placed", "order.completed", "shipment.dispatched", "shipment.delivered",
        "return.approved", "return.label_created", "return.closed",
    ],
}  # fmt: skip


@pytest.fixture
async def follower(pool: asyncpg.Pool) -> AsyncIterator[CustomerNotifications]:
    """A follower starting at the head of the feed (the session's earlier orders are not ours)."""
    await _rewind(pool, await EventStore(pool).feed_head())
    notifier = SandboxNotifications(SandboxLedger(pool))
    follower = CustomerNotifications(pool, notifier, NotificationTemplates(STOREFRONT))
    yield follower
    await follower.close()


async def _rewind(pool: asyncpg.Pool, position: FeedPosition) -> None:
    await pool.execute(
        "UPDATE projection_checkpoints SET transaction_id = $2, position = $3 WHERE name = $1",
        CHECKPOINT, *position,
    )  # fmt: skip


async def _catch_up(follower: CustomerNotifications) -> None:
    while await follower.run_once():
        pass


async def _place(pool: asyncpg.Pool, scenario: str) -> str:
    order_id = str(uuid.uuid4())
    await OrderRepository(EventStore(pool)).save(SCENARIOS[scenario](order_id))
    return order_id


async def _messages(pool: asyncpg.Pool, order_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    rows = await pool.fetch(
        "SELECT order_id, detail FROM sandbox_ledger WHERE provider = 'notifications'"
        " AND order_id = ANY($1::text[]) ORDER BY created_at, idempotency_key",
        order_ids,
    )
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        found[row["order_id"]].append(json.loads(row["detail"]))
    return found


async def test_every_notified_event_reaches_its_customer_once_from_its_templates(
    pool: asyncpg.Pool, follower: CustomerNotifications
) -> None:
    start = await EventStore(pool).feed_head()
    orders = {name: await _place(pool, name) for name in EXPECTED}
    await _catch_up(follower)
    await _rewind(pool, start)  # the whole feed again, as after a crash: nothing is sent twice
    await _catch_up(follower)

    sent = await _messages(pool, list(orders.values()))
    assert {name: [m["kind"] for m in sent[order_id]] for name, order_id in orders.items()} == (
        EXPECTED
    )
    assert {m["kind"] for messages in sent.values() for m in messages} == set(NOTIFIED)

    def message(scenario: str, kind: str) -> dict[str, Any]:
        return next(m for m in sent[orders[scenario]] if m["kind"] == kind)

    amendment, page = (
        message("amendment_expired", "order.amendment_proposed"),
        f"{STOREFRONT}/orders/",
    )
    assert f"{page}{orders['amendment_expired']}/amendment?answer=accept" in amendment["text"]
    assert f"{page}{orders['amendment_expired']}/amendment?answer=decline" in amendment["html"]
    assert "25.00 USD instead of 29.99 USD" in amendment["text"]
    payment = message("awaiting_payment", "order.payment_action_required")
    assert f"{page}{orders['awaiting_payment']}/payment" in payment["text"]
    assert CLIENT_SECRET not in json.dumps(sent)
    assert "the card was declined" in message("declined", "order.failed")["text"]
    retry = f"{STOREFRONT}/cart/{RETRY_CART}"  # the payment never went through: try again
    assert retry in message("declined", "order.failed")["text"]
    assert retry in message("payment_expired", "order.cancelled")["html"]
    assert "/cart/" not in message("amendment_expired", "order.cancelled")["text"]
    assert "refunded 29.99 USD" in message("refunded", "refund.issued")["text"]
    assert "29.99 USD is refunded" in message("refunded", "order.cancelled")["text"]
    assert "Nothing is charged" in message("amendment_expired", "order.cancelled")["text"]
    assert "TRK-1" in message("delivered", "shipment.dispatched")["text"]
    completed = message("delivered", "order.completed")
    assert completed["subject"] == f"Your order {orders['delivered']} is complete"
    assert "Hello Ada <b>Lovelace</b>" in completed["text"]  # plain text stays as written
    assert "Ada &lt;b&gt;Lovelace&lt;/b&gt;" in completed["html"]  # HTML is escaped
    assert "Tea &lt;Earl Grey&gt;" in completed["html"] and "<b>" not in completed["html"]


async def test_while_the_notifier_is_down_messages_wait_and_none_is_sent_twice(
    pool: asyncpg.Pool, follower: CustomerNotifications
) -> None:
    switch = SandboxLedger(pool)
    start = await read_checkpoint(pool, CHECKPOINT)
    assert start is not None
    order_id = await _place(pool, "declined")
    await switch.set_available("notifications", False)
    try:
        with pytest.raises(ProviderUnavailable):
            await follower.run_once()
        assert await read_checkpoint(pool, CHECKPOINT) == start  # nothing was skipped
    finally:
        await switch.set_available("notifications", True)
    await _catch_up(follower)
    await _rewind(pool, start)
    await _catch_up(follower)

    sent = await _messages(pool, [order_id])
    assert [m["kind"] for m in sent[order_id]] == ["order.placed", "order.failed"]
