"""Each request's id, and the one place an error no handler took is answered and logged."""

from __future__ import annotations

import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import unexpected_error_response
from commerce.logs import current_request_id

REQUEST_ID_HEADER = "X-Request-Id"


class RequestContext:
    """ASGI middleware: gives each HTTP request a fresh id (`X-Request-Id` on the response, the
    `request_id` of its log lines and problem documents) and turns an unhandled error into a 503
    (dependency unreachable) or a 500 problem document, logged once; the error is not raised on
    to the server, which would log it a second time without the id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        token = current_request_id.set(request_id)
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as error:
            answer = unexpected_error_response(scope["method"], scope["path"], error)
            if not started:  # else the client sees the connection close mid-answer
                await answer(scope, receive, send_with_id)
        finally:
            current_request_id.reset(token)
