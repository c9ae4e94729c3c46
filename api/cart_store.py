"""Carts in Redis: one JSON document per cart under `cart:{id}`, changed atomically.

Every change is read-decide-write under WATCH/MULTI: the domain `Cart` decides on the cart as
read, at the catalog's current prices, and the write, its TTL renewal and the analytics counters
commit together or not at all (a concurrent writer makes the transaction fail and the change is
decided again on fresh state). Checkout's conversion is one such change, so the order is built
from exactly the cart state it converts: a change racing it is either in that state or, after
it, refused (the cart is no longer active).
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import redis.asyncio as redis
from redis.asyncio.client import Pipeline

from api import cart_analytics as analytics
from api.cart_errors import (
    CartBusy,
    CartNotFound,
    CheckoutRefused,
    IdempotencyKeyReused,
    UnknownProduct,
)
from api.cart_view import CartView, CheckoutMark, StoredCart, active_key, cart_key, unix_ms
from api.metrics import CART_OPERATIONS, CartOperation
from commerce.settings import Settings
from domain.cart import (
    NO_CURRENCY,
    Cart,
    CartStatus,
    CatalogPrice,
    ProductsNotSold,
    TotalChanged,
    validate_quantity,
)
from eventstore.catalog import Catalog

__all__ = [
    "NO_CURRENCY",
    "CartNotFound",
    "CartStore",
    "CartView",
    "CheckoutMark",
    "StoredCart",
    "UnknownProduct",
]

_MAX_ATTEMPTS = 500

# The customer's active cart in one atomic read (the pointer, then the cart it names).
_ACTIVE = """
local id = redis.call('GET', KEYS[1])
if not id then return false end
return redis.call('GET', ARGV[1] .. id)
"""


def idempotency_key_lock(customer_id: str, idempotency_key: str) -> str:
    """Which cart and request a customer's Idempotency-Key converted, until its checkout record
    is in PostgreSQL: closes the gap in which the key could convert a second cart."""
    digest = hashlib.sha256(f"{customer_id}\x00{idempotency_key}".encode()).hexdigest()
    return f"checkout:key:{digest}"


@dataclass(slots=True)
class _Read:
    """What one attempt of a transaction read: the cart, whether the customer's active-cart
    pointer names it, the current prices of its skus, and any extra keys watched."""

    cart: StoredCart
    points_here: bool
    prices: dict[str, CatalogPrice] = field(default_factory=dict)
    extra: list[str | None] = field(default_factory=list)


_Queue = Callable[[Pipeline, _Read], StoredCart]


class CartStore:
    """Customers' carts; unit prices always come from the catalog, as it stands now."""

    def __init__(self, client: redis.Redis, catalog: Catalog, settings: Settings) -> None:
        self._redis = client
        self._catalog = catalog
        self._ttl = timedelta(seconds=settings.cart_ttl_s)
        self._active = client.register_script(_ACTIVE)

    async def create(self, customer_id: str, currency: str | None = None) -> CartView:
        """A new empty cart, which becomes the customer's active cart."""
        if currency is not None:
            Cart(id="-", customer_id=customer_id, currency=currency)  # refuses a bad code
        now = datetime.now(UTC)
        cart = StoredCart(
            id=uuid.uuid4().hex,
            customer_id=customer_id,
            status=CartStatus.ACTIVE,
            items=[],
            subtotal=0,
            currency=currency,
            expires_at=now + self._ttl,
            created_at=now,
            updated_at=now,
        )
        expiry = unix_ms(cart.expires_at)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(cart_key(cart.id), cart.document(), pxat=expiry)
            pipe.set(active_key(customer_id), cart.id, pxat=expiry)
            analytics.record_created(pipe, cart.id, expiry)
            await pipe.execute()
        CART_OPERATIONS.labels("create").inc()
        return cart.shown()

    async def get(self, cart_id: str) -> StoredCart | None:
        """The cart as last written (prices of its last change), or None."""
        raw = await self._redis.get(cart_key(cart_id))
        return StoredCart.model_validate_json(raw) if raw else None

    async def owned(self, cart_id: str, customer_id: str) -> CartView:
        """The customer's cart at the catalog's current prices."""
        cart = await self.get(cart_id)
        if cart is None or cart.customer_id != customer_id:
            raise CartNotFound(f"no cart {cart_id}")
        return await self._shown(cart)

    async def active(self, customer_id: str) -> CartView | None:
        """The customer's active cart at current prices, or None."""
        raw = await self._active(keys=[active_key(customer_id)], args=[cart_key("")])
        cart = StoredCart.model_validate_json(raw) if raw else None
        if cart is None or cart.customer_id != customer_id or cart.status != CartStatus.ACTIVE:
            return None
        return await self._shown(cart)

    async def add_item(self, cart_id: str, customer_id: str, sku: str, quantity: int) -> CartView:
        """Add `quantity` of `sku` at the catalog's price, on top of any quantity already held.

        Raises UnknownProduct (not sold), CurrencyMismatch, InvalidQuantity, CartNotActive."""
        validate_quantity(quantity)

        def add(cart: Cart, read: _Read) -> Cart:
            cart.require_active()
            price = read.prices.get(sku)
            if price is None:
                raise UnknownProduct(f"no product with sku {sku!r} is sold")
            cart = cart.in_currency_of(price)
            return cart.add_item(sku, price.name, quantity, price.unit_price)

        return await self._change(cart_id, customer_id, add, "add", also_price=(sku,))

    async def set_quantity(
        self, cart_id: str, customer_id: str, sku: str, quantity: int
    ) -> CartView:
        return await self._change(
            cart_id, customer_id, lambda c, _: c.set_quantity(sku, quantity), "set"
        )

    async def remove_item(self, cart_id: str, customer_id: str, sku: str) -> CartView:
        return await self._change(cart_id, customer_id, lambda c, _: c.remove_item(sku), "remove")

    async def check_out(
        self,
        cart_id: str,
        customer_id: str,
        checkout: CheckoutMark,
        expected_total: int | None = None,
    ) -> StoredCart:
        """Convert the cart for `checkout`, every line priced from the catalog now, in one
        atomic step; the converted cart is exactly what the order must hold.

        A cart converted earlier is returned as it was (its `checkout` says by whom), so the
        caller can tell a repeat from a conflict. Raises CartNotFound, EmptyOrder,
        CheckoutRefused (lines no longer sold, total not `expected_total`; nothing changes)
        and IdempotencyKeyReused (the key converted another cart or request)."""
        key = checkout.idempotency_key
        lock = idempotency_key_lock(customer_id, key) if key is not None else None
        claim = f"{cart_id} {checkout.request_digest}"

        def convert(pipe: Pipeline, read: _Read) -> StoredCart:
            stored = read.cart
            if stored.status is CartStatus.CONVERTED:
                return stored
            if read.extra and read.extra[0] not in (None, claim):
                raise IdempotencyKeyReused(
                    "this Idempotency-Key was already used for another request"
                )
            try:
                cart = stored.to_domain().check_out(read.prices, expected_total)
            except (ProductsNotSold, TotalChanged) as refused:
                raise CheckoutRefused(refused, stored.shown(read.prices)) from refused
            converted = stored.with_cart(cart, datetime.now(UTC), self._ttl)
            converted.order_id = checkout.order_id
            converted.checkout = checkout
            self._write(pipe, converted, renew_pointer=False)
            if read.points_here:
                pipe.delete(active_key(customer_id))
            if lock is not None:
                pipe.set(lock, claim, pxat=unix_ms(converted.expires_at))
            analytics.record_closed(pipe, cart_id, stored.contribution(), converted=True)
            return converted

        extra = (lock,) if lock is not None else ()
        converted, _ = await self._transact(cart_id, customer_id, convert, extra_keys=extra)
        return converted

    async def delete(self, cart_id: str, customer_id: str) -> None:
        def delete(pipe: Pipeline, read: _Read) -> StoredCart:
            pipe.delete(cart_key(cart_id))
            if read.points_here:
                pipe.delete(active_key(customer_id))
            if read.cart.status is CartStatus.ACTIVE:
                analytics.record_closed(pipe, cart_id, read.cart.contribution(), converted=False)
            return read.cart

        await self._transact(cart_id, customer_id, delete, priced=False)
        CART_OPERATIONS.labels("delete").inc()

    async def _shown(self, cart: StoredCart) -> CartView:
        if cart.status is not CartStatus.ACTIVE or not cart.items:
            return cart.shown()
        return cart.shown(await self._catalog.prices(item.sku for item in cart.items))

    async def _change(
        self,
        cart_id: str,
        customer_id: str,
        decide: Callable[[Cart, _Read], Cart],
        operation: CartOperation,
        also_price: Iterable[str] = (),
    ) -> CartView:
        """Decide a change on the current cart and store it with every line re-priced."""

        def change(pipe: Pipeline, read: _Read) -> StoredCart:
            decided = decide(read.cart.to_domain(), read).repriced(read.prices)
            changed = read.cart.with_cart(decided, datetime.now(UTC), self._ttl)
            self._write(pipe, changed, renew_pointer=read.points_here)
            analytics.record_change(
                pipe, cart_id, read.cart.contribution(), changed.contribution(),
                unix_ms(changed.expires_at),
            )  # fmt: skip
            return changed

        changed, prices = await self._transact(cart_id, customer_id, change, also_price=also_price)
        CART_OPERATIONS.labels(operation).inc()
        return changed.shown(prices)

    async def _transact(
        self,
        cart_id: str,
        customer_id: str,
        queue: _Queue,
        *,
        priced: bool = True,
        also_price: Iterable[str] = (),
        extra_keys: tuple[str, ...] = (),
    ) -> tuple[StoredCart, dict[str, CatalogPrice]]:
        """Decide on the current cart (at current prices when `priced`) and commit the queued
        writes; again, on fresh state, if a writer raced us. Returns what `queue` returned and
        the prices it was decided at."""
        keys = (cart_key(cart_id), active_key(customer_id), *extra_keys)
        read_prices: dict[str, CatalogPrice] = {}
        asked: set[str] = set()
        async with self._redis.pipeline(transaction=True) as pipe:
            for attempt in range(_MAX_ATTEMPTS):
                try:
                    await pipe.watch(*keys)
                    raw, pointer, *extra = await pipe.mget(*keys)
                    cart = StoredCart.model_validate_json(raw) if raw else None
                    if cart is None or cart.customer_id != customer_id:
                        raise CartNotFound(f"no cart {cart_id}")
                    if priced and cart.status is CartStatus.ACTIVE:
                        wanted = {i.sku for i in cart.items} | set(also_price)
                        if wanted - asked:  # prices read once; a retry asks only for new skus
                            read_prices |= await self._catalog.prices(wanted - asked)
                            asked |= wanted
                    pipe.multi()
                    watched = [None if value is None else str(value) for value in extra]
                    result = queue(pipe, _Read(cart, pointer == cart_id, read_prices, watched))
                    await pipe.execute()
                    return result, read_prices
                except redis.WatchError:
                    await asyncio.sleep(random.uniform(0, 0.001 * min(attempt + 1, 20)))
        raise CartBusy(f"cart {cart_id} is changing too fast; retry")

    def _write(self, pipe: Pipeline, cart: StoredCart, *, renew_pointer: bool) -> None:
        expiry = unix_ms(cart.expires_at)
        pipe.set(cart_key(cart.id), cart.document(), pxat=expiry)
        if renew_pointer:
            pipe.pexpireat(active_key(cart.customer_id), expiry)
