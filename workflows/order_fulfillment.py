"""OrderFulfillmentWorkflow: authorize → reserve → ship → confirm → capture → notify, compensated
in reverse when a step fails for a business reason or the customer cancels; a step whose retry
budget is spent stalls until an operator retries it, a cancel arrives, or the stall times out.
How it undoes itself (and resolves a stalled step whose answer was lost) is in `saga_undo`."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from domain import rules
    from domain.status import TERMINAL_STATUSES, OrderStatus
    from workflows.contract import (
        ACCEPT_AMENDMENT,
        ADJUST_PAYMENT_FOR_AMENDMENT,
        AUTHORIZE_PAYMENT,
        CAPTURE_PAYMENT,
        CONFIRM_ORDER,
        CREATE_SHIPMENT,
        EXPIRE_AMENDMENT,
        OPERATOR_STATUSES,
        PARTIALLY_OUT_OF_STOCK,
        PROPOSE_AMENDMENT,
        QUERY_SAGA,
        REAUTHORIZE_PAYMENT,
        RESERVE_INVENTORY,
        SEND_NOTIFICATIONS,
        SIGNAL_PAYMENT_UPDATED,
        SIGNAL_RETRY,
        STEPS,
        UPDATE_ACCEPT_AMENDMENT,
        UPDATE_CANCEL,
        UPDATE_RETRY,
        CancelRequest,
        OrderFulfillmentInput,
        SagaOutcome,
        SagaView,
        ShipmentTrackingInput,
        StepView,
        shipment_workflow_id,
    )
    from workflows.payment_action import PAYMENT_ACTION_PATCH, PaymentActionWait
    from workflows.saga_inputs import (
        BUSINESS_ERRORS,
        AmendmentInput,
        SagaEventKind,
        StepInput,
        StepResult,
    )
    from workflows.saga_undo import (
        MONEY_EXACT_PATCH,
        UNDO_RETRY,
        SagaStopped,
    )
    from workflows.shipment_tracking import ShipmentTrackingWorkflow

ORDER_STATUS = SearchAttributeKey.for_keyword("OrderStatus")
PARTIAL_CAPTURE_PATCH = "partial-capture"
DELIVERY_SWEEP_PATCH = "delivery-sweep"
OPERATOR_STATUSES_PATCH = "order-status-for-operators"
# Steps that touch only our own stores run as local activities (workflows/saga_activities.py).
LOCAL_STEPS_PATCH = "local-steps"

# Each forward step and the status it leaves the order in (what undoes it: saga_undo.UNDO).
FORWARD = (
    (AUTHORIZE_PAYMENT, "payment_authorized"),
    (RESERVE_INVENTORY, "inventory_reserved"),
    (CREATE_SHIPMENT, "shipment_created"),
    (CONFIRM_ORDER, "confirmed"),
    (CAPTURE_PAYMENT, "payment_captured"),
)
NOTIFY_RETRY = RetryPolicy(maximum_attempts=3, initial_interval=timedelta(seconds=1))


@workflow.defn
class OrderFulfillmentWorkflow(PaymentActionWait):
    def __init__(self) -> None:
        self._steps = {name: StepView(name) for name in STEPS}
        self._status = "pending"
        self._current: str | None = None
        self._cancel_reason: str | None = None
        self._retry_requested = False
        self._capture_started = False
        self._compensations = 0
        self._order_id = ""
        self._amendment_offered = False
        self._awaiting_customer = False
        self._amendment_accepted = False
        self._amendment_closed = False  # it expired: no acceptance any more
        self._money_exact = False  # set in run: sagas started before the patch keep old rules
        self._stopping = False  # the forward path ended: only undoing (or its resolution) is left
        self._completing = False  # the last step, which completes the order, has begun
        self._pending_cleanup: list[str] = []
        self._payment_updated = False  # the gateway told of a payment awaiting the customer
        # Since the delivery-sweep patch the delivery clock is a deadline the worker's sweep
        # watches, not a second workflow per order.
        self._delivery_swept = False
        self._all_statuses_listed = True  # set in run: before the patch every status is upserted
        self._local_steps = False  # set in run: before the patch every activity is remote

    @workflow.run
    async def run(self, order: OrderFulfillmentInput) -> SagaOutcome:
        self._money_exact = workflow.patched(MONEY_EXACT_PATCH)
        self._all_statuses_listed = not workflow.patched(OPERATOR_STATUSES_PATCH)
        self._local_steps = workflow.patched(LOCAL_STEPS_PATCH)
        self._order_id = order.order_id
        self._input = order
        done: list[str] = []
        try:
            for step, status_after in FORWARD:
                self._stop_if_cancelled(step)
                self._capture_started = step == CAPTURE_PAYMENT
                result = await self._run_step(step)
                if result.awaiting_payment and workflow.patched(PAYMENT_ACTION_PATCH):
                    await self._await_payment_action()
                done.append(step)
                self._set_status(status_after)
            if self._money_exact:
                self._stop_if_cancelled(SEND_NOTIFICATIONS)  # accepted during the capture
                self._completing = True
        except SagaStopped as stop:
            if self._money_exact:
                outcome = await self._compensate(done, stop)
            else:
                outcome = await self._compensate_before_money_exact(done, stop)
        else:
            outcome = await self._notify_and_complete()
        if (
            outcome.status == "completed"
            and not self._delivery_swept
            and workflow.patched("shipment-lifecycle")
        ):
            await self._start_shipment_tracking()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return outcome

    @workflow.query(name=QUERY_SAGA)
    def saga(self) -> SagaView:
        return SagaView(
            order_id=self._order_id,
            status=self._status,
            current_step=self._current,
            steps=list(self._steps.values()),
            compensations=self._compensations,
            pending_cleanup=list(self._pending_cleanup),
        )

    def _rule_status(self) -> OrderStatus:
        """The order's status as the domain's rules see it, from what this saga knows: the last
        step counts as completed from its start, the forward path's end as compensating."""
        status = OrderStatus(self._status)
        if status in TERMINAL_STATUSES:
            return status
        if self._completing:
            return OrderStatus.COMPLETED
        if self._stopping:
            return OrderStatus.COMPENSATING
        if self._awaiting_customer:
            return OrderStatus.AWAITING_CUSTOMER
        return status

    @workflow.update(name=UPDATE_CANCEL)
    async def cancel(self, request: CancelRequest) -> str:
        self._cancel_reason = request.reason or "cancelled by the customer"
        return self._status

    @cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        if not self._money_exact:
            return self._validate_cancel_before_money_exact()
        if self._completing and self._status != "completed":
            # Not a rule's no: a completed order may be cancelled, by its post-sale workflow.
            raise ApplicationError(
                "the order is being completed: repeat the cancel in a moment", type="Completing"
            )
        refusal = rules.cancellation_refusal(
            self._rule_status(), cancelling=self._cancel_reason is not None
        )
        if refusal is not None:
            raise ApplicationError(refusal, type="CancelRefused")

    def _validate_cancel_before_money_exact(self) -> None:
        if self._cancel_reason is not None or self._status in ("compensating", "cancelled"):
            raise ApplicationError("the order is already being cancelled", type="AlreadyCancelling")
        if self._status in ("completed", "failed") or (
            self._capture_started and self._status != "stalled"
        ):
            raise ApplicationError(
                f"the order can no longer be cancelled ({self._status})", type="TooLateToCancel"
            )

    @workflow.update(name=UPDATE_ACCEPT_AMENDMENT)
    async def accept_amendment(self) -> str:
        """Go on with the amended order; answers once the acceptance is recorded."""
        self._amendment_accepted = True
        await workflow.wait_condition(lambda: not self._awaiting_customer)
        return self._status

    @accept_amendment.validator
    def _validate_accept_amendment(self) -> None:
        # From the moment the offer is decided: the customer may see it stored before the
        # saga's own status says awaiting_customer.
        pending = (
            self._awaiting_customer and not self._amendment_accepted and not self._amendment_closed
        )
        refusal = rules.amendment_acceptance_refusal(
            self._rule_status(),
            amendment_pending=pending,
            cancelling=self._cancel_reason is not None,
        )
        if refusal is not None:
            raise ApplicationError(refusal, type="NoAmendmentPending")

    @workflow.update(name=UPDATE_RETRY)
    async def retry(self) -> str:
        """Resume the stalled step with a fresh retry budget; answers once it is running again."""
        self._retry_requested = True
        await workflow.wait_condition(lambda: self._status != "stalled")
        return self._current or ""

    @retry.validator
    def _validate_retry(self) -> None:
        refusal = rules.retry_refusal(
            self._rule_status(),
            retry_requested=self._retry_requested,
            cancelling=self._cancel_reason is not None,
        )
        if refusal is not None:
            raise ApplicationError(refusal, type="NotStalled")

    @workflow.signal(name=SIGNAL_PAYMENT_UPDATED)
    def payment_updated(self) -> None:
        """The gateway reported on a payment awaiting the customer (its webhook): check it now."""
        self._payment_updated = True

    @workflow.signal(name=SIGNAL_RETRY)
    def retry_stalled_step(self) -> None:
        """The same as the retry update, for operators who send a signal from the Temporal UI."""
        if self._status == "stalled":
            self._retry_requested = True

    async def _run_step(self, step: str, activity: str | None = None) -> StepResult:
        """Run `step`'s activity (or `activity`, counted as that step) to success, stalling
        while its retry budget is spent; a business failure raises SagaStopped."""
        view = self._steps[step]
        view.status, view.started_at, self._current = "running", workflow.now(), step
        while True:
            try:
                result = await self._execute(
                    activity or step,
                    StepInput(self._order_id, self._input.payment_token),
                    self._step_retry(),
                    result_type=StepResult,
                )
            except ActivityError as error:
                await self._after_failed_attempts(view, error)
                continue
            view.attempts += result.attempt
            view.status, view.finished_at, view.last_error = "succeeded", workflow.now(), None
            return result

    async def _after_failed_attempts(self, view: StepView, error: ActivityError) -> None:
        """A business failure stops the saga; a spent retry budget stalls it."""
        cause = error.cause
        message = str(cause.message if isinstance(cause, ApplicationError) else cause or error)
        view.last_error = message
        if isinstance(cause, ApplicationError) and cause.non_retryable:
            view.attempts += int(cause.details[0]) if cause.details else 1
            if cause.type == PARTIALLY_OUT_OF_STOCK and self._may_offer_amendment():
                await self._offer_amendment(view, [str(sku) for sku in cause.details[1]])
                return  # the step runs again, for the amended lines
            view.status, view.finished_at = "failed", workflow.now()
            raise SagaStopped(view.name, message)
        view.attempts += self._input.policy.step_max_attempts
        await self._stall(view, message)

    async def _stall(self, view: StepView, error: str) -> None:
        resume_status, self._retry_requested = self._status, False
        await self._record(SagaEventKind.STALLED, view.name, error)
        view.status = "stalled"
        self._set_status("stalled")
        try:
            await workflow.wait_condition(
                lambda: self._retry_requested or self._cancel_reason is not None,
                timeout=timedelta(seconds=self._input.policy.stall_timeout_s),
            )
        except TimeoutError:
            view.status = "failed"
            reason = f"stalled and not retried: {error}"
            raise SagaStopped(view.name, reason, unsettled=True) from None
        if self._cancel_reason is not None:
            view.status = "failed"
            raise SagaStopped(view.name, self._cancel_reason, cancelled=True, unsettled=True)
        await self._record(SagaEventKind.RESUMED, view.name)
        view.status = "running"
        self._set_status(resume_status)

    def _may_offer_amendment(self) -> bool:
        """Once per order, and only for sagas that ran this code from the reserve step on."""
        return not self._amendment_offered and workflow.patched("partial-availability")

    async def _offer_amendment(self, view: StepView, available_skus: list[str]) -> None:
        """Offer the available lines; return once the customer accepted and the amended total
        is authorized, or raise SagaStopped (cancelled) on a cancel or when nobody answers."""
        self._amendment_offered = self._awaiting_customer = True
        await self._record_amendment(
            PROPOSE_AMENDMENT, AmendmentInput(self._order_id, available_skus)
        )
        view.status = "awaiting_customer"
        self._set_status("awaiting_customer")
        timeout_s = self._input.policy.amendment_timeout_s
        try:
            await workflow.wait_condition(
                lambda: self._amendment_accepted or self._cancel_reason is not None,
                timeout=timedelta(seconds=timeout_s),
            )
        except TimeoutError:
            self._amendment_closed = True  # an acceptance arriving now is refused
            await self._record_amendment(
                EXPIRE_AMENDMENT, AmendmentInput(self._order_id, timeout_s=timeout_s)
            )
            self._awaiting_customer = False
            view.status = "failed"
            reason = f"the amended order was not accepted within {timeout_s} s"
            raise SagaStopped(view.name, reason, cancelled=True) from None
        # Both may have been accepted in one go: since the money-exact patch, the acceptance
        # (which came first) is recorded before the cancel undoes the amended order.
        accepted_first = self._money_exact and self._amendment_accepted
        if self._cancel_reason is not None and not accepted_first:
            self._awaiting_customer = False
            view.status = "failed"
            raise SagaStopped(view.name, self._cancel_reason, cancelled=True)
        await self._record_amendment(ACCEPT_AMENDMENT, StepInput(self._order_id))
        self._set_status("payment_authorized")
        self._awaiting_customer = False
        if accepted_first and self._cancel_reason is not None:
            view.status = "failed"
            raise SagaStopped(view.name, self._cancel_reason, cancelled=True)
        await self._run_step(AUTHORIZE_PAYMENT, self._amendment_payment_step())
        view.status, self._current = "running", view.name

    def _delivery_is_swept(self) -> bool:
        """Since the delivery-sweep patch, a deadline the worker's sweep watches replaces the
        tracking workflow each completed saga started before."""
        return workflow.patched(DELIVERY_SWEEP_PATCH)

    def _amendment_payment_step(self) -> str:
        """Since the partial-capture patch the gateway decides: a smaller capture later, or a
        void and a new authorization now (sagas that began before it always re-authorize)."""
        if workflow.patched(PARTIAL_CAPTURE_PATCH):
            return ADJUST_PAYMENT_FOR_AMENDMENT
        return REAUTHORIZE_PAYMENT

    async def _record_amendment(self, activity: str, arg: AmendmentInput | StepInput) -> None:
        await self._execute(activity, arg, UNDO_RETRY)

    def _stop_if_cancelled(self, step: str) -> None:
        if self._cancel_reason is not None:
            raise SagaStopped(step, self._cancel_reason, cancelled=True)

    async def _notify_and_complete(self) -> SagaOutcome:
        view = self._steps[SEND_NOTIFICATIONS]
        view.status, view.started_at, self._current = "running", workflow.now(), SEND_NOTIFICATIONS
        self._delivery_swept = self._delivery_is_swept()
        due_in = self._input.policy.delivery_timeout_s if self._delivery_swept else 0
        try:
            result = await self._execute(
                SEND_NOTIFICATIONS,
                StepInput(self._order_id, delivery_timeout_s=due_in),
                NOTIFY_RETRY,
                result_type=StepResult,
            )
            view.attempts, view.status = result.attempt, "succeeded"
        except ActivityError as error:
            # Notifications never fail the order: it completes without them.
            view.attempts, view.status = NOTIFY_RETRY.maximum_attempts, "failed"
            view.last_error = str(error.cause or error)
            await self._record(
                SagaEventKind.COMPLETED, SEND_NOTIFICATIONS, delivery_timeout_s=due_in
            )
        view.finished_at, self._current = workflow.now(), None
        self._set_status("completed")
        return SagaOutcome(self._order_id, "completed")

    async def _start_shipment_tracking(self) -> None:
        """The parcel's lifecycle outlives the saga: a workflow of its own, left running when the
        saga returns, so the saga's result still means "completed"."""
        try:
            await workflow.start_child_workflow(
                ShipmentTrackingWorkflow.run,
                ShipmentTrackingInput(self._order_id, self._input.policy.delivery_timeout_s),
                id=shipment_workflow_id(self._order_id),
                parent_close_policy=ParentClosePolicy.ABANDON,
            )
        except WorkflowAlreadyStartedError:
            pass  # the carrier's first report, racing this step, started it already

    def _step_retry(self) -> RetryPolicy:
        policy = self._input.policy
        return RetryPolicy(
            initial_interval=timedelta(milliseconds=policy.step_initial_retry_ms),
            backoff_coefficient=2.0,
            maximum_interval=timedelta(seconds=60),
            maximum_attempts=policy.step_max_attempts,
            non_retryable_error_types=BUSINESS_ERRORS,
        )

    def _set_status(self, status: str) -> None:
        """The saga's status; `OrderStatus` in visibility follows it into and out of the
        statuses operators list sagas by (each upsert is a history event and a visibility
        write), so it never shows one of those the saga has left."""
        leaving, self._status = self._status, status
        listed = status in OPERATOR_STATUSES or leaving in OPERATOR_STATUSES
        if listed or self._all_statuses_listed:
            workflow.upsert_search_attributes([ORDER_STATUS.value_set(status)])
