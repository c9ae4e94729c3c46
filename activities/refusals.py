"""A refusal by the order aggregate is final: the same state gives the same answer on every
attempt, so retrying it would only wedge the saga (a business rule retried forever)."""

from __future__ import annotations

from typing import Any

from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from domain.errors import AmountMismatch, InvalidTransition

REFUSALS = (InvalidTransition, AmountMismatch)


class DomainRefusalsAreFinal(Interceptor):
    """Turns InvalidTransition and AmountMismatch raised by any activity into a non-retryable
    ApplicationError of the same type name, so the workflow learns of it at once."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Refusals(next)


class _Refusals(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await super().execute_activity(input)
        except REFUSALS as refusal:
            raise ApplicationError(
                str(refusal), type=type(refusal).__name__, non_retryable=True
            ) from refusal
