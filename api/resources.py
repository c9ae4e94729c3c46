"""The connections one API process holds: a PostgreSQL pool, a Redis client, a Temporal client,
each with the deadlines of the settings (`commerce.connections`), so a dead server costs a request
a fast 503, never a hang; and the process's cart caches (catalog prices kept fresh by a
`CatalogWatch` on its own connection, the carts' last documents)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import asyncpg
import redis.asyncio as redis
from temporalio.client import Client, Interceptor
from temporalio.service import RetryConfig

from api.cart_swap import RecentCarts
from api.catalog_cache import CatalogCache
from api.catalog_watch import CatalogWatch
from commerce.connections import connect_temporal, create_pool, redis_options
from commerce.settings import Settings
from eventstore.catalog import Catalog

# An unreachable Temporal answers within a few seconds as a 503 to repeat, instead of holding the
# request through the SDK's default 10 s of retries: a checkout's saga is started later by the
# worker's reconciler anyway.
TEMPORAL_RETRY = RetryConfig(max_interval_millis=1000, max_elapsed_time_millis=3000)
TEMPORAL_CONNECT_TIMEOUT = timedelta(seconds=3)


@dataclass
class Resources:
    pool: asyncpg.Pool
    redis: redis.Redis
    temporal: Client
    catalog_cache: CatalogCache
    recent_carts: RecentCarts
    _watch: asyncio.Task[None] | None = field(default=None, repr=False)

    @classmethod
    async def open(cls, settings: Settings, interceptors: Sequence[Interceptor] = ()) -> Resources:
        """Connect lazily where the driver allows, so the API starts (and reports not ready)
        while a dependency is down instead of crash-looping."""
        pool = await create_pool(
            settings, min_size=0, acquire_timeout=settings.database_acquire_timeout_s
        )
        # A bounded pool reuses its connections: a burst of requests waits for one instead of
        # opening hundreds (at concurrency 200 those new connections failed; docs/benchmarks.md).
        client = redis.Redis(
            connection_pool=redis.BlockingConnectionPool.from_url(
                settings.redis_url,
                max_connections=settings.redis_pool_max,
                timeout=settings.redis_timeout_s,
                **redis_options(settings),
            )
        )
        temporal = await connect_temporal(
            settings,
            lazy=True,
            retry_config=TEMPORAL_RETRY,
            connect_timeout=TEMPORAL_CONNECT_TIMEOUT,
            interceptors=interceptors,
        )
        cache = CatalogCache(
            Catalog(pool), settings.catalog_cache_size, settings.catalog_cache_max_stale_s
        )
        resources = cls(pool, client, temporal, cache, RecentCarts(settings.cart_cache_size))
        if settings.catalog_cache_size > 0:

            async def connect() -> asyncpg.Connection:
                return await asyncpg.connect(
                    settings.database_url, timeout=settings.database_connect_timeout_s
                )

            watch = CatalogWatch(cache, connect)
            resources._watch = asyncio.create_task(watch.run(), name="catalog-watch")
        return resources

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        await self.redis.aclose()
        await self.pool.close()
