"""Every remote call has a deadline: a server that accepts connections and never answers (a hung
process, a dead peer behind a live load balancer) costs a request a 503 with Retry-After, not a
request that hangs; a statement a migration invalidated is run again, not answered 500."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI, Request

from api.app import create_app
from commerce.settings import Settings
from tests.e2e.conftest import make_caller

HANG_GUARD_S = 30  # far past every deadline below: reaching it means the request hung
FAST = {
    "database_connect_timeout_s": 1.0,
    "database_command_timeout_s": 1.0,
    "database_acquire_timeout_s": 1.0,
    "redis_connect_timeout_s": 1.0,
    "redis_timeout_s": 1.0,
    "temporal_rpc_timeout_s": 1.0,
}


@asynccontextmanager
async def black_hole() -> AsyncIterator[int]:
    """A loopback port that accepts connections and never says a word."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.close()
        server.close()


@asynccontextmanager
async def client_for(settings: Settings, **changes: Any) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(settings.model_copy(update={**FAST, **changes}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


def _assert_fast_503(answer: httpx.Response, dependency: str) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"] == "1"
    assert answer.headers["content-type"] == "application/problem+json"
    assert dependency in answer.json()["detail"]


async def test_a_redis_that_never_answers_is_a_503(settings: Settings) -> None:
    async with black_hole() as port, client_for(settings, redis_url=f"redis://127.0.0.1:{port}/0") as client:  # fmt: skip
        customer = make_caller(settings)
        for request in (
            client.post("/api/v1/cart/", json={}, headers=customer.headers),  # write budget
            client.get("/api/v1/cart/active", headers=customer.headers),  # the cart itself
        ):
            _assert_fast_503(await asyncio.wait_for(request, HANG_GUARD_S), "Redis")


async def test_a_postgres_that_never_answers_is_a_503(settings: Settings) -> None:
    url = "postgresql://postgres@127.0.0.1:{}/commerce"
    async with black_hole() as port, client_for(settings, database_url=url.format(port)) as client:
        request = client.get("/api/v1/products", headers=make_caller(settings).headers)
        answer = await asyncio.wait_for(request, HANG_GUARD_S)
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "1", answer.text


async def test_a_temporal_that_never_answers_is_a_503(settings: Settings) -> None:
    async with black_hole() as port, client_for(settings, temporal_address=f"127.0.0.1:{port}") as client:  # fmt: skip
        admin = make_caller(settings, "admin")
        query = client.get(f"/api/v1/admin/shipments/{uuid.uuid4()}", headers=admin.headers)
        _assert_fast_503(await asyncio.wait_for(query, HANG_GUARD_S), "Temporal")
        listing = client.get("/api/v1/admin/sagas", headers=admin.headers)
        answer = await asyncio.wait_for(listing, HANG_GUARD_S)
        assert answer.status_code == 503, answer.text


async def test_waiting_for_a_pooled_connection_has_a_deadline(settings: Settings) -> None:
    async with client_for(settings, database_pool_max=1) as client:
        pool = client.app.state.resources.pool  # type: ignore[attr-defined]
        async with pool.acquire():  # every connection is busy (a slow query, a leak)
            request = client.get("/api/v1/products", headers=make_caller(settings).headers)
            answer = await asyncio.wait_for(request, HANG_GUARD_S)
        assert answer.status_code == 503 and answer.headers["Retry-After"] == "1"
        again = await client.get("/api/v1/products", headers=make_caller(settings).headers)
        assert again.status_code == 200  # the pool recovered once the connection came back


async def test_a_statement_a_migration_invalidated_is_run_again_not_a_500(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    table = f"stale_{uuid.uuid4().hex[:8]}"
    await pool.execute(f"CREATE TABLE {table} (id int)")
    await pool.execute(f"INSERT INTO {table} VALUES (1)")
    app: FastAPI = create_app(settings.model_copy(update={"database_pool_max": 1}))
    runs = 0

    @app.post("/api/v1/stale-probe")
    async def probe(request: Request) -> dict[str, int]:
        nonlocal runs
        runs += 1
        body = await request.json()
        async with request.app.state.resources.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(f"SELECT * FROM {table}")  # prepared and cached
        return {"rows": len(rows), "echo": body["n"]}

    customer = make_caller(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            first = await client.post(
                "/api/v1/stale-probe", json={"n": 1}, headers=customer.headers
            )
            await pool.execute(f"ALTER TABLE {table} ADD COLUMN note text")  # a migration
            second = await client.post(
                "/api/v1/stale-probe", json={"n": 2}, headers=customer.headers
            )
    assert first.json() == {"rows": 1, "echo": 1}
    assert second.status_code == 200, second.text
    assert second.json() == {"rows": 1, "echo": 2}  # the body was replayed to the second run
    assert runs == 3


@pytest.mark.parametrize("timeout_s", [0.5])
async def test_a_statement_past_the_command_timeout_is_cut_off(
    settings: Settings, timeout_s: float
) -> None:
    async with client_for(settings, database_command_timeout_s=timeout_s) as client:
        pool = client.app.state.resources.pool  # type: ignore[attr-defined]
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(pool.execute("SELECT pg_sleep(5)"), HANG_GUARD_S)
