"""OrderCancellationWorkflow: a completed order cancelled before its parcel left — the shipment
cancelled with the carrier, the stock put back on hand, the capture refunded in full, the order
cancelled. Started with its `request` update, which records the cancel if the domain allows it."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.after_sale_contract import (
        CANCELLATION_WORKFLOW,
        QUERY_PROGRESS,
        UPDATE_REQUEST,
        UPDATE_RETRY_STEP,
    )
    from workflows.after_sale_inputs import (
        CancellationRequest,
        Decision,
        Progress,
    )
    from workflows.post_sale import PostSaleSteps
    from workflows.saga_inputs import SagaEventInput, SagaEventKind, StepInput

# In order: nothing may leave any more, the goods are back, the money is back.
STEPS = ("cancel_shipment", "release_inventory", "refund_payment")


@workflow.defn(name=CANCELLATION_WORKFLOW)
class OrderCancellationWorkflow(PostSaleSteps):
    @workflow.init
    def __init__(self, request: CancellationRequest) -> None:
        super().__init__()
        self._request = request

    @workflow.run
    async def run(self, request: CancellationRequest) -> str:
        if not (await self._decided()).accepted:
            return "refused"
        self._set_status("cancelling")
        order = StepInput(request.order_id)
        for step in STEPS:
            await self._step(step, order, request.timing)
        ended = SagaEventInput(request.order_id, SagaEventKind.CANCELLED, "cancel", request.reason)
        await self._step("record_saga_event", ended, request.timing)
        self._set_status("cancelled")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._status

    @workflow.update(name=UPDATE_REQUEST)
    async def request(self, request: CancellationRequest) -> Decision:
        return await self._decide("request_cancellation_after_sale", request)

    @workflow.update(name=UPDATE_RETRY_STEP)
    async def retry(self) -> str:
        return await self._retried()

    @retry.validator
    def _validate_retry(self) -> None:
        self._refuse_retry_unless_stalled()

    @workflow.query(name=QUERY_PROGRESS)
    def query_progress(self) -> Progress:
        return self.progress()
