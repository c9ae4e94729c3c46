"""Random add / set / remove sequences on a real Redis cart agree with a plain model of a cart."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from typing import Any, TypeVar

import asyncpg
import pytest
import redis.asyncio as redis
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from api.cart_store import CartStore, CartView, UnknownProduct
from commerce.settings import Settings
from domain.cart import MAX_LINE_QUANTITY
from domain.errors import CartLineNotFound, InvalidQuantity
from eventstore.catalog import Catalog

T = TypeVar("T")
PRICES = {"MODEL-A": 250, "MODEL-B": 1999, "MODEL-C": 7}
SKUS = st.sampled_from([*PRICES, "MODEL-UNKNOWN"])
QUANTITIES = st.integers(min_value=-2, max_value=MAX_LINE_QUANTITY + 5)


def test_cart_store_matches_a_model_cart(postgres_url: str, redis_url: str) -> None:
    loop = asyncio.new_event_loop()

    def run(step: Coroutine[Any, Any, T]) -> T:
        return loop.run_until_complete(step)

    async def connect() -> tuple[asyncpg.Pool, redis.Redis]:
        pool = await asyncpg.create_pool(postgres_url, min_size=1, max_size=2)
        assert pool is not None
        catalog = Catalog(pool)
        for sku, price in PRICES.items():
            await catalog.upsert_product(sku, f"Model {sku}", price, "USD", 10_000)
        return pool, redis.from_url(redis_url, decode_responses=True)

    pool, client = run(connect())
    store = CartStore(
        client, Catalog(pool), Settings(redis_url=redis_url, database_url=postgres_url)
    )

    class CartMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.customer = f"model-{uuid.uuid4().hex[:8]}"
            self.cart: CartView = run(store.create(self.customer, "USD"))
            self.model: dict[str, int] = {}

        def _expect(
            self, step: Coroutine[Any, Any, CartView], error: type[Exception] | None
        ) -> None:
            if error is None:
                self.cart = run(step)
            else:
                with pytest.raises(error):
                    run(step)

        @rule(sku=SKUS, quantity=QUANTITIES)
        def add(self, sku: str, quantity: int) -> None:
            total = self.model.get(sku, 0) + quantity
            error: type[Exception] | None = None
            if not 1 <= quantity <= MAX_LINE_QUANTITY:
                error = InvalidQuantity  # the request itself is malformed, whatever the sku
            elif sku not in PRICES:
                error = UnknownProduct
            elif total > MAX_LINE_QUANTITY:
                error = InvalidQuantity
            else:
                self.model[sku] = total
            self._expect(store.add_item(self.cart.id, self.customer, sku, quantity), error)

        @rule(sku=SKUS, quantity=QUANTITIES)
        def set_quantity(self, sku: str, quantity: int) -> None:
            error: type[Exception] | None = None
            if quantity < 0 or quantity > MAX_LINE_QUANTITY:
                error = InvalidQuantity
            elif sku not in self.model:
                error = CartLineNotFound
            elif quantity == 0:
                del self.model[sku]
            else:
                self.model[sku] = quantity
            self._expect(store.set_quantity(self.cart.id, self.customer, sku, quantity), error)

        @rule(sku=SKUS)
        def remove(self, sku: str) -> None:
            self.model.pop(sku, None)
            self._expect(store.remove_item(self.cart.id, self.customer, sku), None)

        @invariant()
        def stored_cart_equals_the_model(self) -> None:
            stored = run(store.get(self.cart.id))
            assert stored is not None
            assert {i.sku: i.quantity for i in stored.items} == self.model
            assert stored.subtotal == sum(PRICES[s] * q for s, q in self.model.items())
            assert all(i.unit_price == PRICES[i.sku] for i in stored.items)

    try:
        run_state_machine_as_test(
            CartMachine,
            settings=hypothesis_settings(max_examples=25, stateful_step_count=20, deadline=None),
        )
    finally:
        run(client.aclose())
        run(pool.close())
        loop.close()
