"""Checkout, the customer's orders, and cancellation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response

from api.auth import CustomerPrincipal, Principal
from api.checkout import Checkout
from api.deps import CartStoreDep, PoolDep, SettingsDep, TemporalDep
from api.order_schemas import CancelCreate, CheckoutCreate, OrderList, OrderPublic
from api.problems import Problem
from api.saga_updates import update_saga
from domain.rules import amendment_acceptance_refusal, cancellation_refusal
from domain.status import OrderStatus
from eventstore.checkouts import Checkouts
from eventstore.orders import OrderRepository, order_stream
from eventstore.saga_starts import SagaStarts
from eventstore.store import EventStore
from workflows.contract import (
    UPDATE_ACCEPT_AMENDMENT,
    UPDATE_CANCEL,
    CancelRequest,
)

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])


def _orders(pool: PoolDep) -> OrderRepository:
    return OrderRepository(EventStore(pool))


OrdersDep = Annotated[OrderRepository, Depends(_orders)]


async def _visible_order(orders: OrderRepository, order_id: str, who: Principal) -> OrderPublic:
    """The order from its stream (strongly consistent); another customer's order is a 404."""
    recorded = await orders.history(order_id)
    if not recorded:
        raise Problem(404, f"order {order_id} not found")
    order = OrderPublic.from_stream(recorded)
    if order.customer_id != who.subject and not who.is_admin:
        raise Problem(404, f"order {order_id} not found")
    return order


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
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> OrderPublic:
    """Turn the cart into an order, priced from the catalog now, and start its fulfilment saga
    (202; 200 on a repeat). 409: the cart was checked out by another request, holds products
    no longer sold (`skus`), or its total is not `expected_total` (`cart` shows it now); 422: the
    Idempotency-Key was used with another request, or the cart is empty."""
    service = Checkout(Checkouts(pool), orders, carts, temporal, settings, SagaStarts(pool))
    result = await service.place(who.subject, body, idempotency_key or None)
    response.headers["Location"] = f"/api/v1/orders/{result.order_id}"
    if result.replayed:
        response.status_code = 200
        return await _visible_order(orders, result.order_id, who)
    return OrderPublic.from_stream(result.placed)


@router.get("/", response_model=OrderList)
async def list_orders(
    who: CustomerPrincipal,
    pool: PoolDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
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
async def get_order(order_id: str, who: CustomerPrincipal, orders: OrdersDep) -> OrderPublic:
    """The order, read from its event stream (status, items, totals, history)."""
    return await _visible_order(orders, order_id, who)


@router.post("/{order_id}/cancel", status_code=202, response_model=OrderPublic)
async def cancel_order(
    order_id: str,
    who: CustomerPrincipal,
    orders: OrdersDep,
    temporal: TemporalDep,
    body: CancelCreate | None = None,
) -> OrderPublic:
    """Cancel the order: 202 until the saga completes it (a capture is refunded in full), 409
    with the reason once it can no longer be cancelled."""
    order = await _visible_order(orders, order_id, who)
    refusal = cancellation_refusal(
        OrderStatus(order.status), cancelling=order.cancellation_requested
    )
    if refusal is not None:
        raise Problem(409, f"order {order_id}: {refusal}")
    reason = (body or CancelCreate()).reason
    await update_saga(temporal, order_id, UPDATE_CANCEL, CancelRequest(reason))
    return await _visible_order(orders, order_id, who)


@router.post("/{order_id}/accept-amendment", status_code=202, response_model=OrderPublic)
async def accept_amendment(
    order_id: str, who: CustomerPrincipal, orders: OrdersDep, temporal: TemporalDep
) -> OrderPublic:
    """Accept the amended order offered when some lines are out of stock (409 when none is)."""
    order = await _visible_order(orders, order_id, who)
    refusal = amendment_acceptance_refusal(
        OrderStatus(order.status),
        amendment_pending=order.amendment is not None and order.amendment.status == "proposed",
        cancelling=order.cancellation_requested,
    )
    if refusal is not None:
        raise Problem(409, f"order {order_id}: {refusal}")
    await update_saga(temporal, order_id, UPDATE_ACCEPT_AMENDMENT)
    return await _visible_order(orders, order_id, who)
