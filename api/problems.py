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
    IdempotencyKeyReused,
    UnknownProduct,
)
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
    phrase = HTTPStatus(status).phrase
    body = {
        "type": f"https://httpstatuses.io/{status}" if status != 422 else "about:blank",
        "title": title or phrase,
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


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
_EXTRA_FIELDS = ("order_id", "sku", "skus", "expected_total", "total", "cart")
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
        return await _on_unexpected(request, error)
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
    if isinstance(error, ConnectionError | TimeoutError):
        return "a server it depends on"
    return None


async def _on_unexpected(request: Request, error: Exception) -> JSONResponse:
    dependency = _unavailable_dependency(error)
    if dependency is not None:
        # Nothing was decided: the client may repeat the request (with its Idempotency-Key).
        log.warning(
            "%s %s: %s unavailable: %s", request.method, request.url.path, dependency, error
        )
        return problem_response(
            503,
            f"{dependency} is briefly unavailable; repeat the request",
            headers={"Retry-After": "1"},
        )
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(500, "The server could not complete the request.")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    for error_type in ERROR_STATUS:
        app.add_exception_handler(error_type, _on_mapped)
    app.add_exception_handler(Exception, _on_unexpected)
