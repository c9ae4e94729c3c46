"""OrderFulfillmentWorkflow: authorize → reserve → ship → confirm → capture → notify, compensated
in reverse when a step fails for a business reason or the customer cancels; a step whose retry
budget is spent stalls until an operator retries it, a cancel arrives, or the stall times out."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.inputs import (
        BUSINESS_ERRORS,
        AmendmentInput,
        SagaEventInput,
        SagaEventKind,
        StepInput,
        StepResult,
        UnrecordedStepInput,
    )
    from workflows.contract import (
        ACCEPT_AMENDMENT,
        AUTHORIZE_PAYMENT,
        CAPTURE_PAYMENT,
        CONFIRM_ORDER,
        CREATE_SHIPMENT,
        EXPIRE_AMENDMENT,
        PARTIALLY_OUT_OF_STOCK,
        PROPOSE_AMENDMENT,
        QUERY_SAGA,
        REAUTHORIZE_PAYMENT,
        RESERVE_INVENTORY,
        SEND_NOTIFICATIONS,
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
    from workflows.shipment_tracking import ShipmentTrackingWorkflow

ORDER_STATUS = SearchAttributeKey.for_keyword("OrderStatus")

# Each forward step, the status it leaves the order in, and the activity that undoes it.
FORWARD = (
    (AUTHORIZE_PAYMENT, "payment_authorized", "void_payment"),
    (RESERVE_INVENTORY, "inventory_reserved", "release_inventory"),
    (CREATE_SHIPMENT, "shipment_created", "cancel_shipment"),
    (CONFIRM_ORDER, "confirmed", None),
    (CAPTURE_PAYMENT, "payment_captured", None),
)
# Steps take milliseconds; a worker killed mid-step is noticed (and the step re-run) this soon.
STEP_TIMEOUT = timedelta(seconds=10)
UNDO_UNRECORDED_PATCH = "undo-unrecorded-step"
# Compensation must finish: it retries until the provider answers, however long that takes.
UNDO_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)
)
NOTIFY_RETRY = RetryPolicy(maximum_attempts=3, initial_interval=timedelta(seconds=1))


class _SagaStopped(Exception):
    """The forward path ends here; compensation follows."""

    def __init__(
        self, step: str, reason: str, cancelled: bool = False, unsettled: bool = False
    ) -> None:
        super().__init__(reason)
        self.step, self.reason, self.cancelled = step, reason, cancelled
        # The step stalled: it may have taken effect with its answer lost on the way back.
        self.unsettled = unsettled


@workflow.defn
class OrderFulfillmentWorkflow:
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

    @workflow.run
    async def run(self, order: OrderFulfillmentInput) -> SagaOutcome:
        self._order_id = order.order_id
        self._input = order
        done: list[str] = []
        try:
            for step, status_after, _ in FORWARD:
                self._stop_if_cancelled(step)
                self._capture_started = step == CAPTURE_PAYMENT
                await self._run_step(step)
                done.append(step)
                self._set_status(status_after)
        except _SagaStopped as stop:
            outcome = await self._compensate(done, stop)
        else:
            outcome = await self._notify_and_complete()
            if workflow.patched("shipment-lifecycle"):
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
        )

    @workflow.update(name=UPDATE_CANCEL)
    async def cancel(self, request: CancelRequest) -> str:
        self._cancel_reason = request.reason or "cancelled by the customer"
        return self._status

    @cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
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
        if (
            not self._awaiting_customer
            or self._amendment_accepted
            or self._cancel_reason is not None
        ):
            raise ApplicationError(
                f"no amendment is pending ({self._status})", type="NoAmendmentPending"
            )

    @workflow.update(name=UPDATE_RETRY)
    async def retry(self) -> str:
        """Resume the stalled step with a fresh retry budget; answers once it is running again."""
        self._retry_requested = True
        await workflow.wait_condition(lambda: self._status != "stalled")
        return self._current or ""

    @retry.validator
    def _validate_retry(self) -> None:
        if self._status != "stalled" or self._retry_requested:
            raise ApplicationError(f"the saga is not stalled ({self._status})", type="NotStalled")

    @workflow.signal(name=SIGNAL_RETRY)
    def retry_stalled_step(self) -> None:
        """The same as the retry update, for operators who send a signal from the Temporal UI."""
        if self._status == "stalled":
            self._retry_requested = True

    async def _run_step(self, step: str, activity: str | None = None) -> None:
        """Run `step`'s activity (or `activity`, counted as that step) to success, stalling
        while its retry budget is spent; a business failure raises _SagaStopped."""
        view = self._steps[step]
        view.status, view.started_at, self._current = "running", workflow.now(), step
        while True:
            try:
                result = await workflow.execute_activity(
                    activity or step,
                    StepInput(self._order_id, self._input.payment_token),
                    start_to_close_timeout=STEP_TIMEOUT,
                    retry_policy=self._step_retry(),
                    result_type=StepResult,
                )
            except ActivityError as error:
                await self._after_failed_attempts(view, error)
                continue
            view.attempts += result.attempt
            view.status, view.finished_at, view.last_error = "succeeded", workflow.now(), None
            return

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
            raise _SagaStopped(view.name, message)
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
            raise _SagaStopped(view.name, reason, unsettled=True) from None
        if self._cancel_reason is not None:
            view.status = "failed"
            raise _SagaStopped(view.name, self._cancel_reason, cancelled=True, unsettled=True)
        await self._record(SagaEventKind.RESUMED, view.name)
        view.status = "running"
        self._set_status(resume_status)

    def _may_offer_amendment(self) -> bool:
        """Once per order, and only for sagas that ran this code from the reserve step on."""
        return not self._amendment_offered and workflow.patched("partial-availability")

    async def _offer_amendment(self, view: StepView, available_skus: list[str]) -> None:
        """Offer the available lines; return once the customer accepted and the amended total
        is authorized, or raise _SagaStopped (cancelled) on a cancel or when nobody answers."""
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
            await self._record_amendment(
                EXPIRE_AMENDMENT, AmendmentInput(self._order_id, timeout_s=timeout_s)
            )
            self._awaiting_customer = False
            view.status = "failed"
            reason = f"the amended order was not accepted within {timeout_s} s"
            raise _SagaStopped(view.name, reason, cancelled=True) from None
        if self._cancel_reason is not None:
            self._awaiting_customer = False
            view.status = "failed"
            raise _SagaStopped(view.name, self._cancel_reason, cancelled=True)
        await self._record_amendment(ACCEPT_AMENDMENT, StepInput(self._order_id))
        self._set_status("payment_authorized")
        self._awaiting_customer = False
        await self._run_step(AUTHORIZE_PAYMENT, REAUTHORIZE_PAYMENT)
        view.status, self._current = "running", view.name

    async def _record_amendment(self, activity: str, arg: AmendmentInput | StepInput) -> None:
        await workflow.execute_activity(
            activity, arg, start_to_close_timeout=STEP_TIMEOUT, retry_policy=UNDO_RETRY
        )

    def _stop_if_cancelled(self, step: str) -> None:
        if self._cancel_reason is not None:
            raise _SagaStopped(step, self._cancel_reason, cancelled=True)

    async def _compensate(self, done: list[str], stop: _SagaStopped) -> SagaOutcome:
        if stop.cancelled:
            await self._record(SagaEventKind.CANCELLATION_REQUESTED, stop.step, stop.reason)
        elif self._status != "pending":
            await self._record(SagaEventKind.COMPENSATION_STARTED, stop.step, stop.reason)
        if self._status != "pending" or stop.cancelled:
            self._set_status("compensating")
        undo = {step: compensation for step, _, compensation in FORWARD}
        if (
            stop.unsettled
            and stop.step not in done
            and undo.get(stop.step)
            and workflow.patched(UNDO_UNRECORDED_PATCH)
        ):
            await self._undo_unrecorded(stop.step)
        for step in reversed(done):
            if undo[step]:
                await self._undo(step, str(undo[step]))
        final = SagaEventKind.CANCELLED if stop.cancelled else SagaEventKind.FAILED
        await self._record(final, stop.step, stop.reason)
        self._set_status("cancelled" if stop.cancelled else "failed")
        self._current = None
        return SagaOutcome(self._order_id, self._status, None if stop.cancelled else stop.reason)

    async def _undo_unrecorded(self, step: str) -> None:
        """Undo what the stalled step may have done unrecorded; retried until its provider
        answers, since an authorization or shipment nobody knows of must not stay behind."""
        self._current = "undo_unrecorded_step"
        await workflow.execute_activity(
            "undo_unrecorded_step",
            UnrecordedStepInput(self._order_id, step),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=UNDO_RETRY,
        )

    async def _undo(self, step: str, compensation: str) -> None:
        self._current = compensation
        await workflow.execute_activity(
            compensation,
            StepInput(self._order_id),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=UNDO_RETRY,
        )
        self._steps[step].status = "compensated"
        self._compensations += 1

    async def _notify_and_complete(self) -> SagaOutcome:
        view = self._steps[SEND_NOTIFICATIONS]
        view.status, view.started_at, self._current = "running", workflow.now(), SEND_NOTIFICATIONS
        try:
            result = await workflow.execute_activity(
                SEND_NOTIFICATIONS,
                StepInput(self._order_id),
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=NOTIFY_RETRY,
                result_type=StepResult,
            )
            view.attempts, view.status = result.attempt, "succeeded"
        except ActivityError as error:
            # Notifications never fail the order: it completes without them.
            view.attempts, view.status = NOTIFY_RETRY.maximum_attempts, "failed"
            view.last_error = str(error.cause or error)
            await self._record(SagaEventKind.COMPLETED, SEND_NOTIFICATIONS)
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

    async def _record(self, kind: SagaEventKind, step: str, reason: str = "") -> None:
        await workflow.execute_activity(
            "record_saga_event",
            SagaEventInput(self._order_id, kind, step, reason),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=UNDO_RETRY,
        )

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
        self._status = status
        workflow.upsert_search_attributes([ORDER_STATUS.value_set(status)])
