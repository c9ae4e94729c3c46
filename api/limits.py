"""Budgets of writes per client IP and per customer, kept in Redis, and the middleware that
spends them (and checks the bearer token) before a request's body is read.

`limits` (the engine of Flask-Limiter and slowapi) keeps each budget as a sliding window counter:
one atomic Lua call per check, two small keys per client, on our own Redis connection pool. It has
no token bucket; its counter behaves like one for this purpose: a burst up to the limit, then the
rate, and `Retry-After` from the moment the window lets the next write in.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

import redis.asyncio as redis
from fastapi import Request
from fastapi.security import HTTPBearer
from limits import RateLimitItem, parse_many
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth import VERIFIED_PRINCIPAL, Principal, authenticate
from api.problems import Problem, problem_response, retry_later
from commerce.settings import Settings

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_bearer = HTTPBearer(auto_error=False)


class RateLimited(Exception):
    """A client spent its budget of writes; it may write again after `retry_after_s` seconds."""

    def __init__(self, who: str, retry_after_s: int) -> None:
        super().__init__(f"too many writes from this {who}; retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class _Budget:
    who: str  # "IP address" or "customer", for the client's message
    items: list[RateLimitItem]


class WriteLimiter:
    """Per-IP (`COMMERCE_RATE_LIMIT_PER_IP`) and per-customer (`COMMERCE_RATE_LIMIT_PER_CUSTOMER`)
    write budgets in Redis, shared by every API process. Raises `RateLimited`; a Redis error
    propagates (the request is answered 503: a limit that cannot be checked is not waived)."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        storage = RedisStorage(
            "async+redis://",
            implementation="redispy",
            key_prefix="commerce:rate",
            connection_pool=client.connection_pool,  # type: ignore[arg-type]  # typed too narrowly
        )
        self._limiter = SlidingWindowCounterRateLimiter(storage)
        self._per_ip = _Budget("IP address", parse_many(settings.rate_limit_per_ip))
        self._per_customer = _Budget("customer", parse_many(settings.rate_limit_per_customer))

    async def spend_ip(self, address: str) -> None:
        await self._spend(self._per_ip, "ip", address)

    async def spend_customer(self, subject: str) -> None:
        await self._spend(self._per_customer, "customer", subject)

    async def _spend(self, budget: _Budget, kind: str, key: str) -> None:
        for item in budget.items:
            if not await self._limiter.hit(item, kind, key):
                stats = await self._limiter.get_window_stats(item, kind, key)
                raise RateLimited(budget.who, math.ceil(stats.reset_time - time.time()))


class WriteGuard:
    """ASGI middleware for writes (POST, PUT, PATCH, DELETE), before their body is read: spends
    the client IP's budget, then, under `/api/`, authenticates the bearer token (401 as the route
    would answer) and spends the customer's budget. 429 problem+json with `Retry-After` past a
    budget. `unauthenticated` paths (webhooks signed by their sender) spend the IP budget only;
    tests/e2e/test_request_limits.py checks that they are exactly the writes with no bearer."""

    def __init__(self, app: ASGIApp, unauthenticated: Iterable[str] = ()) -> None:
        self.app = app
        self.unauthenticated = frozenset(unauthenticated)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        limiter: WriteLimiter = scope["app"].state.write_limiter
        try:
            client = scope.get("client")
            await limiter.spend_ip(client[0] if client else "unknown")
            if self._takes_bearer(scope):
                principal = await self._authenticate(scope)
                scope.setdefault("state", {})[VERIFIED_PRINCIPAL] = principal
                await limiter.spend_customer(principal.subject)
        except RateLimited as limited:
            answer = retry_later(429, str(limited), limited.retry_after_s)
            await answer(scope, receive, send)
            return
        except Problem as refused:
            answer = problem_response(refused.status, refused.detail, headers=refused.headers)
            await answer(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _takes_bearer(self, scope: Scope) -> bool:
        path: str = scope["path"]
        return path.startswith("/api/") and path not in self.unauthenticated

    @staticmethod
    async def _authenticate(scope: Scope) -> Principal:
        request = Request(scope)
        return await authenticate(request, scope["app"].state.settings, await _bearer(request))
