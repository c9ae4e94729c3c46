"""Checkout: a cart becomes an order, and the order's saga starts — exactly once per cart and
per idempotency key, however often and however concurrently the request is sent.

Every step is idempotent, so a repeated request finishes whatever an interrupted one left undone:
claim the cart in PostgreSQL → append OrderPlaced → mark the cart converted → start the saga.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass

from temporalio.client import Client
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.cart_store import CartAlreadyConverted, CartNotFound, CartStore, CartView, EmptyCart
from api.metrics import ORDERS_PLACED
from api.order_schemas import CheckoutCreate
from api.problems import Problem
from commerce.customer_keys import customer_search_key
from commerce.settings import Settings
from commerce.telemetry import current_trace_id
from domain.events import OrderLine, ShippingAddress
from domain.order import Order
from eventstore.checkouts import Checkouts
from eventstore.orders import OrderRepository
from eventstore.store import RecordedEvent
from workflows.contract import (
    TASK_QUEUE,
    OrderFulfillmentInput,
    SagaPolicy,
    order_workflow_id,
)

_ORDER_IDS = uuid.UUID("6a0b5e7e-8a55-4c51-9d0f-3c2b7e1f4a90")
WORKFLOW_TYPE = "OrderFulfillmentWorkflow"


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
    ) -> None:
        self._checkouts = checkouts
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
        await self._orders.save(order, _metadata(order_id, customer_id))
        try:
            await self._carts.convert(body.cart_id, customer_id, order_id)
        except CartAlreadyConverted as converted:
            if converted.order_id != order_id:
                raise
        placed = await self._orders.history(order_id)
        await self._start_saga(order_id, customer_id, body.payment_token, cart)
        return placed

    async def _start_saga(
        self, order_id: str, customer_id: str, payment_token: str, cart: CartView
    ) -> None:
        settings = self._settings
        policy = SagaPolicy(
            step_max_attempts=settings.saga_step_max_attempts,
            step_initial_retry_ms=settings.saga_step_initial_retry_ms,
            stall_timeout_s=settings.saga_stall_timeout_s,
            delivery_timeout_s=settings.delivery_timeout_s,
            amendment_timeout_s=settings.amendment_timeout_s,
        )
        attributes = TypedSearchAttributes([
            SearchAttributePair(SearchAttributeKey.for_keyword("OrderStatus"), "pending"),
            SearchAttributePair(SearchAttributeKey.for_keyword("CustomerId"), customer_search_key(settings, customer_id)),
            SearchAttributePair(SearchAttributeKey.for_int("OrderTotal"), cart.subtotal),
        ])  # fmt: skip
        try:
            await self._temporal.start_workflow(
                WORKFLOW_TYPE,
                OrderFulfillmentInput(order_id, customer_id, payment_token, policy),
                id=order_workflow_id(order_id),
                task_queue=TASK_QUEUE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=attributes,
                memo={"customer_id": customer_id},  # sealed by the payload codec, unlike attributes
            )
        except WorkflowAlreadyStartedError:
            pass  # it ran to its end already: a late repeat of this checkout


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
