"""A cart change written in one Redis round trip: compare-and-set on the document's digest.

The domain `Cart` decides a change on a cart document; `CartSwap.swap` stores the result only
if the cart's key still holds exactly that document (its SHA-1 digest is the version compared),
and, in the same atomic script, renews the customer's active-cart pointer when it names this
cart and moves the analytics totals (api/cart_analytics.py) from the old document's contribution
to the new one's. Otherwise it writes nothing and answers the document that is there now, so
the caller decides again on it without another read. The script holds no cart rule: it compares,
stores and adds what it is given.

`RecentCarts` keeps, per process, the last document of each cart it read or wrote: a change to a
cart this process touched last is decided on it and written in a single round trip; a stale one
only costs the swap's answer and a second decision.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import redis.asyncio as redis

from api import cart_analytics as analytics
from api.cart_view import StoredCart, active_key, cart_key, unix_ms

_SWAP = """
local current = redis.call('GET', KEYS[1])
if not current then return {0} end
if redis.sha1hex(current) ~= ARGV[1] then return {1, current} end
redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
if redis.call('GET', KEYS[2]) == ARGV[4] then redis.call('PEXPIREAT', KEYS[2], ARGV[3]) end
if ARGV[5] ~= '0' then redis.call('HINCRBY', KEYS[3], 'items', ARGV[5]) end
for i = 7, #ARGV, 2 do redis.call('HINCRBY', KEYS[4], ARGV[i], ARGV[i + 1]) end
redis.call('ZADD', KEYS[5], ARGV[3], ARGV[4])
redis.call('HSET', KEYS[6], ARGV[4], ARGV[6])
return {2}
"""
_GONE, _RACED, _WRITTEN = 0, 1, 2


class Raced(Exception):
    """The cart no longer holds the document the change was decided on; `current` is the
    document it holds now, or None when the cart is gone (deleted or expired)."""

    def __init__(self, current: str | None) -> None:
        super().__init__("the cart changed since it was read")
        self.current = current


def digest(document: str) -> str:
    """The version a swap compares: the SHA-1 of the document's bytes as Redis stores them."""
    return hashlib.sha1(document.encode(), usedforsecurity=False).hexdigest()


class CartSwap:
    """The compare-and-set of cart documents on one Redis client."""

    def __init__(self, client: redis.Redis) -> None:
        self._script = client.register_script(_SWAP)

    async def swap(self, read: str, was: StoredCart, changed: StoredCart) -> str:
        """Store `changed` (decided on `was`, parsed from the document `read`) if the cart
        still holds `read`; returns the document stored. Raises Raced otherwise."""
        document = changed.document()
        expiry = unix_ms(changed.expires_at)
        old, new = was.contribution(), changed.contribution()
        moves = [str(part) for move in analytics.value_moves(old, new) for part in move]
        keys = [cart_key(changed.id), active_key(changed.customer_id), analytics.STATS,
                analytics.VALUE, analytics.ACTIVE, analytics.CONTRIB]  # fmt: skip
        args: list[str | int] = [
            digest(read), document, expiry, changed.id, new.items - old.items, new.encode(), *moves
        ]  # fmt: skip
        answer = await self._script(keys=keys, args=args)
        if answer[0] == _WRITTEN:
            return document
        current = answer[1] if answer[0] == _RACED else None
        raise Raced(current.decode() if isinstance(current, bytes) else current)


class RecentCarts:
    """The last document of each cart this process read or wrote, at most `size` carts (least
    recently used first out; 0 keeps none). Never trusted: a swap compares it with Redis."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._documents: OrderedDict[str, str] = OrderedDict()

    def get(self, cart_id: str) -> str | None:
        document = self._documents.get(cart_id)
        if document is not None:
            self._documents.move_to_end(cart_id)
        return document

    def keep(self, cart_id: str, document: str) -> None:
        if self._size <= 0:
            return
        self._documents[cart_id] = document
        self._documents.move_to_end(cart_id)
        while len(self._documents) > self._size:
            self._documents.popitem(last=False)

    def forget(self, cart_id: str) -> None:
        self._documents.pop(cart_id, None)
