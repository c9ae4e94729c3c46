"""Recording a completed order's shipment lifecycle: carrier reports and overdue deliveries."""

from __future__ import annotations

from temporalio import activity

from activities.inputs import CarrierAnswer, CarrierReport, OverdueInput
from activities.recording import OrderSteps
from domain.errors import InvalidTransition
from domain.order import Order
from domain.status import ShipmentStatus


def _status(order: Order) -> str | None:
    status = order.shipment_status
    return None if status is None else str(status)


class ShipmentActivities(OrderSteps):
    """Each appends at most one event per report (a retry finds it in the stream)."""

    @activity.defn(name="record_carrier_event")
    async def record_carrier_event(self, report: CarrierReport) -> CarrierAnswer:
        order = await self._load(report.order_id)
        status = ShipmentStatus(report.status)
        outcome, detail = "recorded", ""
        if report.event_id in order.carrier_event_ids:
            pass  # an earlier attempt appended it
        elif order.is_stale_shipment_report(status):
            outcome, detail = "ignored", f"the shipment is already {order.shipment_stage}"
        else:
            try:
                order.track_shipment(status, report.event_id, report.occurred_at)
            except InvalidTransition as refused:
                outcome, detail = "refused", str(refused)
            else:
                await self._save(order)
        return CarrierAnswer(order.order_id, report.event_id, outcome, _status(order), detail)

    @activity.defn(name="record_delivery_overdue")
    async def record_delivery_overdue(self, overdue: OverdueInput) -> str | None:
        order = await self._load(overdue.order_id)
        if not order.delivery_overdue and not order.shipment_is_terminal:
            order.mark_delivery_overdue(overdue.due_at)
            await self._save(order)
        return _status(order)
