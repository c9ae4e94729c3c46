"""The order cache's bounds: least recently used first out, never behind, copies only."""

from __future__ import annotations

import pytest

from domain.order import Order
from eventstore.order_cache import OrderCache
from tests.unit.order_scenarios import ADDRESS, LINES


def _stored(order_id: str, authorized: bool = False) -> Order:
    order = Order.place(order_id, "c-1", "cart-1", "USD", LINES, ADDRESS)
    if authorized:
        order.authorize_payment("auth-1", order.total)
    order.pending_events.clear()  # as OrderRepository.save leaves it
    return order


def test_the_least_recently_used_order_goes_first() -> None:
    cache = OrderCache(2)
    for order_id in ("o-1", "o-2"):
        cache.put(_stored(order_id))
    assert cache.get("o-1") is not None  # o-2 is now the least recently used
    cache.put(_stored("o-3"))

    assert len(cache) == 2
    assert cache.get("o-2") is None
    assert cache.get("o-1") is not None and cache.get("o-3") is not None


def test_size_zero_keeps_nothing() -> None:
    cache = OrderCache(0)
    cache.put(_stored("o-1"))
    assert (len(cache), cache.get("o-1")) == (0, None)


def test_an_order_with_events_not_yet_stored_is_not_kept() -> None:
    cache = OrderCache(10)
    order = Order.place("o-1", "c-1", "cart-1", "USD", LINES, ADDRESS)
    cache.put(order)
    assert cache.get("o-1") is None


def test_a_kept_order_never_goes_back_to_an_earlier_version() -> None:
    cache = OrderCache(10)
    cache.put(_stored("o-1", authorized=True))
    cache.put(_stored("o-1"))  # a slower step of the same order, finishing last
    kept = cache.get("o-1")
    assert kept is not None and kept.version == 2


def test_each_caller_gets_a_copy_of_its_own() -> None:
    cache = OrderCache(10)
    stored = _stored("o-1")
    cache.put(stored)
    stored.authorize_payment("auth-1", stored.total)
    first = cache.get("o-1")
    assert first is not None
    first.authorize_payment("auth-2", first.total)

    second = cache.get("o-1")
    assert second is not None
    assert (second.version, second.authorization_id, second.pending_events) == (1, None, [])


def test_a_negative_size_is_refused() -> None:
    with pytest.raises(ValueError):
        OrderCache(-1)
