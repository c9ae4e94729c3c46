"""Every error as application/problem+json (RFC 9457), mapped in this one place."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis import exceptions as redis_errors
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import RPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from api.cart_errors import (
    CartAlreadyConverted,
    CartBusy,
    CartNotFound,
    CheckoutRefused,
    UnknownProduct,
)
from api.digests import IdempotencyKeyReused
from commerce.logs import current_request_id
from commerce.redaction import redacted
from domain import errors
from domain.cart import ProductsNotSold, TotalChanged
from eventstore.catalog import StockBelowReserved
from eventstore.cursors import InvalidCursor

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)


class Problem(Exception):
    """An error the API answers with a problem document; raise it from routes and dependencies."""

    def __init__(self, status: int, detail: str, *, title: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.extra = extra
        self.headers: dict[str, str] = {}


def problem_response(
    status: int,
    detail: str,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """The problem document; inside a request it carries `request_id`, the id its log lines and
    its `X-Request-Id` header carry."""
    phrase = HTTPStatus(status).phrase
    body = {
        "type": f"https://httpstatuses.io/{status}" if status != 422 else "about:blank",
        "title": title or phrase,
        "status": status,
        "detail": detail,
        **extra,
    }
    if (request_id := current_request_id.get()) is not None:
        body.setdefault("request_id", request_id)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def retry_later(status: int, detail: str, retry_after_s: int, **extra: Any) -> JSONResponse:
    """429 or 503 with `Retry-After` (whole seconds, at least 1)."""
    headers = {"Retry-After": str(max(1, retry_after_s))}
    return problem_response(status, detail, headers=headers, **extra)


# Errors raised below the routes, by type; the first match along the exception's MRO wins.
ERROR_STATUS: dict[type[Exception], int] = {
    errors.InvalidQuantity: 422,
    errors.InvalidMoney: 422,
    errors.CurrencyMismatch: 422,
    errors.EmptyOrder: 422,
    errors.CartNotActive: 409,
    errors.CartLineNotFound: 404,
    errors.InvalidTransition: 409,
    CartNotFound: 404,
    CartAlreadyConverted: 409,
    CartBusy: 409,
    CheckoutRefused: 409,
    ProductsNotSold: 409,
    TotalChanged: 409,
    IdempotencyKeyReused: 422,
    UnknownProduct: 404,
    StockBelowReserved: 409,
    InvalidCursor: 422,
}
# Attributes worth showing the client when an error has them.
_EXTRA_FIELDS = ("order_id", "retry_cart_id", "sku", "skus", "expected_total", "total", "cart")
# Titles of errors that are not their status's phrase; an error's own `title` comes first.
_TITLES: dict[type[Exception], str] = {errors.CartNotActive: "Cart is being checked out"}


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


async def _on_problem(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, Problem)
    return problem_response(
        error.status, error.detail, error.title, headers=error.headers, **error.extra
    )


async def _on_validation(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [
        {"field": _field(item["loc"]), "message": item["msg"], "type": item["type"]}
        for item in error.errors()
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid request"
    return problem_response(422, detail, "Validation failed", errors=errors)


async def _on_http(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    return problem_response(
        error.status_code, str(error.detail), headers=getattr(error, "headers", None)
    )


def _status_of(error: Exception) -> int | None:
    return next((ERROR_STATUS[t] for t in type(error).__mro__ if t in ERROR_STATUS), None)


async def _on_mapped(request: Request, error: Exception) -> JSONResponse:
    status = _status_of(error)
    if status is None:
        return unexpected_error_response(request.method, request.url.path, error)
    extra = {name: getattr(error, name) for name in _EXTRA_FIELDS if hasattr(error, name)}
    title = getattr(error, "title", None) or _title_of(error)
    return problem_response(status, str(error), title, **extra)


def _title_of(error: Exception) -> str | None:
    return next((_TITLES[t] for t in type(error).__mro__ if t in _TITLES), None)


def temporal_unreachable(error: BaseException) -> bool:
    """True when a Temporal client call failed because Temporal could not be reached in time.

    Routes that turn some RPCErrors into answers of their own (404, 409) re-raise these, so they
    become a 503 here. The API's client connects lazily: until its first connection succeeds,
    every call raises the SDK's RuntimeError "Failed client connect: ..." rather than an RPCError.
    """
    if isinstance(error, RPCError):
        return error.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED)
    if isinstance(error, RPCTimeoutOrCancelledError):  # an update's wait ran out
        return True
    return type(error) is RuntimeError and str(error).startswith("Failed client connect")


def _unavailable_dependency(error: Exception) -> str | None:
    """The server a request could not reach (a restart, an outage), if that is what failed."""
    if isinstance(error, asyncpg.PostgresConnectionError | asyncpg.InterfaceError):
        return "PostgreSQL"
    if isinstance(error, redis_errors.ConnectionError | redis_errors.TimeoutError):
        return "Redis"
    if temporal_unreachable(error):
        return "Temporal"
    if isinstance(error, RPCTimeoutOrCancelledError):  # an update past its deadline
        return "Temporal"
    if isinstance(error, ConnectionError | TimeoutError):
        return "a server it depends on"
    return None


def unexpected_error_response(method: str, path: str, error: Exception) -> JSONResponse:
    """A dependency that could not be reached: 503 with `Retry-After`; anything else: 500. Either
    is logged here, once, with the request id the problem document carries."""
    dependency = _unavailable_dependency(error)
    if dependency is not None:
        # Nothing was decided: the client may repeat the request (with its Idempotency-Key).
        reason = redacted(str(error) or type(error).__name__)
        log.warning("%s %s: %s unavailable: %s", method, path, dependency, reason)
        return retry_later(503, f"{dependency} is briefly unavailable; repeat the request", 1)
    log.error("unhandled error on %s %s", method, path, exc_info=error)
    return problem_response(
        500, "The server could not complete the request; quote its request_id to the operator."
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    for error_type in ERROR_STATUS:
        app.add_exception_handler(error_type, _on_mapped)
    # Any other error reaches api.request_context.RequestContext, which answers and logs it once
    # (an `Exception` handler here would run in Starlette's ServerErrorMiddleware, which raises the
    # error again after answering, for the server to log a second time).
