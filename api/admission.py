"""A bound on the requests one API process serves at once: 503 past it, not a swelling heap."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from api.problems import retry_later

# Probes and scrapes are answered whatever the load: a busy process is not a dead one.
_EXEMPT_PREFIXES = ("/health/", "/metrics")


class InFlightLimit:
    """ASGI middleware: while `limit` requests are in flight in this process, another one is
    answered at once with 503 problem+json and `Retry-After: 1` (another replica, or this one a
    moment later, will take it)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            busy = retry_later(503, f"the server is at its {self.limit} requests in flight", 1)
            await busy(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
