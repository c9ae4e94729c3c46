"""Stripe's PaymentIntents, charges and refunds read as the provider's record of an order, for
reconciliation: the same answer from Stripe's shapes and from localstripe's."""

from __future__ import annotations

from typing import Any

import pytest

from activities.stripe_movements import ChargedIntent, order_payments
from domain.provider_payments import (
    AuthorizationStatus,
    ProviderAuthorization,
    ProviderMovement,
    ProviderPayments,
)

A = AuthorizationStatus


def _intent(
    status: str, amount: int = 5000, charge: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "id": extra.pop("id", "pi_1"), "status": status, "amount": amount, "currency": "usd",
        "created": extra.pop("created", 100), "metadata": {"order_id": "o-1"},
        "latest_charge": charge, **extra,
    }  # fmt: skip


def _charge(amount: int = 5000, captured: bool = True, **extra: Any) -> dict[str, Any]:
    return {"id": "ch_1", "amount": amount, "captured": captured, **extra}


def _refund(
    refund_id: str, amount: int, key: str | None, created: int = 200, status: str = "succeeded"
) -> dict[str, Any]:
    metadata = {"order_id": "o-1", "idempotency_key": key} if key else {}
    return {"id": refund_id, "amount": amount, "metadata": metadata, "created": created,
            "status": status}  # fmt: skip


@pytest.mark.parametrize(
    ("stripe_status", "ours"),
    [
        ("requires_capture", A.OPEN),
        ("processing", A.OPEN),
        ("succeeded", A.CAPTURED),
        ("canceled", A.VOIDED),
        ("requires_action", A.REQUIRES_ACTION),
        ("requires_confirmation", A.REQUIRES_ACTION),
        ("requires_payment_method", A.FAILED),
    ],
)
def test_each_payment_intent_status_is_an_authorization_status(
    stripe_status: str, ours: AuthorizationStatus
) -> None:
    payments = order_payments("o-1", [ChargedIntent(_intent(stripe_status))])
    assert payments.authorizations == (ProviderAuthorization("pi_1", 5000, ours),)
    assert payments.captures == () and payments.refunds == ()


def test_an_authorized_charge_is_no_capture_yet() -> None:
    intent = _intent("requires_capture", charge=_charge(captured=False))
    assert order_payments("o-1", [ChargedIntent(intent)]).captures == ()


def test_localstripe_the_released_part_of_a_partial_capture_is_no_refund_of_ours() -> None:
    # localstripe books the 1000 a partial capture released as a refund without metadata and
    # reports no captured amount; our refunds carry our key; a failed one moved nothing.
    intent = _intent("succeeded", charge=_charge(amount_refunded=2500))
    refunds = (
        _refund("re_3", 700, "order-o-1:refund-b", created=300),
        _refund("re_1", 1000, None, created=150),
        _refund("re_2", 800, "order-o-1:refund-a", created=200),
        _refund("re_4", 900, "order-o-1:refund-c", created=400, status="failed"),
    )
    payments = order_payments("o-1", [ChargedIntent(intent, refunds)])

    assert payments == ProviderPayments(
        order_id="o-1",
        authorizations=(ProviderAuthorization("pi_1", 5000, A.CAPTURED),),
        captures=(ProviderMovement("ch_1", 4000),),
        refunds=(ProviderMovement("re_2", 800), ProviderMovement("re_3", 700)),
    )


def test_stripe_a_refund_made_outside_the_service_is_a_refund_the_release_is_not() -> None:
    # Stripe reports what it captured: only the released rest is not a refund; a refund made in
    # the dashboard (no metadata) moved the customer's money all the same.
    charge = _charge(amount_captured=4000, amount_refunded=1600)
    intent = _intent("succeeded", charge=charge, amount_received=4000)
    refunds = (_refund("re_1", 1000, None, created=150), _refund("re_9", 600, None, created=500))
    payments = order_payments("o-1", [ChargedIntent(intent, refunds)])

    assert payments.captures == (ProviderMovement("ch_1", 4000),)
    assert payments.refunds == (ProviderMovement("re_9", 600),)


def test_stripe_a_full_capture_releases_nothing_so_every_refund_counts() -> None:
    charge = _charge(amount_captured=5000, amount_refunded=5000)
    intent = _intent("succeeded", charge=charge, amount_received=5000)
    refunds = (_refund("re_1", 5000, None),)
    payments = order_payments("o-1", [ChargedIntent(intent, refunds)])
    assert payments.refunds == (ProviderMovement("re_1", 5000),)


def test_an_order_with_several_payment_intents_lists_them_oldest_first() -> None:
    # The original authorization cancelled, a second one captured.
    first = _intent("canceled", id="pi_a", created=100)
    second = _intent("succeeded", 3000, _charge(3000), id="pi_b", created=200)
    payments = order_payments("o-1", [ChargedIntent(second), ChargedIntent(first)])
    assert payments.authorizations == (
        ProviderAuthorization("pi_a", 5000, A.VOIDED),
        ProviderAuthorization("pi_b", 3000, A.CAPTURED),
    )
    assert payments.captures == (ProviderMovement("ch_1", 3000),)


def test_an_order_stripe_knows_nothing_of_is_empty() -> None:
    assert order_payments("o-1", []) == ProviderPayments("o-1")
