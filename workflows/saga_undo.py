"""How the order saga undoes itself: after a business failure, a customer's cancel or a stall
that nobody retried. Mixed into OrderFulfillmentWorkflow; deterministic workflow code only.

Since the money-exact patch (`MONEY_EXACT_PATCH`):

- a stalled step that may have taken effect is resolved *forward* first: a capture is looked up
  at the gateway by its idempotency key; if it happened it is recorded, and then either the order
  completes (a stall timeout) or the capture is refunded in full (a cancel);
- the order ends (`cancelled`, `failed`) as soon as nothing can stay captured; undoing that waits
  on a provider (a void, a shipment cancel, a lost step's lookup) is tried a few times and then
  deferred: `CleanupDeferred`, the saga's `pending_cleanup`, retried until done, `CleanupCompleted`.

Sagas started before the patch replay and finish with the code they started with
(`_compensate_before_money_exact`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.contract import (
        AUTHORIZE_PAYMENT,
        CAPTURE_PAYMENT,
        CONFIRM_ORDER,
        CREATE_SHIPMENT,
        REFUND_PAYMENT,
        RESERVE_INVENTORY,
        RESOLVE_CAPTURE,
        UNDO_UNRECORDED_STEP,
        OrderFulfillmentInput,
        SagaOutcome,
        StepView,
    )
    from workflows.saga_activities import RECORD_SAGA_EVENT, RELEASE_INVENTORY, execute
    from workflows.saga_activities import STEP_TIMEOUT as STEP_TIMEOUT  # re-exported
    from workflows.saga_inputs import (
        SagaEventInput,
        SagaEventKind,
        StepInput,
        StepResult,
        UnrecordedStepInput,
    )
    from workflows.ui_contract import activity_summary

UNDO_UNRECORDED_PATCH = "undo-unrecorded-step"
MONEY_EXACT_PATCH = "money-exact"
# Compensation must finish: it retries until the provider answers, however long that takes.
UNDO_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)
)
# What undoes each forward step (before the money-exact patch, a capture undid nothing).
UNDO: dict[str, str | None] = {
    AUTHORIZE_PAYMENT: "void_payment",
    RESERVE_INVENTORY: RELEASE_INVENTORY,
    CREATE_SHIPMENT: "cancel_shipment",
    CONFIRM_ORDER: None,
    CAPTURE_PAYMENT: REFUND_PAYMENT,
}
# Steps whose effect may exist unrecorded after a stall, and can be undone without an answer.
UNDO_IF_UNRECORDED = (AUTHORIZE_PAYMENT, RESERVE_INVENTORY, CREATE_SHIPMENT)


class SagaStopped(Exception):
    """The forward path ends here; compensation follows."""

    def __init__(
        self,
        step: str,
        reason: str,
        cancelled: bool = False,
        unsettled: bool = False,
        effect_pending: bool = False,
    ) -> None:
        super().__init__(reason)
        self.step, self.reason, self.cancelled = step, reason, cancelled
        # The step stalled: it may have taken effect with its answer lost on the way back.
        self.unsettled = unsettled
        # The step's effect exists though the step did not finish (a payment awaiting the
        # customer): it is undone like a finished step's.
        self.effect_pending = effect_pending


@dataclass
class _Cleanup:
    """Undoing deferred past the order's end: `step` is undone by running `activity`."""

    step: str
    activity: str
    arg: Any


class SagaUndo:
    """Compensation, in-doubt resolution and deferred cleanup of OrderFulfillmentWorkflow."""

    _order_id: str
    _input: OrderFulfillmentInput
    _status: str
    _current: str | None
    _steps: dict[str, StepView]
    _compensations: int
    _pending_cleanup: list[str]
    _stopping: bool
    _local_steps: bool  # set in run: the saga passed the local-steps patch

    def _set_status(self, status: str) -> None:
        raise NotImplementedError

    def _summary(self, activity: str, what: str = "") -> str:
        """The activity's line in the Temporal UI: "capture 25.98 USD", "void the authorization"."""
        order = self._input
        return activity_summary(activity, order.total, order.currency, what)

    async def _execute(
        self,
        activity: str,
        arg: Any,
        retry_policy: RetryPolicy,
        summary: str | None = None,
        result_type: type | None = None,
    ) -> Any:
        """Run one of the saga's activities to its result: local when it touches only our own
        stores and the saga passed the local-steps patch (`saga_activities`), remote otherwise.
        Raises ActivityError when its retry policy gives up or its error is non-retryable."""
        return await execute(
            activity,
            arg,
            local=self._local_steps,
            retry_policy=retry_policy,
            summary=summary or self._summary(activity),
            result_type=result_type,
        )

    async def _notify_and_complete(self) -> SagaOutcome:
        raise NotImplementedError

    # Since the money-exact patch.

    async def _compensate(self, done: list[str], stop: SagaStopped) -> SagaOutcome:
        self._stopping = True
        if stop.effect_pending and stop.step not in done:
            done.append(stop.step)
        in_doubt = stop.unsettled and stop.step not in done
        if in_doubt and stop.step == CAPTURE_PAYMENT and not stop.cancelled:
            if await self._resolve_capture():
                return await self._finish_found_capture()
        await self._record_stop(stop)
        if in_doubt and stop.step == CAPTURE_PAYMENT and await self._resolve_capture():
            done.append(CAPTURE_PAYMENT)  # the customer cancelled: it is refunded below
        deferred: list[_Cleanup] = []
        if in_doubt and stop.step in UNDO_IF_UNRECORDED:
            lookup = _Cleanup(
                stop.step, UNDO_UNRECORDED_STEP, UnrecordedStepInput(self._order_id, stop.step)
            )
            if not await self._attempt(lookup):
                deferred.append(lookup)
        for step in reversed(done):
            compensation = UNDO[step]
            if compensation is None or (step == AUTHORIZE_PAYMENT and CAPTURE_PAYMENT in done):
                continue  # a captured authorization is refunded, not voided
            if step == CAPTURE_PAYMENT:
                await self._undo(step, compensation)  # money: back before the order ends
            elif not await self._attempt(_Cleanup(step, compensation, StepInput(self._order_id))):
                deferred.append(_Cleanup(step, compensation, StepInput(self._order_id)))
        if deferred:
            self._pending_cleanup = [cleanup.step for cleanup in deferred]
            steps = list(self._pending_cleanup)
            await self._record(SagaEventKind.CLEANUP_DEFERRED, stop.step, steps=steps)
        outcome = await self._record_end(stop)
        if deferred:
            await self._clean_up(deferred)
        return outcome

    async def _record_stop(self, stop: SagaStopped) -> None:
        if stop.cancelled:
            await self._record(SagaEventKind.CANCELLATION_REQUESTED, stop.step, stop.reason)
        elif self._status != "pending":
            await self._record(SagaEventKind.COMPENSATION_STARTED, stop.step, stop.reason)
        if self._status != "pending" or stop.cancelled:
            self._set_status("compensating")

    async def _record_end(self, stop: SagaStopped) -> SagaOutcome:
        final = SagaEventKind.CANCELLED if stop.cancelled else SagaEventKind.FAILED
        await self._record(final, stop.step, stop.reason)
        self._set_status("cancelled" if stop.cancelled else "failed")
        self._current = None
        return SagaOutcome(self._order_id, self._status, None if stop.cancelled else stop.reason)

    async def _resolve_capture(self) -> bool:
        """Whether the stalled capture happened, asked of the gateway until it answers."""
        self._current = RESOLVE_CAPTURE
        captured: bool = await self._execute(
            RESOLVE_CAPTURE, StepInput(self._order_id), UNDO_RETRY, result_type=bool
        )
        return captured

    async def _finish_found_capture(self) -> SagaOutcome:
        """The stall timed out but the capture had happened: the order is completed (the capture
        step runs once more to commit the sold stock; it takes no money twice)."""
        view = self._steps[CAPTURE_PAYMENT]
        self._current = CAPTURE_PAYMENT
        result = await self._execute(
            CAPTURE_PAYMENT,
            StepInput(self._order_id, self._input.payment_token),
            UNDO_RETRY,
            result_type=StepResult,
        )
        view.attempts += result.attempt
        view.status, view.finished_at, view.last_error = "succeeded", workflow.now(), None
        self._set_status("payment_captured")
        return await self._notify_and_complete()

    def _prompt_retry(self) -> RetryPolicy:
        policy = self._input.policy
        return RetryPolicy(
            initial_interval=timedelta(milliseconds=policy.step_initial_retry_ms),
            maximum_interval=timedelta(seconds=10),
            maximum_attempts=policy.cleanup_prompt_attempts,
        )

    async def _attempt(self, cleanup: _Cleanup) -> bool:
        """Undo promptly if the provider answers within a few tries; False defers it."""
        self._current = cleanup.activity
        try:
            await self._execute(cleanup.activity, cleanup.arg, self._prompt_retry())
        except ActivityError:
            return False
        self._undone(cleanup.step)
        return True

    async def _clean_up(self, deferred: list[_Cleanup]) -> None:
        """After the order ended: undo what was deferred, retried until each provider answers."""
        for cleanup in deferred:
            self._current = cleanup.activity
            await self._execute(cleanup.activity, cleanup.arg, UNDO_RETRY)
            self._undone(cleanup.step)
            self._pending_cleanup.remove(cleanup.step)
        await self._record(SagaEventKind.CLEANUP_COMPLETED, "cleanup")
        self._current = None

    def _undone(self, step: str) -> None:
        self._steps[step].status = "compensated"
        self._compensations += 1

    # Before the money-exact patch: kept so that sagas started earlier finish as they began.

    async def _compensate_before_money_exact(
        self, done: list[str], stop: SagaStopped
    ) -> SagaOutcome:
        await self._record_stop(stop)
        if (
            stop.unsettled
            and stop.step not in done
            and stop.step in UNDO_IF_UNRECORDED
            and workflow.patched(UNDO_UNRECORDED_PATCH)
        ):
            await self._undo_unrecorded(stop.step)
        for step in reversed(done):
            compensation = UNDO[step]
            if compensation is not None and step != CAPTURE_PAYMENT:
                await self._undo(step, compensation)
        return await self._record_end(stop)

    async def _undo_unrecorded(self, step: str) -> None:
        """Undo what the stalled step may have done unrecorded; retried until its provider
        answers, since an authorization or shipment nobody knows of must not stay behind."""
        self._current = "undo_unrecorded_step"
        await self._execute(
            UNDO_UNRECORDED_STEP, UnrecordedStepInput(self._order_id, step), UNDO_RETRY
        )

    async def _undo(self, step: str, compensation: str) -> None:
        self._current = compensation
        await self._execute(compensation, StepInput(self._order_id), UNDO_RETRY)
        self._undone(step)

    async def _record(
        self,
        kind: SagaEventKind,
        step: str,
        reason: str = "",
        steps: list[str] | None = None,
        delivery_timeout_s: int = 0,
    ) -> None:
        """Record a change of the saga's course. The order refusing it means this code and the
        domain disagree (a bug): the workflow task fails, visibly, until a fix is deployed."""
        try:
            await self._execute(
                RECORD_SAGA_EVENT,
                SagaEventInput(self._order_id, kind, step, reason, steps or [], delivery_timeout_s),
                UNDO_RETRY,
                summary=self._summary(RECORD_SAGA_EVENT, kind),
            )
        except ActivityError as error:
            cause = error.cause
            if isinstance(cause, ApplicationError) and cause.non_retryable:
                raise RuntimeError(f"the order refused {kind}: {cause.message}") from error
            raise
