"""The payment port on Stripe: a PaymentIntent per authorization, captured by hand.

authorize = a PaymentIntent (`capture_method=manual`, the customer's PaymentMethod `pm_…`,
`metadata` order_id, step and idempotency key), noted in `stripe_payment_intents`, then confirmed;
capture takes all or part of it; void cancels it; refund gives back all or part of its charge.
Every call carries `Idempotency-Key` = the step's key, and the adapter is idempotent without it
too (localstripe ignores the header): it asks Stripe for the state of the PaymentIntent the key
noted before acting, and a PaymentIntent whose creation went unanswered is found by its metadata
(`activities/stripe_lookup.py`). Amounts are minor units, as Stripe counts them.
"""

from __future__ import annotations

import asyncpg
import stripe

from activities.providers import (
    AuthorizationState,
    Capture,
    PaymentActionRequired,
    ProviderUnavailable,
)
from activities.stripe_errors import within
from activities.stripe_lookup import PaymentIntentFinder
from activities.stripe_state import OUR_KEY, PaymentIntentState
from commerce.settings import Settings
from commerce.stripe_keys import stripe_client
from domain.errors import CaptureDeclined, PaymentDeclined, RefundDeclined
from eventstore.stripe_intents import PaymentIntentNotes


class StripeGateway:
    """`PaymentGateway` on Stripe's PaymentIntents API (or any server that speaks it).

    `customer_actions`: when True, a payment that needs the customer (3-D Secure) raises
    PaymentActionRequired for the saga to wait on; when False (a saga that cannot wait), that
    PaymentIntent is cancelled and declined with `authentication_required`, as Stripe's own
    `error_on_requires_action` does. Beyond the port: `payment_intent` reads a PaymentIntent's
    state, `authorize_intent` and `capture_intent` return it, and a capture may be smaller than
    the authorization (`partial_capture`).
    """

    partial_capture = True

    def __init__(
        self,
        client: stripe.StripeClient,
        notes: PaymentIntentNotes,
        timeout_s: float,
        customer_actions: bool = False,
    ) -> None:
        self._intents = client.v1.payment_intents
        self._client = client
        self._notes = notes
        self._timeout_s = timeout_s
        self._customer_actions = customer_actions
        self._finder = PaymentIntentFinder(client, timeout_s)

    @classmethod
    def from_settings(cls, settings: Settings, pool: asyncpg.Pool) -> StripeGateway:
        return cls(
            stripe_client(settings),
            PaymentIntentNotes(pool),
            settings.stripe_timeout_s,
            customer_actions=True,  # the saga waits for 3-D Secure (awaiting_payment)
        )

    async def authorization_state(self, order_id: str, authorization_id: str) -> AuthorizationState:
        """Where a PaymentIntent that awaited the customer stands: authorized once it can be
        captured; failed when it needs another payment method or was cancelled."""
        state = await self.payment_intent(authorization_id)
        match state.status:
            case "requires_capture" | "succeeded":
                return AuthorizationState("authorized", state.amount)
            case "requires_payment_method" | "canceled":
                code = state.decline_code or state.status
                return AuthorizationState("failed", reason=f"the payment failed ({code})")
        return AuthorizationState("requires_action")

    async def payment_intent(self, payment_intent_id: str) -> PaymentIntentState:
        """The PaymentIntent as Stripe holds it now. Raises ProviderUnavailable."""
        intent = await within(
            self._timeout_s,
            self._intents.retrieve_async(payment_intent_id, {"expand": ["latest_charge"]}),
        )
        return PaymentIntentState.of(intent.to_dict())

    async def authorize(
        self, key: str, order_id: str, amount: int, currency: str, payment_token: str
    ) -> str:
        state = await self.authorize_intent(key, order_id, amount, currency, payment_token)
        return state.payment_intent_id

    async def authorize_intent(
        self, key: str, order_id: str, amount: int, currency: str, payment_token: str
    ) -> PaymentIntentState:
        """The PaymentIntent of `key`, authorized (`requires_capture`). Raises PaymentDeclined
        (with Stripe's decline code), PaymentActionRequired (see the class) or
        ProviderUnavailable."""
        if not payment_token.startswith("pm_"):
            raise PaymentDeclined(
                f"payment_token {payment_token[:40]!r} is not a Stripe PaymentMethod id (pm_…)",
                decline_code="invalid_payment_method",
            )
        payment_intent_id = await self._payment_intent_for(key, order_id)
        if payment_intent_id is None:
            created = await self._create(key, order_id, amount, currency, payment_token)
            payment_intent_id = await self._notes.record(key, order_id, created)
            if payment_intent_id != created:  # a concurrent attempt noted its own first
                await self._release(f"{key}/superseded", created)
        state = await self.payment_intent(payment_intent_id)
        _same_request(key, (state.amount, state.currency), (amount, currency.lower()))
        if state.status == "requires_confirmation":  # confirmed only once noted
            state = await self._confirm(key, payment_intent_id)
        return await self._authorized(key, state)

    async def capture(self, key: str, order_id: str, authorization_id: str, amount: int) -> str:
        return (await self.capture_intent(key, order_id, authorization_id, amount)).capture_id

    async def capture_intent(
        self, key: str, order_id: str, payment_intent_id: str, amount: int
    ) -> Capture:
        """Take `amount` (at most the authorized amount; less releases the rest) of the
        PaymentIntent; the capture's id is its charge's. A PaymentIntent captured already
        answers what it took. Raises CaptureDeclined or ProviderUnavailable."""
        await self._notes.record(key, order_id, payment_intent_id)  # find_capture asks this one
        state = await self.payment_intent(payment_intent_id)
        if state.status == "succeeded" and state.charge_id:
            _same_request(key, state.captured, amount)
            return Capture(state.charge_id, state.captured)
        if state.status == "processing":
            raise ProviderUnavailable(f"{payment_intent_id} is still processing")
        if state.status != "requires_capture":
            raise CaptureDeclined(f"the payment is {state.status} at Stripe: nothing to capture")
        if amount > state.amount:
            raise CaptureDeclined(f"a capture of {amount} exceeds the {state.amount} authorized")
        try:
            captured = await within(
                self._timeout_s,
                self._intents.capture_async(
                    payment_intent_id,
                    {"amount_to_capture": amount, "expand": ["latest_charge"]},
                    {"idempotency_key": key},
                ),
                CaptureDeclined,
            )
            state = PaymentIntentState.of(captured.to_dict())
        except CaptureDeclined:
            # Refused because another attempt of this step captured meanwhile? Then it happened.
            state = await self.payment_intent(payment_intent_id)
            if state.status != "succeeded":
                raise
        if state.charge_id is None:
            raise ProviderUnavailable(f"Stripe named no charge for {payment_intent_id}")
        return Capture(state.charge_id, state.captured)

    async def void(self, key: str, order_id: str, authorization_id: str) -> None:
        """Cancel the PaymentIntent (nothing is taken; the hold is released). One captured
        already cannot be voided: ProviderUnavailable, so the step stalls for an operator."""
        await self._release(key, authorization_id)

    async def find_authorization(self, key: str, order_id: str) -> str | None:
        payment_intent_id = await self._notes.payment_intent_of(key)
        if payment_intent_id is None:
            found = await self._finder.by_key(key)
            if found is None:
                return None
            payment_intent_id = await self._notes.record(key, order_id, found)
        state = await self.payment_intent(payment_intent_id)
        held = state.status not in ("requires_payment_method", "canceled")
        return payment_intent_id if held else None

    async def find_capture(self, key: str, order_id: str) -> Capture | None:
        noted = await self._notes.payment_intent_of(key)
        for payment_intent_id in [noted] if noted else await self._notes.of_order(order_id):
            state = await self.payment_intent(payment_intent_id)
            if state.captured and state.charge_id:
                return Capture(state.charge_id, state.captured)
        return None

    async def refund(self, key: str, order_id: str, capture_id: str, amount: int) -> str:
        """Give back `amount` of the charge `capture_id`; the refund made under `key` already
        is answered again. Raises RefundDeclined (more than captured - refunded) or
        ProviderUnavailable."""
        made = await self._finder.refund_by_key(capture_id, key)
        if made is not None:
            _same_request(key, made[1], amount)
            return made[0]
        charge = await within(self._timeout_s, self._client.v1.charges.retrieve_async(capture_id))
        state = await self.payment_intent(str(charge["payment_intent"]))
        if amount > state.refundable:
            raise RefundDeclined(
                f"a refund of {amount} exceeds the {state.refundable} left of the capture"
            )
        metadata = {"order_id": order_id, "step": _step(key), OUR_KEY: key}
        try:
            refund = await within(
                self._timeout_s,
                self._client.v1.refunds.create_async(
                    {"charge": capture_id, "amount": amount, "metadata": metadata},
                    {"idempotency_key": key},
                ),
                RefundDeclined,
            )
        except RefundDeclined:
            # Refused because another attempt of this step refunded meanwhile? Then it happened.
            made = await self._finder.refund_by_key(capture_id, key)
            if made is None:
                raise
            _same_request(key, made[1], amount)
            return made[0]
        return str(refund.id)

    async def _payment_intent_for(self, key: str, order_id: str) -> str | None:
        """The PaymentIntent a call under `key` made, if any: noted, or (when an earlier call
        went unanswered) found at Stripe by its metadata and noted now."""
        tried_before, noted = await self._notes.attempt(key, order_id)
        if noted is not None or not tried_before:
            return noted
        found = await self._finder.by_key(key)
        return None if found is None else await self._notes.record(key, order_id, found)

    async def _create(
        self, key: str, order_id: str, amount: int, currency: str, payment_token: str
    ) -> str:
        params = {
            "amount": amount,
            "currency": currency.lower(),
            "payment_method": payment_token,
            "payment_method_types": ["card"],
            "capture_method": "manual",
            "metadata": {"order_id": order_id, "step": _step(key), OUR_KEY: key},
        }
        created = await within(
            self._timeout_s,
            self._intents.create_async(params, {"idempotency_key": key}),  # type: ignore[arg-type]
            PaymentDeclined,
        )
        return str(created.id)

    async def _confirm(self, key: str, payment_intent_id: str) -> PaymentIntentState:
        """Confirm; whatever Stripe answers, the PaymentIntent's status then decides."""
        try:
            await within(
                self._timeout_s,
                self._intents.confirm_async(
                    payment_intent_id, options={"idempotency_key": f"{key}/confirm"}
                ),
                PaymentDeclined,
            )
        except PaymentDeclined:
            pass  # declined, or confirmed meanwhile: read below
        return await self.payment_intent(payment_intent_id)

    async def _authorized(self, key: str, state: PaymentIntentState) -> PaymentIntentState:
        match state.status:
            case "requires_capture" | "succeeded":
                return state
            case "requires_action" if self._customer_actions:
                raise PaymentActionRequired(
                    state.payment_intent_id, state.action_type or "", state.client_secret or ""
                )
            case "requires_action":
                await self._release(f"{key}/unauthenticated", state.payment_intent_id)
                raise PaymentDeclined(
                    "the card needs the customer's authentication (authentication_required)",
                    decline_code="authentication_required",
                )
            case "processing":
                raise ProviderUnavailable(f"{state.payment_intent_id} is still processing")
            case "canceled":
                raise PaymentDeclined(
                    "the payment was cancelled at Stripe", decline_code="canceled"
                )
        code = state.decline_code or "card_declined"
        raise PaymentDeclined(f"the card was declined ({code})", decline_code=code)

    async def _release(self, key: str, payment_intent_id: str) -> None:
        """Cancel a PaymentIntent unless it is cancelled already."""
        state = await self.payment_intent(payment_intent_id)
        if state.status == "canceled":
            return
        if state.status == "succeeded":
            raise ProviderUnavailable(
                f"{payment_intent_id} is captured: it can only be refunded, not voided"
            )
        try:
            await within(
                self._timeout_s,
                self._intents.cancel_async(payment_intent_id, options={"idempotency_key": key}),
            )
        except ProviderUnavailable:
            if (await self.payment_intent(payment_intent_id)).status != "canceled":
                raise


def _same_request(key: str, done: object, asked: object) -> None:
    """What was done under `key` is what is asked now; else ProviderUnavailable (the step
    stalls for an operator), as Stripe answers a key reused with other parameters."""
    if done != asked:
        raise ProviderUnavailable(f"{key} was used for {done}, not {asked}: idempotency conflict")


def _step(key: str) -> str:
    """`authorize` of `order-<id>:authorize`."""
    return key.rpartition(":")[2]
