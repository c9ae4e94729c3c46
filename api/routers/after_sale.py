"""After the sale: a customer's returns, an operator's refunds and return reviews."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import SearchAttributeKey
from temporalio.service import RPCError

from api.auth import AdminPrincipal, CustomerPrincipal
from api.deps import SettingsDep, TemporalDep
from api.digests import body_digest
from api.ids import CursorQuery, IdempotencyKeyHeader, OrderId, ReturnId, Sku
from api.page_tokens import PageTokensDep, visibility_page
from api.post_sale_requests import refuse_unless_accepted, request_with_start
from api.problems import Problem, temporal_unreachable
from api.routers.orders import OrdersDep, visible_order
from api.validation import StorableText
from commerce.settings import Settings
from domain.cart import MAX_LINE_QUANTITY
from domain.order import Order
from workflows.after_sale_contract import (
    QUERY_PROGRESS,
    REFUND_WORKFLOW,
    RETURN_WORKFLOW,
    UPDATE_APPROVE_RETURN,
    UPDATE_RECEIVE_RETURN,
    UPDATE_REJECT_RETURN,
    Decision,
    Progress,
    RefundRequest,
    ReturnItem,
    ReturnReceipt,
    ReturnRequest,
    ReturnReview,
    StepTiming,
    refund_workflow_id,
    return_workflow_id,
)

router = APIRouter(tags=["after the sale"])
_IDS = uuid.UUID("2f1c8a5e-3b6d-4e0f-9a7c-5d2e8b1f6a43")
_RETURN_STATUS = SearchAttributeKey.for_keyword("ReturnStatus")


class ReturnItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Sku
    quantity: int = Field(strict=True, ge=1, le=MAX_LINE_QUANTITY)


class ReturnCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[ReturnItemIn] = Field(min_length=1, max_length=100)
    reason: StorableText = Field(min_length=1, max_length=500)


class ReturnPublic(BaseModel):
    """A return: `status` is requested, approved, rejected, received, refunded or closed;
    `tracking_number` is its return label's (the carrier's `delivered` report on it receives
    the goods), null until the carrier issued one after approval."""

    id: str
    order_id: str
    status: str
    items: list[ReturnItemIn]
    received: list[ReturnItemIn]
    reason: str
    tracking_number: str | None = None


class ReturnList(BaseModel):
    items: list[ReturnPublic]
    next_cursor: str | None = None


class ReceiptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[ReturnItemIn] = Field(default_factory=list, max_length=100)


class RejectionIn(BaseModel):
    reason: StorableText = Field(default="rejected by the shop", max_length=500)


class RefundCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int = Field(
        strict=True, ge=1, le=10**12, description="minor units of the order's currency"
    )
    reason: StorableText = Field(min_length=1, max_length=500)


class RefundPublic(BaseModel):
    """An operator's refund: `status` requested (set aside), issued, or failed."""

    id: str
    order_id: str
    amount: int
    currency: str
    reason: str
    status: str


class ReviewAnswer(BaseModel):
    return_id: str
    status: str


def _timing(settings: Settings) -> StepTiming:
    return StepTiming(settings.saga_step_max_attempts, settings.saga_step_initial_retry_ms)


def _request_id(scope: str, who: str, key: str | None) -> str:
    """Ours, from the caller's Idempotency-Key (the same key names the same request), else new."""
    if key is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(_IDS, f"{scope}\x00{who}\x00{key}"))


def returns_of(order: Order) -> list[ReturnPublic]:
    return [
        ReturnPublic(
            id=r.return_id,
            order_id=order.order_id,
            status=r.status,
            items=[ReturnItemIn(sku=line.sku, quantity=line.quantity) for line in r.lines],
            received=[ReturnItemIn(sku=line.sku, quantity=line.quantity) for line in r.received],
            reason=r.reason,
            tracking_number=r.tracking_number,
        )
        for r in order.returns.values()
    ]


@router.post("/api/v1/orders/{order_id}/returns", status_code=201, response_model=ReturnPublic)
async def request_return(
    order_id: OrderId,
    body: ReturnCreate,
    who: CustomerPrincipal,
    orders: OrdersDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    response: Response,
    idempotency_key: IdempotencyKeyHeader = None,
) -> ReturnPublic:
    """Ask to return some lines of a delivered order (201). 422: more than was bought (minus
    earlier returns); 409: not delivered, or outside COMMERCE_RETURN_WINDOW_DAYS."""
    await visible_order(orders, order_id, who)
    return_id = _request_id(f"return:{order_id}", who.subject, idempotency_key)
    request = ReturnRequest(
        order_id, return_id, [ReturnItem(i.sku, i.quantity) for i in body.items], body.reason,
        body_digest(body), settings.return_window_days, settings.return_receive_timeout_s,
        _timing(settings),
    )  # fmt: skip
    decision = await request_with_start(
        temporal, RETURN_WORKFLOW, return_workflow_id(return_id), request, return_id,
        memo={"order_id": order_id},
    )  # fmt: skip
    _refuse_unless_recorded(decision)
    order = await _order(orders, order_id)
    if return_id not in order.returns:
        raise Problem(409, f"return {return_id} was not recorded")
    response.headers["Location"] = f"/api/v1/orders/{order_id}/returns"
    return next(r for r in returns_of(order) if r.id == return_id)


@router.get("/api/v1/orders/{order_id}/returns", response_model=ReturnList)
async def list_order_returns(
    order_id: OrderId, who: CustomerPrincipal, orders: OrdersDep
) -> ReturnList:
    """The order's returns, oldest first."""
    await visible_order(orders, order_id, who)
    return ReturnList(items=returns_of(await _order(orders, order_id)))


@router.post(
    "/api/v1/admin/orders/{order_id}/refunds", status_code=201, response_model=RefundPublic
)
async def refund_order(
    order_id: OrderId,
    body: RefundCreate,
    who: AdminPrincipal,
    orders: OrdersDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> RefundPublic:
    """Refund part or all of an order's capture (goodwill, a partial refund): 201; 409 over
    what is left (captured - refunded - refunds under way). The same Idempotency-Key is the same
    refund; reused with another body, 422."""
    await visible_order(orders, order_id, who)
    request_id = _request_id(f"refund:{order_id}", who.subject, idempotency_key)
    request = RefundRequest(
        order_id, request_id, body.amount, body.reason, body_digest(body), _timing(settings)
    )
    decision = await request_with_start(
        temporal, REFUND_WORKFLOW, refund_workflow_id(request_id), request, request_id
    )
    _refuse_unless_recorded(decision)
    order = await _order(orders, order_id)
    status = order.refund_outcomes.get(request_id)
    if status is None and request_id not in order.pending_refunds:
        raise Problem(409, f"refund {request_id} was not recorded")
    return RefundPublic(
        id=request_id, order_id=order_id, amount=body.amount, currency=order.currency,
        reason=body.reason, status=status or "requested",
    )  # fmt: skip


@router.get("/api/v1/admin/returns", response_model=ReturnList)
async def list_returns(
    _: AdminPrincipal,
    temporal: TemporalDep,
    orders: OrdersDep,
    tokens: PageTokensDep,
    status: Annotated[
        str | None, Query(pattern="^(requested|approved|rejected|received|refunded|closed)$")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: CursorQuery = None,
) -> ReturnList:
    """Returns, newest first (Temporal visibility of the return workflows), by status; pass
    `next_cursor` back as `cursor` for the next page."""
    query = f"WorkflowType = '{RETURN_WORKFLOW}'"
    if status is not None:
        query += f" AND ReturnStatus = '{status}'"  # one of the pattern's words: nothing to escape
    found: list[ReturnPublic] = []
    try:
        page, next_cursor = await visibility_page(temporal, query, limit, cursor, tokens, "returns")
        for execution in page:
            return_id = execution.id.removeprefix(return_workflow_id(""))
            memo = await execution.memo()
            order = await orders.load(str(memo.get("order_id", "")))
            found += [r for r in returns_of(order) if r.id == return_id] if order else []
    except RPCError as error:
        if temporal_unreachable(error):
            raise
        raise Problem(503, error.message) from error
    return ReturnList(items=found, next_cursor=next_cursor)


@router.post("/api/v1/admin/returns/{return_id}/approve", status_code=202)
async def approve_return(
    return_id: ReturnId, _: AdminPrincipal, temporal: TemporalDep
) -> ReviewAnswer:
    """Approve a requested return: the shop waits for the goods (409 unless requested)."""
    return await _review(temporal, return_id, UPDATE_APPROVE_RETURN, None)


@router.post("/api/v1/admin/returns/{return_id}/reject", status_code=202)
async def reject_return(
    return_id: ReturnId, _: AdminPrincipal, temporal: TemporalDep, body: RejectionIn | None = None
) -> ReviewAnswer:
    """Reject a requested return (409 unless requested)."""
    review = ReturnReview((body or RejectionIn()).reason)
    return await _review(temporal, return_id, UPDATE_REJECT_RETURN, review)


@router.post("/api/v1/admin/returns/{return_id}/receive", status_code=202)
async def receive_return(
    return_id: ReturnId, _: AdminPrincipal, temporal: TemporalDep, body: ReceiptIn | None = None
) -> ReviewAnswer:
    """The goods of an approved return arrived: restock these lines (all the return asked for
    when none are listed) and refund their share of the order (409 unless approved)."""
    items = [ReturnItem(i.sku, i.quantity) for i in (body or ReceiptIn()).items]
    return await _review(temporal, return_id, UPDATE_RECEIVE_RETURN, ReturnReceipt(items))


async def _review(temporal: Client, return_id: str, update: str, arg: object) -> ReviewAnswer:
    handle = temporal.get_workflow_handle(return_workflow_id(return_id))
    try:
        decision = await handle.execute_update(
            update, *([] if arg is None else [arg]), result_type=Decision
        )
        progress = await handle.query(QUERY_PROGRESS, result_type=Progress)
    except WorkflowUpdateFailedError as refused:
        raise Problem(409, str(refused.cause or refused)) from refused
    except RPCError as error:
        if temporal_unreachable(error):
            raise
        raise Problem(404, f"no open return {return_id}") from error
    refuse_unless_accepted(decision)
    return ReviewAnswer(return_id=return_id, status=progress.status)


async def _order(orders: OrdersDep, order_id: str) -> Order:
    order = await orders.load(order_id)
    if order is None:
        raise Problem(404, f"order {order_id} not found")
    return order


def _refuse_unless_recorded(decision: Decision | None) -> None:
    if decision is not None:
        refuse_unless_accepted(decision)
