"""ShipmentTrackingWorkflow: after a completed saga, follow the parcel until the carrier reports
a final status (delivered, lost, returned). A durable timer marks the delivery overdue when no
final report came in time; late reports still land. One workflow per order, `shipment-<id>`."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.contract import (
        FINAL_SHIPMENT_STATUSES,
        QUERY_SHIPMENT,
        RECORD_CARRIER_EVENT,
        RECORD_DELIVERY_OVERDUE,
        UPDATE_CARRIER_EVENT,
        ShipmentTrackingInput,
        ShipmentView,
    )
    from workflows.saga_inputs import CarrierAnswer, CarrierReport, OverdueInput

RECORD_TIMEOUT = timedelta(seconds=10)
# Recording must happen: it retries until the event store answers, however long that takes.
RECORD_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)
)


@workflow.defn
class ShipmentTrackingWorkflow:
    @workflow.init
    def __init__(self, tracking: ShipmentTrackingInput) -> None:
        # From the input here, not in run: an update-with-start's handler runs before run does.
        self._order_id, self._status = tracking.order_id, tracking.shipment_status
        self._overdue = tracking.overdue
        self._reports = 0
        self._since = tracking.since or workflow.now()
        self._due_at = self._since + timedelta(seconds=tracking.delivery_timeout_s)
        self._recording = asyncio.Lock()  # one recording at a time: each appends to one stream

    @workflow.run
    async def run(self, tracking: ShipmentTrackingInput) -> str | None:
        since = self._since
        while not self._ended:
            if self._reports >= tracking.reports_per_run or (
                workflow.info().is_continue_as_new_suggested()
            ):
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    replace(tracking, since=since, shipment_status=self._status,
                            overdue=self._overdue)
                )  # fmt: skip
            await self._wait_for_a_report()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._status

    @property
    def _ended(self) -> bool:
        return self._status in FINAL_SHIPMENT_STATUSES

    async def _wait_for_a_report(self) -> None:
        """Until the next report, or the delivery deadline if it has not passed yet."""
        seen = self._reports

        def reported() -> bool:
            return self._ended or self._reports > seen

        if self._overdue:
            await workflow.wait_condition(reported)
            return
        left = self._due_at - workflow.now()
        try:
            if left <= timedelta(0):
                raise TimeoutError
            await workflow.wait_condition(reported, timeout=left)
        except TimeoutError:
            await self._mark_overdue()

    async def _mark_overdue(self) -> None:
        async with self._recording:
            self._status = await workflow.execute_activity(
                RECORD_DELIVERY_OVERDUE,
                OverdueInput(self._order_id, self._due_at.isoformat()),
                start_to_close_timeout=RECORD_TIMEOUT,
                retry_policy=RECORD_RETRY,
                result_type=str,
            )
        self._overdue = True

    @workflow.update(name=UPDATE_CARRIER_EVENT)
    async def carrier_event(self, report: CarrierReport) -> CarrierAnswer:
        """Record one carrier report; the caller learns whether it moved the shipment."""
        async with self._recording:
            answer = await workflow.execute_activity(
                RECORD_CARRIER_EVENT,
                report,
                start_to_close_timeout=RECORD_TIMEOUT,
                retry_policy=RECORD_RETRY,
                result_type=CarrierAnswer,
            )
        self._status = answer.shipment_status
        self._reports += 1
        return answer

    @carrier_event.validator
    def _validate_carrier_event(self, report: CarrierReport) -> None:
        if report.order_id != self._order_id:
            raise ApplicationError(f"this shipment is order {self._order_id}'s", type="WrongOrder")

    @workflow.query(name=QUERY_SHIPMENT)
    def shipment(self) -> ShipmentView:
        return ShipmentView(
            self._order_id, self._status, self._overdue, self._due_at, self._reports
        )
