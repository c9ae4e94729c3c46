"""A deadline on every Temporal client call that answers at once (start, signal, query, update,
describe, list...), so an unreachable or hung frontend fails the call instead of hanging it.

The SDK takes `rpc_timeout` per call and has no client-wide default; this client interceptor
fills it in where the caller left it unset. That deadline does not cover making the connection
(a lazy client connects on its first call, and a server that accepts TCP but never speaks HTTP/2
holds that forever, `connect_timeout` or not), so each call is also bounded as a whole and ends
in `RPCError(DEADLINE_EXCEEDED)`. Long polls are left alone: waiting for a workflow's result
(`fetch_workflow_history_events`) is meant to wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
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
from temporalio.service import RPCError, RPCStatusCode

_Input = TypeVar("_Input")
_Result = TypeVar("_Result")
_GRACE_S = 0.5  # past the RPC's own deadline, so that one, when it works, is the one reported


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

    async def _within(self, input: Any, call: Awaitable[_Result]) -> _Result:
        deadline: timedelta = input.rpc_timeout
        try:
            async with asyncio.timeout(deadline.total_seconds() + _GRACE_S):
                return await call
        except TimeoutError as error:
            raise RPCError(
                f"Temporal did not answer within {deadline.total_seconds():g} s",
                RPCStatusCode.DEADLINE_EXCEEDED,
                b"",
            ) from error

    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        return await self._within(input, super().start_workflow(self._bounded(input)))

    async def cancel_workflow(self, input: CancelWorkflowInput) -> None:
        await self._within(input, super().cancel_workflow(self._bounded(input)))

    async def describe_workflow(self, input: DescribeWorkflowInput) -> Any:
        return await self._within(input, super().describe_workflow(self._bounded(input)))

    def list_workflows(self, input: ListWorkflowsInput) -> WorkflowExecutionAsyncIterator:
        pages = super().list_workflows(self._bounded(input))
        fetch = pages.fetch_next_page

        async def fetch_within_deadline(*, page_size: int | None = None) -> None:
            await self._within(input, fetch(page_size=page_size))

        pages.fetch_next_page = fetch_within_deadline  # type: ignore[method-assign]
        return pages

    async def count_workflows(self, input: CountWorkflowsInput) -> Any:
        return await self._within(input, super().count_workflows(self._bounded(input)))

    async def query_workflow(self, input: QueryWorkflowInput) -> Any:
        return await self._within(input, super().query_workflow(self._bounded(input)))

    async def signal_workflow(self, input: SignalWorkflowInput) -> None:
        await self._within(input, super().signal_workflow(self._bounded(input)))

    async def terminate_workflow(self, input: TerminateWorkflowInput) -> None:
        await self._within(input, super().terminate_workflow(self._bounded(input)))

    async def start_workflow_update(
        self, input: StartWorkflowUpdateInput
    ) -> WorkflowUpdateHandle[Any]:
        return await self._within(input, super().start_workflow_update(self._bounded(input)))

    async def start_update_with_start_workflow(
        self, input: StartWorkflowUpdateWithStartInput
    ) -> WorkflowUpdateHandle[Any]:
        call = super().start_update_with_start_workflow(self._bounded(input))
        return await self._within(input, call)
