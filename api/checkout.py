"""Checkout: a cart becomes an order, and the order's saga starts — exactly once per cart and
per idempotency key, however often and however concurrently the request is sent.

1. A replay is answered from what was recorded before anything else is looked up: the
   customer's checkout under this Idempotency-Key, else the checkout of this cart.
2. The cart is converted in one atomic Redis step that prices every line from the catalog, so
   the converted cart is exactly the order (a cart change racing it is in it or refused).
3. The checkout record (order id, request digest, currency, lines) is kept in PostgreSQL.
4. The saga's start request is kept (sealed) in the saga-start outbox, then OrderPlaced is
   appended from the record, so no order is ever placed without its start request.
5. The saga starts and its start request is marked. When Temporal cannot be reached the answer
   is 503 naming the placed order, whose saga the worker's saga reconciler starts.

Every step is idempotent, so a repeated request finishes whatever an interrupted one left undone.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from temporalio.client import Client

from api.cart_errors import CartAlreadyConverted
from api.cart_store import CartStore, CheckoutMark, StoredCart
from api.digests import IdempotencyKeyReused, body_digest
from api.metrics import ORDERS_PLACED
from api.order_schemas import CheckoutCreate
from api.problems import Problem, temporal_unreachable
from commerce.customer_keys import customer_search_key
from commerce.saga_start import SagaStart, saga_policy, seal, start_saga
from commerce.settings import Settings
from commerce.telemetry import current_trace_id
from domain.events import OrderLine, ShippingAddress
from domain.order import Order
from eventstore.checkouts import CheckoutRecord, Checkouts
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
        """The order for this request: placed now, or the one an identical request placed.

        Raises IdempotencyKeyReused (422: the key sent before with another request),
        CartAlreadyConverted (409: cart checked out by another request, naming the retry cart of
        an order whose payment was never authorized); from the cart store CartNotFound,
        EmptyOrder, CheckoutRefused."""
        try:
            return await self._place(customer_id, body, idempotency_key)
        except CartAlreadyConverted as converted:
            raise await self._naming_retry_cart(body.cart_id, converted) from None

    async def _place(
        self, customer_id: str, body: CheckoutCreate, idempotency_key: str | None
    ) -> CheckoutResult:
        digest = body_digest(body)
        earlier = await self._checkouts.find(customer_id, idempotency_key, body.cart_id)
        if earlier is not None:
            _refuse_unless_repeat(earlier.idempotency_key, earlier.request_hash,
                                  idempotency_key, digest, body.cart_id,
                                  earlier.order_id)  # fmt: skip
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
                                  idempotency_key, digest, body.cart_id,
                                  converted_by.order_id)  # fmt: skip
        claim = await self._checkouts.claim(_record_of(cart, converted_by))
        if claim.record.order_id != converted_by.order_id:  # only a record from before marks
            raise CartAlreadyConverted(body.cart_id, claim.record.order_id)
        if claim.created:
            ORDERS_PLACED.inc()  # each order id is recorded once; replays find the record
        return await self._finish(claim.record, body, created=claim.created)

    async def _naming_retry_cart(
        self, cart_id: str, converted: CartAlreadyConverted
    ) -> CartAlreadyConverted:
        """The refusal, naming the retry cart if the cart's order gave its lines back."""
        order = None if converted.order_id is None else await self._orders.load(converted.order_id)
        if order is None or order.retry_cart_id is None:
            return converted
        reason = order.failure_reason or order.cancellation_reason
        return CartAlreadyConverted(cart_id, order.order_id, order.retry_cart_id, reason)

    async def _finish(
        self, record: CheckoutRecord, body: CheckoutCreate, *, created: bool
    ) -> CheckoutResult:
        """Append OrderPlaced from the record unless it is there (its saga's start request kept
        first), and start the saga."""
        placed = await self._orders.history(record.order_id)
        order = None if placed else _order_of(record, body)
        total = order.total if order is not None else int(placed[0].data["total"])
        saga = await self._record_saga_start(record, total, body.payment_token)
        if order is not None:
            await self._orders.save(order, _metadata(record.order_id, record.customer_id))
            placed = await self._orders.history(record.order_id)
        await self._start_saga(saga)
        return CheckoutResult(record.order_id, replayed=not created, placed=placed)

    async def _record_saga_start(
        self, record: CheckoutRecord, total: int, payment_token: str
    ) -> SagaStart | None:
        """The saga's start request, kept sealed in the saga-start outbox; None when the saga is
        known to have started (a repeat of this checkout), so Temporal need not be asked."""
        policy = saga_policy(self._settings)
        items = sum(line.quantity for line in record.lines or ())
        saga_input = OrderFulfillmentInput(
            record.order_id, record.customer_id, payment_token, policy,
            total=total, currency=record.currency or "", items=items,
        )  # fmt: skip
        start = SagaStart(
            saga_input,
            total=total,
            customer_key=customer_search_key(self._settings, record.customer_id),
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


def _refuse_unless_repeat(
    earlier_key: str | None,
    earlier_digest: str,
    key: str | None,
    digest: str,
    cart_id: str,
    order_id: str,
) -> None:
    """An identical request repeats the earlier checkout; another one is refused: 422 when it
    reuses the earlier request's Idempotency-Key, else 409 CartAlreadyConverted (the cart
    converts only once, into `order_id`)."""
    if digest == earlier_digest:
        return
    if key is not None and key == earlier_key:
        raise IdempotencyKeyReused()
    raise CartAlreadyConverted(cart_id, order_id)


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
