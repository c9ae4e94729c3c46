"""The global feed seen from outside: each catalogue event with the order as it stood then.

Webhooks and customer notifications both follow the feed (`EventStore.read_all`) and need, for
each public event, the order after that event was applied (its lines, totals, tracking number).
This reads the streams of a batch's orders once and rebuilds each order up to each event.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from domain.errors import DomainError
from domain.events import DomainEvent, event_from_data
from domain.order import Order
from domain.public_events import BY_SOURCE, PublicEventType
from eventstore.store import EventStore, RecordedEvent

log = logging.getLogger("commerce.public_feed")


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One catalogue event of the feed: where it sits, what it is, and the order after it."""

    recorded: RecordedEvent
    entry: PublicEventType
    event: DomainEvent
    order: Order


async def public_items(store: EventStore, batch: Sequence[RecordedEvent]) -> list[FeedItem]:
    """The catalogue events of `batch`, in feed order. An event whose order stream cannot be
    rebuilt (not an order stream, a corrupt one) is logged and left out: it has no public form."""
    wanted = [r for r in batch if r.type in BY_SOURCE]
    if not wanted:
        return []
    streams = await store.read_streams(sorted({r.stream_id for r in wanted}))
    items = []
    for recorded in wanted:
        stream = streams.get(recorded.stream_id, [])
        try:
            history = [event_from_data(r.type, r.data) for r in stream[: recorded.stream_version]]
            order = Order.rehydrate(history)
        except (DomainError, KeyError, TypeError, ValueError) as error:
            log.warning(
                "event %s at %d has no public form: %s",
                recorded.type, recorded.global_position, error,
            )  # fmt: skip
            continue
        items.append(FeedItem(recorded, BY_SOURCE[recorded.type], history[-1], order))
    return items
