"""The saga with a versioned change swapped back without its patch, kept apart for the sandbox:
replaying a saga recorded through the new path with it must fail."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.contract import OrderFulfillmentInput, SagaOutcome
    from workflows.order_fulfillment import OrderFulfillmentWorkflow
    from workflows.saga_undo import SagaStopped


@workflow.defn(name="OrderFulfillmentWorkflow")
class CompensatesAsBeforeTheMoneyExactPatch(OrderFulfillmentWorkflow):
    """Undoes a stalled saga as it did before the patch (void, no resolution, no refund)."""

    @workflow.run
    async def run(self, order: OrderFulfillmentInput) -> SagaOutcome:
        return await super().run(order)

    async def _compensate(self, done: list[str], stop: SagaStopped) -> SagaOutcome:
        return await self._compensate_before_money_exact(done, stop)


@workflow.defn(name="OrderFulfillmentWorkflow")
class ReauthorizesAsBeforeThePartialCapturePatch(OrderFulfillmentWorkflow):
    """Voids and re-authorizes an accepted amendment whatever the gateway, without the patch."""

    @workflow.run
    async def run(self, order: OrderFulfillmentInput) -> SagaOutcome:
        return await super().run(order)

    def _amendment_payment_step(self) -> str:
        return "reauthorize_payment"


@workflow.defn(name="OrderFulfillmentWorkflow")
class TracksEveryDeliveryWithAWorkflow(OrderFulfillmentWorkflow):
    """Starts a tracking workflow for every completed order again, without the patch."""

    @workflow.run
    async def run(self, order: OrderFulfillmentInput) -> SagaOutcome:
        return await super().run(order)

    def _delivery_is_swept(self) -> bool:
        return False
