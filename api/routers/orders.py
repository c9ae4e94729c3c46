"""Checkout, the customer's orders, and cancellation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from api.auth import CustomerPrincipal, Principal
from api.checkout import Checkout
from api.deps import CartStoreDep, PoolDep, SettingsDep, TemporalDep
from api.ids import CursorQuery, IdempotencyKeyHeader, OrderId
from api.order_schemas import CancelCreate, CheckoutCreate, OrderList, OrderPublic
from api.post_sale_requests import refuse_unless_accepted, request_with_start
from api.problems import Problem
from api.saga_updates import update_saga
from domain.order import Order
from domain.rules import amendment_acceptance_refusal
from domain.status import OrderStatus
from eventstore.checkouts import Checkouts
from eventstore.orders import OrderRepository, order_stream
from eventstore.saga_starts import SagaStarts
from eventstore.store import EventStore
from workflows.after_sale_contract import (
    CANCELLATION_WORKFLOW,
    CancellationRequest,
    StepTiming,
    cancellation_workflow_id,
)
from workflows.contract import (
    UPDATE_ACCEPT_AMENDMENT,
    UPDATE_CANCEL,
    CancelRequest,
)

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])


def _orders(pool: PoolDep) -> OrderRepository:
    return OrderRepository(EventStore(pool))


OrdersDep = Annotated[OrderRepository, Depends(_orders)]


async def visible_order(orders: OrderRepository, order_id: str, who: Principal) -> OrderPublic:
    """The order from its stream (strongly consistent); another customer's order is a 404."""
    recorded = await orders.history(order_id)
    if not recorded:
        raise Problem(404, f"order {order_id} not found")
    order = OrderPublic.from_stream(recorded)
    if order.customer_id != who.subject and not who.is_admin:
        raise Problem(404, f"order {order_id} not found")
    return order


async def visible_domain_order(orders: OrderRepository, order_id: str, who: Principal) -> Order:
    """The order aggregate, for the domain's rules; another customer's order is a 404."""
    order = await orders.load(order_id)
    if order is None or (order.customer_id != who.subject and not who.is_admin):
        raise Problem(404, f"order {order_id} not found")
    return order


def refused(order_id: str, refusal: str, retry_cart_id: str | None) -> Problem:
    """409: the order cannot do this now; one whose payment was never authorized also names the
    cart holding its lines again (`retry_cart_id`)."""
    if retry_cart_id is None:
        return Problem(409, f"order {order_id}: {refusal}")
    detail = f"order {order_id}: {refusal}; its items are in cart {retry_cart_id}"
    return Problem(409, detail, retry_cart_id=retry_cart_id)


@router.post("/", status_code=202, response_model=OrderPublic)
async def checkout(
    body: CheckoutCreate,
    response: Response,
    who: CustomerPrincipal,
    pool: PoolDep,
    carts: CartStoreDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    orders: OrdersDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> OrderPublic:
    """Turn the cart into an order, priced from the catalog now, and start its fulfilment saga
    (202; 200 on a repeat). 409: the cart was checked out by another request, holds products
    no longer sold (`skus`), or its total is not `expected_total` (`cart` shows it now); 422: the
    Idempotency-Key was used with another request, or the cart is empty."""
    service = Checkout(Checkouts(pool), orders, carts, temporal, settings, SagaStarts(pool))
    result = await service.place(who.subject, body, idempotency_key)
    response.headers["Location"] = f"/api/v1/orders/{result.order_id}"
    if result.replayed:
        response.status_code = 200
        return await visible_order(orders, result.order_id, who)
    return OrderPublic.from_stream(result.placed)


@router.get("/", response_model=OrderList)
async def list_orders(
    who: CustomerPrincipal,
    pool: PoolDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: CursorQuery = None,
) -> OrderList:
    """The customer's orders, newest first."""
    order_ids, next_cursor = await Checkouts(pool).page_for_customer(who.subject, limit, cursor)
    streams = await EventStore(pool).read_streams([order_stream(i) for i in order_ids])
    items = []
    for order_id in order_ids:
        recorded = streams[order_stream(order_id)]
        if recorded:
            items.append(OrderPublic.from_stream(recorded))
    return OrderList(items=items, next_cursor=next_cursor)


@router.get("/{order_id}", response_model=OrderPublic)
async def get_order(order_id: OrderId, who: CustomerPrincipal, orders: OrdersDep) -> OrderPublic:
    """The order, read from its event stream (status, items, totals, history)."""
    return await visible_order(orders, order_id, who)


@router.post("/{order_id}/cancel", status_code=202, response_model=OrderPublic)
async def cancel_order(
    order_id: OrderId,
    who: CustomerPrincipal,
    orders: OrdersDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    body: CancelCreate | None = None,
) -> OrderPublic:
    """Cancel the order: 202 until the carrier reports the parcel dispatched — before capture the
    saga undoes its steps, after capture it refunds in full, and a completed order has its
    shipment cancelled, its stock put back and its capture refunded in full; 409 with the
    reason once it can no longer be cancelled (dispatched: request a return)."""
    order = await visible_domain_order(orders, order_id, who)
    refusal = order.cancellation_refusal
    if refusal is not None:
        raise refused(order_id, refusal, order.retry_cart_id)
    reason = (body or CancelCreate()).reason
    if order.status is OrderStatus.COMPLETED:
        request = CancellationRequest(order_id, reason, StepTiming(
            settings.saga_step_max_attempts, settings.saga_step_initial_retry_ms
        ))  # fmt: skip
        workflow_id = cancellation_workflow_id(order_id)
        decision = await request_with_start(
            temporal, CANCELLATION_WORKFLOW, workflow_id, request, workflow_id
        )
        if decision is not None:
            refuse_unless_accepted(decision)
    else:
        await update_saga(temporal, order_id, UPDATE_CANCEL, CancelRequest(reason))
    return await visible_order(orders, order_id, who)


@router.post("/{order_id}/accept-amendment", status_code=202, response_model=OrderPublic)
async def accept_amendment(
    order_id: OrderId, who: CustomerPrincipal, orders: OrdersDep, temporal: TemporalDep
) -> OrderPublic:
    """Accept the amended order offered when some lines are out of stock (409 when none is)."""
    order = await visible_order(orders, order_id, who)
    refusal = amendment_acceptance_refusal(
        OrderStatus(order.status),
        amendment_pending=order.amendment is not None and order.amendment.status == "proposed",
        cancelling=order.cancellation_requested,
    )
    if refusal is not None:
        raise refused(order_id, refusal, order.retry_cart_id)
    await update_saga(temporal, order_id, UPDATE_ACCEPT_AMENDMENT)
    return await visible_order(orders, order_id, who)
