"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.problems import install_problem_handlers
from api.resources import Resources
from api.routers import cart, cart_analytics, catalog, health, orders, sagas, sandbox
from commerce.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.resources = await Resources.open(settings)
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
    app.include_router(health.router)
    app.include_router(catalog.router)
    app.include_router(cart.router)
    app.include_router(cart_analytics.router)
    app.include_router(orders.router)
    app.include_router(sagas.router)
    app.include_router(sandbox.router)
    return app
