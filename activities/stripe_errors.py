"""Stripe's errors onto ours, in one place: a refusal is a business failure, the rest transient.

- a card refusal (HTTP 402, `CardError`) and a request Stripe will refuse again however often it
  is sent (400/404, `InvalidRequestError`: a missing PaymentMethod, an amount too small, a
  PaymentIntent in the wrong state) → the step's business failure, final;
- rate limits (429), Stripe's own errors (5xx), connection failures, the call's deadline, a bad
  key or permission (an operator fixes it, then retries the stalled step) and an idempotency
  conflict (a request still in flight under the same key) → ProviderUnavailable, retried.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

import stripe

from activities.providers import ProviderUnavailable
from domain.errors import BusinessRuleViolation, PaymentDeclined

T = TypeVar("T")


def decline_code(error: stripe.StripeError) -> str | None:
    """Stripe's most specific reason: the issuer's `decline_code`, else the error `code`."""
    detail = error.error
    specific = getattr(detail, "decline_code", None) if detail is not None else None
    return specific or error.code


def is_refusal(error: stripe.StripeError) -> bool:
    """Stripe refused for good: the same request would be refused again."""
    if isinstance(error, stripe.CardError):
        return True
    return (
        isinstance(error, stripe.InvalidRequestError)
        and not isinstance(error, stripe.IdempotencyError)
        and error.http_status in (400, 404)
    )


def translated(error: stripe.StripeError, refusal: type[BusinessRuleViolation] | None) -> Exception:
    """Our error for Stripe's: `refusal` (e.g. CaptureDeclined) when Stripe refused for good;
    with no `refusal` (a look-up, a void) every error is ProviderUnavailable."""
    if refusal is None or not is_refusal(error):
        return ProviderUnavailable(f"Stripe: {type(error).__name__}: {error.user_message or error}")
    code = decline_code(error)
    message = error.user_message or refusal.default_message
    message = f"{message} ({code})" if code else message
    if issubclass(refusal, PaymentDeclined):
        return refusal(message, decline_code=code)
    return refusal(message)


async def within(
    deadline_s: float, call: Awaitable[T], refusal: type[BusinessRuleViolation] | None = None
) -> T:
    """Await one Stripe call within `deadline_s` seconds, its errors translated."""
    try:
        async with asyncio.timeout(deadline_s):
            return await call
    except TimeoutError as late:
        raise ProviderUnavailable(f"Stripe did not answer within {deadline_s:g}s") from late
    except stripe.StripeError as error:
        raise translated(error, refusal) from error
