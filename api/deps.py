"""Dependencies shared by the routers, as `Annotated` aliases.

All are `async def`: FastAPI runs a plain `def` dependency in a thread pool on every request,
which cost a fifth of the API's CPU (docs/benchmarks.md).
"""

from __future__ import annotations

from typing import Annotated

import asyncpg
import redis.asyncio as redis
from fastapi import Depends, Request
from temporalio.client import Client

from api.cart_store import CartStore
from api.resources import Resources
from commerce.settings import Settings
from eventstore.catalog import Catalog


async def _resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


ResourcesDep = Annotated[Resources, Depends(_resources)]
SettingsDep = Annotated[Settings, Depends(_settings)]


async def _pool(resources: ResourcesDep) -> asyncpg.Pool:
    return resources.pool


async def _redis(resources: ResourcesDep) -> redis.Redis:
    return resources.redis


async def _temporal(resources: ResourcesDep) -> Client:
    return resources.temporal


PoolDep = Annotated[asyncpg.Pool, Depends(_pool)]
RedisDep = Annotated[redis.Redis, Depends(_redis)]
TemporalDep = Annotated[Client, Depends(_temporal)]


async def _catalog(resources: ResourcesDep) -> Catalog:
    return Catalog(resources.pool, changed=resources.catalog_cache.dropped)


CatalogDep = Annotated[Catalog, Depends(_catalog)]


async def _cart_store(
    resources: ResourcesDep, catalog: CatalogDep, settings: SettingsDep
) -> CartStore:
    return CartStore(
        resources.redis,
        catalog,
        settings,
        prices=resources.catalog_cache,
        recent=resources.recent_carts,
    )


CartStoreDep = Annotated[CartStore, Depends(_cart_store)]
