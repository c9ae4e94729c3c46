"""Order state machine: every legal command, every illegal one, and the saga's paths."""

import pickle

import pytest

from domain.errors import AmountMismatch, InvalidTransition
from domain.events import DomainEvent
from domain.order import TERMINAL_STATUSES, Order, OrderStatus
from tests.unit.order_scenarios import (
    ADDRESS,
    AFTER_SALE,
    COMMANDS,
    FORWARD,
    LINES,
    SCENARIOS,
    drive,
    placed,
)

LEGAL = [(s, c) for s, (_, allowed) in SCENARIOS.items() for c in sorted(allowed)]
ILLEGAL = [(s, c) for s, (_, allowed) in SCENARIOS.items() for c in COMMANDS if c not in allowed]


def types(events: list[DomainEvent]) -> list[str]:
    return [event.type for event in events]


@pytest.mark.parametrize(("scenario", "command"), LEGAL)
def test_allowed_command_records_events(scenario: str, command: str) -> None:
    order = drive(*SCENARIOS[scenario][0])
    before = order.version
    COMMANDS[command](order)
    assert order.version > before
    assert len(order.pending_events) == order.version


@pytest.mark.parametrize(("scenario", "command"), ILLEGAL)
def test_disallowed_command_raises_and_leaves_order_unchanged(scenario: str, command: str) -> None:
    order = drive(*SCENARIOS[scenario][0])
    before = order.snapshot()
    with pytest.raises(InvalidTransition) as raised:
        COMMANDS[command](order)
    assert raised.value.status == order.status
    assert order.snapshot() == before
    assert len(order.pending_events) == order.version


def test_every_status_is_covered_by_a_scenario() -> None:
    reached = {drive(*path).status for path, _ in SCENARIOS.values()}
    assert reached == set(OrderStatus)


@pytest.mark.parametrize("path", [["fail"], ["request_cancellation", "mark_cancelled"]])
@pytest.mark.parametrize("command", COMMANDS)
def test_failed_and_cancelled_orders_refuse_every_command(path: list[str], command: str) -> None:
    order = drive(*path)
    assert order.status in TERMINAL_STATUSES and order.is_terminal
    with pytest.raises(InvalidTransition):
        COMMANDS[command](order)


@pytest.mark.parametrize("command", sorted(set(COMMANDS) - AFTER_SALE))
def test_a_completed_order_refuses_every_saga_command(command: str) -> None:
    order = drive(*FORWARD)
    assert order.status is OrderStatus.COMPLETED and order.is_terminal
    with pytest.raises(InvalidTransition):
        COMMANDS[command](order)


def test_place_records_order_placed_with_integer_totals() -> None:
    order = placed()
    assert order.status is OrderStatus.PENDING
    assert order.subtotal == order.total == 2 * 1250 + 499
    assert order.lines == LINES and order.shipping_address == ADDRESS
    assert types(order.pending_events) == ["OrderPlaced"]
    assert order.version == 1


def test_notifications_are_recorded_at_most_once() -> None:
    order = drive(*FORWARD[:5], "record_notifications")
    with pytest.raises(InvalidTransition, match="already sent"):
        order.record_notifications(["email"])


@pytest.mark.parametrize("command", ["authorize_payment", "capture_payment"])
def test_payment_amount_must_equal_order_total(command: str) -> None:
    order = drive(*FORWARD[:4]) if command == "capture_payment" else placed()
    with pytest.raises(AmountMismatch):
        getattr(order, command)("id-1", order.total + 1)


def test_capture_requires_confirmed_order() -> None:
    order = drive(*FORWARD[:3])
    with pytest.raises(InvalidTransition) as raised:
        order.capture_payment("cap-1", order.total)
    assert raised.value.status == OrderStatus.SHIPMENT_CREATED
    assert raised.value.event_type == "PaymentCaptured"
    assert "shipment_created" in str(raised.value)


def test_mark_cancelled_requires_a_cancellation_request() -> None:
    order = drive("start_compensation")
    with pytest.raises(InvalidTransition, match="no cancellation was requested"):
        order.mark_cancelled("why not")


def test_invalid_transition_survives_pickling() -> None:
    error = InvalidTransition("pending", "OrderConfirmed", "detail")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.status, copy.event_type, str(copy)) == ("pending", "OrderConfirmed", str(error))


def test_rehydrate_requires_stream_starting_with_order_placed() -> None:
    with pytest.raises(ValueError):
        Order.rehydrate([])
    with pytest.raises(ValueError):
        Order.rehydrate(drive(FORWARD[0]).pending_events[1:])


def test_second_order_placed_cannot_be_applied() -> None:
    order = placed()
    with pytest.raises(InvalidTransition):
        order.apply(order.pending_events[0])
