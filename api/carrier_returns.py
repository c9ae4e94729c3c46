"""The carrier's reports on return parcels: a return label's tracking number names the return,
and a `delivered` report on it tells the return's workflow its goods came back."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from temporalio.client import Client
from temporalio.service import RPCError

from api.problems import Problem, temporal_unreachable
from domain.order import Order, ShipmentStatus
from eventstore.carrier_inbox import CarrierInbox
from eventstore.orders import OrderRepository
from eventstore.store import EventStore
from workflows.after_sale_contract import SIGNAL_RETURN_DELIVERED, return_workflow_id


@dataclass(frozen=True, slots=True)
class ReturnParcel:
    """A return parcel the carrier reported on: its order (as stored now) and return id."""

    order: Order
    return_id: str


@dataclass(frozen=True, slots=True)
class ReturnReportAnswer:
    """The webhook's answer: HTTP status, `outcome` (recorded, ignored, refused), `detail`."""

    http_status: int
    outcome: str
    detail: str


async def find_return_parcel(
    pool: asyncpg.Pool, tracking_number: str | None, order_id: str | None
) -> ReturnParcel | None:
    """The return whose label has `tracking_number`, or None (not a return's parcel). Raises
    Problem 422 when the report also names another order."""
    if not tracking_number:
        return None
    found = await CarrierInbox(pool).return_for_tracking_number(tracking_number)
    if found is None:
        return None
    owner, return_id = found
    if order_id is not None and order_id != owner:
        raise Problem(422, f"tracking number {tracking_number} is not order {order_id}'s")
    order = await OrderRepository(EventStore(pool)).load(owner)
    assert order is not None  # its ReturnLabelCreated is in its stream
    return ReturnParcel(order, return_id)


async def answer_return_report(
    temporal: Client, parcel: ReturnParcel, status: str
) -> ReturnReportAnswer:
    """Decide by the order (the domain's rule) and, for goods delivered to the shop, signal the
    return's workflow `return_delivered`: it receives them (restock, refund). Raises Problem 409
    (not kept: a later retry lands) when the return waits for goods but its workflow is gone."""
    outcome, detail = parcel.order.return_parcel_report(parcel.return_id, ShipmentStatus(status))
    if outcome == "refused":
        return ReturnReportAnswer(409, outcome, detail)
    if outcome == "ignored":
        return ReturnReportAnswer(200, outcome, detail)
    handle = temporal.get_workflow_handle(return_workflow_id(parcel.return_id))
    try:
        await handle.signal(SIGNAL_RETURN_DELIVERED)
    except RPCError as error:
        if temporal_unreachable(error):
            raise
        raise Problem(409, f"return {parcel.return_id} has no running workflow") from error
    return ReturnReportAnswer(200, "recorded", detail)
