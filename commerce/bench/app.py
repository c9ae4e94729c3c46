"""The `commerce api` and `commerce worker` children an orders bench drives, and more workers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from commerce.dev import CommerceProcess, child_environment
from commerce.embedded import free_port
from commerce.settings import Settings
from workflows.contract import TASK_QUEUE


@dataclass
class App:
    """The `commerce api` and `commerce worker` children the orders bench drives; more workers
    can join the same task queue (worker scaling)."""

    temporal: Client
    env: dict[str, str]
    logs: Path
    api: CommerceProcess
    workers: list[CommerceProcess] = field(default_factory=list)

    def pids(self) -> dict[str, int]:
        """The API's and the first worker's process ids (the processes whose memory is read)."""
        found = {"api": self.api.process, "worker": self.workers[0].process}
        return {name: process.pid for name, process in found.items() if process is not None}

    async def scale_workers(self, count: int) -> None:
        """Start `commerce worker` children until `count` run; return once each one polls."""
        while len(self.workers) < count:
            name = f"worker-{len(self.workers) + 1}"
            env = self.env | {"COMMERCE_WORKER_METRICS_PORT": str(free_port()),
                              "COMMERCE_WORKER_SDK_METRICS_PORT": str(free_port())}  # fmt: skip
            worker = CommerceProcess(name, self.logs, 0, role="worker", env=env)
            self.workers.append(worker)
            await worker.start()
            await _polling(self.temporal, worker)


async def _polling(temporal: Client, worker: CommerceProcess, timeout_s: float = 60.0) -> None:
    """Until the task queue lists the child among its activity pollers (identity `pid@host`)."""
    assert worker.process is not None
    prefix = f"{worker.process.pid}@"
    request = DescribeTaskQueueRequest(
        namespace=temporal.namespace, task_queue=TaskQueue(name=TASK_QUEUE),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    )  # fmt: skip
    async with asyncio.timeout(timeout_s):
        while True:
            answer = await temporal.workflow_service.describe_task_queue(request)
            if any(poller.identity.startswith(prefix) for poller in answer.pollers):
                return
            if worker.process.returncode is not None:
                raise RuntimeError(worker.exit_report())
            await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def running_app(settings: Settings, temporal: Client) -> AsyncIterator[App]:
    """One `commerce worker` and one `commerce api` child against the bench's servers."""
    env = child_environment(settings) | {
        "COMMERCE_JWT_SECRET": str(settings.jwt_secret),
        "COMMERCE_API_HOST": "127.0.0.1",
        "COMMERCE_API_PORT": str(settings.api_port),
        "COMMERCE_ENVIRONMENT": "development",
        "COMMERCE_RATE_LIMIT_PER_IP": settings.rate_limit_per_ip,
        "COMMERCE_RATE_LIMIT_PER_CUSTOMER": settings.rate_limit_per_customer,
        "COMMERCE_API_METRICS_PORT": str(settings.api_metrics_port),
        "COMMERCE_WEBHOOK_ALLOW_PRIVATE": "true",  # the webhook section's receivers are local
        # Bytecode cached in the bench's temp dir, as the image's compileall provides: without it
        # (PYTHONDONTWRITEBYTECODE=1) the workflow sandbox compiles the saga's module from
        # source for every workflow it starts (docs/benchmarks.md, profile).
        "PYTHONDONTWRITEBYTECODE": "",
        "PYTHONPYCACHEPREFIX": str(settings.data_dir.resolve() / "pycache"),
    }
    logs = settings.data_dir.resolve() / "logs"
    app = App(
        temporal, env, logs, CommerceProcess("api", logs, settings.api_port, role="api", env=env)
    )
    try:
        await app.scale_workers(1)
        await app.api.start()
        yield app
    finally:
        for child in [app.api, *reversed(app.workers)]:
            await child.stop()
