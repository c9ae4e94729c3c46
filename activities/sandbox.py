"""Simulated providers that behave by their inputs (see the table in docs/sandbox.md).

Their effects go to `sandbox_ledger` once per idempotency key, in PostgreSQL, so every worker
process shares them and tests can count authorizations and captures per order.
"""

from __future__ import annotations

import json

from activities.providers import (
    AuthorizationState,
    Capture,
    Notification,
    PaymentActionRequired,
    ProviderUnavailable,
    Shipment,
)
from domain.errors import AddressRejected, CaptureDeclined, PaymentDeclined, RefundDeclined
from domain.events import OrderLine, ShippingAddress
from eventstore.sandbox import SandboxLedger

FLAKY_FAILURES = 2


async def _ensure_up(ledger: SandboxLedger, provider: str) -> None:
    """The admin sandbox switch makes a provider answer as if it were down."""
    if not await ledger.is_available(provider):
        raise ProviderUnavailable(f"sandbox {provider} provider is down")


class SandboxPayments:
    """`tok_decline` declines, `tok_capture_decline` declines at capture, `tok_flaky` fails
    transiently twice before authorizing, `tok_3ds` needs the customer to pass 3-D Secure first
    (settled by the sandbox control); any other `tok_` value succeeds. Like Stripe, it captures
    less than it authorized when asked to (the rest is released)."""

    partial_capture = True

    def __init__(self, ledger: SandboxLedger) -> None:
        self._ledger = ledger

    async def authorize(
        self, key: str, order_id: str, amount: int, currency: str, payment_token: str
    ) -> str:
        await _ensure_up(self._ledger, "payment")
        if not payment_token.startswith("tok_") or payment_token == "tok_decline":
            raise PaymentDeclined("the card was declined")
        if payment_token == "tok_flaky" and await self._ledger.count_call(key) <= FLAKY_FAILURES:
            raise ProviderUnavailable("payment gateway timed out")
        reference = await self._ledger.record(
            key, "payment", "authorize", order_id, amount, detail=payment_token
        )
        if payment_token == "tok_3ds":
            status, reason = await self._ledger.payment_action(reference, order_id)
            if status == "failed":
                raise PaymentDeclined(reason)
            if status == "requires_action":
                raise PaymentActionRequired(reference, "use_stripe_sdk", f"{reference}_secret")
        return reference

    async def authorization_state(self, order_id: str, authorization_id: str) -> AuthorizationState:
        await _ensure_up(self._ledger, "payment")
        action = await self._ledger.payment_action_of(authorization_id)
        if action is None:
            raise ProviderUnavailable(f"the sandbox gateway has no payment {authorization_id}")
        status, reason, amount = action
        return AuthorizationState(status, amount, reason)

    async def capture(self, key: str, order_id: str, authorization_id: str, amount: int) -> str:
        await _ensure_up(self._ledger, "payment")
        # The sandbox remembers the token it authorized, as a real gateway does.
        if await self._ledger.detail_of(order_id, "authorize") == "tok_capture_decline":
            raise CaptureDeclined("the capture was declined")
        return await self._ledger.record(key, "payment", "capture", order_id, amount)

    async def void(self, key: str, order_id: str, authorization_id: str) -> None:
        await _ensure_up(self._ledger, "payment")
        await self._ledger.record(key, "payment", "void", order_id, detail=authorization_id)

    async def find_authorization(self, key: str, order_id: str) -> str | None:
        await _ensure_up(self._ledger, "payment")
        return await self._ledger.reference_of(key)

    async def find_capture(self, key: str, order_id: str) -> Capture | None:
        await _ensure_up(self._ledger, "payment")
        effect = await self._ledger.effect_of(key)
        return None if effect is None else Capture(effect[0], effect[1] or 0)

    async def refund(self, key: str, order_id: str, capture_id: str, amount: int) -> str:
        await _ensure_up(self._ledger, "payment")
        done = await self._ledger.reference_of(key)
        if done is not None:
            return done  # the same refund again: the gateway answers what it did
        left = await self._ledger.left_of_capture(capture_id)
        if amount > left:
            raise RefundDeclined(f"a refund of {amount} exceeds the {left} left of the capture")
        return await self._ledger.record(
            key, "payment", "refund", order_id, amount, detail=capture_id
        )


class SandboxShipping:
    """Postal code `00000` is undeliverable; anything else gets a shipment and tracking number.
    A return label's tracking number starts with `RTN` (ledger operation `return_label`, the
    return id in `detail`)."""

    def __init__(self, ledger: SandboxLedger) -> None:
        self._ledger = ledger

    async def create_shipment(
        self, key: str, order_id: str, address: ShippingAddress, lines: tuple[OrderLine, ...]
    ) -> Shipment:
        await _ensure_up(self._ledger, "shipping")
        if address.postal_code.strip() == "00000":
            raise AddressRejected(
                f"the carrier cannot deliver to postal code {address.postal_code}"
            )
        reference = await self._ledger.record(key, "shipping", "ship", order_id)
        return Shipment(shipment_id=reference, tracking_number=f"TRK{reference[-12:].upper()}")

    async def cancel_shipment(self, key: str, order_id: str, shipment_id: str) -> None:
        await _ensure_up(self._ledger, "shipping")
        await self._ledger.record(key, "shipping", "cancel_shipment", order_id, detail=shipment_id)

    async def find_shipment(self, key: str, order_id: str) -> str | None:
        await _ensure_up(self._ledger, "shipping")
        return await self._ledger.reference_of(key)

    async def create_return_label(self, key: str, order_id: str, return_id: str) -> str:
        await _ensure_up(self._ledger, "shipping")
        reference = await self._ledger.record(
            key, "shipping", "return_label", order_id, detail=return_id
        )
        return f"RTN{reference[-12:].upper()}"


class SandboxNotifications:
    """Tells the customer by e-mail; the message is only written to the ledger (operation
    `notify`, the message as JSON in `detail`: customer_id, kind, subject, text, html)."""

    def __init__(self, ledger: SandboxLedger) -> None:
        self._ledger = ledger

    async def notify(self, key: str, message: Notification) -> list[str]:
        await _ensure_up(self._ledger, "notifications")
        detail = json.dumps({"customer_id": message.customer_id, "kind": message.kind,
                             "subject": message.subject, "text": message.text,
                             "html": message.html})  # fmt: skip
        await self._ledger.record(key, "notifications", "notify", message.order_id, detail=detail)
        return ["email"]
