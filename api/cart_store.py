"""Carts in Redis: one JSON document per cart under `cart:{id}`, changed atomically.

Every change is read-decide-write under WATCH/MULTI: the domain `Cart` decides, and the write,
its TTL renewal and the analytics counters commit together or not at all (a concurrent writer
makes the transaction fail and the change is decided again on fresh state).
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import redis.asyncio as redis
from pydantic import BaseModel
from redis.asyncio.client import Pipeline

from api import cart_analytics as analytics
from api.line_items import LineItem
from api.metrics import CART_OPERATIONS, CartOperation
from commerce.settings import Settings
from domain.cart import Cart, CartLine, CartStatus, validate_quantity
from domain.errors import CurrencyMismatch
from eventstore.catalog import Catalog

NO_CURRENCY = "XXX"  # ISO 4217 "no currency": a cart takes its first product's currency
_MAX_ATTEMPTS = 500


class CartNotFound(Exception):
    """No such cart for this customer (another customer's cart is not revealed)."""


class CartAlreadyConverted(Exception):
    """The cart was checked out already; `order_id` is the order it became."""

    def __init__(self, cart_id: str, order_id: str | None) -> None:
        super().__init__(f"cart {cart_id} was already converted into order {order_id}")
        self.order_id = order_id


class EmptyCart(Exception):
    """A cart without lines cannot be checked out."""


class UnknownProduct(Exception):
    """The sku is not in the catalog."""


class CartBusy(Exception):
    """Too many concurrent writers on one cart; the client may retry."""


class CartView(BaseModel):
    """A cart as the API shows it; prices in minor units of `currency`."""

    id: str
    customer_id: str
    status: CartStatus
    items: list[LineItem]
    subtotal: int
    currency: str | None
    expires_at: datetime
    created_at: datetime
    updated_at: datetime
    order_id: str | None = None

    def to_domain(self) -> Cart:
        lines = tuple(
            CartLine(sku=i.sku, name=i.name, quantity=i.quantity, unit_price=i.unit_price)
            for i in self.items
        )
        currency = self.currency or NO_CURRENCY
        return Cart(
            id=self.id,
            customer_id=self.customer_id,
            currency=currency,
            status=self.status,
            lines=lines,
        )

    def with_cart(self, cart: Cart, now: datetime, ttl: timedelta) -> CartView:
        items = [LineItem.of(line) for line in cart.lines]
        currency = None if cart.currency == NO_CURRENCY else cart.currency
        return self.model_copy(
            update={
                "status": cart.status,
                "items": items,
                "subtotal": cart.subtotal,
                "currency": currency,
                "updated_at": now,
                "expires_at": now + ttl,
            }
        )

    def contribution(self) -> analytics.Contribution:
        if self.status is not CartStatus.ACTIVE:
            return analytics.Contribution()
        quantity = sum(item.quantity for item in self.items)
        return analytics.Contribution(quantity, self.subtotal, self.currency or "")


_Queue = Callable[[Pipeline, CartView, bool], CartView]


def cart_key(cart_id: str) -> str:
    return f"{analytics.CART_KEY_PREFIX}{cart_id}"


def active_key(customer_id: str) -> str:
    return f"cart:active:{customer_id}"


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class CartStore:
    """Customers' carts; unit prices always come from the catalog."""

    def __init__(self, client: redis.Redis, catalog: Catalog, settings: Settings) -> None:
        self._redis = client
        self._catalog = catalog
        self._ttl = timedelta(seconds=settings.cart_ttl_s)

    async def create(self, customer_id: str, currency: str | None = None) -> CartView:
        """A new empty cart, which becomes the customer's active cart."""
        if currency is not None:
            Cart(id="-", customer_id=customer_id, currency=currency)  # refuses a bad code
        now = datetime.now(UTC)
        cart = CartView(
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
        expiry = _ms(cart.expires_at)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(cart_key(cart.id), cart.model_dump_json(), pxat=expiry)
            pipe.set(active_key(customer_id), cart.id, pxat=expiry)
            analytics.record_created(pipe, cart.id, expiry)
            await pipe.execute()
        CART_OPERATIONS.labels("create").inc()
        return cart

    async def get(self, cart_id: str) -> CartView | None:
        raw = await self._redis.get(cart_key(cart_id))
        return CartView.model_validate_json(raw) if raw else None

    async def owned(self, cart_id: str, customer_id: str) -> CartView:
        cart = await self.get(cart_id)
        if cart is None or cart.customer_id != customer_id:
            raise CartNotFound(f"no cart {cart_id}")
        return cart

    async def active(self, customer_id: str) -> CartView | None:
        cart_id = await self._redis.get(active_key(customer_id))
        cart = await self.get(str(cart_id)) if cart_id else None
        if cart is None or cart.customer_id != customer_id or cart.status != CartStatus.ACTIVE:
            return None
        return cart

    async def add_item(self, cart_id: str, customer_id: str, sku: str, quantity: int) -> CartView:
        """Add `quantity` of `sku` at the catalog's price, on top of any quantity already held."""
        validate_quantity(quantity)
        product = await self._catalog.get_product(sku)
        if product is None:
            raise UnknownProduct(f"no product with sku {sku!r}")

        def add(cart: Cart) -> Cart:
            if cart.currency not in (NO_CURRENCY, product.currency):
                raise CurrencyMismatch(
                    f"{sku} is priced in {product.currency}, the cart is in {cart.currency}"
                )
            if cart.currency == NO_CURRENCY:
                cart = Cart(
                    id=cart.id,
                    customer_id=cart.customer_id,
                    currency=product.currency,
                    status=cart.status,
                    lines=cart.lines,
                )
            return cart.add_item(sku, product.name, quantity, product.price)

        return await self._change(cart_id, customer_id, add, "add")

    async def set_quantity(
        self, cart_id: str, customer_id: str, sku: str, quantity: int
    ) -> CartView:
        return await self._change(
            cart_id, customer_id, lambda c: c.set_quantity(sku, quantity), "set"
        )

    async def remove_item(self, cart_id: str, customer_id: str, sku: str) -> CartView:
        return await self._change(cart_id, customer_id, lambda c: c.remove_item(sku), "remove")

    async def convert(self, cart_id: str, customer_id: str, order_id: str) -> CartView:
        """Flip the customer's active cart to converted, recording the order it became."""

        def convert(pipe: Pipeline, view: CartView, points_here: bool) -> CartView:
            if view.status is CartStatus.CONVERTED:
                raise CartAlreadyConverted(cart_id, view.order_id)
            if not view.items:
                raise EmptyCart(f"cart {cart_id} has no items")
            converted = view.with_cart(view.to_domain().convert(), datetime.now(UTC), self._ttl)
            converted.order_id = order_id
            self._write(pipe, converted, renew_pointer=False)
            if points_here:
                pipe.delete(active_key(customer_id))
            analytics.record_closed(pipe, cart_id, view.contribution(), converted=True)
            return converted

        return await self._transact(cart_id, customer_id, convert)

    async def delete(self, cart_id: str, customer_id: str) -> None:
        def delete(pipe: Pipeline, view: CartView, points_here: bool) -> CartView:
            pipe.delete(cart_key(cart_id))
            if points_here:
                pipe.delete(active_key(customer_id))
            if view.status is CartStatus.ACTIVE:
                analytics.record_closed(pipe, cart_id, view.contribution(), converted=False)
            return view

        await self._transact(cart_id, customer_id, delete)
        CART_OPERATIONS.labels("delete").inc()

    async def _change(
        self,
        cart_id: str,
        customer_id: str,
        decide: Callable[[Cart], Cart],
        operation: CartOperation,
    ) -> CartView:
        def change(pipe: Pipeline, view: CartView, points_here: bool) -> CartView:
            changed = view.with_cart(decide(view.to_domain()), datetime.now(UTC), self._ttl)
            self._write(pipe, changed, renew_pointer=points_here)
            expiry = _ms(changed.expires_at)
            analytics.record_change(
                pipe, cart_id, view.contribution(), changed.contribution(), expiry
            )
            return changed

        changed = await self._transact(cart_id, customer_id, change)
        CART_OPERATIONS.labels(operation).inc()
        return changed

    async def _transact(self, cart_id: str, customer_id: str, queue: _Queue) -> CartView:
        """Decide on the current cart and commit the queued writes, again if a writer raced us."""
        keys = (cart_key(cart_id), active_key(customer_id))
        async with self._redis.pipeline(transaction=True) as pipe:
            for attempt in range(_MAX_ATTEMPTS):
                try:
                    await pipe.watch(*keys)
                    raw, pointer = await pipe.mget(*keys)
                    view = CartView.model_validate_json(raw) if raw else None
                    if view is None or view.customer_id != customer_id:
                        raise CartNotFound(f"no cart {cart_id}")
                    pipe.multi()
                    result = queue(pipe, view, pointer == cart_id)
                    await pipe.execute()
                    return result
                except redis.WatchError:
                    await asyncio.sleep(random.uniform(0, 0.001 * min(attempt + 1, 20)))
        raise CartBusy(f"cart {cart_id} is changing too fast; retry")

    def _write(self, pipe: Pipeline, cart: CartView, *, renew_pointer: bool) -> None:
        expiry = _ms(cart.expires_at)
        pipe.set(cart_key(cart.id), cart.model_dump_json(), pxat=expiry)
        if renew_pointer:
            pipe.pexpireat(active_key(cart.customer_id), expiry)
