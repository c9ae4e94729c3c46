"""Orders as of a version, kept in one process's memory so that loading one again reads only the
events appended since (OrderRepository.load).

An entry is never trusted alone: the repository always reads the stream's tail after it, because
the API and other workers append to the same streams (cancels, carrier reports, amendments). The
cache only saves reading and replaying the head of the stream this process has already seen. It
holds copies: the aggregate a caller decides on is its own, so a decision that is refused or an
append that fails leaves the entry as it was.
"""

from __future__ import annotations

import copy
from collections import OrderedDict

from domain.order import Order


class OrderCache:
    """At most `size` orders by order id, least recently used first out; `size` 0 keeps none
    (COMMERCE_ORDER_CACHE_SIZE). Each entry is the order with no pending events, at the stream
    version it was read or stored at (`Order.version`)."""

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError(f"an order cache holds 0 or more orders, not {size}")
        self._size = size
        self._entries: OrderedDict[str, Order] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, order_id: str) -> Order | None:
        """A copy of the kept order, for the caller to bring up to date and decide on; None when
        none is kept."""
        kept = self._entries.get(order_id)
        if kept is None:
            return None
        self._entries.move_to_end(order_id)
        return copy.deepcopy(kept)

    def put(self, order: Order) -> None:
        """Keep a copy of `order`, whose events up to `order.version` are all stored, unless an
        entry at a later version is kept already (a slower step of the same order finishing
        after a faster one)."""
        if self._size == 0 or order.pending_events:
            return
        kept = self._entries.get(order.order_id)
        if kept is not None and kept.version > order.version:
            return
        self._entries[order.order_id] = copy.deepcopy(order)
        self._entries.move_to_end(order.order_id)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def drop(self, order_id: str) -> None:
        self._entries.pop(order_id, None)
