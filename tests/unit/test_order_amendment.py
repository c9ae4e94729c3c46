"""Partial availability: an amended order is proposed, then accepted, declined or left to expire."""

import pytest

from domain.errors import InvalidTransition
from domain.events import OrderPlaced
from domain.order import Order, OrderStatus
from tests.unit.order_scenarios import LINES, drive


def types(order: Order) -> list[str]:
    return [event.type for event in order.pending_events]


def proposed() -> Order:
    return drive("authorize_payment", "propose_amendment")


def test_a_short_line_is_dropped_whole_and_the_order_awaits_the_customer() -> None:
    order = proposed()
    assert order.status is OrderStatus.AWAITING_CUSTOMER and order.can_be_cancelled
    assert order.amendment is not None
    assert order.amendment.lines == LINES[:1]
    assert (order.amendment.subtotal, order.amendment.total) == (2500, 2500)
    assert order.amendment.dropped_skus == ("SKU-2",)
    assert order.amendment.original_total == 2999
    assert order.lines == LINES and order.total == 2999  # nothing changes until accepted


def test_accepting_replaces_lines_and_total_and_keeps_the_original_in_the_history() -> None:
    order = proposed()
    order.accept_amendment()
    assert order.status is OrderStatus.PAYMENT_AUTHORIZED
    assert (order.lines, order.subtotal, order.total) == (LINES[:1], 2500, 2500)
    assert order.amendment is not None and order.amendment.status == "accepted"
    placed = order.pending_events[0]
    assert isinstance(placed, OrderPlaced) and placed.lines == LINES


def test_an_amended_order_reserves_on_an_authorization_that_covers_it() -> None:
    kept = proposed()
    kept.accept_amendment()
    kept.reserve_inventory("res-1")  # the original authorization covers the smaller total
    assert kept.authorized_amount > kept.total and kept.status is OrderStatus.INVENTORY_RESERVED

    order = proposed()
    order.accept_amendment()
    order.reauthorize_payment("auth-2", 2500)
    assert (order.authorization_id, order.superseded_authorization_id) == ("auth-2", "auth-1")
    assert order.authorized_amount == 2500
    order.reserve_inventory("res-1")
    assert order.status is OrderStatus.INVENTORY_RESERVED
    assert types(order)[-3:] == ["AmendmentAccepted", "PaymentReauthorized", "InventoryReserved"]


def test_cancelling_while_awaiting_declines_the_amendment_then_compensates() -> None:
    order = proposed()
    order.request_cancellation("no thanks")
    assert types(order)[-3:] == [
        "AmendmentDeclined",
        "CancellationRequested",
        "CompensationStarted",
    ]
    assert order.amendment is not None and order.amendment.status == "declined"
    order.void_payment()
    order.mark_cancelled("no thanks")
    assert order.status is OrderStatus.CANCELLED
    assert order.total == 2999  # never accepted: the original order stands, cancelled


def test_an_expired_amendment_can_only_be_cancelled() -> None:
    order = proposed()
    order.expire_amendment(2)
    assert order.amendment is not None and order.amendment.status == "expired"
    with pytest.raises(InvalidTransition):
        order.accept_amendment()
    order.request_cancellation("no answer")
    assert types(order)[-3:] == ["AmendmentExpired", "CancellationRequested", "CompensationStarted"]


@pytest.mark.parametrize(
    ("skus", "detail"), [([], "no line"), (["SKU-1", "SKU-2"], "nothing to amend")]
)
def test_an_amendment_needs_some_but_not_all_lines(skus: list[str], detail: str) -> None:
    order = drive("authorize_payment")
    with pytest.raises(InvalidTransition, match=detail):
        order.propose_amendment(skus)


def test_an_amendment_is_offered_at_most_once() -> None:
    order = proposed()
    order.accept_amendment()
    with pytest.raises(InvalidTransition, match="already proposed"):
        order.propose_amendment(["SKU-1"])
