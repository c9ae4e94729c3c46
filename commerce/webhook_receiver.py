"""A webhook receiver on a loopback port: a real HTTP server (uvicorn) that keeps every request
it gets, when, and answers what it is told to. The benchmark and the tests subscribe it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn

from commerce.embedded import free_port


@dataclass(frozen=True)
class Received:
    """One request as the receiver got it; `at` is its arrival (Unix seconds); `peer_port` the
    sender's port, which tells its connections apart."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    peer_port: int = 0

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


Respond = Callable[[Received], Awaitable[int]]


async def answer_ok(_: Received) -> int:
    return 200


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the process that runs the receiver keeps its own signal handlers


class WebhookReceiver:
    """`async with WebhookReceiver() as receiver:` listens on `receiver.url`; `respond` decides
    each answer's status code (and may wait, to hold a request open)."""

    def __init__(self, respond: Respond = answer_ok) -> None:
        self.respond = respond
        self.received: list[Received] = []
        self.port = free_port()
        self._arrived = asyncio.Condition()
        config = uvicorn.Config(
            self._app, host="127.0.0.1", port=self.port, lifespan="off", access_log=False,
            log_level="warning", timeout_graceful_shutdown=1, interface="asgi3",
        )  # fmt: skip
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def __aenter__(self) -> WebhookReceiver:
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                await self._task  # raises why it could not start
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *_: object) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task

    async def wait_for(
        self, done: Callable[[list[Received]], bool], timeout_s: float = 30.0
    ) -> list[Received]:
        """Until `done(received so far)` holds; TimeoutError after `timeout_s`."""
        async with asyncio.timeout(timeout_s), self._arrived:
            await self._arrived.wait_for(lambda: done(self.received))
        return list(self.received)

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        peer = scope.get("client") or ("", 0)
        request = Received(scope["path"], headers, body, time.time(), peer[1])
        async with self._arrived:
            self.received.append(request)
            self._arrived.notify_all()
        status = await self.respond(request)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"text/plain")]})  # fmt: skip
        await send({"type": "http.response.body", "body": b"ok"})
