"""The bare-Temporal baseline for the order bench: a workflow of six no-op activities.

It has the saga's shape (six activities in sequence, one workflow per order) and none of its work
(no HTTP, no event store, no search attributes), so the ratio of the two shows what our code costs
on top of Temporal itself.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

STEPS = 6


@activity.defn(name="bench_noop_step")
async def noop_step(step: int) -> int:
    return step


@workflow.defn(name="BenchBareWorkflow")
class BareWorkflow:
    @workflow.run
    async def run(self, steps: int) -> int:
        for step in range(steps):
            await workflow.execute_activity(
                noop_step, step, start_to_close_timeout=timedelta(seconds=30)
            )
        return steps


def bare_worker(client: Client, task_queue: str) -> Worker:
    """An in-process worker with the same concurrency limits as the saga's (worker.build_worker)."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[BareWorkflow],
        activities=[noop_step],
        max_concurrent_activities=200,
        max_concurrent_workflow_tasks=200,
    )


async def run_bare(client: Client, task_queue: str, workflow_id: str) -> None:
    done = await client.execute_workflow(
        BareWorkflow.run, STEPS, id=workflow_id, task_queue=task_queue
    )
    if done != STEPS:
        raise RuntimeError(f"bare workflow {workflow_id} ran {done} of {STEPS} steps")
