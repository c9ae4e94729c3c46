"""Orders as event streams: load an aggregate, store what it decided, list a customer's orders."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from domain.events import DomainEvent, event_from_data
from domain.order import Order
from eventstore.order_cache import OrderCache
from eventstore.store import ConcurrencyError, EventStore, NewEvent, RecordedEvent

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
    """Loads orders from their streams and appends the events they decided.

    With a `cache` (the worker's, COMMERCE_ORDER_CACHE_SIZE), an order this process read or
    stored before is loaded from its kept copy and the events appended since (by anyone: the
    API, other workers), one short read instead of the whole stream and its replay.
    """

    def __init__(self, store: EventStore, cache: OrderCache | None = None) -> None:
        self._store = store
        self._cache = OrderCache(0) if cache is None else cache

    async def history(self, order_id: str) -> list[RecordedEvent]:
        return await self._store.read_stream(order_stream(order_id))

    async def load(self, order_id: str) -> Order | None:
        """The order as its stream stands now (every event committed before this read), or None
        when the stream is empty; the caller's own copy, to decide on."""
        order = self._cache.get(order_id)
        if order is None:
            recorded = await self.history(order_id)
            if not recorded:
                return None
            order = Order.rehydrate(domain_events(recorded))
        else:
            recorded = await self._store.read_stream(order_stream(order_id), order.version)
            for event in domain_events(recorded):
                order.apply(event)
        if recorded:
            self._cache.put(order)
        return order

    async def save(self, order: Order, metadata: dict[str, Any] | None = None) -> int:
        """Append the order's pending events after the version it was loaded at; the stored
        order is kept in the cache. Raises ConcurrencyError when another writer appended first
        (the kept order is dropped too: the caller loads afresh and decides again)."""
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
        try:
            version = await self._store.append(order_stream(order.order_id), new, loaded_at)
        except ConcurrencyError:
            self._cache.drop(order.order_id)
            raise
        pending.clear()
        self._cache.put(order)
        return version
