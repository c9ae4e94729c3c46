"""Liveness and readiness probes (no auth; an admin token sees what readiness checked)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import authenticate
from api.deps import ResourcesDep, SettingsDep
from api.problems import Problem, problem_response
from commerce.redaction import redacted

router = APIRouter(prefix="/health", tags=["health"])
_CHECK_TIMEOUT_S = 2.0
_bearer = HTTPBearer(auto_error=False)


async def _check(probe: Awaitable[object]) -> str:
    try:
        await asyncio.wait_for(probe, _CHECK_TIMEOUT_S)
    except Exception as error:
        return f"unavailable: {redacted(str(error) or type(error).__name__)}"
    return "ok"


async def _is_admin(
    request: Request,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> bool:
    """True for a valid admin token; any other caller (probes send none) is anonymous, not 401."""
    if credentials is None:
        return False
    try:
        return (await authenticate(request, settings, credentials)).is_admin
    except Problem:
        return False


@router.get("/live")
async def live() -> dict[str, str]:
    """200 while the process is up."""
    return {"status": "ok"}


@router.get("/ready", response_model=None)
async def ready(
    resources: ResourcesDep, is_admin: Annotated[bool, Depends(_is_admin)]
) -> JSONResponse | dict[str, object]:
    """200 when PostgreSQL, Redis and Temporal answer, else 503. Only an admin token is told
    which dependency failed and why (`checks`); anyone else learns up or down."""
    names = ("postgres", "redis", "temporal")
    results = await asyncio.gather(
        _check(resources.pool.fetchval("SELECT 1")),
        _check(resources.redis.ping()),
        _check(resources.temporal.service_client.check_health(timeout=timedelta(seconds=2))),
    )
    checks = dict(zip(names, results, strict=True))
    failing = [name for name, result in checks.items() if result != "ok"]
    if failing and not is_admin:
        return problem_response(503, "not ready")
    if failing:
        return problem_response(503, f"not ready: {', '.join(failing)} unavailable", checks=checks)
    return {"status": "ok", "checks": checks} if is_admin else {"status": "ok"}
