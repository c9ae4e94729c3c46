"""Operating sagas: list (Temporal visibility and the read model, api/saga_list.py), detail
(workflow query), operator retry."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from temporalio.service import RPCError, RPCStatusCode

from api.auth import AdminPrincipal
from api.deps import PoolDep, SettingsDep, TemporalDep
from api.ids import CursorQuery, OrderId
from api.page_tokens import PageTokensDep
from api.problems import Problem
from api.saga_list import SagaList, saga_page, ui_url
from api.saga_updates import update_saga
from domain.rules import retry_refusal
from domain.status import OrderStatus
from eventstore.orders import OrderRepository
from eventstore.read_models import OrderSummaries
from eventstore.store import EventStore
from workflows.contract import QUERY_SAGA, UPDATE_RETRY, SagaView, order_workflow_id

router = APIRouter(prefix="/api/v1/admin/sagas", tags=["admin: sagas"])


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


@router.get("", response_model=SagaList)
async def list_sagas(
    _: AdminPrincipal,
    temporal: TemporalDep,
    pool: PoolDep,
    settings: SettingsDep,
    tokens: PageTokensDep,
    status: OrderStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: CursorQuery = None,
) -> SagaList:
    """Sagas newest first, optionally only those whose order has `status`. Waiting, stalled,
    compensating and ended sagas as Temporal lists them; the forward path's statuses from the
    read model (`projector_lag` events behind): a saga whose step is being retried shows the
    status of its last finished step until it stalls."""
    return await saga_page(temporal, OrderSummaries(pool), settings, tokens, status, limit, cursor)


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
