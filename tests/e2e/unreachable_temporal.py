"""An API process whose only way to Temporal goes through a TcpProxy the test can cut:
API → proxy → the session's Temporal dev server. Everything else (PostgreSQL, Redis) is shared
with the session's API, so orders placed through either are the same orders."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from temporalio.client import Client

from api.app import create_app
from commerce.settings import Settings
from tests.tcp_proxy import TcpProxy


@dataclass
class CutApi:
    http: httpx.AsyncClient
    proxy: TcpProxy
    temporal: Client  # the API's own (lazily connected) Temporal client


@asynccontextmanager
async def api_behind_proxy(settings: Settings) -> AsyncIterator[CutApi]:
    """A fresh API (its Temporal client not connected yet) reaching the session's Temporal
    (`settings.temporal_address`) through a proxy."""
    async with TcpProxy(settings.temporal_address) as proxy:
        app = create_app(settings.model_copy(update={"temporal_address": proxy.address}))
        async with app.router.lifespan_context(app):
            # A 500 is an answer to assert on, not an exception to raise in the test.
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://cut.test") as http:
                yield CutApi(http, proxy, app.state.resources.temporal)
