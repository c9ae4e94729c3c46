"""Operators' view of the money: one order's payments, and reconciliation with the provider."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from api.auth import AdminPrincipal
from api.deps import PoolDep, SettingsDep
from api.ids import OrderId
from api.problems import Problem
from api.validation import Moment
from commerce.reconcile import (
    Reconciler,
    ReconciliationReport,
    ReconciliationUnavailable,
    payment_records,
)
from domain.order import Order
from domain.payment_history import payment_history
from eventstore.orders import OrderRepository, domain_events
from eventstore.store import EventStore

router = APIRouter(prefix="/api/v1/admin", tags=["admin: payments"])


class PaymentTransactionPublic(BaseModel):
    """One movement of the order's money. `type`: authorization, capture, void or refund;
    `status`: succeeded, requires_action (an authorization awaiting the customer's 3-D Secure),
    pending (a refund under way) or failed (a refund the provider refused); `amount` in minor
    units of `currency`; `reference`: the provider's id (of the authorization for an
    authorization and its void; null for a refund not issued yet); `at`: when it was recorded;
    `event`: the event that recorded it."""

    model_config = ConfigDict(from_attributes=True)

    type: str
    status: str
    amount: int
    currency: str
    reference: str | None
    authorization_id: str | None
    request_id: str | None
    return_id: str | None
    reason: str | None
    event: str
    at: datetime


class OrderPaymentsPublic(BaseModel):
    """Totals in minor units: `authorized` (granted authorizations not voided), `captured`,
    `refunded` (issued), `refund_pending` (requested, not answered yet), `net` = captured -
    refunded, what the customer is charged now."""

    order_id: str
    status: str
    currency: str
    authorized: int
    captured: int
    refunded: int
    refund_pending: int
    net: int
    transactions: list[PaymentTransactionPublic]


_ADMIN_ONLY: dict[int | str, dict[str, str]] = {
    401: {"description": "no valid bearer token"},
    403: {"description": "not an admin"},
}


@router.get(
    "/orders/{order_id}/payments",
    response_model=OrderPaymentsPublic,
    responses={**_ADMIN_ONLY, 404: {"description": "no such order"}},
)
async def order_payments(
    order_id: OrderId, _: AdminPrincipal, pool: PoolDep
) -> OrderPaymentsPublic:
    """Every authorization, capture, void and refund of the order, oldest first, with amounts,
    provider references and times, and their totals; read from the order's events (strongly
    consistent). 404 for an unknown order."""
    recorded = await OrderRepository(EventStore(pool)).history(order_id)
    if not recorded:
        raise Problem(404, f"order {order_id} not found")
    events = domain_events(recorded)
    history = payment_history(zip(events, (r.recorded_at for r in recorded), strict=True))
    return OrderPaymentsPublic(
        order_id=order_id,
        status=str(Order.rehydrate(events).status),
        currency=history.currency,
        authorized=history.authorized,
        captured=history.captured,
        refunded=history.refunded,
        refund_pending=history.refund_pending,
        net=history.net,
        transactions=[PaymentTransactionPublic.model_validate(t) for t in history.transactions],
    )


@router.get(
    "/reconciliation",
    response_model=ReconciliationReport,
    responses={
        **_ADMIN_ONLY,
        422: {"description": "`since` is not a date or an RFC 3339 time"},
        503: {"description": "the payment provider (or the database) did not answer"},
    },
)
async def reconciliation(
    _: AdminPrincipal,
    pool: PoolDep,
    settings: SettingsDep,
    since: Annotated[
        Moment | None,
        Query(description="orders placed at or after this date or RFC 3339 time (UTC if no zone)"),
    ] = None,
) -> ReconciliationReport:
    """Compare every order's money events (placed since `since`; all orders without it) with
    the payment provider's own records and list each mismatch by kind: `unrecorded` (money the
    provider holds or moved that we did not record), `no_provider_effect` (a record of ours the
    provider lacks), `amount_differs`, `open_authorization` (still held for an order that
    ended). Orders still in flight are judged on what we recorded only. The run sets the metric
    `commerce_reconciliation_mismatches`. 503 when the provider does not answer."""
    try:
        return await Reconciler(pool, payment_records(settings, pool)).reconcile(since)
    except ReconciliationUnavailable as error:
        raise Problem(503, f"the payment provider did not answer: {error}") from error
