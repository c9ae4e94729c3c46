"""A Stripe PaymentIntent read into what the saga decides on (pure: no I/O).

Stripe gives `amount_received` and `charge.amount_captured`; localstripe gives neither. Both book
the part a partial capture releases as a refund of the charge, so what may still be refunded is
`charge.amount - charge.amount_refunded` on either. Both are read here, in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Statuses in which the PaymentIntent holds, or may come to hold, the customer's money.
HOLDING = frozenset({"requires_confirmation", "requires_action", "processing", "requires_capture"})
OUR_KEY = "idempotency_key"  # metadata of every PaymentIntent and refund this service makes


@dataclass(frozen=True, slots=True)
class PaymentIntentState:
    """One PaymentIntent: `status` is Stripe's (`requires_payment_method`, `requires_confirmation`,
    `requires_action`, `processing`, `requires_capture`, `canceled`, `succeeded`); amounts are in
    minor units: `amount` authorized, `captured` taken, `refunded` given back by refunds (not the
    part a partial capture released). `client_secret` and `action_type` matter while the status is
    `requires_action`; `decline_code` once an attempt failed."""

    payment_intent_id: str
    status: str
    amount: int
    currency: str
    captured: int
    refunded: int
    charge_id: str | None
    client_secret: str | None
    action_type: str | None
    decline_code: str | None
    metadata: dict[str, str]

    @property
    def refundable(self) -> int:
        """What may still be refunded: captured - refunded."""
        return self.captured - self.refunded

    @classmethod
    def of(cls, intent: dict[str, Any]) -> PaymentIntentState:
        """From a PaymentIntent as the API returns it, with `latest_charge` expanded."""
        charge = intent.get("latest_charge")
        charge = charge if isinstance(charge, dict) else None
        captured = _captured(intent, charge)
        error = intent.get("last_payment_error") or {}
        action = intent.get("next_action") or {}
        return cls(
            payment_intent_id=intent["id"],
            status=intent["status"],
            amount=int(intent["amount"]),
            currency=str(intent["currency"]),
            captured=captured,
            refunded=captured - _refundable(charge) if captured else 0,
            charge_id=charge["id"] if charge else _charge_id(intent),
            client_secret=intent.get("client_secret"),
            action_type=action.get("type"),
            decline_code=error.get("decline_code") or error.get("code"),
            metadata=dict(intent.get("metadata") or {}),
        )


def _captured(intent: dict[str, Any], charge: dict[str, Any] | None) -> int:
    if intent["status"] != "succeeded" and not (charge or {}).get("captured"):
        return 0
    if intent.get("amount_received") is not None:
        return int(intent["amount_received"])
    if charge is None:
        return 0
    if charge.get("amount_captured") is not None:
        return int(charge["amount_captured"])
    # localstripe: the released rest is the one refund that is not ours (no metadata).
    listed = (charge.get("refunds") or {}).get("data") or []
    released = sum(r["amount"] for r in listed if not (r.get("metadata") or {}).get(OUR_KEY))
    return int(charge["amount"]) - released


def _refundable(charge: dict[str, Any] | None) -> int:
    if charge is None:
        return 0
    return int(charge["amount"]) - int(charge.get("amount_refunded") or 0)


def _charge_id(intent: dict[str, Any]) -> str | None:
    charge = intent.get("latest_charge")
    return charge if isinstance(charge, str) else None
