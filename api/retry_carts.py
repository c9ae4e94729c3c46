"""Retry carts: an order whose payment was never authorized gives the customer its lines back in
a new active cart, made once per order.

The cart's id is derived from the order's id, so every attempt (an activity retried, two
attempts at once) names the same cart, and the cart is written in one Redis transaction only
while its key is absent (WATCH/MULTI): whoever comes second finds it and changes nothing. The
saga's worker calls this through its `RetryCarts` port (activities/ports.py).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import redis.asyncio as redis

from api import cart_analytics as analytics
from api.cart_errors import CartBusy
from api.cart_view import StoredCart, active_key, cart_key, unix_ms
from api.line_items import LineItem
from commerce.settings import Settings
from domain.cart import Cart, CartLine, CartStatus
from eventstore.catalog import Catalog

_RETRY_CARTS = uuid.UUID("0d9b1a4e-3f0c-4a57-9a51-5c1f8e0b7d21")
_MAX_ATTEMPTS = 50


def retry_cart_id(order_id: str) -> str:
    """The id of the cart that gives `order_id`'s lines back: the same for every caller."""
    return uuid.uuid5(_RETRY_CARTS, order_id).hex


class RedisRetryCarts:
    """Makes retry carts in the Redis cart store, priced from the catalog when they are made."""

    def __init__(self, client: redis.Redis, catalog: Catalog, settings: Settings) -> None:
        self._redis = client
        self._catalog = catalog
        self._ttl = timedelta(seconds=settings.cart_ttl_s)

    async def give_back(
        self, order_id: str, customer_id: str, currency: str, lines: tuple[CartLine, ...]
    ) -> str:
        """The retry cart's id; the first call makes it the customer's active cart, holding
        `lines` (skus, quantities) at the catalog's prices now, with the cart TTL. Raises
        redis and asyncpg errors while a store is unreachable, CartBusy if it never settles."""
        cart_id = retry_cart_id(order_id)
        key = cart_key(cart_id)
        if await self._redis.exists(key):
            return cart_id
        prices = await self._catalog.prices(line.sku for line in lines)
        cart = Cart.given_back(cart_id, customer_id, currency, lines, prices)
        stored = _stored(cart, order_id, datetime.now(UTC), self._ttl)
        expiry = unix_ms(stored.expires_at)
        async with self._redis.pipeline(transaction=True) as pipe:
            for _ in range(_MAX_ATTEMPTS):
                try:
                    await pipe.watch(key)
                    if await pipe.exists(key):
                        return cart_id  # made by an attempt that ran at the same time
                    pipe.multi()
                    pipe.set(key, stored.document(), pxat=expiry)
                    pipe.set(active_key(customer_id), cart_id, pxat=expiry)
                    analytics.record_created(pipe, cart_id, expiry)
                    analytics.record_change(
                        pipe, cart_id, analytics.Contribution(), stored.contribution(), expiry
                    )
                    await pipe.execute()
                    return cart_id
                except redis.WatchError:
                    continue
        raise CartBusy(f"retry cart {cart_id} is changing too fast")


def _stored(cart: Cart, order_id: str, now: datetime, ttl: timedelta) -> StoredCart:
    return StoredCart(
        id=cart.id,
        customer_id=cart.customer_id,
        status=CartStatus.ACTIVE,
        items=[LineItem.of(line) for line in cart.lines],
        subtotal=cart.subtotal,
        currency=cart.currency,
        expires_at=now + ttl,
        created_at=now,
        updated_at=now,
        retry_of=order_id,
    )
