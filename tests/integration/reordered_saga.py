"""A careless reordering of the saga, kept apart so the workflow sandbox imports nothing else."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.contract import OrderFulfillmentInput


@workflow.defn(name="OrderFulfillmentWorkflow")
class ReservesBeforeAuthorizing:
    """Reserves stock before authorizing payment: what the replay test exists to catch."""

    @workflow.run
    async def run(self, order: OrderFulfillmentInput) -> None:
        await workflow.execute_activity(
            "reserve_inventory", order, start_to_close_timeout=timedelta(seconds=5)
        )
