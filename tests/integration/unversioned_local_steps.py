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


class _UnversionedSteps(OrderFulfillmentWorkflow):
    """Where the saga's steps run, chosen without asking `workflow.patched`."""

    local: bool

    async def _execute(
        self,
        activity: str,
        arg: Any,
        retry_policy: RetryPolicy,
        summary: str | None = None,
        result_type: type | None = None,
    ) -> Any:
        return await execute(activity, arg, local=self.local, retry_policy=retry_policy,
                             summary=summary or self._summary(activity), result_type=result_type)  # fmt: skip


@workflow.defn(name="OrderFulfillmentWorkflow")
class RunsLocalStepsUnversioned(_UnversionedSteps):
    """Runs the steps on our own stores as local activities, even for sagas begun before."""

    local = True

    @workflow.run
    async def run(self, order: OrderFulfillmentInput) -> SagaOutcome:
        return await super().run(order)


@workflow.defn(name="OrderFulfillmentWorkflow")
class RunsEveryStepRemotelyUnversioned(_UnversionedSteps):
    """Runs every step as a remote activity again, even for sagas begun after the patch."""

    local = False

    @workflow.run
    async def run(self, order: OrderFulfillmentInput) -> SagaOutcome:
        return await super().run(order)
