"""Recording a completed order's shipment lifecycle: carrier reports and overdue deliveries."""

from __future__ import annotations

from temporalio import activity

from activities.recording import OrderSteps
from domain.order import Order
from domain.status import ShipmentStatus
from workflows.saga_inputs import CarrierAnswer, CarrierReport, OverdueInput


def carrier_answer(
    order: Order, report: CarrierReport, outcome: str, before: ShipmentStatus | None
) -> CarrierAnswer:
    detail = "" if outcome == "recorded" else f"the shipment was {before or 'not reported yet'}"
    return CarrierAnswer(order.order_id, report.event_id, outcome, _status(order), detail)


def _status(order: Order) -> str | None:
    """The shipment's status for its tracking workflow; "cancelled" (final) once the order was
    cancelled after completion, so the tracking ends."""
    if order.status == "cancelled":
        return "cancelled"
    status = order.shipment_status
    return None if status is None else str(status)


class ShipmentActivities(OrderSteps):
    """Each appends at most one event per report (a retry finds it in the stream)."""

    @activity.defn(name="record_carrier_event")
    async def record_carrier_event(self, report: CarrierReport) -> CarrierAnswer:
        order = await self._load(report.order_id)
        before = order.shipment_stage
        outcome = order.take_carrier_report(
            ShipmentStatus(report.status), report.event_id, report.occurred_at
        )
        await self._save(order)  # a retry after the append finds the event id: appends nothing
        return carrier_answer(order, report, outcome, before)

    @activity.defn(name="record_delivery_overdue")
    async def record_delivery_overdue(self, overdue: OverdueInput) -> str | None:
        order = await self._load(overdue.order_id)
        completed = order.status == "completed"  # a cancelled order's parcel is not awaited
        if completed and not order.delivery_overdue and not order.shipment_is_terminal:
            order.mark_delivery_overdue(overdue.due_at)
            await self._save(order)
        return _status(order)
