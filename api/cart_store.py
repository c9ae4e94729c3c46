"""Carts in Redis: one JSON document per cart under `cart:{id}`, changed atomically.

A line change (add, set, remove) is decide-then-compare-and-set: the domain `Cart` decides on the
cart's document at the catalog's current prices (api/catalog_cache.py), and one script stores the
result, renews the TTL and moves the analytics counters only if the cart still holds the document
decided on (api/cart_swap.py); otherwise the script answers the cart as it is and the change is
decided again on it. The document decided on is the one this process read or wrote last
(`RecentCarts`), so a change costs one Redis round trip, two when another process wrote the cart
in between. A refusal is only ever given on a document just read from Redis.

Checkout's conversion and a cart's deletion are read-decide-write under WATCH/MULTI, with the
catalog's prices read from PostgreSQL: the order is built from exactly the cart state it
converts, and a change racing it is either in that state or, after it, refused (the cart is no
longer active).
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
    UnknownProduct,
)
from api.cart_swap import CartSwap, Raced, RecentCarts
from api.cart_view import CartView, CheckoutMark, StoredCart, active_key, cart_key, unix_ms
from api.catalog_cache import PriceSource
from api.digests import IdempotencyKeyReused
from api.metrics import CART_OPERATIONS, CartOperation
from commerce.settings import Settings
from domain.cart import (
    NO_CURRENCY,
    Cart,
    CartStatus,
    CatalogPrice,
    Prices,
    ProductsNotSold,
    TotalChanged,
    validate_quantity,
)
from domain.errors import DomainError
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
# What a change may refuse on the document it was decided on: given only on a document just read.
_REFUSALS = (DomainError, UnknownProduct, CartNotFound)

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
    """Customers' carts; unit prices always come from the catalog, as it stands now.

    `catalog` prices checkout (PostgreSQL, at that moment); `prices` prices the cart's lines
    for changes and views (default: `catalog`; the API gives its process's `CatalogCache`).
    `recent` is the process's `RecentCarts` (default: one for this store alone)."""

    def __init__(
        self,
        client: redis.Redis,
        catalog: Catalog,
        settings: Settings,
        *,
        prices: PriceSource | None = None,
        recent: RecentCarts | None = None,
    ) -> None:
        self._redis = client
        self._catalog = catalog
        self._prices: PriceSource = prices or catalog
        self._recent = recent if recent is not None else RecentCarts(settings.cart_cache_size)
        self._swap = CartSwap(client)
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
        self._recent.keep(cart.id, cart.document())
        CART_OPERATIONS.labels("create").inc()
        return cart.shown()

    async def get(self, cart_id: str) -> StoredCart | None:
        """The cart as last written (prices of its last change), or None."""
        return self._read(cart_id, await self._redis.get(cart_key(cart_id)))

    async def owned(self, cart_id: str, customer_id: str) -> CartView:
        """The customer's cart at the catalog's current prices."""
        cart = await self.get(cart_id)
        if cart is None or cart.customer_id != customer_id:
            raise CartNotFound(f"no cart {cart_id}")
        return await self._shown(cart)

    async def active(self, customer_id: str) -> CartView | None:
        """The customer's active cart at current prices, or None."""
        raw = await self._active(keys=[active_key(customer_id)], args=[cart_key("")])
        cart = self._read(None, raw)
        if cart is None or cart.customer_id != customer_id or cart.status != CartStatus.ACTIVE:
            return None
        return await self._shown(cart)

    async def add_item(self, cart_id: str, customer_id: str, sku: str, quantity: int) -> CartView:
        """Add `quantity` of `sku` at the catalog's price, on top of any quantity already held.

        Raises UnknownProduct (not sold), CurrencyMismatch, InvalidQuantity, CartNotActive."""
        validate_quantity(quantity)

        def add(cart: Cart, prices: Prices) -> Cart:
            cart.require_active()
            price = prices.get(sku)
            if price is None:
                raise UnknownProduct(f"no product with sku {sku!r} is sold")
            cart = cart.in_currency_of(price)
            return cart.add_item(sku, price.name, quantity, price.unit_price)

        return await self._change(cart_id, customer_id, add, "add", also_price=(sku,))

    async def set_quantity(
        self, cart_id: str, customer_id: str, sku: str, quantity: int
    ) -> CartView:
        return await self._change(
            cart_id, customer_id, lambda cart, _: cart.set_quantity(sku, quantity), "set"
        )

    async def remove_item(self, cart_id: str, customer_id: str, sku: str) -> CartView:
        return await self._change(
            cart_id, customer_id, lambda cart, _: cart.remove_item(sku), "remove"
        )

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
                raise IdempotencyKeyReused()
            try:
                cart = stored.to_domain().check_out(read.prices, expected_total)
            except (ProductsNotSold, TotalChanged) as refused:
                raise CheckoutRefused(refused, stored.shown(read.prices)) from refused
            converted = stored.with_cart(cart, datetime.now(UTC), self._ttl)
            converted.order_id = checkout.order_id
            converted.checkout = checkout
            expiry = unix_ms(converted.expires_at)
            pipe.set(cart_key(cart_id), converted.document(), pxat=expiry)
            if read.points_here:
                pipe.delete(active_key(customer_id))
            if lock is not None:
                pipe.set(lock, claim, pxat=expiry)
            analytics.record_closed(pipe, cart_id, stored.contribution(), converted=True)
            return converted

        extra = (lock,) if lock is not None else ()
        try:
            converted = await self._transact(cart_id, customer_id, convert, extra_keys=extra)
        finally:
            self._recent.forget(cart_id)
        return converted

    async def delete(self, cart_id: str, customer_id: str) -> None:
        def delete(pipe: Pipeline, read: _Read) -> StoredCart:
            pipe.delete(cart_key(cart_id))
            if read.points_here:
                pipe.delete(active_key(customer_id))
            if read.cart.status is CartStatus.ACTIVE:
                analytics.record_closed(pipe, cart_id, read.cart.contribution(), converted=False)
            return read.cart

        try:
            await self._transact(cart_id, customer_id, delete, priced=False)
        finally:
            self._recent.forget(cart_id)
        CART_OPERATIONS.labels("delete").inc()

    def _read(self, cart_id: str | None, raw: str | bytes | None) -> StoredCart | None:
        """The document Redis answered, parsed; kept as the cart's most recent one."""
        if not raw:
            if cart_id is not None:
                self._recent.forget(cart_id)
            return None
        document = raw.decode() if isinstance(raw, bytes) else raw
        cart = StoredCart.model_validate_json(document)
        self._recent.keep(cart.id, document)
        return cart

    async def _shown(self, cart: StoredCart) -> CartView:
        if cart.status is not CartStatus.ACTIVE or not cart.items:
            return cart.shown()
        return cart.shown(await self._prices.prices(item.sku for item in cart.items))

    async def _change(
        self,
        cart_id: str,
        customer_id: str,
        decide: Callable[[Cart, Prices], Cart],
        operation: CartOperation,
        also_price: Iterable[str] = (),
    ) -> CartView:
        """Decide a change on the cart and store it, every line re-priced, by compare-and-set;
        decide again on the document the swap answers when another writer came first."""
        document = self._recent.get(cart_id)
        just_read = document is None
        if document is None:
            document = await self._document(cart_id)
        for _ in range(_MAX_ATTEMPTS):
            if document is None:
                self._recent.forget(cart_id)
                raise CartNotFound(f"no cart {cart_id}")
            stored = StoredCart.model_validate_json(document)
            try:
                prices = await self._line_prices(stored, customer_id, also_price)
                decided = decide(stored.to_domain(), prices).repriced(prices)
            except _REFUSALS:
                if just_read:
                    raise
                document, just_read = await self._document(cart_id), True
                continue
            changed = stored.with_cart(decided, datetime.now(UTC), self._ttl)
            try:
                written = await self._swap.swap(document, stored, changed)
            except Raced as raced:
                document, just_read = raced.current, True
                continue
            self._recent.keep(cart_id, written)
            CART_OPERATIONS.labels(operation).inc()
            return changed.shown(prices)
        raise CartBusy(f"cart {cart_id} is changing too fast; retry")

    async def _document(self, cart_id: str) -> str | None:
        raw = await self._redis.get(cart_key(cart_id))
        return raw.decode() if isinstance(raw, bytes) else raw

    async def _line_prices(
        self, cart: StoredCart, customer_id: str, also: Iterable[str]
    ) -> dict[str, CatalogPrice]:
        """The current prices of the cart's skus and of `also`; none for a cart that is not
        active (no change will be allowed). Raises CartNotFound for another customer's cart."""
        if cart.customer_id != customer_id:
            raise CartNotFound(f"no cart {cart.id}")
        if cart.status is not CartStatus.ACTIVE:
            return {}
        return await self._prices.prices({item.sku for item in cart.items} | set(also))

    async def _transact(
        self,
        cart_id: str,
        customer_id: str,
        queue: _Queue,
        *,
        priced: bool = True,
        extra_keys: tuple[str, ...] = (),
    ) -> StoredCart:
        """Decide on the current cart (at the catalog's prices in PostgreSQL when `priced`) and
        commit the queued writes; again, on fresh state, if a writer raced us. Returns what
        `queue` returned."""
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
                        wanted = {i.sku for i in cart.items}
                        if wanted - asked:  # prices read once; a retry asks only for new skus
                            read_prices |= await self._catalog.prices(wanted - asked)
                            asked |= wanted
                    pipe.multi()
                    watched = [None if value is None else str(value) for value in extra]
                    result = queue(pipe, _Read(cart, pointer == cart_id, read_prices, watched))
                    await pipe.execute()
                    return result
                except redis.WatchError:
                    await asyncio.sleep(random.uniform(0, 0.001 * min(attempt + 1, 20)))
        raise CartBusy(f"cart {cart_id} is changing too fast; retry")
