"""The API's Prometheus metrics, the middleware timing each request by its route template, and
where they are served: their own port (`COMMERCE_API_METRICS_PORT`, as the worker's), and in
development also `GET /metrics` on the API port (no auth)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Literal

import asyncpg
from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from commerce.settings import Settings
from eventstore.reconciliation_runs import ReconciliationRuns

log = logging.getLogger(__name__)


HTTP_REQUESTS = Counter(
    "commerce_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_REQUEST_DURATION = Histogram(
    "commerce_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ORDERS_PLACED = Counter(
    "commerce_orders_placed_total", "New orders placed at checkout (replays not counted)"
)
CartOperation = Literal["create", "add", "set", "remove", "delete"]
CART_OPERATIONS = Counter(
    "commerce_cart_operations_total", "Cart changes that succeeded", ["operation"]
)

# From the latest reconciliation run stored by any process (`commerce reconcile` or the admin
# route), read at each scrape: every API replica exports the same, and nothing before a first run.
RECONCILIATION_MISMATCHES = Gauge(
    "commerce_reconciliation_mismatches",
    "Mismatches between our money records and the payment provider's, by kind, found by the"
    " latest reconciliation run",
    ["kind"],
)
RECONCILIATION_FINISHED = Gauge(
    "commerce_reconciliation_last_run_timestamp_seconds",
    "When the latest reconciliation run finished (Unix time)",
)
RECONCILIATION_READ_TIMEOUT_S = 1.0

UNMATCHED = "unmatched"  # one label for every path no route knows, so scans add no series

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """The process's metrics in the Prometheus text format."""
    await _read_latest_reconciliation(request)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def serve_metrics(settings: Settings) -> None:
    """`/metrics` on COMMERCE_API_METRICS_HOST:COMMERCE_API_METRICS_PORT (0 = none), a port the
    public never reaches. A port already taken (a second API on one machine) is logged, not fatal."""
    if not settings.api_metrics_port:
        return
    try:
        start_http_server(settings.api_metrics_port, settings.api_metrics_host)
    except OSError as error:
        log.warning("COMMERCE_API_METRICS_PORT: no metrics endpoint: %s", error)
        return
    log.info(
        "metrics on http://%s:%d/metrics", settings.api_metrics_host, settings.api_metrics_port
    )


async def _read_latest_reconciliation(request: Request) -> None:
    resources = getattr(request.app.state, "resources", None)
    if resources is not None:
        await refresh_reconciliation_gauges(resources.pool)


async def keep_reconciliation_gauges(pool: asyncpg.Pool, every_s: float = 30.0) -> None:
    """Refresh the gauges while the API runs, for the metrics port (which serves the registry
    as it is, with no request of ours to refresh them); cancelled when the API stops."""
    while True:
        await refresh_reconciliation_gauges(pool)
        await asyncio.sleep(every_s)


async def refresh_reconciliation_gauges(pool: asyncpg.Pool) -> None:
    """Set the reconciliation gauges from the latest stored run; while the database does not
    answer (within a second) they keep what they showed."""
    try:
        async with asyncio.timeout(RECONCILIATION_READ_TIMEOUT_S):
            run = await ReconciliationRuns(pool).latest()
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return
    if run is not None:
        for kind, count in run.mismatches.items():
            RECONCILIATION_MISMATCHES.labels(kind).set(count)
        RECONCILIATION_FINISHED.set(run.finished_at.timestamp())


class HttpMetrics:
    """ASGI middleware: counts and times each request under its route template, never the raw
    path (`/api/v1/orders/{order_id}`, not one series per order)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            method, route = scope["method"], _route_template(scope)
            HTTP_REQUEST_DURATION.labels(method, route).observe(time.perf_counter() - started)
            HTTP_REQUESTS.labels(method, route, str(status)).inc()


def _route_template(scope: Scope) -> str:
    route = scope.get("route")  # set by the router once a route matched
    if route is not None:
        return str(getattr(route, "path", UNMATCHED))
    for candidate in scope["app"].router.routes:  # refused before routing, e.g. 405
        match, _ = candidate.matches(scope)
        if match != Match.NONE:
            return str(getattr(candidate, "path", UNMATCHED))
    return UNMATCHED
