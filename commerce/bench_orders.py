"""Orders end to end (cart → checkout → saga `completed`) beside a bare six-activity workflow.

Completion is observed with the Temporal client (`handle.result()` on `order-<id>`), a long poll,
so the bench adds no polling load to the API it measures.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
from temporalio.client import Client

from commerce.bench_baseline import bare_worker, run_bare
from commerce.bench_report import Operation, Row, abba, comparison, drive
from commerce.dev import CommerceProcess, child_environment
from commerce.embedded import EmbeddedServer
from commerce.settings import Settings
from commerce.tokens import mint_token
from workflows.contract import SagaOutcome, order_workflow_id

TIMEOUT_S = 600.0
ADDRESS = {"name": "Bench Shopper", "line1": "1 Market St", "city": "Springfield",
           "postal_code": "12345", "country": "US"}  # fmt: skip


@contextlib.asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[None]:
    """One `commerce worker` and one `commerce api` child against the bench's servers."""
    env = child_environment(settings) | {
        "COMMERCE_JWT_SECRET": str(settings.jwt_secret),
        "COMMERCE_API_HOST": "127.0.0.1",
        "COMMERCE_API_PORT": str(settings.api_port),
        "COMMERCE_ENVIRONMENT": "development",
    }
    logs = settings.data_dir.resolve() / "logs"
    children: list[EmbeddedServer] = [
        CommerceProcess("worker", logs, 0, role="worker", env=env),
        CommerceProcess("api", logs, settings.api_port, role="api", env=env),
    ]
    try:
        for child in children:
            await child.start()
        yield
    finally:
        for child in reversed(children):
            await child.stop()


def _bearer(settings: Settings, subject: str, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings, subject, [role])}"}


async def _expect(answer: httpx.Response, status: int) -> Any:
    if answer.status_code != status:
        raise RuntimeError(f"{answer.request.method} {answer.request.url.path}: "
                           f"{answer.status_code} {answer.text[:200]}")  # fmt: skip
    return answer.json()


def order_operation(
    settings: Settings, http: httpx.AsyncClient, temporal: Client, sku: str
) -> Operation:
    """One customer's order: new cart, one line, checkout, then wait for the saga's outcome.

    Returns the checkout → completed latency."""

    async def order(index: int) -> float:
        who = _bearer(settings, f"bench-customer-{uuid.uuid4().hex[:12]}", "customer")
        cart = await _expect(await http.post("/api/v1/cart/", json={}, headers=who), 201)
        item = {"sku": sku, "quantity": 1}
        await _expect(
            await http.post(f"/api/v1/cart/{cart['id']}/items", json=item, headers=who), 200
        )
        body = {"cart_id": cart["id"], "payment_token": "tok_ok", "shipping_address": ADDRESS}
        headers = who | {"Idempotency-Key": f"bench-{index}-{cart['id']}"}
        started = time.perf_counter()
        placed = await _expect(await http.post("/api/v1/orders/", json=body, headers=headers), 202)
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
async def _placing_orders(
    settings: Settings, temporal: Client, concurrency: int, stock: int
) -> AsyncIterator[Operation]:
    """An HTTP client on the API and a fresh product with `stock` units; yields the operation."""
    limits = httpx.Limits(
        max_connections=concurrency + 4, max_keepalive_connections=concurrency + 4
    )
    base_url = f"http://127.0.0.1:{settings.api_port}"
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as http:
        sku = f"BENCH-{uuid.uuid4().hex[:8]}"
        product = {"name": "Bench widget", "price": 1250, "currency": "USD", "stock": stock}
        admin = _bearer(settings, "bench-admin", "admin")
        path = f"/api/v1/admin/products/{sku}"
        await _expect(await http.put(path, json=product, headers=admin), 201)
        yield order_operation(settings, http, temporal, sku)


@contextlib.asynccontextmanager
async def _running_bare(temporal: Client) -> AsyncIterator[Operation]:
    """The bare workflow's in-process worker on its own task queue; yields the operation."""
    task_queue = f"bench-bare-{uuid.uuid4().hex[:8]}"

    async def bare(index: int) -> None:
        await run_bare(temporal, task_queue, f"{task_queue}-{index}")

    async with bare_worker(temporal, task_queue):
        yield bare


async def bench_orders(settings: Settings, temporal: Client, quick: bool) -> list[Row]:
    """N orders through the running API and worker, beside N bare workflows at the same
    concurrency; both warmed up first, then measured in interleaved halves."""
    count, concurrency = (40, 10) if quick else (300, 50)
    warm = min(concurrency, 10)
    async with (
        _placing_orders(settings, temporal, concurrency, count + warm + 100) as order,
        _running_bare(temporal) as bare,
    ):
        await drive("orders warm-up", warm, concurrency, order, TIMEOUT_S)
        await drive("bare warm-up", warm, concurrency, bare, TIMEOUT_S)
        orders, baseline = await abba(
            count, concurrency, TIMEOUT_S, ("orders", order), ("bare workflows", bare)
        )
    return [comparison(
        "orders", "orders: cart → checkout → completed (HTTP + saga)", "orders/s", concurrency,
        orders, "bare workflow, 6 no-op activities", baseline,
        min_ratio=0.5, max_p50_ratio=2.0, baseline_unit="workflows/s",
    )]  # fmt: skip
