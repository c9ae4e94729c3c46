"""After the sale: refunds never exceed the capture, a cancel until dispatch, returns (RMA)."""

from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import InvalidReturn, InvalidTransition
from domain.order import Order
from domain.return_events import ReturnLine
from domain.status import OrderStatus, ShipmentStatus
from tests.unit.order_scenarios import FORWARD, LINES, drive

DELIVERED_AT = datetime(2026, 11, 1, 12, tzinfo=UTC)
SOON = DELIVERED_AT + timedelta(days=3)
MUGS, TEA = LINES[0].sku, LINES[1].sku  # 2 x 1250 and 1 x 499: 2999 in all


def delivered() -> Order:
    order = drive(*FORWARD)
    order.track_shipment(ShipmentStatus.DELIVERED, "evt-1", DELIVERED_AT.isoformat())
    return order


def returned(order: Order, return_id: str, *lines: tuple[str, int]) -> None:
    back = [ReturnLine(sku=sku, quantity=qty) for sku, qty in lines]
    order.request_return(return_id, back, "too big", now=SOON, window_days=30)
    order.approve_return(return_id)
    order.receive_return(return_id, back)


def test_refunds_requested_together_never_exceed_the_capture() -> None:
    order = drive(*FORWARD)
    granted = 0
    for n in range(20):
        try:
            order.request_refund(f"r-{n}", 200, "goodwill")
            granted += 200
        except InvalidTransition:
            pass
    assert granted == 2800 and order.refundable == 199
    order.settle_refund("r-0", "re_0")
    order.fail_refund("r-1", "declined")
    assert (order.refunded_total, order.refundable) == (200, 399)
    with pytest.raises(InvalidTransition, match="only 399 can still be refunded"):
        order.request_refund("r-99", 400, "goodwill")


def test_a_completed_order_is_cancelled_until_its_parcel_is_dispatched() -> None:
    order = drive(*FORWARD)
    order.track_shipment(ShipmentStatus.LABEL_CREATED, "evt-1", DELIVERED_AT.isoformat())
    assert order.can_be_cancelled
    order.request_cancellation("changed my mind")
    assert order.status is OrderStatus.COMPENSATING

    dispatched = drive(*FORWARD)
    dispatched.track_shipment(ShipmentStatus.DISPATCHED, "evt-1", DELIVERED_AT.isoformat())
    assert dispatched.cancellation_refusal == "the parcel was already dispatched: request a return"


def test_a_return_of_one_of_three_units_refunds_one_units_price() -> None:
    order = delivered()
    returned(order, "ret-1", (MUGS, 1))
    assert order.return_refund("ret-1") == 1250
    returned(order, "ret-2", (MUGS, 1), (TEA, 1))
    assert order.return_refund("ret-2") == order.refundable == 2999  # the whole order came back


def test_a_return_of_more_than_was_bought_and_not_returned_is_refused() -> None:
    order = delivered()
    returned(order, "ret-1", (MUGS, 2))
    with pytest.raises(InvalidReturn, match="more than was bought"):
        order.request_return("ret-2", [ReturnLine(sku=MUGS, quantity=1)], "again", now=SOON,
                             window_days=30)  # fmt: skip
    with pytest.raises(InvalidReturn):
        order.request_return("ret-3", [ReturnLine(sku="NOT-BOUGHT", quantity=1)], "?", now=SOON,
                             window_days=30)  # fmt: skip


def test_a_return_needs_a_delivery_within_the_window() -> None:
    with pytest.raises(InvalidTransition, match="not delivered"):
        drive(*FORWARD).request_return(
            "ret-1", [ReturnLine(sku=MUGS, quantity=1)], "?", now=SOON, window_days=30
        )
    late = DELIVERED_AT + timedelta(days=31)
    with pytest.raises(InvalidTransition, match="30-day return window"):
        delivered().request_return(
            "ret-1", [ReturnLine(sku=MUGS, quantity=1)], "?", now=late, window_days=30
        )


def test_a_rejected_or_closed_return_gives_its_units_back_to_what_may_be_returned() -> None:
    order = delivered()
    order.request_return("ret-1", [ReturnLine(sku=MUGS, quantity=2)], "?", now=SOON,
                         window_days=30)  # fmt: skip
    order.reject_return("ret-1", "worn")
    order.request_return("ret-2", [ReturnLine(sku=MUGS, quantity=2)], "?", now=SOON,
                         window_days=30)  # fmt: skip
    order.approve_return("ret-2")
    order.close_return("ret-2", "never received")
    assert [r.status for r in order.returns.values()] == ["rejected", "closed"]
    returned(order, "ret-3", (MUGS, 2))
    with pytest.raises(InvalidTransition, match="is received"):
        order.receive_return("ret-3", [ReturnLine(sku=MUGS, quantity=1)])  # received once only


def test_an_approved_return_gets_one_label_and_keeps_its_tracking_number_when_received() -> None:
    order = delivered()
    back = [ReturnLine(sku=MUGS, quantity=1)]
    order.request_return("ret-1", back, "?", now=SOON, window_days=30)
    with pytest.raises(InvalidTransition, match="is requested"):
        order.label_return("ret-1", "RTN-1")  # not before approval
    order.approve_return("ret-1")
    order.label_return("ret-1", "RTN-1")
    with pytest.raises(InvalidTransition, match="already has label RTN-1"):
        order.label_return("ret-1", "RTN-2")
    order.receive_return("ret-1", back)
    assert (order.returns["ret-1"].status, order.returns["ret-1"].tracking_number) == (
        "received",
        "RTN-1",
    )
    replayed = Order.rehydrate(order.pending_events)
    assert replayed.returns == order.returns


def test_a_return_approved_before_labels_existed_has_no_tracking_number() -> None:
    order = delivered()
    order.request_return("ret-1", [ReturnLine(sku=MUGS, quantity=1)], "?", now=SOON,
                         window_days=30)  # fmt: skip
    order.approve_return("ret-1")
    assert order.returns["ret-1"].tracking_number is None


@pytest.mark.parametrize(
    ("moves", "status", "outcome"),
    [((), ShipmentStatus.DELIVERED, "receive"),
     ((), ShipmentStatus.DISPATCHED, "ignored"),
     ((), ShipmentStatus.LOST, "ignored"),
     (("receive",), ShipmentStatus.DELIVERED, "ignored"),
     (("close",), ShipmentStatus.DELIVERED, "refused")],
)  # fmt: skip
def test_a_carrier_report_on_a_return_parcel_receives_only_a_delivery_of_a_waiting_return(
    moves: tuple[str, ...], status: ShipmentStatus, outcome: str
) -> None:
    order = delivered()
    back = [ReturnLine(sku=MUGS, quantity=1)]
    order.request_return("ret-1", back, "?", now=SOON, window_days=30)
    order.approve_return("ret-1")
    order.label_return("ret-1", "RTN-1")
    for move in moves:
        if move == "receive":
            order.receive_return("ret-1", back)
        else:
            order.close_return("ret-1", "never came")
    assert order.return_parcel_report("ret-1", status)[0] == outcome
