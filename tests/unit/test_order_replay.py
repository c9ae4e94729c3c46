"""Replaying an order's events rebuilds exactly the order that recorded them."""

import copy
import json
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import InvalidTransition
from domain.events import DomainEvent, OrderLine, event_from_data
from domain.order import Order, ShipmentStatus
from tests.unit.order_scenarios import ADDRESS

ids = st.text(min_size=1, max_size=12)
lines = st.lists(
    st.builds(
        OrderLine,
        sku=ids,
        name=st.text(max_size=20),
        quantity=st.integers(1, 1000),
        unit_price=st.integers(0, 10**9),
    ),
    min_size=1,
    max_size=5,
)

Command = Callable[[Order], None]


def commands(draw: st.DrawFn) -> list[Command]:
    """Every command with drawn arguments; the driver keeps only those allowed now."""
    text = draw(ids)
    channels = tuple(draw(st.lists(st.sampled_from(["email", "sms", "push"]), max_size=3)))
    shipment = draw(st.sampled_from(list(ShipmentStatus)))
    skus = draw(st.lists(ids, max_size=3))
    return [
        lambda o: o.authorize_payment(text, o.total),
        lambda o: o.reserve_inventory(text),
        lambda o: o.create_shipment(text, text[::-1]),
        lambda o: o.confirm(),
        lambda o: o.capture_payment(text, o.total),
        lambda o: o.record_notifications(channels),
        lambda o: o.complete(),
        lambda o: o.stall(text, "timeout: " + text),
        lambda o: o.resume(o.stalled_step or text),
        lambda o: o.start_compensation(text, text),
        lambda o: o.request_cancellation(text),
        lambda o: o.void_payment(),
        lambda o: o.release_reservation(),
        lambda o: o.cancel_shipment(),
        lambda o: o.fail(text, text),
        lambda o: o.mark_cancelled(text),
        lambda o: o.track_shipment(shipment, text, text),
        lambda o: o.mark_delivery_overdue(text),
        lambda o: o.propose_amendment([*skus, *(line.sku for line in o.lines[:1])]),
        lambda o: o.accept_amendment(),
        lambda o: o.expire_amendment(len(text)),
        lambda o: o.reauthorize_payment(text[::-1], o.total),
    ]


def is_allowed(order: Order, command: Command) -> bool:
    try:
        command(copy.deepcopy(order))
    except InvalidTransition:
        return False
    return True


@st.composite
def driven_orders(draw: st.DrawFn) -> Order:
    order = Order.place(draw(ids), draw(ids), draw(ids), "EUR", draw(lines), ADDRESS)
    for _ in range(draw(st.integers(0, 22))):
        allowed = [c for c in commands(draw) if is_allowed(order, c)]
        if not allowed:
            break
        draw(st.sampled_from(allowed))(order)
    return order


@settings(max_examples=200, deadline=None)
@given(driven_orders())
def test_rehydrated_order_equals_the_order_that_recorded_the_events(order: Order) -> None:
    replayed = Order.rehydrate(order.pending_events)
    assert replayed.snapshot() == order.snapshot()
    assert replayed.version == order.version == len(order.pending_events)
    assert replayed.pending_events == []


@settings(max_examples=200, deadline=None)
@given(driven_orders())
def test_every_event_survives_a_json_round_trip(order: Order) -> None:
    for event in order.pending_events:
        stored = json.loads(json.dumps(event.to_data()))
        assert event_from_data(event.type, stored) == event


@settings(max_examples=100, deadline=None)
@given(driven_orders())
def test_replay_from_stored_json_rebuilds_the_same_order(order: Order) -> None:
    stored = [(e.type, json.dumps(e.to_data())) for e in order.pending_events]
    events: list[DomainEvent] = [event_from_data(t, json.loads(d)) for t, d in stored]
    assert Order.rehydrate(events).snapshot() == order.snapshot()
