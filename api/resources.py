"""The connections one API process holds: a PostgreSQL pool, a Redis client, a Temporal client,
each with the deadlines of the settings (`commerce.connections`), so a dead server costs a request
a fast 503, never a hang."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import redis.asyncio as redis
from temporalio.client import Client, Interceptor
from temporalio.service import RetryConfig

from commerce.connections import connect_temporal, create_pool, redis_options
from commerce.settings import Settings

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
        return cls(pool=pool, redis=client, temporal=temporal)

    async def close(self) -> None:
        await self.redis.aclose()
        await self.pool.close()
