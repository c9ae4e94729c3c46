"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from api import metrics
from api.admission import InFlightLimit
from api.body_limit import BodyLimit
from api.limits import WriteGuard, WriteLimiter
from api.metrics import HttpMetrics
from api.problems import install_problem_handlers
from api.request_context import RequestContext
from api.resources import Resources
from api.routers import (
    after_sale,
    carrier,
    cart,
    cart_analytics,
    catalog,
    health,
    orders,
    payments,
    payments_admin,
    sagas,
    sandbox,
    shop_settings,
    webhooks,
)
from api.stale_statements import RetryStaleStatements
from commerce.settings import Settings, get_settings
from commerce.stripe_keys import WEBHOOK_PATH as STRIPE_WEBHOOK_PATH
from commerce.telemetry import Tracing, configure_tracing

_ABOUT: dict[str, Any] = {
    "title": "Commerce API",
    "version": "0.1.0",
    "description": "Carts, checkout and durable order fulfilment (a Temporal saga).",
}
# Signed by the sender over the raw body, no bearer token; COMMERCE_WEBHOOK_MAX_BODY_BYTES.
WEBHOOK_PATHS = ("/api/v1/carrier/events", STRIPE_WEBHOOK_PATH)


def create_app(settings: Settings | None = None, tracing: Tracing | None = None) -> FastAPI:
    """The API; traced when `tracing` is given or an OTLP endpoint is configured. Raises
    RuntimeError (one line naming the setting) in production with simulated providers, unless
    `COMMERCE_ALLOW_SANDBOX_PROVIDERS=true`."""
    settings = settings or get_settings()
    if refusal := settings.sandbox_refusal():
        raise RuntimeError(refusal)
    tracing = tracing or configure_tracing("commerce-api", settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        interceptors = tracing.temporal_interceptors() if tracing else ()
        app.state.resources = await Resources.open(settings, interceptors)
        app.state.write_limiter = WriteLimiter(app.state.resources.redis, settings)
        gauges = asyncio.create_task(metrics.keep_reconciliation_gauges(app.state.resources.pool))
        try:
            yield
        finally:
            gauges.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await gauges
            await app.state.resources.close()

    app = _documented_app(settings, lifespan)
    app.state.settings = settings
    install_problem_handlers(app)
    _add_guards(app, settings)
    if tracing:
        tracing.instrument_app(app)
    if settings.environment == "development":  # production: COMMERCE_API_METRICS_PORT only
        app.include_router(metrics.router)
    app.include_router(health.router)
    app.include_router(catalog.router)
    app.include_router(cart.router)
    app.include_router(cart_analytics.router)
    app.include_router(orders.router)
    app.include_router(after_sale.router)
    app.include_router(sagas.router)
    if settings.sandbox_providers():  # their switches exist only while they are in use
        app.include_router(sandbox.router)
    app.include_router(shop_settings.router)
    app.include_router(carrier.router)
    app.include_router(payments.router)
    app.include_router(webhooks.router)
    app.include_router(payments_admin.router)
    return app


def _documented_app(
    settings: Settings, lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]]
) -> FastAPI:
    """With COMMERCE_PUBLIC_DOCS, /docs (Swagger UI), /redoc and /openapi.json, every asset served
    by the API itself (no CDN: the page works offline, and asks no third party for anything);
    without, none of the three."""
    if not settings.public_docs:
        return FastAPI(**_ABOUT, lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    return FastAPIOffline(
        **_ABOUT,
        lifespan=lifespan,
        # Swagger UI would send the spec's URL to validator.swagger.io for a badge.
        swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": False},
    )


def _add_guards(app: FastAPI, settings: Settings) -> None:
    """The request pipeline, outermost first: metrics (every answer counted), request id and the
    last-resort error answer, the in-flight bound, the body limit, write budgets and early
    authentication, and innermost the retry of a request hit by a stale prepared statement."""
    app.add_middleware(RetryStaleStatements)
    app.add_middleware(WriteGuard, unauthenticated=WEBHOOK_PATHS)
    app.add_middleware(
        BodyLimit,
        limit=settings.max_body_bytes,
        per_path=dict.fromkeys(WEBHOOK_PATHS, settings.webhook_max_body_bytes),
    )
    app.add_middleware(InFlightLimit, limit=settings.max_requests_in_flight)
    app.add_middleware(RequestContext)
    app.add_middleware(HttpMetrics)
