"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import metrics
from api.metrics import HttpMetrics
from api.problems import install_problem_handlers
from api.resources import Resources
from api.routers import (
    carrier,
    cart,
    cart_analytics,
    catalog,
    health,
    orders,
    payments_admin,
    sagas,
    sandbox,
    shop_settings,
)
from commerce.settings import Settings, get_settings
from commerce.telemetry import Tracing, configure_tracing


def create_app(settings: Settings | None = None, tracing: Tracing | None = None) -> FastAPI:
    """The API; traced when `tracing` is given or an OTLP endpoint is configured."""
    settings = settings or get_settings()
    tracing = tracing or configure_tracing("commerce-api", settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        interceptors = tracing.temporal_interceptors() if tracing else ()
        app.state.resources = await Resources.open(settings, interceptors)
        try:
            yield
        finally:
            await app.state.resources.close()

    app = FastAPI(
        title="Commerce API",
        version="0.1.0",
        description="Carts, checkout and durable order fulfilment (a Temporal saga).",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_problem_handlers(app)
    app.add_middleware(HttpMetrics)
    if tracing:
        tracing.instrument_app(app)
    app.include_router(metrics.router)
    app.include_router(health.router)
    app.include_router(catalog.router)
    app.include_router(cart.router)
    app.include_router(cart_analytics.router)
    app.include_router(orders.router)
    app.include_router(sagas.router)
    app.include_router(sandbox.router)
    app.include_router(shop_settings.router)
    app.include_router(carrier.router)
    app.include_router(payments_admin.router)
    return app
