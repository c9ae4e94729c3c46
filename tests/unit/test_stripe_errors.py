"""Stripe's errors onto ours: refusals final (with the decline code), everything else transient."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
import stripe

from activities.providers import ProviderUnavailable
from activities.stripe_errors import translated
from domain.errors import CaptureDeclined, PaymentDeclined, RefundDeclined


def _body(**error: Any) -> dict[str, Any]:
    return {
        "error": {"type": "card_error", "message": "Your card has insufficient funds.", **error}
    }


def test_a_card_error_is_a_decline_with_the_issuers_code() -> None:
    body = _body(code="card_declined", decline_code="insufficient_funds")
    error = stripe.CardError("Your card has insufficient funds.", None, "card_declined",
                             http_status=402, json_body=body)  # fmt: skip
    ours = translated(error, PaymentDeclined)
    assert isinstance(ours, PaymentDeclined) and ours.decline_code == "insufficient_funds"
    assert str(ours) == "Your card has insufficient funds. (insufficient_funds)"
    assert ours.details == ("insufficient_funds",)
    again = pickle.loads(pickle.dumps(ours))  # as it crosses into Temporal
    assert (type(again), again.decline_code, str(again)) == (
        PaymentDeclined,
        "insufficient_funds",
        str(ours),
    )


@pytest.mark.parametrize("refusal", [CaptureDeclined, RefundDeclined])
def test_a_request_stripe_refuses_for_good_is_the_steps_refusal(refusal: type[Exception]) -> None:
    error = stripe.InvalidRequestError(
        "This PaymentIntent could not be captured because it has a status of canceled.",
        None, code="payment_intent_unexpected_state", http_status=400,
    )  # fmt: skip
    ours = translated(error, refusal)  # type: ignore[arg-type]
    assert type(ours) is refusal and "payment_intent_unexpected_state" in str(ours)


@pytest.mark.parametrize(
    "error",
    [
        stripe.RateLimitError("Too many requests", http_status=429),
        stripe.APIError("Internal error", http_status=500),
        stripe.APIError("Bad gateway", http_status=502),
        stripe.APIConnectionError("Connection reset"),
        stripe.AuthenticationError("Invalid API Key", http_status=401),
        stripe.PermissionError("Not allowed", http_status=403),
        stripe.IdempotencyError("Keys for idempotent requests...", http_status=400),
    ],
    ids=["429", "500", "502", "network", "401", "403", "idempotency"],
)
def test_everything_else_is_transient(error: stripe.StripeError) -> None:
    assert isinstance(translated(error, PaymentDeclined), ProviderUnavailable)


def test_a_look_up_never_declines() -> None:
    error = stripe.InvalidRequestError("No such payment_intent", None, http_status=404)
    assert isinstance(translated(error, None), ProviderUnavailable)
