"""Connections to the three servers, with failures named by the setting that points at them."""

from __future__ import annotations

from typing import Any

import asyncpg
import redis.asyncio as redis
from temporalio.client import Client

from commerce.payload_codec import data_converter_for
from commerce.settings import Settings


class Unreachable(RuntimeError):
    """A configured server did not answer; the message names the setting to check."""

    def __init__(self, setting: str, address: str, cause: BaseException) -> None:
        super().__init__(f"{setting}={address} is unreachable: {cause or type(cause).__name__}")
        self.setting = setting


async def create_pool(settings: Settings, **kwargs: Any) -> asyncpg.Pool:
    try:
        pool = await asyncpg.create_pool(
            settings.database_url,
            min_size=settings.database_pool_min,
            max_size=settings.database_pool_max,
            timeout=10,
            **kwargs,
        )
    except (OSError, TimeoutError, asyncpg.PostgresError) as error:
        raise Unreachable("COMMERCE_DATABASE_URL", settings.database_url, error) from error
    assert pool is not None
    return pool


async def create_redis(settings: Settings) -> redis.Redis:
    client = redis.from_url(settings.redis_url, decode_responses=True)
    try:
        await client.ping()
    except (OSError, redis.RedisError) as error:
        await client.aclose()
        raise Unreachable("COMMERCE_REDIS_URL", settings.redis_url, error) from error
    return client


async def connect_temporal(settings: Settings, **kwargs: Any) -> Client:
    """A Temporal client whose payloads are encrypted with the shop's payload keys."""
    kwargs.setdefault("data_converter", data_converter_for(settings))
    try:
        return await Client.connect(
            settings.temporal_address,
            namespace=settings.temporal_namespace,
            **kwargs,
        )
    except RuntimeError as error:
        raise Unreachable("TEMPORAL_ADDRESS", settings.temporal_address, error) from error


async def migrate(settings: Settings) -> list[str]:
    """Apply the event store and read model schema (idempotent)."""
    from eventstore.migrations import apply_migrations

    try:
        conn = await asyncpg.connect(settings.database_url, timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError) as error:
        raise Unreachable("COMMERCE_DATABASE_URL", settings.database_url, error) from error
    try:
        return await apply_migrations(conn)
    finally:
        await conn.close()
