"""Add-to-cart throughput through the real HTTP API, beside a bare FastAPI endpoint and raw Redis.

All three are measured in the same run on this machine, so the API's overhead is visible as the
gap to the two baselines. The servers run in-process under uvicorn on a free loopback port.
After the timed loops, an untimed pass counts the work of one add: the Redis round trips of the
whole request (write budgets included) and the catalog prices read from PostgreSQL.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import redis.asyncio as redis
import uvicorn
from fastapi import FastAPI
from prometheus_client import REGISTRY

from api.app import create_app
from commerce.connections import create_pool
from commerce.embedded import free_port
from commerce.settings import Settings
from commerce.tokens import mint_token
from eventstore.catalog import Catalog

BENCH_SKU = "BENCH-ITEM"
CONCURRENCIES = (1, 32)
COUNTED_ADDS = 100


@asynccontextmanager
async def _serving(app: FastAPI) -> AsyncIterator[str]:
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def _bare_app() -> FastAPI:
    app = FastAPI()

    @app.post("/items")
    async def add(body: dict[str, object]) -> dict[str, object]:
        return body

    return app


async def _measure(
    name: str, concurrency: int, requests: int, call: Callable[[int], Awaitable[None]]
) -> dict[str, object]:
    latencies: list[float] = []
    per_worker = max(requests // concurrency, 1)

    async def worker(index: int) -> None:
        for _ in range(per_worker):
            started = time.perf_counter()
            await call(index)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "name": name,
        "concurrency": concurrency,
        "requests": len(latencies),
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 2),
    }


async def _api_rows(settings: Settings, requests: int) -> list[dict[str, object]]:
    pool = await create_pool(settings)
    try:
        await Catalog(pool).upsert_product(BENCH_SKU, "Benchmark item", 100, "USD", 1_000_000)
    finally:
        await pool.close()
    rows = []
    async with _serving(create_app(settings)) as base, httpx.AsyncClient(base_url=base) as client:
        for concurrency in CONCURRENCIES:
            carts: list[tuple[dict[str, str], str]] = []
            for _ in range(concurrency):  # one customer and cart per worker: no write contention
                headers = {
                    "Authorization": f"Bearer {mint_token(settings, uuid.uuid4().hex, ['customer'])}"
                }
                cart = (await client.post("/api/v1/cart/", json={}, headers=headers)).json()
                carts.append((headers, cart["id"]))

            async def add(index: int, carts: list[tuple[dict[str, str], str]] = carts) -> None:
                headers, cart_id = carts[index]
                body = {"sku": BENCH_SKU, "quantity": 1}
                answer = await client.post(
                    f"/api/v1/cart/{cart_id}/items", json=body, headers=headers
                )
                if answer.status_code == 422:  # the line reached 1000: start the line again
                    await client.delete(
                        f"/api/v1/cart/{cart_id}/items/{BENCH_SKU}", headers=headers
                    )
                elif answer.status_code != 200:
                    answer.raise_for_status()

            rows.append(await _measure("api add-to-cart", concurrency, requests, add))
            for headers, cart_id in carts:
                await client.delete(f"/api/v1/cart/{cart_id}", headers=headers)
        work = await _work_per_add(settings, client)
    return [row | work for row in rows]


async def _work_per_add(settings: Settings, client: httpx.AsyncClient) -> dict[str, float]:
    """Redis round trips and catalog price reads (PostgreSQL) per add, over `COUNTED_ADDS`
    adds to one cart, untimed: every Redis connection of this process (the API's) is counted."""
    headers = {"Authorization": f"Bearer {mint_token(settings, uuid.uuid4().hex, ['customer'])}"}
    cart = (await client.post("/api/v1/cart/", json={}, headers=headers)).json()
    url, body = f"/api/v1/cart/{cart['id']}/items", {"sku": BENCH_SKU, "quantity": 1}
    (await client.post(url, json=body, headers=headers)).raise_for_status()
    prices_read = _catalog_reads()
    with _counted_redis_sends() as sent:
        for _ in range(COUNTED_ADDS):
            (await client.post(url, json=body, headers=headers)).raise_for_status()
    await client.delete(f"/api/v1/cart/{cart['id']}", headers=headers)
    return {
        "redis_round_trips_per_add": round(sent[0] / COUNTED_ADDS, 2),
        "catalog_reads_per_add": round((_catalog_reads() - prices_read) / COUNTED_ADDS, 2),
    }


def _catalog_reads() -> float:
    """Skus priced from PostgreSQL for carts so far (`commerce_catalog_cache_lookups_total`)."""
    return sum(
        REGISTRY.get_sample_value("commerce_catalog_cache_lookups_total", {"result": r}) or 0.0
        for r in ("miss", "bypass")
    )


@contextmanager
def _counted_redis_sends() -> Iterator[list[int]]:
    """Count every send of every Redis connection in this process: one send, one round trip (a
    pipeline or a script is one). Only for the untimed pass."""
    sent = [0]
    send = redis.Connection.send_packed_command

    async def counted(self: redis.Connection, command: Any, check_health: bool = True) -> None:
        sent[0] += 1
        await send(self, command, check_health)

    redis.Connection.send_packed_command = counted  # type: ignore[method-assign, assignment]
    try:
        yield sent
    finally:
        redis.Connection.send_packed_command = send  # type: ignore[method-assign]


async def _bare_rows(requests: int) -> list[dict[str, object]]:
    rows = []
    async with _serving(_bare_app()) as base, httpx.AsyncClient(base_url=base) as client:

        async def post(_: int) -> None:
            (await client.post("/items", json={"sku": BENCH_SKU, "quantity": 1})).raise_for_status()

        for concurrency in CONCURRENCIES:
            rows.append(await _measure("bare fastapi POST", concurrency, requests, post))
    return rows


async def _redis_rows(settings: Settings, requests: int) -> list[dict[str, object]]:
    client = redis.from_url(settings.redis_url, decode_responses=True)
    rows = []
    try:

        async def pipeline(index: int) -> None:
            key = f"bench:cart:{index}"
            async with client.pipeline(transaction=True) as pipe:
                pipe.hincrby(key, BENCH_SKU, 1)
                pipe.expire(key, 60)
                await pipe.execute()

        for concurrency in CONCURRENCIES:
            rows.append(await _measure("raw redis pipeline", concurrency, requests, pipeline))
    finally:
        await client.aclose()
    return rows


async def bench_add_to_cart(settings: Settings, quick: bool) -> list[dict[str, object]]:
    """Rows of {name, concurrency, requests, rps, p50_ms, p99_ms} for the API and both baselines."""
    requests = 320 if quick else 3200
    return [
        *await _api_rows(settings, requests),
        *await _bare_rows(requests),
        *await _redis_rows(settings, requests),
    ]
