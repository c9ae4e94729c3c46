"""A completed order's shipment: forward moves recorded, stale ones ignored, final ones final."""

import pytest

from domain.errors import InvalidTransition
from domain.order import Order, ShipmentStatus
from tests.unit.order_scenarios import FORWARD, SCENARIOS, drive

T = ShipmentStatus
AT = "2025-01-02T03:04:05Z"


def completed(*moves: ShipmentStatus) -> Order:
    order = drive(*FORWARD)
    for n, status in enumerate(moves):
        order.track_shipment(status, f"evt-{n}", AT)
    return order


def test_a_completed_order_has_no_shipment_status_until_the_first_carrier_event() -> None:
    assert completed().shipment_status is None


def test_the_full_lifecycle_records_one_event_per_stage() -> None:
    order = completed(T.LABEL_CREATED, T.DISPATCHED, T.DELIVERED)
    assert [e.type for e in order.pending_events[-3:]] == [
        "ShipmentLabelCreated",
        "ShipmentDispatched",
        "ShipmentDelivered",
    ]
    assert order.shipment_status is T.DELIVERED and order.shipment_is_terminal
    assert order.status == "completed"
    assert order.carrier_event_ids == {"evt-0", "evt-1", "evt-2"}


@pytest.mark.parametrize(
    "moves",
    [
        (T.DELIVERED,),
        (T.DISPATCHED,),
        (T.LABEL_CREATED, T.DELIVERED),
        (T.DISPATCHED, T.LOST),
        (T.LABEL_CREATED, T.RETURNED),
    ],
)
def test_a_later_stage_may_come_without_the_earlier_ones(moves: tuple[ShipmentStatus]) -> None:
    assert completed(*moves).shipment_status is moves[-1]


@pytest.mark.parametrize(
    ("before", "report"),
    [
        ((T.DELIVERED,), T.DISPATCHED),
        ((T.DELIVERED,), T.LABEL_CREATED),
        ((T.DISPATCHED,), T.LABEL_CREATED),
        ((T.DISPATCHED,), T.DISPATCHED),
        ((T.DELIVERED,), T.DELIVERED),
    ],
)
def test_stale_or_repeated_reports_are_stale_and_refused_by_the_command(
    before: tuple[ShipmentStatus], report: ShipmentStatus
) -> None:
    order = completed(*before)
    assert order.is_stale_shipment_report(report)
    snapshot = order.snapshot()
    with pytest.raises(InvalidTransition):
        order.track_shipment(report, "late", AT)
    assert order.snapshot() == snapshot


@pytest.mark.parametrize("final", [T.DELIVERED, T.LOST, T.RETURNED])
@pytest.mark.parametrize("report", [T.DELIVERED, T.LOST, T.RETURNED])
def test_a_final_status_refuses_every_further_move(
    final: ShipmentStatus, report: ShipmentStatus
) -> None:
    order = completed(final)
    with pytest.raises(InvalidTransition):
        order.track_shipment(report, "after-the-end", AT)
    with pytest.raises(InvalidTransition):
        order.mark_delivery_overdue(AT)
    # The same final status again is a harmless repeat; a different one is a conflict.
    assert order.is_stale_shipment_report(report) is (report == final)


@pytest.mark.parametrize(
    "scenario", [s for s in SCENARIOS if drive(*SCENARIOS[s][0]).status != "completed"]
)
def test_only_a_completed_order_takes_carrier_events(scenario: str) -> None:
    order = drive(*SCENARIOS[scenario][0])
    with pytest.raises(InvalidTransition):
        order.track_shipment(T.DISPATCHED, "too-early", AT)
    with pytest.raises(InvalidTransition):
        order.mark_delivery_overdue(AT)


def test_overdue_shows_until_a_final_report_and_a_late_delivery_still_lands() -> None:
    order = completed(T.DISPATCHED)
    order.mark_delivery_overdue(AT)
    assert order.shipment_status is T.OVERDUE and order.delivery_overdue
    with pytest.raises(InvalidTransition):
        order.mark_delivery_overdue(AT)
    order.track_shipment(T.DELIVERED, "late", AT)
    assert order.shipment_status is T.DELIVERED
    assert Order.rehydrate(order.pending_events).snapshot() == order.snapshot()


def test_overdue_without_any_carrier_event() -> None:
    order = completed()
    order.mark_delivery_overdue(AT)
    assert order.shipment_status is T.OVERDUE and order.shipment_stage is None


def test_overdue_is_not_a_carrier_status() -> None:
    with pytest.raises(InvalidTransition):
        completed().track_shipment(T.OVERDUE, "evt", AT)


@pytest.mark.parametrize(
    ("before", "report", "outcome"),
    [
        ((), T.DISPATCHED, "recorded"),
        ((T.DISPATCHED,), T.DELIVERED, "recorded"),
        ((T.DELIVERED,), T.DISPATCHED, "ignored"),
        ((T.DELIVERED,), T.DELIVERED, "ignored"),
        ((T.DELIVERED,), T.LOST, "refused"),
        ((), T.OVERDUE, "refused"),
    ],
)
def test_take_carrier_report_answers_without_raising(
    before: tuple[ShipmentStatus], report: ShipmentStatus, outcome: str
) -> None:
    order = completed(*before)
    assert order.take_carrier_report(report, "new-event", AT) == outcome
    version = order.version
    # The same report again (a retried activity) answers the same and records nothing more.
    assert order.take_carrier_report(report, "new-event", AT) == outcome
    assert order.version == version


def test_a_carrier_report_before_completion_is_refused() -> None:
    assert drive(*FORWARD[:5]).take_carrier_report(T.DELIVERED, "early", AT) == "refused"
