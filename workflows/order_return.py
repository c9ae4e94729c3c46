"""ReturnWorkflow (`return-<id>`): a customer's return, recorded by its `request` update; an
operator approves or rejects it; an approved return gets a return label from the carrier, then
waits, durably, for the goods — the operator's `receive`, or the carrier's `delivered` report on
the label's tracking number (the `return_delivered` signal), restocks them and refunds their
share — and one never received within its timeout (counted from the label) is closed without
refund. Searchable by `ReturnStatus`.

The label step sits behind `workflow.patched(RETURN_LABEL_PATCH)`: returns approved before it
wait for the goods without a label, as they did."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.after_sale_contract import (
        QUERY_PROGRESS,
        RETURN_WORKFLOW,
        SIGNAL_RETURN_DELIVERED,
        UPDATE_APPROVE_RETURN,
        UPDATE_RECEIVE_RETURN,
        UPDATE_REJECT_RETURN,
        UPDATE_REQUEST,
        UPDATE_RETRY_STEP,
    )
    from workflows.after_sale_inputs import (
        Decision,
        Progress,
        RefundRequest,
        ReturnReceipt,
        ReturnRequest,
        ReturnReview,
        ReturnStep,
    )
    from workflows.post_sale import DECIDE_RETRY, PostSaleSteps, refuse_another_body
    from workflows.saga_undo import STEP_TIMEOUT

RETURN_STATUS = SearchAttributeKey.for_keyword("ReturnStatus")
RETURN_LABEL_PATCH = "return-label"
CREATE_RETURN_LABEL = "create_return_label"


@workflow.defn(name=RETURN_WORKFLOW)
class ReturnWorkflow(PostSaleSteps):
    @workflow.init
    def __init__(self, request: ReturnRequest) -> None:
        super().__init__()
        self._request = request
        self._reviewed: str | None = None  # "approved" or "rejected", once recorded
        self._received = False

    @workflow.run
    async def run(self, request: ReturnRequest) -> str:
        if not (await self._decided()).accepted:
            return "refused"
        self._set_status("requested")
        await workflow.wait_condition(lambda: self._reviewed is not None)
        if self._reviewed == "rejected":
            return await self._end("rejected")
        self._set_status("approved")
        if self._asks_for_a_label():
            step = ReturnStep(request.order_id, request.return_id)
            await self._step(CREATE_RETURN_LABEL, step, request.timing, str)
        try:
            await workflow.wait_condition(
                lambda: self._received, timeout=timedelta(seconds=request.receive_timeout_s)
            )
        except TimeoutError:
            if not self._received:
                reason = f"not received within {request.receive_timeout_s} s"
                step = ReturnStep(request.order_id, request.return_id, reason)
                closed = await self._step("close_return", step, request.timing, Decision)
                if closed.accepted:
                    return await self._end("closed")
        await workflow.wait_condition(lambda: self._received)
        return await self._refund(request)

    def _asks_for_a_label(self) -> bool:
        return workflow.patched(RETURN_LABEL_PATCH)

    async def _refund(self, request: ReturnRequest) -> str:
        self._set_status("received")
        step = ReturnStep(request.order_id, request.return_id)
        await self._step("restock_return", step, request.timing)
        refund: RefundRequest = await self._step(
            "request_return_refund", step, request.timing, RefundRequest
        )
        if refund.amount > 0:
            await self._step("issue_refund", refund, request.timing, str)
        return await self._end("refunded")

    async def _end(self, status: str) -> str:
        self._set_status(status)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return status

    def _set_status(self, status: str) -> None:
        super()._set_status(status)
        workflow.upsert_search_attributes([RETURN_STATUS.value_set(status)])

    @workflow.update(name=UPDATE_REQUEST)
    async def request(self, request: ReturnRequest) -> Decision:
        return await self._decide("request_return", request)

    @request.validator
    def _validate_request(self, request: ReturnRequest) -> None:
        refuse_another_body(self._request.digest, request.digest)

    @workflow.update(name=UPDATE_APPROVE_RETURN)
    async def approve(self) -> Decision:
        return await self._review("approve_return", ReturnReview(), "approved")

    @workflow.update(name=UPDATE_REJECT_RETURN)
    async def reject(self, review: ReturnReview) -> Decision:
        return await self._review("reject_return", review, "rejected")

    async def _review(self, activity: str, review: ReturnReview, outcome: str) -> Decision:
        step = ReturnStep(self._request.order_id, self._request.return_id, review.reason)
        decision = await self._record(activity, step)
        if decision.accepted:
            self._reviewed = outcome
        return decision

    @approve.validator
    def _validate_approve(self) -> None:
        self._require_status("requested")

    @reject.validator
    def _validate_reject(self, review: ReturnReview) -> None:
        self._require_status("requested")

    @workflow.update(name=UPDATE_RECEIVE_RETURN)
    async def receive(self, receipt: ReturnReceipt) -> Decision:
        return await self._receive(receipt)

    async def _receive(self, receipt: ReturnReceipt) -> Decision:
        items = receipt.items or None  # none listed: every line the return asked for
        step = ReturnStep(self._request.order_id, self._request.return_id, items=items)
        decision = await self._record("receive_return", step)
        if decision.accepted:
            self._received = True
        return decision

    @receive.validator
    def _validate_receive(self, receipt: ReturnReceipt) -> None:
        if not self._awaits_goods():
            self._require_status("approved")

    @workflow.signal(name=SIGNAL_RETURN_DELIVERED)
    async def delivered(self) -> None:
        """The carrier reported the return parcel delivered to the shop: all of it came back."""
        if self._awaits_goods():
            await self._receive(ReturnReceipt())

    def _awaits_goods(self) -> bool:
        """Approved and not received yet; also while its label is made, or stalls: goods that
        came back without a label are received all the same."""
        labelling = self._status == "stalled" and self._step_name == CREATE_RETURN_LABEL
        return (self._status == "approved" or labelling) and not self._received

    def _stall_over(self) -> bool:
        # A label no longer matters once the goods are back: the stalled step ends by itself.
        if self._received and self._step_name == CREATE_RETURN_LABEL:
            return True
        return super()._stall_over()

    async def _record(self, activity: str, step: ReturnStep) -> Decision:
        decision: Decision = await workflow.execute_activity(
            activity,
            step,
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=DECIDE_RETRY,
            result_type=Decision,
        )
        return decision

    def _require_status(self, wanted: str) -> None:
        if self._status != wanted or (wanted == "requested" and self._reviewed):
            raise ApplicationError(f"the return is {self._status}, not {wanted}", type="NotNow")

    @workflow.update(name=UPDATE_RETRY_STEP)
    async def retry(self) -> str:
        return await self._retried()

    @retry.validator
    def _validate_retry(self) -> None:
        self._refuse_retry_unless_stalled()

    @workflow.query(name=QUERY_PROGRESS)
    def query_progress(self) -> Progress:
        return self.progress()
