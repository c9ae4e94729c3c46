"""A Temporal namespace of a test's own on the session's dev server.

`register_namespace` is not retried by the SDK, and under the whole suite's load the dev server
has answered it with "operation was canceled"; a repeat that finds the namespace made is done.
"""

from __future__ import annotations

import asyncio
import uuid

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

ATTEMPTS = 5


async def fresh_namespace(client: Client, prefix: str, retention_s: int = 3600) -> str:
    """Register `<prefix>-<8 hex>` (retention in seconds) and return its name once the frontend
    knows it; RPCError after ATTEMPTS failed registrations, AssertionError if it never shows."""
    service = client.workflow_service
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    request = RegisterNamespaceRequest(
        namespace=name, workflow_execution_retention_period={"seconds": retention_s}
    )
    for attempt in range(1, ATTEMPTS + 1):
        try:
            await service.register_namespace(request)
            break
        except RPCError as error:
            if error.status == RPCStatusCode.ALREADY_EXISTS:
                break  # an earlier attempt made it before its answer was lost
            if attempt == ATTEMPTS:
                raise
            await asyncio.sleep(0.5 * attempt)
    for _ in range(100):  # a new namespace reaches the frontend's cache within seconds
        try:
            await service.describe_namespace(DescribeNamespaceRequest(namespace=name))
            return name
        except RPCError:
            await asyncio.sleep(0.1)
    raise AssertionError(f"namespace {name} never became visible")
