"""Starting a post-sale workflow with its `request` update: the workflow records the request in
the order's stream and answers the domain's decision, which the route turns into its answer."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api.digests import IdempotencyKeyReused
from api.problems import Problem, temporal_unreachable
from workflows.after_sale_contract import KEY_REUSED, UPDATE_REQUEST, Decision
from workflows.contract import TASK_QUEUE

DECISION_WAIT_S = 10.0


async def request_with_start(
    temporal: Client,
    workflow: str,
    workflow_id: str,
    request: Any,
    update_id: str,
    memo: dict[str, Any] | None = None,
) -> Decision | None:
    """Start `workflow` (or join it: a repeat of the request) and send it the request; its
    decision, or None when the workflow already ran to its end (the caller answers from the
    order's stream). Raises IdempotencyKeyReused (422) for an Idempotency-Key reused with another
    request, Problem 422 when the workflow refuses the update otherwise, 503 when Temporal does
    not answer in time.

    A request with a `digest` is sent under an update id that includes it: Temporal answers a
    repeated update id with its first result without asking the workflow, so only another id
    lets the workflow compare the body and refuse a reused key. The digest is also kept in the
    workflow's memo, for a repeat that finds the workflow closed."""
    digest = getattr(request, "digest", "")
    if digest:
        update_id = f"{update_id}:{digest[:32]}"
        memo = {**(memo or {}), "digest": digest}
    start: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
        workflow,
        request,
        id=workflow_id,
        task_queue=TASK_QUEUE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        memo=memo,
    )
    try:
        decision: Decision = await asyncio.wait_for(
            temporal.execute_update_with_start_workflow(
                UPDATE_REQUEST, request, start_workflow_operation=start, id=update_id,
                result_type=Decision,
            ),
            DECISION_WAIT_S,
        )  # fmt: skip
    except WorkflowAlreadyStartedError:
        await _refuse_other_body(temporal, workflow_id, digest)
        return None
    except WorkflowUpdateFailedError as refused:
        if isinstance(refused.cause, ApplicationError) and refused.cause.type == KEY_REUSED:
            raise IdempotencyKeyReused() from refused
        raise Problem(422, str(refused.cause or refused)) from refused
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError) as slow:
        problem = Problem(503, "Temporal did not answer in time; repeat the request")
        problem.headers["Retry-After"] = "1"
        raise problem from slow
    except RPCError as error:
        if temporal_unreachable(error) or "already" not in error.message.lower():
            raise
        await _refuse_other_body(temporal, workflow_id, digest)
        return None
    return decision


async def _refuse_other_body(temporal: Client, workflow_id: str, digest: str) -> None:
    """A repeat that found its workflow closed: 422 when it carried another body."""
    if not digest:
        return
    kept = (await (await temporal.get_workflow_handle(workflow_id).describe()).memo()).get("digest")
    if kept not in (None, digest):
        raise IdempotencyKeyReused()


def refuse_unless_accepted(decision: Decision) -> None:
    """The domain's refusal as a problem: 409 (not now) or 422 (not valid)."""
    if not decision.accepted:
        raise Problem(decision.status if decision.status in (409, 422) else 409, decision.reason)
