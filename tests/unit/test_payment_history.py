"""The payments view's history, read from an order's events alone: each authorization, capture,
void and refund with its amount and reference, and the totals they add up to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.events import DomainEvent, UnrecordedEffectUndone
from domain.order import Order
from domain.payment_history import PaymentHistory, payment_history
from tests.unit.order_scenarios import FORWARD, SCENARIOS, drive

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def _history(order: Order) -> PaymentHistory:
    events: list[DomainEvent] = list(order.pending_events)
    return payment_history((e, T0 + timedelta(seconds=i)) for i, e in enumerate(events))


def _rows(history: PaymentHistory) -> list[tuple[str, str, int, str | None]]:
    return [(t.type, t.status, t.amount, t.reference) for t in history.transactions]


def test_a_completed_order_shows_its_authorization_and_capture_with_their_times() -> None:
    order = drive(*FORWARD)
    history = _history(order)

    assert _rows(history) == [
        ("authorization", "succeeded", order.total, "auth-1"),
        ("capture", "succeeded", order.total, "cap-1"),
    ]
    capture = history.transactions[1]
    assert capture.authorization_id == "auth-1" and capture.event == "PaymentCaptured"
    assert capture.currency == "USD" and capture.at == T0 + timedelta(seconds=5)  # the 6th event
    assert (history.authorized, history.captured, history.refunded, history.net) == (
        order.total, order.total, 0, order.total,
    )  # fmt: skip


def test_a_voided_authorization_is_no_longer_counted_as_authorized() -> None:
    order = drive("authorize_payment", "start_compensation", "void_payment", "fail")
    history = _history(order)

    assert _rows(history) == [
        ("authorization", "succeeded", order.total, "auth-1"),
        ("void", "succeeded", order.total, "auth-1"),
    ]
    assert (history.authorized, history.captured, history.net) == (0, 0, 0)


def test_an_amendment_voids_the_first_authorization_and_authorizes_the_new_total() -> None:
    order = drive("authorize_payment", "propose_amendment", "accept_amendment")
    original = order.amendment.original_total if order.amendment else 0
    order.reauthorize_payment("auth-2", order.total)
    order.reserve_inventory("res-1")
    order.create_shipment("ship-1", "TRACK-1")
    order.confirm()
    order.capture_payment("cap-1", order.total)
    history = _history(order)

    assert _rows(history) == [
        ("authorization", "succeeded", original, "auth-1"),
        ("void", "succeeded", original, "auth-1"),
        ("authorization", "succeeded", order.total, "auth-2"),
        ("capture", "succeeded", order.total, "cap-1"),
    ]
    assert history.transactions[1].reason == "superseded"
    assert history.transactions[3].authorization_id == "auth-2"
    assert original != order.total
    assert (history.authorized, history.captured) == (order.total, order.total)


def test_a_payment_awaiting_the_customer_is_pending_until_granted() -> None:
    order = drive("require_payment_action")
    assert _history(order).authorized == 0
    order.authorize_payment("pi-1", order.total)
    history = _history(order)

    assert _rows(history) == [
        ("authorization", "requires_action", order.total, "pi-1"),
        ("authorization", "succeeded", order.total, "pi-1"),
    ]
    assert history.authorized == order.total and history.granted() == {"pi-1"}


def test_an_authorization_found_after_its_answer_was_lost_shows_as_made_and_voided() -> None:
    order = drive("stall", "start_compensation")
    order.undo_unrecorded("authorize_payment", "auth-lost")
    history = _history(order)

    assert _rows(history) == [
        ("authorization", "succeeded", order.total, "auth-lost"),
        ("void", "succeeded", order.total, "auth-lost"),
    ]
    assert history.transactions[0].event == UnrecordedEffectUndone.type
    assert history.voided() == {"auth-lost"} and history.authorized == 0


def test_refunds_requested_issued_and_failed() -> None:
    order = drive(*FORWARD)
    order.request_refund("r-1", 300, "goodwill")
    order.request_refund("r-2", 200, "damaged")
    pending = _history(order)
    order.settle_refund("r-1", "re_1")
    order.fail_refund("r-2", "the card was closed")
    history = _history(order)

    assert pending.refund_pending == 500 and pending.refunded == 0
    assert _rows(history)[2:] == [
        ("refund", "pending", 300, None),
        ("refund", "pending", 200, None),
        ("refund", "succeeded", 300, "re_1"),
        ("refund", "failed", 200, None),
    ]
    assert history.transactions[4].request_id == "r-1"
    assert history.transactions[5].reason == "the card was closed"
    assert (history.refunded, history.refund_pending) == (300, 0)
    assert history.net == order.total - 300 == order.net_captured
    assert history.refunds() == {"re_1": 300}


def test_a_cancel_after_capture_refunds_in_full_and_nets_to_zero() -> None:
    order = drive(*FORWARD[:5], "request_cancellation", "refund_payment")
    history = _history(order)

    assert _rows(history)[-1] == ("refund", "succeeded", order.total, "ref-1")
    assert history.transactions[-1].request_id is None
    assert (history.captured, history.refunded, history.net) == (order.total, order.total, 0)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_the_totals_agree_with_the_order_aggregate_in_every_state(scenario: str) -> None:
    commands, _ = SCENARIOS[scenario]
    order = drive(*commands)
    history = _history(order)

    assert history.captured == order.captured_amount
    assert history.refunded == order.refunded_total
    assert history.net == order.net_captured
    live = order.authorization_id
    expected = order.authorized_amount if live and not order.payment_voided else 0
    assert history.authorized == (expected or 0)


def test_a_stream_that_does_not_start_with_the_order_is_refused() -> None:
    order = drive("authorize_payment")
    events = list(order.pending_events)[1:]
    with pytest.raises(ValueError):
        payment_history((e, T0) for e in events)
