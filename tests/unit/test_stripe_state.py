"""A PaymentIntent as Stripe and as localstripe return it, read into the same amounts."""

from __future__ import annotations

from typing import Any

from activities.stripe_state import PaymentIntentState


def _intent(status: str, charge: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": "pi_1", "status": status, "amount": 5000, "currency": "usd",
        "client_secret": "pi_1_secret_x", "metadata": {"order_id": "o-1"},
        "latest_charge": charge, **extra,
    }  # fmt: skip


def _refund(amount: int, ours: bool) -> dict[str, Any]:
    return {"amount": amount, "metadata": {"idempotency_key": "order-o-1:refund"} if ours else {}}


def test_an_authorized_payment_intent_has_taken_nothing() -> None:
    charge = {"id": "ch_1", "amount": 5000, "captured": False, "amount_refunded": 0}
    state = PaymentIntentState.of(_intent("requires_capture", charge, amount_received=0))
    assert (state.captured, state.refunded, state.refundable) == (0, 0, 0)
    assert state.charge_id == "ch_1" and state.metadata == {"order_id": "o-1"}


def test_stripe_a_partial_capture_then_a_refund() -> None:
    # Stripe books the released 1000 as refunded on the charge, beside the 1500 refunded after.
    charge = {"id": "ch_1", "amount": 5000, "captured": True, "amount_captured": 4000,
              "amount_refunded": 2500}  # fmt: skip
    state = PaymentIntentState.of(_intent("succeeded", charge, amount_received=4000))
    assert (state.captured, state.refunded, state.refundable) == (4000, 1500, 2500)


def test_localstripe_a_partial_capture_then_a_refund() -> None:
    refunds = {"data": [_refund(1000, ours=False), _refund(1500, ours=True)]}
    charge = {"id": "ch_1", "amount": 5000, "captured": True, "amount_refunded": 2500,
              "refunds": refunds}  # fmt: skip
    state = PaymentIntentState.of(_intent("succeeded", charge))
    assert (state.captured, state.refunded, state.refundable) == (4000, 1500, 2500)


def test_a_charge_named_only_by_id_and_a_decline() -> None:
    error = {"code": "card_declined", "decline_code": "insufficient_funds"}
    state = PaymentIntentState.of(
        _intent("requires_payment_method", None, last_payment_error=error)
    )
    assert state.decline_code == "insufficient_funds" and state.charge_id is None
    assert (
        PaymentIntentState.of(
            _intent("requires_capture", None) | {"latest_charge": "ch_9"}
        ).charge_id
        == "ch_9"
    )


def test_a_payment_that_needs_the_customer_names_its_action() -> None:
    action = {"type": "use_stripe_sdk", "use_stripe_sdk": {"type": "three_d_secure_redirect"}}
    state = PaymentIntentState.of(_intent("requires_action", None, next_action=action))
    assert (state.action_type, state.client_secret) == ("use_stripe_sdk", "pi_1_secret_x")
