"""Event classes: names, immutability, and the type registry used by the event store."""

import dataclasses

import pytest

from domain import (
    amendment_events,
    payment_events,
    return_events,
    saga_events,
    shipment_events,
)
from domain import events as ev
from domain.errors import DomainError, UnknownEventType
from tests.unit.order_scenarios import FORWARD, drive


def event_classes() -> set[type[ev.DomainEvent]]:
    modules = (ev, saga_events, shipment_events, amendment_events, payment_events, return_events)
    return {
        obj
        for module in modules
        for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, ev.DomainEvent) and obj is not ev.DomainEvent
    }


def test_every_event_class_is_registered_under_its_class_name() -> None:
    classes = event_classes()
    assert len(classes) == 42
    for cls in classes:
        assert cls.type == cls.__name__
        assert ev.EVENT_TYPES.count(cls) == 1


def test_events_are_immutable() -> None:
    event = drive(FORWARD[0]).pending_events[-1]
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.order_id = "other"  # type: ignore[misc]


def test_order_placed_data_is_plain_json_types() -> None:
    data = drive().pending_events[0].to_data()
    assert isinstance(data["lines"], list) and isinstance(data["lines"][0], dict)
    assert data["shipping_address"]["country"] == "GB"
    assert data["subtotal"] == 2999


def test_unknown_event_type_is_a_key_error_and_a_domain_error() -> None:
    with pytest.raises(UnknownEventType) as raised:
        ev.event_from_data("OrderTeleported", {"order_id": "o-1"})
    assert isinstance(raised.value, KeyError) and isinstance(raised.value, DomainError)
    assert "OrderTeleported" in str(raised.value)
