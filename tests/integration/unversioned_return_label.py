"""The return workflow with its label step added without a patch, kept apart for the sandbox."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.after_sale_inputs import ReturnRequest
    from workflows.order_return import ReturnWorkflow


@workflow.defn(name="ReturnWorkflow")
class LabelsEveryReturn(ReturnWorkflow):
    """Asks the carrier for a label at every approval, also on replay of a return approved
    before labels existed: that replay must refuse it."""

    @workflow.run
    async def run(self, request: ReturnRequest) -> str:
        return await super().run(request)

    def _asks_for_a_label(self) -> bool:
        return True
