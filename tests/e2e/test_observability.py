"""Observability of one order: one trace from HTTP to SQL, the Prometheus series, JSON log lines.

The order runs through its own traced API and worker (a TracingInterceptor on both Temporal
clients, spans in memory) on a task queue of its own, so the session's untraced worker cannot
take any of its tasks.
"""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client

from api.app import create_app
from commerce.logs import context_handler
from commerce.settings import Settings
from commerce.telemetry import configure_tracing
from eventstore.orders import order_stream
from tests.e2e.conftest import make_caller
from tests.e2e.orders_support import checkout_body, filled_cart, wait_for_status
from worker import build_worker
from workflows.contract import STEPS

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@dataclass
class TracedOrder:
    order: dict[str, Any]
    spans: list[ReadableSpan]
    api_metrics_before: Samples
    api_metrics_after: Samples
    worker_before: dict[str, float]
    worker_after: dict[str, float]
    completions_appended: int  # OrderCompleted events of every order committed meanwhile
    log_lines: list[dict[str, Any]]


def _scrape(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _worker_samples() -> dict[str, float]:
    names = {
        "completed": ("commerce_orders_completed_total", {}),
        **{step: ("commerce_saga_step_duration_seconds_count", {"step": step}) for step in STEPS},
    }
    return {
        key: REGISTRY.get_sample_value(name, labels) or 0.0 for key, (name, labels) in names.items()
    }


@pytest.fixture(scope="module")
async def traced_order(
    settings: Settings, temporal_client: Client, pool: asyncpg.Pool
) -> AsyncIterator[TracedOrder]:
    exporter = InMemorySpanExporter()
    tracing = configure_tracing("commerce-test", settings, SimpleSpanProcessor(exporter))
    assert tracing is not None
    queue = f"observability-{uuid.uuid4().hex}"
    log_stream = io.StringIO()
    handler = context_handler(log_stream, as_json=True)
    saga_log = logging.getLogger("commerce.saga")
    saga_log.addHandler(handler)
    saga_log.setLevel(logging.INFO)
    config = temporal_client.config()
    config["interceptors"] = tracing.temporal_interceptors()
    traced_client = Client(**config)
    app = create_app(settings, tracing)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("commerce.saga_start.TASK_QUEUE", queue)
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://commerce.test"
                ) as http,
                build_worker(traced_client, pool, task_queue=queue),
            ):
                yield await _place_one_order(http, pool, settings, exporter, log_stream)
    finally:
        saga_log.removeHandler(handler)
        saga_log.setLevel(logging.NOTSET)
        tracing.shutdown()


async def _place_one_order(
    http: httpx.AsyncClient, pool: asyncpg.Pool, settings: Settings,
    exporter: InMemorySpanExporter, log_stream: io.StringIO,
) -> TracedOrder:  # fmt: skip
    admin, customer = make_caller(settings, "admin"), make_caller(settings)
    sku = f"T-{uuid.uuid4().hex[:12]}"
    product = {"name": "Traced mug", "price": 900, "currency": "USD", "stock": 5}
    put = await http.put(f"/api/v1/admin/products/{sku}", json=product, headers=admin.headers)
    assert put.status_code == 201, put.text
    cart_id = await filled_cart(http, customer, (sku, 1))
    api_before = _scrape((await http.get("/metrics")).text)
    completions_before = await _completions(pool)  # before the sample: all it counted is in
    worker_before = _worker_samples()

    placed = await http.post(
        "/api/v1/orders/", json=checkout_body(cart_id), headers=customer.headers
    )
    assert placed.status_code == 202, placed.text
    replay = await http.post(  # the same request again: a replay, not a second order
        "/api/v1/orders/", json=checkout_body(cart_id), headers=customer.headers
    )
    assert (replay.status_code, replay.json()["id"]) == (200, placed.json()["id"]), replay.text
    order = await wait_for_status(http, customer, placed.json()["id"], timeout_s=15)
    assert order["status"] == "completed", order
    worker_after = _worker_samples()  # before the count: every completion counted is in it
    completions = await _completions(pool) - completions_before

    return TracedOrder(
        order=order,
        spans=list(exporter.get_finished_spans()),
        api_metrics_before=api_before,
        api_metrics_after=_scrape((await http.get("/metrics")).text),
        worker_before=worker_before,
        worker_after=worker_after,
        completions_appended=completions,
        log_lines=[json.loads(line) for line in log_stream.getvalue().splitlines()],
    )


async def _completions(pool: asyncpg.Pool) -> int:
    """OrderCompleted events committed, of every order."""
    return await pool.fetchval("SELECT count(*) FROM events WHERE event_type = 'OrderCompleted'")


def _checkout_server_span(spans: list[ReadableSpan]) -> ReadableSpan:
    (span,) = [
        s for s in spans
        if s.kind is SpanKind.SERVER and s.attributes
        and s.attributes.get("http.route") == "/api/v1/orders/"
        and s.attributes.get("http.response.status_code", s.attributes.get("http.status_code"))
        == 202
    ]  # fmt: skip
    return span


async def test_one_trace_links_http_workflow_every_activity_and_sql(
    traced_order: TracedOrder,
) -> None:
    server = _checkout_server_span(traced_order.spans)
    assert server.context is not None
    trace_id = server.context.trace_id
    in_trace = [s for s in traced_order.spans if s.context and s.context.trace_id == trace_id]
    names = {s.name for s in in_trace}

    assert "StartWorkflow:OrderFulfillmentWorkflow" in names
    assert "RunWorkflow:OrderFulfillmentWorkflow" in names
    for step in STEPS:
        assert f"StartActivity:{step}" in names
        assert f"RunActivity:{step}" in names
    by_id = {s.context.span_id: s for s in in_trace if s.context}
    sql = [s for s in in_trace if s.attributes and s.attributes.get("db.system") == "postgresql"]
    sql_in_activities = [
        s for s in sql
        if s.parent and by_id.get(s.parent.span_id, server).name.startswith("RunActivity:")
    ]  # fmt: skip
    assert sql_in_activities, "no asyncpg span under an activity span"
    assert any(s.parent and s.parent.span_id == server.context.span_id for s in sql) or any(
        s.attributes and s.attributes.get("db.system") == "redis" for s in in_trace
    ), "checkout's own SQL / Redis calls are not in its trace"


async def test_event_metadata_carries_the_trace_id(
    traced_order: TracedOrder, pool: asyncpg.Pool
) -> None:
    server = _checkout_server_span(traced_order.spans)
    assert server.context is not None
    rows = await pool.fetch(
        "SELECT event_type, metadata FROM events WHERE stream_id = $1 ORDER BY stream_version",
        order_stream(traced_order.order["id"]),
    )
    trace_ids = {row["event_type"]: json.loads(row["metadata"]).get("trace_id") for row in rows}
    assert set(trace_ids.values()) == {format(server.context.trace_id, "032x")}, trace_ids
    assert {"OrderPlaced", "PaymentAuthorized", "OrderCompleted"} <= set(trace_ids)


async def test_metrics_count_the_order_once_by_route_template_and_time_each_step(
    traced_order: TracedOrder,
) -> None:
    before, after = traced_order.api_metrics_before, traced_order.api_metrics_after
    placed: tuple[str, frozenset[tuple[str, str]]] = ("commerce_orders_placed_total", frozenset())
    assert after[placed] - before.get(placed, 0.0) == 1.0
    order_id = traced_order.order["id"]
    http_series = {labels for name, labels in after if name == "commerce_http_requests_total"}
    routes = {dict(labels)["route"] for labels in http_series}
    assert frozenset({("method", "POST"), ("route", "/api/v1/orders/"), ("status", "202")}) in (
        http_series
    )
    assert "/api/v1/orders/{order_id}" in routes
    assert not [route for route in routes if order_id in route]
    durations = {
        dict(labels)["route"]
        for name, labels in after
        if name == "commerce_http_request_duration_seconds_count"
    }
    assert "/api/v1/orders/{order_id}" in durations

    worker_before, worker_after = traced_order.worker_before, traced_order.worker_after
    # The counter is the worker process's; a saga of an earlier test may complete meanwhile.
    # Counted once per completion appended, the order's replayed checkout counts nothing more.
    counted = worker_after["completed"] - worker_before["completed"]
    assert 1.0 <= counted <= traced_order.completions_appended
    for step in STEPS:
        assert worker_after[step] - worker_before[step] >= 1.0, step


async def test_a_log_line_inside_an_activity_names_order_workflow_activity_attempt_trace(
    traced_order: TracedOrder,
) -> None:
    server = _checkout_server_span(traced_order.spans)
    assert server.context is not None
    order_id = traced_order.order["id"]
    lines = [
        line for line in traced_order.log_lines
        if line.get("order_id") == order_id and line.get("activity") == "authorize_payment"
    ]  # fmt: skip
    assert lines, traced_order.log_lines
    assert lines[0] | {"time": "-"} == {
        "time": "-",
        "level": "info",
        "logger": "commerce.saga",
        "message": lines[0]["message"],
        "order_id": order_id,
        "workflow_id": f"order-{order_id}",
        "activity": "authorize_payment",
        "attempt": 1,
        "trace_id": format(server.context.trace_id, "032x"),
    }
    assert "succeeded" in lines[0]["message"]
