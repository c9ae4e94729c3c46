"""Operating sagas: list (Temporal visibility), detail (workflow query), operator retry."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from temporalio.client import WorkflowExecution
from temporalio.common import SearchAttributeKey
from temporalio.service import RPCError, RPCStatusCode

from api.auth import AdminPrincipal
from api.deps import PoolDep, SettingsDep, TemporalDep
from api.ids import CursorQuery, OrderId
from api.page_tokens import PageTokensDep, visibility_page
from api.problems import Problem
from api.saga_updates import update_saga
from commerce.settings import Settings
from domain.rules import retry_refusal
from domain.status import OrderStatus
from eventstore.orders import OrderRepository
from eventstore.read_models import OrderSummaries
from eventstore.store import EventStore
from workflows.contract import QUERY_SAGA, UPDATE_RETRY, SagaView, order_workflow_id

router = APIRouter(prefix="/api/v1/admin/sagas", tags=["admin: sagas"])

_STATUS = SearchAttributeKey.for_keyword("OrderStatus")
_TOTAL = SearchAttributeKey.for_int("OrderTotal")
_PREFIX = order_workflow_id("")


class SagaSummary(BaseModel):
    order_id: str
    workflow_id: str
    run_id: str
    status: str | None
    customer_id: str | None
    total: int | None
    started_at: datetime
    closed_at: datetime | None
    temporal_ui_url: str


class SagaList(BaseModel):
    items: list[SagaSummary]
    next_cursor: str | None


class StepPublic(BaseModel):
    name: str
    status: str
    attempts: int
    last_error: str | None
    started_at: datetime | None
    finished_at: datetime | None


class SagaDetail(BaseModel):
    order_id: str
    workflow_id: str
    run_id: str
    status: str
    current_step: str | None
    steps: list[StepPublic]
    compensations: int
    pending_cleanup: list[str]  # steps still being undone after the order ended (a provider down)
    temporal_ui_url: str


def ui_url(settings: Settings, workflow_id: str, run_id: str) -> str:
    """The workflow's page in the Temporal Web UI."""
    return (
        f"{settings.temporal_ui_url}/namespaces/{settings.temporal_namespace}"
        f"/workflows/{workflow_id}/{run_id}/history"
    )


async def _summary(execution: WorkflowExecution, settings: Settings) -> SagaSummary:
    attributes = execution.typed_search_attributes
    return SagaSummary(
        order_id=execution.id.removeprefix(_PREFIX),
        workflow_id=execution.id,
        run_id=execution.run_id,
        status=attributes.get(_STATUS),
        customer_id=(await execution.memo()).get("customer_id"),  # CustomerId is a keyed hash
        total=attributes.get(_TOTAL),
        started_at=execution.start_time,
        closed_at=execution.close_time,
        temporal_ui_url=ui_url(settings, execution.id, execution.run_id),
    )


@router.get("", response_model=SagaList)
async def list_sagas(
    _: AdminPrincipal,
    temporal: TemporalDep,
    settings: SettingsDep,
    tokens: PageTokensDep,
    status: OrderStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: CursorQuery = None,
) -> SagaList:
    """Sagas newest first, optionally only those whose order has `status`."""
    query = "WorkflowType = 'OrderFulfillmentWorkflow'"
    if status is not None:
        query += f" AND OrderStatus = '{status.value}'"  # an enum value: nothing to escape
    found, next_cursor = await visibility_page(temporal, query, limit, cursor, tokens, "sagas")
    return SagaList(items=[await _summary(e, settings) for e in found], next_cursor=next_cursor)


class SagaStatistics(BaseModel):
    total: int
    by_status: dict[str, int]
    completed_last_hour: int
    duration_ms: dict[str, int | None]
    step_failures: dict[str, int]
    compensations: int
    projector_lag: int


@router.get("/statistics", response_model=SagaStatistics)
async def saga_statistics(_: AdminPrincipal, pool: PoolDep) -> SagaStatistics:
    """Orders by status, completions in the last hour, duration percentiles, failures by step
    and compensations, from the read models (`projector_lag` says how many events behind)."""
    return SagaStatistics(**await OrderSummaries(pool).statistics())


@router.get("/{order_id}", response_model=SagaDetail)
async def saga_detail(
    order_id: OrderId, _: AdminPrincipal, temporal: TemporalDep, settings: SettingsDep
) -> SagaDetail:
    """The saga's steps (status, attempts, last error, timestamps) and its Temporal UI link."""
    handle = temporal.get_workflow_handle(order_workflow_id(order_id))
    try:
        description = await handle.describe()
        view = await handle.query(QUERY_SAGA, result_type=SagaView)
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise Problem(404, f"no saga for order {order_id}") from error
        raise
    return SagaDetail(
        order_id=order_id,
        workflow_id=description.id,
        run_id=description.run_id,
        status=view.status,
        current_step=view.current_step,
        steps=[StepPublic(**vars(step)) for step in view.steps],
        compensations=view.compensations,
        pending_cleanup=view.pending_cleanup,
        temporal_ui_url=ui_url(settings, description.id, description.run_id),
    )


@router.post("/{order_id}/retry", status_code=202, response_model=SagaDetail)
async def retry_saga(
    order_id: OrderId,
    who: AdminPrincipal,
    pool: PoolDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> SagaDetail:
    """Resume a stalled saga's failed step with a fresh retry budget; 409 unless stalled (or when
    a cancel of the order is under way), answered at once either way."""
    order = await OrderRepository(EventStore(pool)).load(order_id)
    if order is None:
        raise Problem(404, f"no saga for order {order_id}")
    cancelling = order.cancellation_reason is not None
    refusal = retry_refusal(order.status, retry_requested=False, cancelling=cancelling)
    if refusal is not None:
        raise Problem(409, f"order {order_id}: {refusal}")
    await update_saga(temporal, order_id, UPDATE_RETRY)
    return await saga_detail(order_id, who, temporal, settings)
