"""Checkout: a cart becomes an order, and the order's saga starts — exactly once per cart and
per idempotency key, however often and however concurrently the request is sent.

1. A replay is answered from what was recorded before anything else is looked up: the
   customer's checkout under this Idempotency-Key, else the checkout of this cart.
2. The cart is converted in one atomic Redis step that prices every line from the catalog, so
   the converted cart is exactly the order (a cart change racing it is in it or refused).
3. The checkout record (order id, request digest, currency, lines) is kept in PostgreSQL.
4. OrderPlaced is appended from the record, and the saga starts.

Every step is idempotent, so a repeated request finishes whatever an interrupted one left undone.
"""

from __future__ import annotations

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

from api.cart_errors import CartAlreadyConverted
from api.cart_store import CartStore, CheckoutMark, StoredCart
from api.digests import body_digest
from api.metrics import ORDERS_PLACED
from api.order_schemas import CheckoutCreate
from api.problems import Problem
from commerce.settings import Settings
from commerce.telemetry import current_trace_id
from domain.events import OrderLine, ShippingAddress
from domain.order import Order
from eventstore.checkouts import CheckoutRecord, Checkouts
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
        """The order for this request: placed now, or the one an identical request placed.

        Raises Problem 422 (key reused with another request), 409 (cart checked out by another
        request); from the cart store CartNotFound, EmptyOrder, CheckoutRefused."""
        digest = body_digest(body)
        earlier = await self._checkouts.find(customer_id, idempotency_key, body.cart_id)
        if earlier is not None:
            _refuse_unless_repeat(earlier.idempotency_key, earlier.request_hash,
                                  idempotency_key, digest, body.cart_id)  # fmt: skip
            return await self._finish(earlier, body, created=False)
        mark = CheckoutMark(
            order_id=new_order_id(customer_id, idempotency_key),
            request_digest=digest,
            idempotency_key=idempotency_key,
        )
        cart = await self._carts.check_out(body.cart_id, customer_id, mark, body.expected_total)
        converted_by = cart.checkout
        if converted_by is None:  # converted before checkouts marked their carts
            raise CartAlreadyConverted(body.cart_id, cart.order_id)
        if converted_by != mark:
            _refuse_unless_repeat(converted_by.idempotency_key, converted_by.request_digest,
                                  idempotency_key, digest, body.cart_id)  # fmt: skip
        claim = await self._checkouts.claim(_record_of(cart, converted_by))
        if claim.record.order_id != converted_by.order_id:  # only a record from before marks
            raise CartAlreadyConverted(body.cart_id, claim.record.order_id)
        if claim.created:
            ORDERS_PLACED.inc()  # each order id is recorded once; replays find the record
        return await self._finish(claim.record, body, created=claim.created)

    async def _finish(
        self, record: CheckoutRecord, body: CheckoutCreate, *, created: bool
    ) -> CheckoutResult:
        """Append OrderPlaced from the record unless it is there, and start the saga."""
        placed = await self._orders.history(record.order_id)
        if not placed:
            order = _order_of(record, body)
            await self._orders.save(order, _metadata(record.order_id, record.customer_id))
            placed = await self._orders.history(record.order_id)
        total = int(placed[0].data["total"])
        await self._start_saga(record.order_id, record.customer_id, body.payment_token, total)
        return CheckoutResult(record.order_id, replayed=not created, placed=placed)

    async def _start_saga(
        self, order_id: str, customer_id: str, payment_token: str, total: int
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
            SearchAttributePair(SearchAttributeKey.for_keyword("CustomerId"), customer_id),
            SearchAttributePair(SearchAttributeKey.for_int("OrderTotal"), total),
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
            )
        except WorkflowAlreadyStartedError:
            pass  # it ran to its end already: a late repeat of this checkout


def _metadata(order_id: str, customer_id: str) -> dict[str, str]:
    metadata = {"correlation_id": order_id, "actor": customer_id}
    trace_id = current_trace_id()
    if trace_id is not None:
        metadata["trace_id"] = trace_id
    return metadata


def _refuse_unless_repeat(
    earlier_key: str | None, earlier_digest: str, key: str | None, digest: str, cart_id: str
) -> None:
    """An identical request repeats the earlier checkout; another one is refused: 422 when it
    reuses the earlier request's Idempotency-Key, else 409 (the cart converts only once)."""
    if digest == earlier_digest:
        return
    if key is not None and key == earlier_key:
        raise Problem(
            422, "this Idempotency-Key was already used with a different request",
            title="Idempotency key reused",
        )  # fmt: skip
    raise Problem(409, f"cart {cart_id} was already checked out", title="Cart already converted")


def _record_of(cart: StoredCart, checkout: CheckoutMark) -> CheckoutRecord:
    return CheckoutRecord(
        order_id=checkout.order_id,
        customer_id=cart.customer_id,
        cart_id=cart.id,
        idempotency_key=checkout.idempotency_key,
        request_hash=checkout.request_digest,
        currency=cart.currency,
        lines=tuple(
            OrderLine(sku=i.sku, name=i.name, quantity=i.quantity, unit_price=i.unit_price)
            for i in cart.items
        ),
    )


def _order_of(record: CheckoutRecord, body: CheckoutCreate) -> Order:
    """The order a record decided; the address comes from the request, identical by digest."""
    if record.lines is None or record.currency is None:
        problem = Problem(503, f"order {record.order_id} is being placed; repeat the request")
        problem.headers["Retry-After"] = "1"
        raise problem
    address = body.shipping_address
    return Order.place(
        record.order_id,
        record.customer_id,
        record.cart_id,
        record.currency,
        record.lines,
        ShippingAddress(
            name=address.name,
            line1=address.line1,
            city=address.city,
            postal_code=address.postal_code,
            country=address.country.upper(),
        ),
    )
