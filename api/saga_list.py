"""The admin list of sagas, from two sources that each know part of a saga's status.

Temporal's visibility knows the statuses operators act on (`OPERATOR_STATUSES`: stalled,
awaiting the customer or a payment, compensating, ended): the saga upserts `OrderStatus` on
entering and on leaving each of them. It does not follow the forward path (pending →
payment_captured) any more, one history event and visibility write per step saved; those
statuses come from the order summaries read model, which follows the order's events a little
behind (`projector_lag` events). A saga whose step is being retried shows the status of the
last step it finished, as the order itself does, until its retry budget is spent and it shows
`stalled`. A completed saga whose order was cancelled afterwards shows `cancelled`, and
`?status=cancelled` lists from the read model too.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from temporalio.client import Client, WorkflowExecution
from temporalio.common import SearchAttributeKey

from api.page_tokens import PageTokens, visibility_page
from api.problems import Problem
from commerce.settings import Settings
from domain.status import OrderStatus
from eventstore.cursors import InvalidCursor
from eventstore.read_models import OrderSummaries
from workflows.contract import OPERATOR_STATUSES, order_workflow_id

_STATUS = SearchAttributeKey.for_keyword("OrderStatus")
_TOTAL = SearchAttributeKey.for_int("OrderTotal")
_PREFIX = order_workflow_id("")
_SAGAS = "WorkflowType = 'OrderFulfillmentWorkflow'"
_COMPLETED = OrderStatus.COMPLETED.value
# A status an order can take after its saga completed (a cancel after capture, before dispatch,
# runs a workflow of its own): the read model knows it, the saga's `OrderStatus` cannot. That
# status is listed from the read model, and a completed saga shows its order's.
_ENDED_LATER = frozenset({OrderStatus.CANCELLED.value})
_LIST = "sagas"  # the name its visibility cursors are sealed for (api/page_tokens.py)


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
    projector_lag: int  # events the read model, source of the forward statuses, is behind


def ui_url(settings: Settings, workflow_id: str, run_id: str) -> str:
    """The workflow's page in the Temporal Web UI."""
    return (
        f"{settings.temporal_ui_url}/namespaces/{settings.temporal_namespace}"
        f"/workflows/{workflow_id}/{run_id}/history"
    )


async def saga_page(
    temporal: Client, summaries: OrderSummaries, settings: Settings, tokens: PageTokens,
    status: OrderStatus | None, limit: int, cursor: str | None,
) -> SagaList:  # fmt: skip
    """One page, newest first, of every saga or of those whose order has `status`. Raises
    InvalidCursor or Problem(422) for a cursor this API did not hand out for that list (each
    filter pages its own source: a sealed Temporal page token, or a read-model cursor)."""
    if status is not None and (status not in OPERATOR_STATUSES or status in _ENDED_LATER):
        return await _forward_page(temporal, summaries, settings, status, limit, cursor)
    query = _SAGAS if status is None else f"{_SAGAS} AND OrderStatus = '{status.value}'"
    executions, next_cursor = await visibility_page(temporal, query, limit, cursor, tokens, _LIST)
    unknown = [_order_id(e) for e in executions if _listed_status(e) in (None, _COMPLETED)]
    projected = await summaries.statuses(unknown)
    items = []
    for execution in executions:
        later = projected.get(_order_id(execution))
        shown = _listed_status(execution)
        if shown == _COMPLETED and later in _ENDED_LATER:
            shown = later  # the order was cancelled after its saga completed
        shown = shown or _forward(later)
        # Not projected yet (just placed), or the read model still tells of an operator status
        # visibility says the saga left: visibility's own, last upserted, status.
        shown = shown or execution.typed_search_attributes.get(_STATUS)
        if status is None or shown == status.value:
            items.append(await _summary(execution, settings, shown))
    return SagaList(items=items, next_cursor=next_cursor, projector_lag=await summaries.lag())


async def _forward_page(
    temporal: Client, summaries: OrderSummaries, settings: Settings,
    status: OrderStatus, limit: int, cursor: str | None,
) -> SagaList:  # fmt: skip
    """The read model's orders in `status`, with their sagas' visibility records. An order
    whose saga is not started yet is left out, and so is one whose saga has already moved to an
    operator status the read model has not caught up with (visibility is ahead there)."""
    try:
        rows, next_cursor = await summaries.page(None, status.value, limit, cursor)
    except InvalidCursor as error:
        raise Problem(422, "the cursor is not one this API handed out") from error
    ids = [order_workflow_id(row["order_id"]) for row in rows]
    found: dict[str, WorkflowExecution] = {}
    if ids:
        listed = ", ".join(f"'{i}'" for i in ids)  # our own order ids (uuids): nothing to escape
        executions = [
            e
            async for e in temporal.list_workflows(
                f"{_SAGAS} AND WorkflowId IN ({listed})", page_size=len(ids)
            )
        ]
        found = {e.id: e for e in executions}
    # An order the read model has as cancelled is cancelled, whatever its saga's last status.
    final = status in _ENDED_LATER
    items = [
        await _summary(found[i], settings, status.value)
        for i in ids
        if i in found and (final or _listed_status(found[i]) is None)
    ]
    return SagaList(items=items, next_cursor=next_cursor, projector_lag=await summaries.lag())


def _order_id(execution: WorkflowExecution) -> str:
    return execution.id.removeprefix(_PREFIX)


def _forward(status: str | None) -> str | None:
    return None if status is None or status in OPERATOR_STATUSES else status


def _listed_status(execution: WorkflowExecution) -> str | None:
    """The saga's visibility status when it is one visibility follows, else None."""
    status = execution.typed_search_attributes.get(_STATUS)
    return status if status in OPERATOR_STATUSES else None


async def _summary(
    execution: WorkflowExecution, settings: Settings, status: str | None
) -> SagaSummary:
    return SagaSummary(
        order_id=_order_id(execution),
        workflow_id=execution.id,
        run_id=execution.run_id,
        status=status,
        customer_id=(await execution.memo()).get("customer_id"),  # CustomerId is a keyed hash
        total=execution.typed_search_attributes.get(_TOTAL),
        started_at=execution.start_time,
        closed_at=execution.close_time,
        temporal_ui_url=ui_url(settings, execution.id, execution.run_id),
    )
