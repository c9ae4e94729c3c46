"""The saga's local steps changed without the local-steps patch, both ways, kept apart for the
sandbox: each must fail to replay the histories of the other path."""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows.contract import OrderFulfillmentInput, SagaOutcome
    from workflows.order_fulfillment import OrderFulfillmentWorkflow
    from workflows.saga_activities import execute


@workflow.defn(name="OrderFulfillmentWorkflow")
class RunsLocalStepsUnversioned(OrderFulfillmentWorkflow):
    """Runs the steps on our own stores as local activities, even for sagas begun before."""

    @workflow.run
    async def run(self, order: OrderFulfillmentInput) -> SagaOutcome:
        return await super().run(order)

    async def _execute(
        self,
        activity: str,
        arg: Any,
        retry_policy: RetryPolicy,
        summary: str | None = None,
        result_type: type | None = None,
    ) -> Any:
        return await execute(activity, arg, local=True, retry_policy=retry_policy,
                             summary=summary or self._summary(activity), result_type=result_type)  # fmt: skip


@workflow.defn(name="OrderFulfillmentWorkflow")
class RunsEveryStepRemotelyUnversioned(OrderFulfillmentWorkflow):
    """Runs every step as a remote activity again, even for sagas begun after the patch."""

    @workflow.run
    async def run(self, order: OrderFulfillmentInput) -> SagaOutcome:
        return await super().run(order)

    async def _execute(
        self,
        activity: str,
        arg: Any,
        retry_policy: RetryPolicy,
        summary: str | None = None,
        result_type: type | None = None,
    ) -> Any:
        return await execute(activity, arg, local=False, retry_policy=retry_policy,
                             summary=summary or self._summary(activity), result_type=result_type)  # fmt: skip
