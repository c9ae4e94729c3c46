"""What the post-sale workflows share: the request update that records and decides, and steps
retried like the saga's that stall — waiting for an operator's `retry` — when their retry budget
is spent. Deterministic workflow code only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.after_sale_contract import KEY_REUSED
    from workflows.after_sale_inputs import (
        Decision,
        Progress,
        StepTiming,
    )
    from workflows.saga_inputs import BUSINESS_ERRORS
    from workflows.saga_undo import STEP_TIMEOUT

# Deciding is recording one event: a database outage is outlasted, a refusal answered at once.
DECIDE_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=20)
# A request whose deciding never finished (the caller gave up) ends the workflow after this.
DECISION_WAIT = timedelta(minutes=10)


def refuse_another_body(first_digest: str, digest: str) -> None:
    """The `UPDATE_REQUEST` validator's rule for refunds and returns: a request under the same
    Idempotency-Key must carry the first request's body digest. Raises ApplicationError of type
    `KEY_REUSED` (the API answers 422 "Idempotency key reused")."""
    if digest != first_digest:
        raise ApplicationError(
            "this Idempotency-Key was already used with a different request", type=KEY_REUSED
        )


class PostSaleSteps:
    """Status, the running step and its last error (the `progress` query), and stalls."""

    def __init__(self) -> None:
        self._status = "requested"
        self._step_name: str | None = None
        self._last_error: str | None = None
        self._attempts = 0
        self._retry_requested = False
        self._decision: Decision | None = None

    def progress(self) -> Progress:
        return Progress(self._status, self._step_name, self._last_error, self._attempts)

    def _set_status(self, status: str) -> None:
        self._status = status

    async def _decide(self, activity: str, arg: Any) -> Decision:
        """Record the request in the order's stream; the domain's answer is the decision."""
        if self._decision is None:
            self._decision = await workflow.execute_activity(
                activity,
                arg,
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=DECIDE_RETRY,
                result_type=Decision,
            )
        return self._decision

    async def _decided(self) -> Decision:
        """The request's decision, once its update recorded it (refused: never decided)."""
        try:
            await workflow.wait_condition(lambda: self._decision is not None, timeout=DECISION_WAIT)
        except TimeoutError:
            return Decision(False, 503, "the request was never recorded")
        assert self._decision is not None
        return self._decision

    async def _step(
        self, activity: str, arg: Any, timing: StepTiming, result_type: type | None = None
    ) -> Any:
        """Run one step to success; when its retries are spent, stall until `retry` (None when
        the stall ended otherwise: see `_stall_over`). A business refusal (non-retryable) is
        raised to the workflow."""
        self._step_name, self._attempts = activity, 0
        while True:
            try:
                result = await workflow.execute_activity(
                    activity,
                    arg,
                    start_to_close_timeout=STEP_TIMEOUT,
                    retry_policy=RetryPolicy(
                        initial_interval=timedelta(milliseconds=timing.step_initial_retry_ms),
                        maximum_interval=timedelta(seconds=60),
                        maximum_attempts=timing.step_max_attempts,
                        non_retryable_error_types=BUSINESS_ERRORS,
                    ),
                    result_type=result_type,
                )
            except ActivityError as error:
                cause = error.cause
                if isinstance(cause, ApplicationError) and cause.non_retryable:
                    raise
                self._attempts += timing.step_max_attempts
                await self._stall(str(cause or error))
                if not self._retry_requested:  # the stall ended without a retry: not needed now
                    self._step_name, self._last_error = None, None
                    return None
                continue
            self._step_name, self._last_error = None, None
            return result

    async def _stall(self, error: str) -> None:
        before, self._last_error, self._retry_requested = self._status, error, False
        self._set_status("stalled")
        await workflow.wait_condition(self._stall_over)
        self._set_status(before)

    def _stall_over(self) -> bool:
        """When a stalled step runs again: an operator's retry (a workflow may add more)."""
        return self._retry_requested

    def _refuse_retry_unless_stalled(self) -> None:
        if self._status != "stalled" or self._retry_requested:
            raise ApplicationError(f"not stalled ({self._status})", type="NotStalled")

    async def _retried(self) -> str:
        self._retry_requested = True
        await workflow.wait_condition(lambda: self._status != "stalled")
        return self._step_name or ""
