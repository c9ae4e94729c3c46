"""Dependencies shared by the routers, as `Annotated` aliases."""

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


def _resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


ResourcesDep = Annotated[Resources, Depends(_resources)]
SettingsDep = Annotated[Settings, Depends(_settings)]


def _pool(resources: ResourcesDep) -> asyncpg.Pool:
    return resources.pool


def _redis(resources: ResourcesDep) -> redis.Redis:
    return resources.redis


def _temporal(resources: ResourcesDep) -> Client:
    return resources.temporal


PoolDep = Annotated[asyncpg.Pool, Depends(_pool)]
RedisDep = Annotated[redis.Redis, Depends(_redis)]
TemporalDep = Annotated[Client, Depends(_temporal)]


def _catalog(pool: PoolDep) -> Catalog:
    return Catalog(pool)


CatalogDep = Annotated[Catalog, Depends(_catalog)]


def _cart_store(client: RedisDep, catalog: CatalogDep, settings: SettingsDep) -> CartStore:
    return CartStore(client, catalog, settings)


CartStoreDep = Annotated[CartStore, Depends(_cart_store)]
