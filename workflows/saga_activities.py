"""How the order saga runs its activities: remote, or local for the steps that touch only our own
stores. Deterministic workflow code only.

Since the local-steps patch (`OrderFulfillmentWorkflow`, `LOCAL_STEPS_PATCH`) the activities in
`LOCAL_ACTIVITIES` run as local activities: in the worker that runs the workflow task, their
outcome one `MarkerRecorded` event instead of `ActivityTaskScheduled`, `Started`, `Completed` and
a further workflow task. Each of them calls no provider: it reads and appends the order's stream
and touches our own PostgreSQL tables (stock, spending limits, delivery deadlines) or, for an
order's end, the retry cart in our Redis. The steps that call a provider stay remote, so the
Temporal UI's pending activities show an operator which provider a saga waits on.

While a local activity runs, its workflow task stays open: queries and updates (an operator's
retry, a customer's cancel) are answered when it ends, milliseconds for these steps. So that a
retried local step does not hold them longer, its retries keep the same policy (attempts,
backoff, non-retryable business errors) but only backoffs up to `LOCAL_RETRY_THRESHOLD` are
waited in the worker; longer ones wait on a durable timer (a timer's two history events and a
workflow task's three), during which the saga answers as between remote attempts.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, FailureError

with workflow.unsafe.imports_passed_through():
    from workflows.contract import (
        ACCEPT_AMENDMENT,
        CONFIRM_ORDER,
        EXPIRE_AMENDMENT,
        EXPIRE_PAYMENT_ACTION,
        PROPOSE_AMENDMENT,
        RESERVE_INVENTORY,
        SEND_NOTIFICATIONS,
    )

# Steps take milliseconds; a worker killed mid-step is noticed (and the step re-run) this soon.
# For a local activity it bounds each attempt the same way (schedule-to-close stays unset: the
# retry policy's attempts bound the step, as for a remote one).
STEP_TIMEOUT = timedelta(seconds=10)
RECORD_SAGA_EVENT = "record_saga_event"
RELEASE_INVENTORY = "release_inventory"
# The saga's activities that call no provider (activities/: fulfillment, compensation,
# amendment): stock is held and released in our `stock` table, completion keeps the delivery
# deadline in ours, saga events and amendments are appended to the order's stream.
LOCAL_ACTIVITIES = frozenset({
    RESERVE_INVENTORY, CONFIRM_ORDER, SEND_NOTIFICATIONS, RECORD_SAGA_EVENT, RELEASE_INVENTORY,
    PROPOSE_AMENDMENT, ACCEPT_AMENDMENT, EXPIRE_AMENDMENT, EXPIRE_PAYMENT_ACTION,
})  # fmt: skip
# Backoffs up to this long are waited in the worker, the workflow task open; longer ones on a
# timer. With the default step policy (1 s, doubling) that is the first retry only.
LOCAL_RETRY_THRESHOLD = timedelta(seconds=1)


async def execute(
    activity: str,
    arg: Any,
    *,
    local: bool,
    retry_policy: RetryPolicy,
    summary: str,
    result_type: type | None = None,
) -> Any:
    """Run `activity` to its result, locally when `local` (the saga passed the local-steps patch)
    and the activity is one of `LOCAL_ACTIVITIES`. Raises ActivityError as
    `workflow.execute_activity` does, local or not: its cause is the last attempt's error."""
    if local and activity in LOCAL_ACTIVITIES:
        try:
            return await workflow.execute_local_activity(
                activity,
                arg,
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=retry_policy,
                local_retry_threshold=LOCAL_RETRY_THRESHOLD,
                summary=summary,
                result_type=result_type,
            )
        except ActivityError:
            raise
        except FailureError as failure:
            # The SDK raises a local activity's failure bare (the last attempt's error, a
            # timeout); the saga tells a step's failure from its own errors by ActivityError.
            raise _failed(activity) from failure
    return await workflow.execute_activity(
        activity,
        arg,
        start_to_close_timeout=STEP_TIMEOUT,
        retry_policy=retry_policy,
        summary=summary,
        result_type=result_type,
    )


def _failed(activity: str) -> ActivityError:
    return ActivityError(
        f"local activity {activity} failed",
        scheduled_event_id=0,
        started_event_id=0,
        identity="",
        activity_type=activity,
        activity_id="",
        retry_state=None,
    )
