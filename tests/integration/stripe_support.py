"""Helpers for tests against localstripe: settings and gateways pointed at it, and what it holds
(read over its HTTP API, independently of the gateway under test)."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx

from activities.stripe_payments import StripeGateway
from commerce.settings import Settings
from commerce.stripe_keys import LOCAL_SECRET_KEY, stripe_client
from eventstore.stripe_intents import PaymentIntentNotes

AUTH = {"Authorization": f"Bearer {LOCAL_SECRET_KEY}"}
# localstripe's own test cards: it declines pm_card_chargeCustomerFail at the charge; it does
# not decline pm_card_visa_chargeDeclined (that card only fails when attached to a customer).
VISA = "pm_card_visa"
DECLINED = "pm_card_chargeCustomerFail"
NEEDS_3DS = "4000002760003184"  # a card number localstripe asks 3-D Secure for


def on_localstripe(settings: Settings, api_base: str, **changes: Any) -> Settings:
    return settings.model_copy(
        update={"payment_provider": "stripe", "stripe_api_base": api_base, **changes}
    )


def gateway(
    settings: Settings,
    pool: asyncpg.Pool,
    customer_actions: bool = False,
    kind: type[StripeGateway] = StripeGateway,
) -> StripeGateway:
    """A Stripe gateway as the worker builds it (`kind`: a subclass a test rigged)."""
    return kind(
        stripe_client(settings), PaymentIntentNotes(pool), settings.stripe_timeout_s,
        customer_actions=customer_actions,
    )  # fmt: skip


async def payment_intents_of(api_base: str, order_id: str) -> list[dict[str, Any]]:
    """Every PaymentIntent localstripe holds for the order (by `metadata.order_id`)."""
    found: list[dict[str, Any]] = []
    after: str | None = None
    async with httpx.AsyncClient(base_url=api_base, headers=AUTH, timeout=10) as client:
        while True:
            params: dict[str, Any] = {"limit": 100, **({"starting_after": after} if after else {})}
            page = (await client.get("/v1/payment_intents", params=params)).json()
            found += [pi for pi in page["data"] if pi["metadata"].get("order_id") == order_id]
            if not page["has_more"] or not page["data"]:
                return found
            after = page["data"][-1]["id"]


async def payment_intent(api_base: str, payment_intent_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=api_base, headers=AUTH, timeout=10) as client:
        answer = await client.get(f"/v1/payment_intents/{payment_intent_id}")
    answer.raise_for_status()
    intent: dict[str, Any] = answer.json()
    return intent


async def card(api_base: str, number: str) -> str:
    """A PaymentMethod for a raw test card number (localstripe accepts them; Stripe's test mode
    only with raw card data enabled)."""
    body = {"type": "card", "card[number]": number, "card[exp_month]": "12",
            "card[exp_year]": "2030", "card[cvc]": "123"}  # fmt: skip
    async with httpx.AsyncClient(base_url=api_base, headers=AUTH, timeout=10) as client:
        answer = await client.post("/v1/payment_methods", data=body)
    answer.raise_for_status()
    return str(answer.json()["id"])


async def authenticate(api_base: str, payment_intent_id: str, client_secret: str) -> None:
    """What the customer's browser does after 3-D Secure (localstripe's `_authenticate`)."""
    async with httpx.AsyncClient(base_url=api_base, headers=AUTH, timeout=10) as client:
        answer = await client.post(
            f"/v1/payment_intents/{payment_intent_id}/_authenticate",
            data={"client_secret": client_secret, "success": "true"},
        )
    answer.raise_for_status()


def captured(intent: dict[str, Any]) -> tuple[int, int]:
    """(captured, refunded by refunds) of a PaymentIntent as localstripe shows it."""
    charge = intent["latest_charge"] or {}
    if not charge.get("captured"):
        return 0, 0
    refunds = charge["refunds"]["data"]
    released = sum(r["amount"] for r in refunds if not r["metadata"])
    ours = sum(r["amount"] for r in refunds if r["metadata"])
    return charge["amount"] - released, ours
