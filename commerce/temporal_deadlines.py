"""A deadline on every Temporal client call that answers at once (start, signal, query, update,
describe, list...), so an unreachable or hung frontend fails the call instead of hanging it.

The SDK takes `rpc_timeout` per call and has no client-wide default; this client interceptor
fills it in where the caller left it unset. Long polls are left alone: waiting for a workflow's
result (`fetch_workflow_history_events`) and for an update's outcome are meant to wait, and the
API bounds those itself.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypeVar

from temporalio.client import (
    CancelWorkflowInput,
    CountWorkflowsInput,
    DescribeWorkflowInput,
    Interceptor,
    ListWorkflowsInput,
    OutboundInterceptor,
    QueryWorkflowInput,
    SignalWorkflowInput,
    StartWorkflowInput,
    StartWorkflowUpdateInput,
    StartWorkflowUpdateWithStartInput,
    TerminateWorkflowInput,
    WorkflowExecutionAsyncIterator,
    WorkflowHandle,
    WorkflowUpdateHandle,
)

_Input = TypeVar("_Input")


class RpcDeadlines(Interceptor):
    """Client interceptor: `rpc_timeout = timeout_s` on each call that does not set one."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout = timedelta(seconds=timeout_s)

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _Deadlines(next, self.timeout)


class _Deadlines(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, timeout: timedelta) -> None:
        super().__init__(next)
        self._timeout = timeout

    def _bounded(self, input: _Input) -> _Input:
        if getattr(input, "rpc_timeout", None) is None:
            input.rpc_timeout = self._timeout  # type: ignore[attr-defined]
        return input

    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        return await super().start_workflow(self._bounded(input))

    async def cancel_workflow(self, input: CancelWorkflowInput) -> None:
        await super().cancel_workflow(self._bounded(input))

    async def describe_workflow(self, input: DescribeWorkflowInput) -> Any:
        return await super().describe_workflow(self._bounded(input))

    def list_workflows(self, input: ListWorkflowsInput) -> WorkflowExecutionAsyncIterator:
        return super().list_workflows(self._bounded(input))

    async def count_workflows(self, input: CountWorkflowsInput) -> Any:
        return await super().count_workflows(self._bounded(input))

    async def query_workflow(self, input: QueryWorkflowInput) -> Any:
        return await super().query_workflow(self._bounded(input))

    async def signal_workflow(self, input: SignalWorkflowInput) -> None:
        await super().signal_workflow(self._bounded(input))

    async def terminate_workflow(self, input: TerminateWorkflowInput) -> None:
        await super().terminate_workflow(self._bounded(input))

    async def start_workflow_update(
        self, input: StartWorkflowUpdateInput
    ) -> WorkflowUpdateHandle[Any]:
        return await super().start_workflow_update(self._bounded(input))

    async def start_update_with_start_workflow(
        self, input: StartWorkflowUpdateWithStartInput
    ) -> WorkflowUpdateHandle[Any]:
        return await super().start_update_with_start_workflow(self._bounded(input))
