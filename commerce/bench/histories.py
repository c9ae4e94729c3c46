"""What the Temporal server did for a set of workflow executions, counted from their histories:
events, workflow tasks, activity tasks, local activities, search-attribute upserts, markers,
timers, children.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

_CLOSED = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
}


@dataclass(frozen=True)
class TemporalWork:
    """Sums over executions' histories (open ones as far as they got)."""

    executions: int
    closed: int
    events: int
    history_bytes: int  # the events' protobuf encoding, payloads as stored (encrypted)
    by_type: Counter[str]  # events by type, without the EVENT_TYPE_ prefix
    activity_attempts: int  # activity tasks handed to a worker, retries included
    local_activities: int = 0  # local activities run to their end: one marker each, no task

    def count(self, event_type: str) -> int:
        return self.by_type.get(event_type, 0)

    @property
    def workflow_tasks(self) -> int:
        return self.count("WORKFLOW_TASK_STARTED")

    @property
    def activities(self) -> int:
        return self.count("ACTIVITY_TASK_SCHEDULED")

    @property
    def patches(self) -> int:
        """Markers that are not local activities: `workflow.patched` ones."""
        return self.count("MARKER_RECORDED") - self.local_activities

    @property
    def upserts(self) -> int:
        return self.count("UPSERT_WORKFLOW_SEARCH_ATTRIBUTES")

    @property
    def visibility_writes(self) -> int:
        """Derived, not observed: the server writes an execution's visibility record when it
        starts, at each search-attribute upsert and when it closes."""
        return self.executions + self.upserts + self.closed


# The SDK core's marker for a local activity's outcome (a patch's is "core_patch").
LOCAL_ACTIVITY_MARKER = "core_local_activity"


def count_events(histories: Iterable[Sequence[HistoryEvent]]) -> TemporalWork:
    by_type: Counter[str] = Counter()
    executions = closed = size = attempts = local = 0
    for events in histories:
        executions += 1
        for event in events:
            by_type[EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")] += 1
            size += event.ByteSize()
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                attempts += event.activity_task_started_event_attributes.attempt
            elif event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
                marker = event.marker_recorded_event_attributes.marker_name
                local += marker == LOCAL_ACTIVITY_MARKER
            closed += event.event_type in _CLOSED
    total = sum(by_type.values())
    return TemporalWork(executions, closed, total, size, by_type, attempts, local)


async def fetch_histories(
    client: Client, workflow_ids: Iterable[str], concurrency: int = 8
) -> list[Sequence[HistoryEvent]]:
    """The latest run's history of each workflow id."""
    lanes = asyncio.Semaphore(concurrency)

    async def one(workflow_id: str) -> Sequence[HistoryEvent]:
        async with lanes:
            return (await client.get_workflow_handle(workflow_id).fetch_history()).events

    return list(await asyncio.gather(*(one(i) for i in workflow_ids)))


async def started_since(client: Client, since: datetime, workflow_type: str | None = None,
                        exclude_type: str | None = None) -> list[str]:  # fmt: skip
    """Ids of the executions started at or after `since` (visibility: may lag a moment)."""
    query = f"StartTime >= '{since.isoformat()}'"
    if workflow_type:
        query += f" AND WorkflowType = '{workflow_type}'"
    if exclude_type:
        query += f" AND WorkflowType != '{exclude_type}'"
    return [execution.id async for execution in client.list_workflows(query)]
