"""Liveness and readiness probes (no auth)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import timedelta

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import ResourcesDep
from api.problems import problem_response

router = APIRouter(prefix="/health", tags=["health"])
_CHECK_TIMEOUT_S = 2.0


async def _check(probe: Awaitable[object]) -> str:
    try:
        await asyncio.wait_for(probe, _CHECK_TIMEOUT_S)
    except Exception as error:
        return f"unavailable: {error or type(error).__name__}"
    return "ok"


@router.get("/live")
async def live() -> dict[str, str]:
    """200 while the process is up."""
    return {"status": "ok"}


@router.get("/ready", response_model=None)
async def ready(resources: ResourcesDep) -> JSONResponse | dict[str, object]:
    """200 when PostgreSQL, Redis and Temporal answer; 503 naming the one that does not."""
    names = ("postgres", "redis", "temporal")
    results = await asyncio.gather(
        _check(resources.pool.fetchval("SELECT 1")),
        _check(resources.redis.ping()),
        _check(resources.temporal.service_client.check_health(timeout=timedelta(seconds=2))),
    )
    checks = dict(zip(names, results, strict=True))
    failing = [name for name, result in checks.items() if result != "ok"]
    if failing:
        return problem_response(503, f"not ready: {', '.join(failing)} unavailable", checks=checks)
    return {"status": "ok", "checks": checks}
