"""Sending an update (cancel, retry, accept-amendment) to an order's saga, answered in bounded time.

The saga's validator decides at once whether it accepts the update (the same domain rule the
route checked first, `domain.rules`); the answer then waits a little for the update to finish,
but never longer than `UPDATE_WAIT_S`: an accepted update carries on in the saga regardless.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.problems import Problem
from workflows.contract import order_workflow_id

ACCEPT_WITHIN_S = 10.0  # the validator runs on the next workflow task: milliseconds when healthy
UPDATE_WAIT_S = 5.0


async def update_saga(temporal: Client, order_id: str, update: str, arg: Any = None) -> None:
    """Send `update` to the order's saga and return once the saga accepted it.

    Raises Problem 409 when the saga refuses it (the reason as detail) or has ended, 503 (with
    Retry-After) when Temporal does not accept it within ACCEPT_WITHIN_S seconds; an unreachable
    Temporal raises its RPCError, which the API answers 503.
    """
    handle = temporal.get_workflow_handle(order_workflow_id(order_id))
    args = [] if arg is None else [arg]
    try:
        sent = await handle.start_update(
            update,
            args=args,
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
            rpc_timeout=timedelta(seconds=ACCEPT_WITHIN_S),
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(sent.result(), UPDATE_WAIT_S)
    except WorkflowUpdateFailedError as refused:
        cause = refused.cause
        reason = cause.message if isinstance(cause, ApplicationError) else str(cause or refused)
        raise Problem(409, f"order {order_id}: {reason}") from refused
    except WorkflowUpdateRPCTimeoutOrCancelledError as slow:
        problem = Problem(503, f"the saga of order {order_id} did not answer in time; repeat")
        problem.headers["Retry-After"] = "1"
        raise problem from slow
    except RPCError as error:
        if error.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            raise
        raise Problem(409, f"order {order_id} has no running saga: {error.message}") from error
