"""The saga with partial availability removed without a patch, kept apart for the sandbox."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.contract import OrderFulfillmentInput, SagaOutcome
    from workflows.order_fulfillment import OrderFulfillmentWorkflow


@workflow.defn(name="OrderFulfillmentWorkflow")
class FailsWhereItOffered(OrderFulfillmentWorkflow):
    """Fails on a short line where the recorded saga offered an amendment: the replay of a saga
    recorded through the amendment path must refuse it."""

    @workflow.run
    async def run(self, order: OrderFulfillmentInput) -> SagaOutcome:
        return await super().run(order)

    def _may_offer_amendment(self) -> bool:
        return False
