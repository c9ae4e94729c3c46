"""Stripe's PaymentIntents, charges and refunds read as one order's money movements: Stripe's
answer to reconciliation (pure: no I/O; `activities/stripe_records.py` fetches them).

- each PaymentIntent is an authorization of its `amount`, its status mapped by `STATUS`;
- its charge, once captured, is the capture: what was taken (`PaymentIntentState.captured`);
- the charge's refunds that moved money (not failed or cancelled) are the refunds, except the
  rest a partial capture released: where Stripe says what it captured, one refund without our
  key of exactly that rest; where it does not (localstripe), every refund without our key, as
  `PaymentIntentState` counts them released (a refund made outside the service then shows as a
  capture smaller than ours).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from activities.stripe_state import OUR_KEY, PaymentIntentState
from domain.provider_payments import (
    AuthorizationStatus,
    ProviderAuthorization,
    ProviderMovement,
    ProviderPayments,
)

A = AuthorizationStatus
# A PaymentIntent's status as an authorization's; one not listed is taken as holding money.
STATUS: Mapping[str, AuthorizationStatus] = {
    "requires_capture": A.OPEN,
    "processing": A.OPEN,  # on its way to requires_capture
    "succeeded": A.CAPTURED,
    "canceled": A.VOIDED,
    "requires_action": A.REQUIRES_ACTION,
    "requires_confirmation": A.REQUIRES_ACTION,
    "requires_payment_method": A.FAILED,
}
NO_MONEY_MOVED = frozenset({"failed", "canceled"})  # refund statuses


@dataclass(frozen=True, slots=True)
class ChargedIntent:
    """A PaymentIntent as the API returns it (`latest_charge` expanded) and every refund of its
    charge (the API's Refund objects, in any order)."""

    intent: dict[str, Any]
    refunds: tuple[dict[str, Any], ...] = ()


def order_payments(order_id: str, intents: Iterable[ChargedIntent]) -> ProviderPayments:
    """What Stripe says happened to one order's money: authorizations and captures oldest
    first (by `created`), each capture's refunds oldest first. Amounts in minor units."""
    authorizations, captures, refunds = [], [], []
    for charged in sorted(intents, key=lambda c: (c.intent.get("created") or 0, c.intent["id"])):
        state = _state(charged)
        status = STATUS.get(state.status, A.OPEN)
        authorizations.append(ProviderAuthorization(state.payment_intent_id, state.amount, status))
        if state.captured and state.charge_id:
            captures.append(ProviderMovement(state.charge_id, state.captured))
            refunds += _refunds(charged, state)
    return ProviderPayments(order_id, tuple(authorizations), tuple(captures), tuple(refunds))


def _state(charged: ChargedIntent) -> PaymentIntentState:
    """The PaymentIntent read with every refund of its charge (an expanded charge embeds only
    the latest few, if any)."""
    intent, charge = charged.intent, charged.intent.get("latest_charge")
    if isinstance(charge, dict):
        intent = intent | {"latest_charge": charge | {"refunds": {"data": list(charged.refunds)}}}
    return PaymentIntentState.of(intent)


def _refunds(charged: ChargedIntent, state: PaymentIntentState) -> list[ProviderMovement]:
    charge = charged.intent["latest_charge"]
    says_captured = (
        charge.get("amount_captured") is not None
        or charged.intent.get("amount_received") is not None
    )
    released = int(charge["amount"]) - state.captured if says_captured else None
    moved = [r for r in charged.refunds if r.get("status") not in NO_MONEY_MOVED]
    found = []
    for refund in sorted(moved, key=lambda r: (r.get("created") or 0, r["id"])):
        if not (refund.get("metadata") or {}).get(OUR_KEY):
            if released is None:
                continue  # counted released by PaymentIntentState
            if released > 0 and int(refund["amount"]) == released:
                released = 0
                continue
        found.append(ProviderMovement(str(refund["id"]), int(refund["amount"])))
    return found
