"""Checkout: a cart becomes an order, and the order's saga starts — exactly once per cart and
per idempotency key, however often and however concurrently the request is sent.

Every step is idempotent, so a repeated request finishes whatever an interrupted one left undone:
claim the cart in PostgreSQL → record the saga's start request (sealed) in the saga-start outbox
→ append OrderPlaced → mark the cart converted → start the saga → mark its start request. A saga
that cannot start (Temporal unreachable: 503) is started by the worker's saga reconciler.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass

from temporalio.client import Client

from api.cart_store import CartAlreadyConverted, CartNotFound, CartStore, CartView, EmptyCart
from api.metrics import ORDERS_PLACED
from api.order_schemas import CheckoutCreate
from api.problems import Problem, temporal_unreachable
from commerce.customer_keys import customer_search_key
from commerce.saga_start import SagaStart, saga_policy, seal, start_saga
from commerce.settings import Settings
from commerce.telemetry import current_trace_id
from domain.events import OrderLine, ShippingAddress
from domain.order import Order
from eventstore.checkouts import Checkouts
from eventstore.orders import OrderRepository
from eventstore.saga_starts import SagaStarts
from eventstore.store import RecordedEvent
from workflows.contract import OrderFulfillmentInput

_ORDER_IDS = uuid.UUID("6a0b5e7e-8a55-4c51-9d0f-3c2b7e1f4a90")
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CheckoutResult:
    order_id: str
    replayed: bool
    placed: list[RecordedEvent]  # the stream as the saga found it: a new order is still pending


def request_hash(body: CheckoutCreate) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def new_order_id(customer_id: str, idempotency_key: str | None) -> str:
    if idempotency_key is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(_ORDER_IDS, f"{customer_id}\x00{idempotency_key}"))


class Checkout:
    def __init__(
        self,
        checkouts: Checkouts,
        orders: OrderRepository,
        carts: CartStore,
        temporal: Client,
        settings: Settings,
        saga_starts: SagaStarts,
    ) -> None:
        self._checkouts = checkouts
        self._saga_starts = saga_starts
        self._orders = orders
        self._carts = carts
        self._temporal = temporal
        self._settings = settings

    async def place(
        self, customer_id: str, body: CheckoutCreate, idempotency_key: str | None
    ) -> CheckoutResult:
        cart = await self._carts.get(body.cart_id)
        if cart is None or cart.customer_id != customer_id:
            raise CartNotFound(f"cart {body.cart_id} not found")
        if not cart.items:
            raise EmptyCart(f"cart {body.cart_id} has no items")
        digest = request_hash(body)
        claim = await self._checkouts.claim(
            new_order_id(customer_id, idempotency_key), customer_id, body.cart_id,
            idempotency_key, digest,
        )  # fmt: skip
        earlier = claim.record
        if not claim.created and (
            earlier.customer_id != customer_id or earlier.request_hash != digest
        ):
            _refuse_conflict(earlier.idempotency_key == idempotency_key, body.cart_id)
        if claim.created:
            ORDERS_PLACED.inc()  # each order id is claimed once; replays find the claim
        placed = await self._finish(earlier.order_id, customer_id, body, cart)
        return CheckoutResult(earlier.order_id, replayed=not claim.created, placed=placed)

    async def _finish(
        self, order_id: str, customer_id: str, body: CheckoutCreate, cart: CartView
    ) -> list[RecordedEvent]:
        # A repeat re-decides the same OrderPlaced with the same event id: the append is a no-op.
        order = _order_from_cart(order_id, customer_id, body, cart)
        # Recorded before OrderPlaced, so that no order is ever placed without its start request.
        saga = await self._record_saga_start(order, body.payment_token)
        await self._orders.save(order, _metadata(order_id, customer_id))
        try:
            await self._carts.convert(body.cart_id, customer_id, order_id)
        except CartAlreadyConverted as converted:
            if converted.order_id != order_id:
                raise
        placed = await self._orders.history(order_id)
        await self._start_saga(saga)
        return placed

    async def _record_saga_start(self, order: Order, payment_token: str) -> SagaStart | None:
        """The saga's start request, kept sealed in the saga-start outbox; None when the saga is
        known to have started (a repeat of this checkout), so Temporal need not be asked."""
        start = SagaStart(
            OrderFulfillmentInput(
                order.order_id, order.customer_id, payment_token, saga_policy(self._settings)
            ),
            total=order.total,
            customer_key=customer_search_key(self._settings, order.customer_id),
        )
        sealed = await seal(self._temporal, start.input)
        if await self._saga_starts.record(start.order_id, start.total, sealed):
            return None
        return start

    async def _start_saga(self, start: SagaStart | None) -> None:
        """Start the saga and mark its start request. Temporal unreachable: 503 naming the placed
        order, whose saga the worker's reconciler starts unless a repeat of the request does."""
        if start is None:
            return
        try:
            await start_saga(self._temporal, start)
        except Exception as error:
            if not temporal_unreachable(error):
                raise
            log.warning("order %s placed, saga not started: %s", start.order_id, error)
            problem = Problem(
                503, "Temporal is briefly unavailable: the order is placed and its saga starts"
                " by itself shortly; repeat the request to follow it", order_id=start.order_id,
            )  # fmt: skip
            problem.headers["Retry-After"] = "1"
            raise problem from error
        await self._saga_starts.mark_started([start.order_id], "checkout")


def _metadata(order_id: str, customer_id: str) -> dict[str, str]:
    metadata = {"correlation_id": order_id, "actor": customer_id}
    trace_id = current_trace_id()
    if trace_id is not None:
        metadata["trace_id"] = trace_id
    return metadata


def _refuse_conflict(same_key: bool, cart_id: str) -> None:
    if same_key:
        raise Problem(
            422, "this Idempotency-Key was already used with a different request",
            title="Idempotency key reused",
        )  # fmt: skip
    raise Problem(409, f"cart {cart_id} was already checked out", title="Cart already converted")


def _order_from_cart(
    order_id: str, customer_id: str, body: CheckoutCreate, cart: CartView
) -> Order:
    address = body.shipping_address
    return Order.place(
        order_id,
        customer_id,
        cart.id,
        cart.currency or "USD",
        [
            OrderLine(sku=i.sku, name=i.name, quantity=i.quantity, unit_price=i.unit_price)
            for i in cart.items
        ],
        ShippingAddress(
            name=address.name,
            line1=address.line1,
            city=address.city,
            postal_code=address.postal_code,
            country=address.country.upper(),
        ),
    )
