"""A refusal by the order aggregate is final: the same state gives the same answer on every
attempt, so retrying it would only wedge the saga (a business rule retried forever)."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from domain.errors import AmountMismatch, InvalidTransition
from eventstore.store import ConcurrencyError

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


class StreamConflictsRetried(Interceptor):
    """An activity whose append lost the race for the order's stream (ConcurrencyError: another
    writer appended first) runs again at once on fresh state, a few times, instead of spending
    the step's retry budget: concurrent refunds and returns of one order are normal. Every
    activity is idempotent (provider calls carry their idempotency key), so running it again
    takes no effect twice."""

    def __init__(self, attempts: int = 20) -> None:
        self._attempts = attempts

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Conflicts(next, self._attempts)


class _Conflicts(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, attempts: int) -> None:
        super().__init__(next)
        self._attempts = attempts

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        for attempt in range(1, self._attempts + 1):
            try:
                return await super().execute_activity(input)
            except ConcurrencyError:
                if attempt == self._attempts:
                    raise
                await asyncio.sleep(random.uniform(0, 0.005 * attempt))
        raise AssertionError("unreachable")
