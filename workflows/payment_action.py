"""Waiting for the customer to complete a payment action (3-D Secure, SCA), mixed into
OrderFulfillmentWorkflow. Deterministic workflow code only.

The gateway's webhook (or the sandbox control) signals `payment_updated`; since a webhook can be
lost, the saga also re-checks the gateway on a durable timer, from `payment_recheck_s` seconds
doubling up to five minutes. No outcome within `payment_action_timeout_s` cancels the pending
authorization and the order; a customer cancel meanwhile works as anywhere else.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from workflows.contract import (
        AUTHORIZE_PAYMENT,
        CHECK_PAYMENT_ACTION,
        EXPIRE_PAYMENT_ACTION,
    )
    from workflows.saga_inputs import ExpiryInput, PaymentActionOutcome, StepInput
    from workflows.saga_undo import UNDO_RETRY, SagaStopped, SagaUndo

PAYMENT_ACTION_PATCH = "payment-action"
LONGEST_RECHECK = timedelta(minutes=5)
# A gateway that does not answer a re-check is asked again at the next one.
CHECK_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3)


class PaymentActionWait(SagaUndo):
    """The `awaiting_payment` stretch of the saga, between the authorize step and the next."""

    _cancel_reason: str | None
    _payment_updated: bool

    async def _await_payment_action(self) -> None:
        """Return once the gateway authorized; raise SagaStopped when the customer failed the
        action (failed), cancelled, or did not act in time (cancelled)."""
        view, policy = self._steps[AUTHORIZE_PAYMENT], self._input.policy
        view.status = "awaiting_customer"
        self._set_status("awaiting_payment")
        deadline = workflow.now() + timedelta(seconds=policy.payment_action_timeout_s)
        recheck = timedelta(seconds=policy.payment_recheck_s)
        while True:
            await self._until_updated_or(min(recheck, deadline - workflow.now()))
            if self._cancel_reason is not None:
                raise SagaStopped(
                    AUTHORIZE_PAYMENT, self._cancel_reason, cancelled=True, effect_pending=True
                )
            self._payment_updated = False
            outcome = await self._check_payment()
            if outcome.status == "authorized":
                view.status, view.finished_at = "succeeded", workflow.now()
                self._set_status("payment_authorized")
                return
            if outcome.status == "failed":
                view.status, view.last_error = "failed", outcome.reason
                raise SagaStopped(AUTHORIZE_PAYMENT, outcome.reason, effect_pending=True)
            if workflow.now() >= deadline:
                await self._expire(policy.payment_action_timeout_s)
            recheck = min(recheck * 2, LONGEST_RECHECK)

    async def _until_updated_or(self, longest: timedelta) -> None:
        if longest <= timedelta(0):
            return
        try:
            await workflow.wait_condition(
                lambda: self._payment_updated or self._cancel_reason is not None, timeout=longest
            )
        except TimeoutError:
            pass

    async def _check_payment(self) -> PaymentActionOutcome:
        self._current = CHECK_PAYMENT_ACTION
        try:
            outcome: PaymentActionOutcome = await self._execute(
                CHECK_PAYMENT_ACTION,
                StepInput(self._order_id),
                CHECK_RETRY,
                result_type=PaymentActionOutcome,
            )
        except ActivityError as error:
            workflow.logger.warning("payment check failed, asking again later: %s", error.cause)
            return PaymentActionOutcome("requires_action")
        finally:
            self._current = AUTHORIZE_PAYMENT
        return outcome

    async def _expire(self, timeout_s: int) -> None:
        await self._execute(
            EXPIRE_PAYMENT_ACTION, ExpiryInput(self._order_id, timeout_s), UNDO_RETRY
        )
        self._steps[AUTHORIZE_PAYMENT].status = "failed"
        reason = f"the payment was not completed within {timeout_s} s"
        raise SagaStopped(AUTHORIZE_PAYMENT, reason, cancelled=True, effect_pending=True)
