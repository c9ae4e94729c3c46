"""Orders end to end (cart → checkout → saga `completed`) beside a bare six-activity workflow.

Completion is observed with the Temporal client (`handle.result()` on `order-<id>`), a long poll,
so the bench adds no polling load to the API it measures.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import httpx
from temporalio.client import Client

from commerce.bench.bare_workflow import bare_worker, run_bare
from commerce.bench.measure import Operation
from commerce.settings import Settings
from commerce.tokens import mint_token
from workflows.contract import SagaOutcome, order_workflow_id

# Connections per HTTP client of the bench. httpcore walks every connection of a pool on each
# request (encode/httpcore#1035, open): one pool of 204 connections at c=200 cost the bench
# process 22 to 41 ms of CPU per order, 55% of its samples in that walk (py-spy), on the two cores
# the servers it measures run on. Lanes spread over pools of this size instead.
POOL_CONNECTIONS = 10

ADDRESS = {"name": "Bench Shopper", "line1": "1 Market St", "city": "Springfield",
           "postal_code": "12345", "country": "US"}  # fmt: skip


def bearer(settings: Settings, subject: str, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings, subject, [role])}"}


async def expect(answer: httpx.Response, status: int) -> Any:
    if answer.status_code != status:
        raise RuntimeError(f"{answer.request.method} {answer.request.url.path}: "
                           f"{answer.status_code} {answer.text[:200]}")  # fmt: skip
    return answer.json()


def order_operation(
    settings: Settings, pools: Sequence[httpx.AsyncClient], temporal: Client, sku: str
) -> Operation:
    """One customer's order: new cart, one line, checkout, then wait for the saga's outcome;
    order `index` goes through `pools[index % len(pools)]`.

    Returns the checkout → completed latency."""

    async def order(index: int) -> float:
        http = pools[index % len(pools)]
        who = bearer(settings, f"bench-customer-{uuid.uuid4().hex[:12]}", "customer")
        cart = await expect(await http.post("/api/v1/cart/", json={}, headers=who), 201)
        item = {"sku": sku, "quantity": 1}
        await expect(
            await http.post(f"/api/v1/cart/{cart['id']}/items", json=item, headers=who), 200
        )
        body = {"cart_id": cart["id"], "payment_token": "tok_ok", "shipping_address": ADDRESS}
        headers = who | {"Idempotency-Key": f"bench-{index}-{cart['id']}"}
        started = time.perf_counter()
        placed = await expect(await http.post("/api/v1/orders/", json=body, headers=headers), 202)
        handle = temporal.get_workflow_handle(
            order_workflow_id(placed["id"]), result_type=SagaOutcome
        )
        outcome = await handle.result()
        if outcome.status != "completed":
            raise RuntimeError(
                f"order {placed['id']} ended {outcome.status}: {outcome.failure_reason}"
            )
        return time.perf_counter() - started

    return order


@contextlib.asynccontextmanager
async def placing_orders(
    settings: Settings, temporal: Client, max_concurrency: int
) -> AsyncIterator[Callable[[int], Awaitable[Operation]]]:
    """HTTP clients on the API for every phase, `POOL_CONNECTIONS` lanes to a client, their
    connections kept alive between phases; yields `stocked(units)`: a fresh product with that
    stock, and the operation ordering it."""
    lanes = max_concurrency + 4
    limits = httpx.Limits(max_connections=lanes, max_keepalive_connections=lanes)
    base_url = f"http://127.0.0.1:{settings.api_port}"
    async with contextlib.AsyncExitStack() as stack:
        pools = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits)
            )
            for _ in range(math.ceil(lanes / POOL_CONNECTIONS))
        ]
        http = pools[0]

        async def stocked(units: int) -> Operation:
            sku = f"BENCH-{uuid.uuid4().hex[:8]}"
            product = {"name": "Bench widget", "price": 1250, "currency": "USD", "stock": units}
            admin = bearer(settings, "bench-admin", "admin")
            path = f"/api/v1/admin/products/{sku}"
            await expect(await http.put(path, json=product, headers=admin), 201)
            return order_operation(settings, pools, temporal, sku)

        yield stocked


@contextlib.asynccontextmanager
async def running_bare(temporal: Client) -> AsyncIterator[Operation]:
    """The bare workflow's in-process worker on its own task queue; yields the operation."""
    task_queue = f"bench-bare-{uuid.uuid4().hex[:8]}"
    ids = itertools.count()  # one workflow id per run, whatever index the phase gives

    async def bare(_: int) -> None:
        await run_bare(temporal, task_queue, f"{task_queue}-{next(ids)}")

    async with bare_worker(temporal, task_queue):
        yield bare
