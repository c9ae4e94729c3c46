"""The order summaries' status (what order lists and the admin saga list show for an order on
the forward path) is the order's own status after every event of every reachable path: the read
model mirrors the aggregate's `apply` for it, and this test holds the two together."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain import events as ev
from domain.order import Order
from eventstore.read_models import change_summary, placed_summary
from tests.unit.order_scenarios import SCENARIOS, drive

AT = datetime(2025, 6, 1, tzinfo=UTC)
# Every scenario's path, and each followed by every command allowed there.
PATHS = sorted(
    {(*path, command) for path, allowed in SCENARIOS.values() for command in allowed}
    | {path for path, _ in SCENARIOS.values()}
)


@pytest.mark.parametrize("path", PATHS, ids=lambda path: "-".join(path) or "placed")
def test_summary_status_is_the_orders_status_after_every_event(path: tuple[str, ...]) -> None:
    events = list(drive(*path).pending_events)
    placed = events[0]
    assert isinstance(placed, ev.OrderPlaced)
    summary = placed_summary(placed, AT)
    for seen, event in enumerate(events[1:], start=2):
        change_summary(summary, event, AT)
        order = Order.rehydrate(events[:seen])
        assert summary["status"] == order.status, f"after {event.type} in {path}"


def test_the_paths_reach_every_status() -> None:
    assert {drive(*path).status.value for path in PATHS} >= {
        "pending", "awaiting_payment", "payment_authorized", "awaiting_customer",
        "inventory_reserved", "shipment_created", "confirmed", "payment_captured", "completed",
        "stalled", "compensating", "failed", "cancelled",
    }  # fmt: skip
