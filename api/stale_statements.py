"""A request whose prepared statement a schema change invalidated runs once more, not a 500."""

from __future__ import annotations

import logging

import asyncpg
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

# asyncpg re-prepares by itself outside a transaction; inside one the transaction is lost and
# only the caller can run it again. asyncpg has dropped its statement caches by then.
STALE_STATEMENT_ERRORS = (
    asyncpg.exceptions.InvalidCachedStatementError,
    asyncpg.exceptions.OutdatedSchemaCacheError,
)


class RetryStaleStatements:
    """ASGI middleware, innermost: when a request fails on a cached statement that a migration
    invalidated (`ALTER TABLE` while the API runs) before anything was answered, the request runs
    once more from its start, with the body it already received. Its transaction was rolled back,
    and every route is safe to repeat (as a client's retry would)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        received: list[Message] = []  # bounded by the body limit outside
        started = False

        async def recording_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                received.append(message)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, recording_receive, tracking_send)
        except STALE_STATEMENT_ERRORS as error:
            if started:
                raise
            log.warning("%s %s: %s; running it once more", scope["method"], scope["path"], error)
            replay = iter(received)

            async def replaying_receive() -> Message:
                return next(replay, None) or await receive()

            await self.app(scope, replaying_receive, send)
