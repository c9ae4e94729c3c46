"""Connections to the three servers, with failures named by the setting that points at them,
every call bounded by a deadline from the settings, and no password in any message."""

from __future__ import annotations

from typing import Any

import asyncpg
import redis.asyncio as redis
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode, TLSConfig

from commerce.embedded import SEARCH_ATTRIBUTES
from commerce.payload_codec import data_converter_for
from commerce.redaction import redacted
from commerce.settings import Settings
from commerce.temporal_deadlines import RpcDeadlines


class Unreachable(RuntimeError):
    """A configured server did not answer; the message names the setting to check (and shows its
    address without a password)."""

    def __init__(self, setting: str, address: str, cause: BaseException) -> None:
        reason = redacted(str(cause) or type(cause).__name__)
        super().__init__(f"{setting}={redacted(address)} is unreachable: {reason}")
        self.setting = setting


class DeadlinePool(asyncpg.Pool):
    """An asyncpg pool whose `acquire()` (and so `fetch`, `execute`, ... on the pool) gives up
    after `acquire_timeout` seconds (TimeoutError) instead of waiting for ever for a connection."""

    def __init__(self, *args: Any, acquire_timeout: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._acquire_timeout = acquire_timeout

    def acquire(self, *, timeout: float | None = None) -> Any:
        return super().acquire(timeout=self._acquire_timeout if timeout is None else timeout)


async def keep_session(connection: asyncpg.Connection) -> None:
    """The pool's reset on release: nothing to send. asyncpg's default sends `CLOSE ALL; UNLISTEN
    *; RESET ALL; SELECT pg_advisory_unlock_all()` on every release, one round trip each time
    (about a fifth of an order's statements). Nothing here leaves session state on a pooled
    connection: no session `SET`, `LISTEN` only on connections of its own (api/catalog_watch.py),
    cursors only inside transactions, and the one session advisory lock (eventstore/leadership.py)
    is given up before release or goes with its connection. asyncpg still rolls back a
    transaction left open before it calls this."""


async def create_pool(
    settings: Settings, *, acquire_timeout: float | None = None, **kwargs: Any
) -> asyncpg.Pool:
    """A pool with the connect and statement deadlines of the settings (`kwargs` override);
    `acquire_timeout`: also a deadline on waiting for a free connection (the API's pool).
    Released connections are handed out again as they are (`keep_session`)."""
    options: dict[str, Any] = {
        "min_size": settings.database_pool_min,
        "max_size": settings.database_pool_max,
        "timeout": settings.database_connect_timeout_s,
        "command_timeout": settings.database_command_timeout_s,
        # asyncpg.create_pool's defaults (it has no pool class argument, so the pool is built here)
        "max_queries": 50000,
        "max_inactive_connection_lifetime": 300.0,
        "loop": None,
        "connection_class": asyncpg.Connection,
        "record_class": asyncpg.Record,
        "reset": keep_session,
        **kwargs,
    }
    try:
        pool = DeadlinePool(settings.database_url, acquire_timeout=acquire_timeout, **options)
        await pool
    except (OSError, TimeoutError, asyncpg.PostgresError) as error:
        raise Unreachable("COMMERCE_DATABASE_URL", settings.database_url, error) from error
    return pool


def redis_options(settings: Settings) -> dict[str, Any]:
    """Deadlines of every Redis connection: connect, each reply, and a PING on a connection idle
    longer than the health check interval (so a dead server is found before a command hangs)."""
    return {
        "decode_responses": True,
        "socket_connect_timeout": settings.redis_connect_timeout_s,
        "socket_timeout": settings.redis_timeout_s,
        "health_check_interval": settings.redis_health_check_interval_s,
    }


async def create_redis(settings: Settings) -> redis.Redis:
    client = redis.from_url(settings.redis_url, **redis_options(settings))
    try:
        await client.ping()
    except (OSError, redis.RedisError) as error:
        await client.aclose()
        raise Unreachable("COMMERCE_REDIS_URL", settings.redis_url, error) from error
    return client


def temporal_tls(settings: Settings) -> TLSConfig | bool | None:
    """TLS to the Temporal frontend from `TEMPORAL_TLS*`: a client certificate (mTLS), a CA and a
    server name when given; system roots with `TEMPORAL_TLS=true` alone; None = the SDK's
    default (plain, or TLS when an API key is set)."""
    paths = (
        settings.temporal_tls_client_cert_path,
        settings.temporal_tls_client_key_path,
        settings.temporal_tls_server_ca_cert_path,
    )
    if not any(paths) and not settings.temporal_tls_server_name:
        return True if settings.temporal_tls else None
    cert, key, ca = (path.read_bytes() if path else None for path in paths)
    return TLSConfig(
        client_cert=cert,
        client_private_key=key,
        server_root_ca_cert=ca,
        domain=settings.temporal_tls_server_name,
    )


async def connect_temporal(settings: Settings, **kwargs: Any) -> Client:
    """A Temporal client of the shop: payloads encrypted with its payload keys, TLS and API key
    from the settings, each call with a deadline (`COMMERCE_TEMPORAL_RPC_TIMEOUT_S`) unless the
    caller sets one. With `lazy=True` it connects on first use."""
    kwargs.setdefault("data_converter", data_converter_for(settings))
    deadlines = RpcDeadlines(settings.temporal_rpc_timeout_s)
    kwargs["interceptors"] = [deadlines, *kwargs.get("interceptors", ())]
    try:
        return await Client.connect(
            settings.temporal_address,
            namespace=settings.temporal_namespace,
            tls=temporal_tls(settings),
            api_key=settings.temporal_api_key,
            **kwargs,
        )
    except RuntimeError as error:
        raise Unreachable("TEMPORAL_ADDRESS", settings.temporal_address, error) from error


async def register_search_attributes(settings: Settings) -> list[str]:
    """Add the saga's search attributes the namespace lacks (idempotent); the names added."""
    client = await connect_temporal(settings)
    operator = client.operator_service
    namespace = settings.temporal_namespace
    missing: dict[str, IndexedValueType.ValueType] = {}
    try:
        listed = await operator.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        missing = {
            name: IndexedValueType.Value(f"INDEXED_VALUE_TYPE_{kind.upper()}")
            for name, kind in SEARCH_ATTRIBUTES.items()
            if name not in listed.custom_attributes
        }
        if missing:
            await operator.add_search_attributes(
                AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
            )
    except RPCError as error:
        if error.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            raise Unreachable("TEMPORAL_ADDRESS", settings.temporal_address, error) from error
        raise RuntimeError(
            f"TEMPORAL_NAMESPACE={namespace}: could not register the search attributes"
            f" {sorted(missing) or sorted(SEARCH_ATTRIBUTES)}: {error.message}"
        ) from error
    return sorted(missing)


async def migrate(settings: Settings) -> list[str]:
    """Apply the event store and read model schema (idempotent)."""
    from eventstore.migrations import apply_migrations

    try:
        conn = await asyncpg.connect(
            settings.database_url, timeout=settings.database_connect_timeout_s
        )
    except (OSError, TimeoutError, asyncpg.PostgresError) as error:
        raise Unreachable("COMMERCE_DATABASE_URL", settings.database_url, error) from error
    try:
        return await apply_migrations(conn)
    finally:
        await conn.close()
