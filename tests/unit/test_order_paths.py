"""The saga's paths through the order: happy, failed with compensation, cancelled, stalled."""

import pytest

from domain.errors import InvalidTransition
from domain.events import DomainEvent
from domain.order import OrderStatus
from tests.unit.order_scenarios import COMMANDS, FORWARD, drive, placed


def types(events: list[DomainEvent]) -> list[str]:
    return [event.type for event in events]


def test_happy_path_walks_every_status_to_completed() -> None:
    order = placed()
    seen = []
    for name in FORWARD[:5]:
        COMMANDS[name](order)
        seen.append(order.status)
    order.record_notifications(["email", "sms"])
    order.complete()
    assert seen == [
        OrderStatus.PAYMENT_AUTHORIZED,
        OrderStatus.INVENTORY_RESERVED,
        OrderStatus.SHIPMENT_CREATED,
        OrderStatus.CONFIRMED,
        OrderStatus.PAYMENT_CAPTURED,
    ]
    assert order.status is OrderStatus.COMPLETED and order.is_terminal
    assert (order.authorization_id, order.capture_id) == ("auth-1", "cap-1")
    assert order.tracking_number == "TRACK-1"
    assert order.notification_channels == ("email", "sms")
    assert order.version == 8


def test_capture_failure_compensates_in_reverse_and_fails_order() -> None:
    order = drive(*FORWARD[:4])
    order.start_compensation("capture declined", "capture_payment")
    order.cancel_shipment()
    order.release_reservation()
    order.void_payment()
    order.fail("capture declined", "capture_payment")
    assert types(order.pending_events)[-5:] == [
        "CompensationStarted",
        "ShipmentCancelled",
        "ReservationReleased",
        "PaymentVoided",
        "OrderFailed",
    ]
    assert order.status is OrderStatus.FAILED
    assert order.failure_reason == "capture declined"
    assert order.compensation_step == "capture_payment"


def test_decline_at_first_step_fails_without_compensation() -> None:
    order = placed()
    order.fail("card declined", "authorize_payment")
    assert order.status is OrderStatus.FAILED
    assert types(order.pending_events) == ["OrderPlaced", "OrderFailed"]


def test_cancellation_starts_compensation_and_ends_cancelled() -> None:
    order = drive(*FORWARD[:2])
    assert order.can_be_cancelled
    order.request_cancellation("changed my mind")
    assert order.status is OrderStatus.COMPENSATING
    assert not order.can_be_cancelled
    order.release_reservation()
    order.void_payment()
    order.mark_cancelled("changed my mind")
    assert types(order.pending_events)[3:] == [
        "CancellationRequested",
        "CompensationStarted",
        "ReservationReleased",
        "PaymentVoided",
        "OrderCancelled",
    ]
    assert order.status is OrderStatus.CANCELLED
    assert order.cancellation_reason == "changed my mind"
    assert order.compensation_step == "cancel"


def test_cancel_after_capture_refunds_in_full_before_the_order_ends() -> None:
    order = drive(*FORWARD[:5])
    assert order.can_be_cancelled
    order.request_cancellation("changed my mind")
    with pytest.raises(InvalidTransition, match="captured: refund it"):
        order.void_payment()
    with pytest.raises(InvalidTransition, match="still captured"):
        order.mark_cancelled("changed my mind")
    with pytest.raises(InvalidTransition, match="only 2999 of the capture is left"):
        order.refund_payment("ref-1", order.total + 1, "changed my mind")
    order.refund_payment("ref-1", order.total, "changed my mind")
    order.cancel_shipment()
    order.release_reservation()
    order.mark_cancelled("changed my mind")
    assert (order.status, order.captured_amount, order.refunded_total) == (
        OrderStatus.CANCELLED, order.total, order.total
    )  # fmt: skip


def test_cancel_is_refused_once_the_order_ended() -> None:
    for path in (["fail"], ["request_cancellation", "mark_cancelled"]):
        order = drive(*path)
        assert (
            order.cancellation_refusal == f"the order can no longer be cancelled ({order.status})"
        )
        with pytest.raises(InvalidTransition):
            order.request_cancellation("too late")


def test_an_in_doubt_capture_found_later_ends_the_stall_as_captured() -> None:
    order = drive(*FORWARD[:4], "stall")
    order.record_found_capture("cap-9", order.total)
    assert order.status is OrderStatus.PAYMENT_CAPTURED and order.stalled_step is None
    order.complete()
    assert order.status is OrderStatus.COMPLETED


def test_completion_needs_the_whole_total_charged() -> None:
    order = drive(*FORWARD[:4], "stall")
    order.record_found_capture("cap-9", order.total - 1)  # as the provider took it
    with pytest.raises(InvalidTransition, match="2998 is charged, the total is 2999"):
        order.complete()


def test_compensation_for_a_step_never_done_is_refused() -> None:
    order = drive(FORWARD[0], "start_compensation")
    for undo in ("release_reservation", "cancel_shipment"):
        with pytest.raises(InvalidTransition, match="nothing to undo"):
            COMMANDS[undo](order)
    order.void_payment()
    with pytest.raises(InvalidTransition, match="already undone"):
        order.void_payment()


def test_stall_remembers_status_and_resume_returns_to_it() -> None:
    order = drive(*FORWARD[:3])
    order.stall("confirm", "database unavailable")
    assert order.status is OrderStatus.STALLED
    assert (order.stalled_step, order.stalled_error) == ("confirm", "database unavailable")
    assert order.can_be_cancelled
    order.resume("confirm")
    assert order.status is OrderStatus.SHIPMENT_CREATED
    assert order.stalled_step is None and order.stalled_error is None
    order.confirm()
    assert order.status is OrderStatus.CONFIRMED


def test_resume_requires_the_step_that_stalled() -> None:
    order = drive("stall")
    with pytest.raises(InvalidTransition, match="stalled step is step"):
        order.resume("another_step")


def test_stalled_order_can_be_compensated_after_timeout() -> None:
    order = drive(FORWARD[0], "stall")
    order.start_compensation("stalled too long", "reserve_inventory")
    order.void_payment()
    order.fail("stalled too long", "reserve_inventory")
    assert order.status is OrderStatus.FAILED


def test_stall_after_capture_can_be_cancelled_but_not_compensated() -> None:
    order = drive(*FORWARD[:5], "stall")
    assert order.can_be_cancelled
    with pytest.raises(InvalidTransition, match="already captured"):
        order.start_compensation("timeout", "send_notifications")
