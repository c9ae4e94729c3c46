"""The saga's `OrderStatus` upserts changed without the operator-statuses patch, both ways,
kept apart for the sandbox: each must fail to replay the histories of the other path."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.contract import OPERATOR_STATUSES, OrderFulfillmentInput, SagaOutcome
    from workflows.order_fulfillment import ORDER_STATUS, OrderFulfillmentWorkflow


@workflow.defn(name="OrderFulfillmentWorkflow")
class UpsertsEveryStatusUnversioned(OrderFulfillmentWorkflow):
    """Upserts `OrderStatus` at every status change, as before the patch, whatever the saga."""

    @workflow.run
    async def run(self, order: OrderFulfillmentInput) -> SagaOutcome:
        return await super().run(order)

    def _set_status(self, status: str) -> None:
        self._status = status
        workflow.upsert_search_attributes([ORDER_STATUS.value_set(status)])


@workflow.defn(name="OrderFulfillmentWorkflow")
class UpsertsOperatorStatusesUnversioned(OrderFulfillmentWorkflow):
    """Upserts only into and out of the operator statuses, even for sagas begun before."""

    @workflow.run
    async def run(self, order: OrderFulfillmentInput) -> SagaOutcome:
        return await super().run(order)

    def _set_status(self, status: str) -> None:
        leaving, self._status = self._status, status
        if status in OPERATOR_STATUSES or leaving in OPERATOR_STATUSES:
            workflow.upsert_search_attributes([ORDER_STATUS.value_set(status)])
