"""RefundWorkflow: an operator's refund, set aside against what is left of the capture by its
`request` update, then carried out at the gateway (idempotency key: the request) and recorded."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.after_sale_contract import (
        QUERY_PROGRESS,
        REFUND_WORKFLOW,
        UPDATE_REQUEST,
        UPDATE_RETRY_STEP,
    )
    from workflows.after_sale_inputs import (
        Decision,
        Progress,
        RefundRequest,
    )
    from workflows.post_sale import PostSaleSteps, refuse_another_body


@workflow.defn(name=REFUND_WORKFLOW)
class RefundWorkflow(PostSaleSteps):
    @workflow.init
    def __init__(self, request: RefundRequest) -> None:
        super().__init__()
        self._request = request

    @workflow.run
    async def run(self, request: RefundRequest) -> str:
        if not (await self._decided()).accepted:
            return "refused"
        outcome: str = await self._step("issue_refund", request, request.timing, result_type=str)
        self._set_status(outcome)  # issued, or failed when the gateway refused it
        await workflow.wait_condition(workflow.all_handlers_finished)
        return outcome

    @workflow.update(name=UPDATE_REQUEST)
    async def request(self, request: RefundRequest) -> Decision:
        return await self._decide("request_refund", request)

    @request.validator
    def _validate_request(self, request: RefundRequest) -> None:
        refuse_another_body(self._request.digest, request.digest)

    @workflow.update(name=UPDATE_RETRY_STEP)
    async def retry(self) -> str:
        return await self._retried()

    @retry.validator
    def _validate_retry(self) -> None:
        self._refuse_retry_unless_stalled()

    @workflow.query(name=QUERY_PROGRESS)
    def query_progress(self) -> Progress:
        return self.progress()
