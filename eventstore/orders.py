"""Orders as event streams: load an aggregate, store what it decided, list a customer's orders."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from domain.events import DomainEvent, event_from_data
from domain.order import Order
from eventstore.store import EventStore, NewEvent, RecordedEvent

_EVENT_IDS = uuid.UUID("0d6f6c1e-4b7a-4f3e-9a55-2f8c1d0e7b21")


def order_stream(order_id: str) -> str:
    return f"order-{order_id}"


def event_id(order_id: str, version: int, event_type: str) -> uuid.UUID:
    """The same event at the same place in the same stream always gets the same id, so a retried
    activity or request that re-decides it appends nothing twice."""
    return uuid.uuid5(_EVENT_IDS, f"{order_id}/{version}/{event_type}")


def domain_events(recorded: Sequence[RecordedEvent]) -> list[DomainEvent]:
    return [event_from_data(r.type, r.data) for r in recorded]


class OrderRepository:
    """Loads orders from their streams and appends the events they decided."""

    def __init__(self, store: EventStore) -> None:
        self._store = store

    async def history(self, order_id: str) -> list[RecordedEvent]:
        return await self._store.read_stream(order_stream(order_id))

    async def load(self, order_id: str) -> Order | None:
        recorded = await self.history(order_id)
        return Order.rehydrate(domain_events(recorded)) if recorded else None

    async def save(self, order: Order, metadata: dict[str, Any] | None = None) -> int:
        """Append the order's pending events after the version it was loaded at."""
        pending = order.pending_events
        loaded_at = order.version - len(pending)
        new = [
            NewEvent(
                event_id(order.order_id, loaded_at + i + 1, event.type),
                event.type,
                event.to_data(),
                metadata or {},
            )
            for i, event in enumerate(pending)
        ]
        version = await self._store.append(order_stream(order.order_id), new, loaded_at)
        pending.clear()
        return version
