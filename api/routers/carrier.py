"""The carrier's webhook (HMAC-signed, not bearer) and the operator's view of a shipment."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError, model_validator
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.auth import AdminPrincipal
from api.carrier_returns import ReturnParcel, answer_return_report, find_return_parcel
from api.deps import PoolDep, SettingsDep, TemporalDep
from api.digests import body_digest
from api.ids import CarrierEventId, OrderId, TrackingNumber
from api.problems import Problem
from api.validation import AwareMoment
from commerce.kept_secrets import kept_secret
from commerce.settings import Settings
from domain.order import Order, ShipmentStatus
from eventstore.carrier_inbox import CarrierInbox, InboxEntry
from eventstore.delivery_deadlines import DeliveryDeadlines
from eventstore.orders import OrderRepository, domain_events
from eventstore.shipment_metrics import SHIPMENT_REPORTS
from eventstore.store import ConcurrencyError, EventStore, RecordedEvent
from workflows.contract import (
    QUERY_SHIPMENT,
    SHIPMENT_WORKFLOW_TYPE,
    TASK_QUEUE,
    UPDATE_CARRIER_EVENT,
    CarrierAnswer,
    CarrierReport,
    ShipmentTrackingInput,
    ShipmentView,
    shipment_workflow_id,
)

router = APIRouter(tags=["carrier"])
log = logging.getLogger("commerce.carrier")
_FINAL_REPORTS = {"ShipmentDelivered", "ShipmentLost", "ShipmentReturned"}
SIGNATURE_HEADER = "X-Carrier-Signature"
_CONFLICTS = (
    "the shipment or return already ended; the event id reused with another body; the order"
    " not completed yet (with Retry-After)"
)


def webhook_secret(settings: Settings) -> str | None:
    """The configured secret; in development one kept in the data dir; in production, none."""
    if settings.carrier_webhook_secret:
        return settings.carrier_webhook_secret
    if settings.environment != "development":
        return None
    return kept_secret(settings.data_dir, "carrier-webhook-secret", lambda: secrets.token_hex(32))


def signature(secret: str, body: bytes) -> str:
    """The header value a carrier sends: `sha256=` and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class CarrierEventCreate(BaseModel):
    event_id: CarrierEventId
    tracking_number: TrackingNumber | None = None
    order_id: OrderId | None = None
    status: Literal["label_created", "dispatched", "delivered", "lost", "returned"]
    occurred_at: AwareMoment

    @model_validator(mode="after")
    def _names_the_parcel(self) -> CarrierEventCreate:
        if not (self.tracking_number or self.order_id):
            raise ValueError("give tracking_number or order_id")
        return self


class CarrierEventPublic(BaseModel):
    event_id: str
    order_id: str
    outcome: str  # recorded, ignored (stale or repeated)
    shipment_status: str | None
    detail: str = ""
    return_id: str | None = None  # a return's parcel (its label's tracking number)


def _verified_body(raw: bytes, sent: str | None, settings: Settings) -> CarrierEventCreate:
    secret = webhook_secret(settings)
    if secret is None:
        raise Problem(503, "the carrier webhook has no COMMERCE_CARRIER_WEBHOOK_SECRET")
    if not sent or not hmac.compare_digest(sent.encode(), signature(secret, raw).encode()):
        raise Problem(401, f"missing or wrong {SIGNATURE_HEADER}")
    try:
        return CarrierEventCreate.model_validate_json(raw)
    except ValidationError as invalid:
        raise RequestValidationError(invalid.errors(include_url=False)) from invalid


async def _completed_order(
    pool: PoolDep, event: CarrierEventCreate
) -> tuple[Order, list[RecordedEvent]]:
    order_id = event.order_id
    if order_id is None:
        order_id = await CarrierInbox(pool).order_for_tracking_number(str(event.tracking_number))
    recorded = await OrderRepository(EventStore(pool)).history(order_id) if order_id else []
    if not recorded:
        raise Problem(404, f"no order for {event.order_id or event.tracking_number}")
    order = Order.rehydrate(domain_events(recorded))
    if event.tracking_number and event.tracking_number != order.tracking_number:
        raise Problem(422, f"tracking number {event.tracking_number} is not order {order_id}'s")
    if order.status != "completed":
        # Not an error of the carrier's: the order may complete shortly; a retry will land.
        problem = Problem(409, f"order {order_id} is {order.status}, not completed")
        problem.headers["Retry-After"] = "60"
        raise problem
    return order, recorded


async def _deliver(
    temporal: Client, settings: Settings, report: CarrierReport, recorded: list[RecordedEvent]
) -> CarrierAnswer:
    """To the order's tracking workflow, starting it if the order predates shipment tracking."""
    completed_at = next(r.recorded_at for r in recorded if r.type == "OrderCompleted")
    start: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
        SHIPMENT_WORKFLOW_TYPE,
        ShipmentTrackingInput(report.order_id, settings.delivery_timeout_s, since=completed_at),
        id=shipment_workflow_id(report.order_id),
        task_queue=TASK_QUEUE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )
    answer: CarrierAnswer = await temporal.execute_update_with_start_workflow(
        UPDATE_CARRIER_EVENT,
        report,
        start_workflow_operation=start,
        id=f"carrier-{report.event_id}",  # Temporal also drops a repeat of this update id
        result_type=CarrierAnswer,
    )
    return answer


def _answer_after_the_end(order: Order, report: CarrierReport, error: Exception) -> CarrierAnswer:
    """The tracking workflow ended with a final status: decide from the stream (nothing can be
    recorded after a final status, so nothing needs the workflow)."""
    before = order.shipment_stage
    outcome = order.take_carrier_report(
        ShipmentStatus(report.status), report.event_id, report.occurred_at
    )
    if order.pending_events:  # not ended after all: only the workflow may record it
        log.warning("carrier event %s not delivered: %r", report.event_id, error)
        problem = Problem(503, "the shipment's tracking is briefly unavailable; repeat the event")
        problem.headers["Retry-After"] = "1"
        raise problem from error
    return _answer_of(order, report, outcome, before)


def _answer_of(
    order: Order, report: CarrierReport, outcome: str, before: ShipmentStatus | None
) -> CarrierAnswer:
    status = None if order.shipment_status is None else str(order.shipment_status)
    detail = "" if outcome == "recorded" else f"the shipment was {before}"
    return CarrierAnswer(order.order_id, report.event_id, outcome, status, detail)


async def _record_on_the_order(pool: PoolDep, report: CarrierReport) -> CarrierAnswer:
    """Record the report on the order itself: its delivery is watched by the worker's sweep,
    not by a workflow. The order decides (recorded, ignored, refused); an append that lost the
    race for the stream decides again on fresh state."""
    orders = OrderRepository(EventStore(pool))
    for _ in range(10):
        order = await orders.load(report.order_id)
        assert order is not None
        before = order.shipment_stage
        outcome = order.take_carrier_report(
            ShipmentStatus(report.status), report.event_id, report.occurred_at
        )
        recorded = list(order.pending_events)
        try:
            await orders.save(order, {"actor": "carrier", "carrier_event_id": report.event_id})
        except ConcurrencyError:
            continue
        for event in recorded:
            SHIPMENT_REPORTS.labels(report.status).inc()
            if event.type in _FINAL_REPORTS:
                await DeliveryDeadlines(pool).settle([order.order_id])
        return _answer_of(order, report, outcome, before)
    problem = Problem(503, "the order is changing too fast; repeat the event")
    problem.headers["Retry-After"] = "1"
    raise problem


@router.post(
    "/api/v1/carrier/events",
    response_model=CarrierEventPublic,
    responses={
        401: {"description": "missing or wrong signature"},
        404: {"description": "no order or return has this tracking number (or order id)"},
        409: {"description": _CONFLICTS},
    },
    # The body is read raw (the signature covers its bytes); this documents its shape.
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": CarrierEventCreate.model_json_schema()}},
        }
    },
)
async def carrier_event(
    request: Request,
    pool: PoolDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    x_carrier_signature: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """A carrier's shipment event, signed `X-Carrier-Signature: sha256=<HMAC-SHA256 hex of the
    raw body>`; the same `event_id` again gets the same answer and has no second effect, and
    with a different body it is refused (409). A report on a return label's tracking number
    concerns that return (`return_id`): `delivered` receives its goods (restocked, refunded);
    409 when the return was rejected or closed; 404 for a tracking number nobody issued."""
    event = _verified_body(await request.body(), x_carrier_signature, settings)
    digest = body_digest(
        event.model_copy(update={"occurred_at": event.occurred_at.astimezone(UTC)})
    )
    inbox = CarrierInbox(pool)
    entry = await inbox.entry(event.event_id)
    _refuse_another_body(event.event_id, entry, digest)
    if entry is None or entry.answer is None:
        parcel = await find_return_parcel(pool, event.tracking_number, event.order_id)
        if parcel is not None:
            entry = await _return_report(temporal, inbox, parcel, event, digest)
        else:
            order, recorded = await _completed_order(pool, event)
            # Taken before delivery: of two bodies sent at once with one id, one is delivered.
            entry = await inbox.take(event.event_id, order.order_id, event.status, digest)
            _refuse_another_body(event.event_id, entry, digest)
            if entry.answer is None:
                answer = await _answer(pool, temporal, settings, order, event, recorded)
                status_code = 409 if answer.outcome == "refused" else 200
                entry = await inbox.keep(event.event_id, status_code, _public(answer))
    assert entry.http_status is not None and entry.answer is not None
    if entry.http_status >= 400:
        return _refusal(entry.http_status, entry.answer)
    return JSONResponse(entry.answer, status_code=entry.http_status)


async def _answer(
    pool: PoolDep,
    temporal: Client,
    settings: Settings,
    order: Order,
    event: CarrierEventCreate,
    recorded: list[RecordedEvent],
) -> CarrierAnswer:
    report = CarrierReport(
        order.order_id, event.event_id, event.status, event.occurred_at.isoformat()
    )
    if order.delivery_due_at is not None:  # completed since the delivery sweep: no workflow
        return await _record_on_the_order(pool, report)
    try:
        return await _deliver(temporal, settings, report, recorded)
    except (WorkflowAlreadyStartedError, WorkflowUpdateFailedError) as error:
        return _answer_after_the_end(order, report, error)
    except RPCError as error:
        if error.status not in (RPCStatusCode.NOT_FOUND, RPCStatusCode.ALREADY_EXISTS):
            raise  # Temporal unreachable: 503, the carrier retries
        return _answer_after_the_end(order, report, error)


async def _return_report(
    temporal: Client,
    inbox: CarrierInbox,
    parcel: ReturnParcel,
    event: CarrierEventCreate,
    digest: str,
) -> InboxEntry:
    """A report on a return's parcel, taken and answered once per event id like any other."""
    order = parcel.order
    entry = await inbox.take(event.event_id, order.order_id, event.status, digest)
    _refuse_another_body(event.event_id, entry, digest)
    if entry.answer is not None:
        return entry
    answer = await answer_return_report(temporal, parcel, event.status)
    status = None if order.shipment_status is None else str(order.shipment_status)
    public = CarrierEventPublic(
        event_id=event.event_id, order_id=order.order_id, outcome=answer.outcome,
        shipment_status=status, detail=answer.detail, return_id=parcel.return_id,
    )  # fmt: skip
    return await inbox.keep(event.event_id, answer.http_status, public.model_dump(mode="json"))


def _refuse_another_body(event_id: str, entry: InboxEntry | None, digest: str) -> None:
    """An event id names one report: the same id with another body is refused, unrecorded."""
    if entry is not None and not entry.same_body(digest):
        raise Problem(
            409, f"carrier event {event_id} was already received with a different body",
            title="Event id reused",
        )  # fmt: skip


def _public(answer: CarrierAnswer) -> dict[str, Any]:
    return CarrierEventPublic(**vars(answer)).model_dump(mode="json")


def _refusal(status_code: int, body: dict[str, Any]) -> JSONResponse:
    problem = {
        "type": f"https://httpstatuses.io/{status_code}",
        "title": "Conflict",
        "status": status_code,
        "detail": f"the shipment already ended: {body.get('detail') or body['shipment_status']}",
        **body,
    }
    return JSONResponse(problem, status_code=status_code, media_type="application/problem+json")


class ShipmentPublic(BaseModel):
    """A completed order's parcel: the carrier's last status (`overdue` past the deadline until a
    final report), `due_at` the delivery deadline; `workflow_id` names the tracking workflow of
    orders completed before the delivery sweep (None: the order itself holds it all)."""

    order_id: str
    workflow_id: str | None
    shipment_status: str | None
    overdue: bool
    due_at: datetime | None
    reports_this_run: int


@router.get("/api/v1/admin/shipments/{order_id}", response_model=ShipmentPublic, tags=["admin"])
async def shipment_detail(
    order_id: OrderId, _: AdminPrincipal, pool: PoolDep, temporal: TemporalDep
) -> ShipmentPublic:
    """The order's shipment: its status, whether it is overdue, its delivery deadline."""
    order = await OrderRepository(EventStore(pool)).load(order_id)
    if order is not None and order.delivery_due_at is not None:
        status = order.shipment_status
        return ShipmentPublic(
            order_id=order_id, workflow_id=None,
            shipment_status=None if status is None else str(status),
            overdue=order.delivery_overdue, due_at=datetime.fromisoformat(order.delivery_due_at),
            reports_this_run=len(order.carrier_event_ids),
        )  # fmt: skip
    handle = temporal.get_workflow_handle(shipment_workflow_id(order_id))
    try:
        view = await handle.query(QUERY_SHIPMENT, result_type=ShipmentView)
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise Problem(404, f"no shipment tracking for order {order_id}") from error
        raise
    return ShipmentPublic(workflow_id=handle.id, **vars(view))
