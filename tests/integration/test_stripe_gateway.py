"""The Stripe gateway against localstripe, a real Stripe-API server: authorize, capture (all or
part), void, refund, the in-doubt look-ups, declines, 3-D Secure and deadlines."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from activities.providers import PaymentActionRequired, ProviderUnavailable
from activities.recording import idempotency_key
from activities.stripe_payments import StripeGateway
from commerce.embedded import free_port
from commerce.settings import Settings
from domain.errors import CaptureDeclined, PaymentDeclined, RefundDeclined
from tests.integration.stripe_support import (
    DECLINED,
    NEEDS_3DS,
    VISA,
    authenticate,
    captured,
    card,
    gateway,
    on_localstripe,
    payment_intent,
    payment_intents_of,
)


@pytest.fixture
def stripe_settings(settings: Settings, localstripe: str) -> Settings:
    return on_localstripe(settings, localstripe)


@pytest.fixture
def payments(stripe_settings: Settings, pool: asyncpg.Pool) -> StripeGateway:
    return gateway(stripe_settings, pool)


def _order() -> str:
    return str(uuid.uuid4())


async def _authorized(payments: StripeGateway, order_id: str, amount: int = 4200) -> str:
    key = idempotency_key(order_id, "authorize")
    return await payments.authorize(key, order_id, amount, "USD", VISA)


async def test_authorize_holds_the_order_total_on_a_manual_capture_payment_intent(
    payments: StripeGateway, localstripe: str
) -> None:
    order_id = _order()
    payment_intent_id = await _authorized(payments, order_id, 4200)

    intent = await payment_intent(localstripe, payment_intent_id)
    assert intent["status"] == "requires_capture" and intent["capture_method"] == "manual"
    assert (intent["amount"], intent["currency"]) == (4200, "usd")
    assert intent["metadata"] == {
        "order_id": order_id, "step": "authorize",
        "idempotency_key": f"order-{order_id}:authorize",
    }  # fmt: skip


async def test_authorizing_again_under_the_same_key_reuses_the_payment_intent(
    payments: StripeGateway, localstripe: str
) -> None:
    order_id = _order()
    first = await _authorized(payments, order_id)
    again = await _authorized(payments, order_id)

    assert again == first
    assert len(await payment_intents_of(localstripe, order_id)) == 1


async def test_a_key_reused_for_another_request_is_refused_like_stripe_does(
    payments: StripeGateway, localstripe: str
) -> None:
    """Stripe answers an idempotency error; on a server that ignores the key, so does the
    adapter: nothing is charged that the request did not ask for (the step stalls instead)."""
    order_id = _order()
    key = idempotency_key(order_id, "authorize")
    payment_intent_id = await payments.authorize(key, order_id, 3000, "USD", VISA)
    with pytest.raises(ProviderUnavailable, match="3000"):
        await payments.authorize(key, order_id, 3100, "USD", VISA)

    capture = idempotency_key(order_id, "capture")
    capture_id = await payments.capture(capture, order_id, payment_intent_id, 3000)
    with pytest.raises(ProviderUnavailable, match="3000"):
        await payments.capture(capture, order_id, payment_intent_id, 2900)

    refund = idempotency_key(order_id, "refund")
    await payments.refund(refund, order_id, capture_id, 1000)
    with pytest.raises(ProviderUnavailable, match="1000"):
        await payments.refund(refund, order_id, capture_id, 1200)

    [intent] = await payment_intents_of(localstripe, order_id)
    assert (intent["amount"], captured(intent)) == (3000, (3000, 1000))


class CreatesButLosesTheAnswer(StripeGateway):
    """Stripe creates the PaymentIntent; the answer never arrives, once."""

    lost = 0

    async def _create(self, *args: Any) -> str:
        await super()._create(*args)
        if not self.lost:
            self.lost += 1
            raise ProviderUnavailable("connection reset after Stripe created the PaymentIntent")
        raise AssertionError("created a second PaymentIntent")


async def test_a_payment_intent_whose_creation_went_unanswered_is_found_and_reused(
    stripe_settings: Settings, pool: asyncpg.Pool, localstripe: str
) -> None:
    payments = gateway(stripe_settings, pool, kind=CreatesButLosesTheAnswer)
    order_id = _order()
    key = idempotency_key(order_id, "authorize")
    with pytest.raises(ProviderUnavailable):
        await payments.authorize(key, order_id, 1500, "USD", VISA)
    unanswered = await payments.find_authorization(key, order_id)  # found by its metadata
    assert unanswered is not None
    assert (await payments.payment_intent(unanswered)).status == "requires_confirmation"

    payment_intent_id = await payments.authorize(key, order_id, 1500, "USD", VISA)

    assert payment_intent_id == unanswered
    intents = await payment_intents_of(localstripe, order_id)
    assert [(i["id"], i["status"]) for i in intents] == [(payment_intent_id, "requires_capture")]


async def test_a_declined_card_is_a_final_decline_with_stripes_code_every_time(
    payments: StripeGateway, localstripe: str
) -> None:
    order_id = _order()
    key = idempotency_key(order_id, "authorize")
    for _ in range(2):
        with pytest.raises(PaymentDeclined) as declined:
            await payments.authorize(key, order_id, 1500, "USD", DECLINED)
        assert declined.value.decline_code == "card_declined"
        assert "card_declined" in str(declined.value)

    intents = await payment_intents_of(localstripe, order_id)
    assert [i["status"] for i in intents] == ["requires_payment_method"]
    assert await payments.find_authorization(key, order_id) is None


async def test_a_token_that_is_no_payment_method_is_declined_without_calling_stripe(
    payments: StripeGateway, localstripe: str
) -> None:
    order_id = _order()
    with pytest.raises(PaymentDeclined) as declined:
        await payments.authorize(
            idempotency_key(order_id, "authorize"), order_id, 10, "USD", "tok_ok"
        )
    assert declined.value.decline_code == "invalid_payment_method"
    assert await payment_intents_of(localstripe, order_id) == []


async def test_a_card_that_needs_3d_secure_names_the_action_and_its_client_secret(
    stripe_settings: Settings, pool: asyncpg.Pool, localstripe: str
) -> None:
    payments = gateway(stripe_settings, pool, customer_actions=True)
    order_id, token = _order(), await card(localstripe, NEEDS_3DS)
    key = idempotency_key(order_id, "authorize")
    with pytest.raises(PaymentActionRequired) as action:
        await payments.authorize(key, order_id, 2500, "USD", token)
    required = action.value
    assert required.client_secret.startswith(f"{required.authorization_id}_secret_")
    assert (await payments.payment_intent(required.authorization_id)).status == "requires_action"

    await authenticate(localstripe, required.authorization_id, required.client_secret)

    state = await payments.payment_intent(required.authorization_id)
    assert (state.status, state.amount) == ("requires_capture", 2500)
    assert await payments.authorize(key, order_id, 2500, "USD", token) == state.payment_intent_id


async def test_without_customer_actions_a_3d_secure_card_is_declined_and_released(
    payments: StripeGateway, localstripe: str
) -> None:
    order_id, token = _order(), await card(localstripe, NEEDS_3DS)
    with pytest.raises(PaymentDeclined) as declined:
        await payments.authorize(
            idempotency_key(order_id, "authorize"), order_id, 900, "USD", token
        )

    assert declined.value.decline_code == "authentication_required"
    assert [i["status"] for i in await payment_intents_of(localstripe, order_id)] == ["canceled"]


async def test_capture_takes_the_total_once_and_answers_the_same_when_repeated(
    payments: StripeGateway, localstripe: str
) -> None:
    order_id = _order()
    payment_intent_id = await _authorized(payments, order_id, 3000)
    key = idempotency_key(order_id, "capture")

    first = await payments.capture(key, order_id, payment_intent_id, 3000)
    again = await payments.capture(key, order_id, payment_intent_id, 3000)

    assert again == first and first.startswith("ch_")
    intent = await payment_intent(localstripe, payment_intent_id)
    assert intent["status"] == "succeeded" and captured(intent) == (3000, 0)
    found = await payments.find_capture(key, order_id)
    assert found is not None and (found.capture_id, found.amount) == (first, 3000)


class ReadsTogether(StripeGateway):
    """Attempts that all read the PaymentIntent before any of them captures it."""

    together = asyncio.Barrier(3)

    async def payment_intent(self, payment_intent_id: str) -> Any:
        state = await super().payment_intent(payment_intent_id)
        if state.status == "requires_capture" and self.together.n_waiting < 3:
            with contextlib.suppress(asyncio.BrokenBarrierError, TimeoutError):
                async with asyncio.timeout(5):
                    await self.together.wait()
        return state


async def test_attempts_of_one_capture_at_once_all_answer_the_one_capture(
    stripe_settings: Settings, pool: asyncpg.Pool, localstripe: str
) -> None:
    """An attempt still running when its retry starts, on a server that ignores the key."""
    payments = gateway(stripe_settings, pool, kind=ReadsTogether)
    order_id = _order()
    payment_intent_id = await _authorized(payments, order_id, 2000)
    key = idempotency_key(order_id, "capture")

    answers = await asyncio.gather(
        *(payments.capture(key, order_id, payment_intent_id, 2000) for _ in range(3))
    )

    assert len(set(answers)) == 1
    assert captured(await payment_intent(localstripe, payment_intent_id)) == (2000, 0)


async def test_two_attempts_of_one_refund_one_after_the_other_refund_once(
    payments: StripeGateway, localstripe: str
) -> None:
    order_id = _order()
    payment_intent_id = await _authorized(payments, order_id, 2000)
    capture_id = await payments.capture(
        idempotency_key(order_id, "capture"), order_id, payment_intent_id, 2000
    )
    key = idempotency_key(order_id, "refund")

    first = await payments.refund(key, order_id, capture_id, 2000)
    second = await payments.refund(key, order_id, capture_id, 2000)  # its answer was lost

    assert first == second
    assert captured(await payment_intent(localstripe, payment_intent_id)) == (2000, 2000)


async def test_a_smaller_capture_takes_only_that_amount(
    payments: StripeGateway, localstripe: str
) -> None:
    order_id = _order()
    payment_intent_id = await _authorized(payments, order_id, 5000)

    taken = await payments.capture_intent(
        idempotency_key(order_id, "capture"), order_id, payment_intent_id, 3500
    )

    assert taken.amount == 3500
    state = await payments.payment_intent(payment_intent_id)
    assert (state.captured, state.refunded, state.refundable) == (3500, 0, 3500)
    assert captured(await payment_intent(localstripe, payment_intent_id)) == (3500, 0)


async def test_a_capture_of_more_than_the_authorization_is_declined(
    payments: StripeGateway,
) -> None:
    order_id = _order()
    payment_intent_id = await _authorized(payments, order_id, 1000)
    with pytest.raises(CaptureDeclined):
        await payments.capture(
            idempotency_key(order_id, "capture"), order_id, payment_intent_id, 1001
        )


async def test_refunds_give_back_part_then_the_rest_never_more_than_captured(
    payments: StripeGateway, localstripe: str
) -> None:
    order_id = _order()
    payment_intent_id = await _authorized(payments, order_id, 5000)
    capture_id = await payments.capture(
        idempotency_key(order_id, "capture"), order_id, payment_intent_id, 4000
    )

    first = await payments.refund(idempotency_key(order_id, "refund-1"), order_id, capture_id, 1500)
    repeated = await payments.refund(
        idempotency_key(order_id, "refund-1"), order_id, capture_id, 1500
    )
    with pytest.raises(RefundDeclined):
        await payments.refund(idempotency_key(order_id, "refund-2"), order_id, capture_id, 2501)
    await payments.refund(idempotency_key(order_id, "refund-2"), order_id, capture_id, 2500)

    assert repeated == first
    assert captured(await payment_intent(localstripe, payment_intent_id)) == (4000, 4000)
    assert (await payments.payment_intent(payment_intent_id)).refundable == 0


async def test_void_cancels_the_payment_intent_once_and_nothing_is_left_to_find(
    payments: StripeGateway, localstripe: str
) -> None:
    order_id = _order()
    payment_intent_id = await _authorized(payments, order_id)
    key = idempotency_key(order_id, "void")

    await payments.void(key, order_id, payment_intent_id)
    await payments.void(key, order_id, payment_intent_id)  # a retried void is no error

    assert (await payment_intent(localstripe, payment_intent_id))["status"] == "canceled"
    assert (
        await payments.find_authorization(idempotency_key(order_id, "authorize"), order_id) is None
    )


async def test_an_authorization_cancelled_at_stripe_cannot_be_captured(
    payments: StripeGateway,
) -> None:
    order_id = _order()
    payment_intent_id = await _authorized(payments, order_id)
    await payments.void(idempotency_key(order_id, "void"), order_id, payment_intent_id)

    with pytest.raises(CaptureDeclined, match="canceled"):
        await payments.capture(
            idempotency_key(order_id, "capture"), order_id, payment_intent_id, 4200
        )
    assert await payments.find_capture(idempotency_key(order_id, "capture"), order_id) is None


async def test_nothing_is_found_for_a_key_never_used(payments: StripeGateway) -> None:
    order_id = _order()
    assert (
        await payments.find_authorization(idempotency_key(order_id, "authorize"), order_id) is None
    )
    assert await payments.find_capture(idempotency_key(order_id, "capture"), order_id) is None


async def test_an_unreachable_stripe_is_transient(settings: Settings, pool: asyncpg.Pool) -> None:
    closed = on_localstripe(settings, f"http://127.0.0.1:{free_port()}")
    order_id = _order()
    with pytest.raises(ProviderUnavailable):
        await gateway(closed, pool).authorize(
            idempotency_key(order_id, "authorize"), order_id, 1500, "USD", VISA
        )


@contextlib.asynccontextmanager
async def _silent_server() -> AsyncIterator[int]:
    """A loopback server that accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_every_call_has_a_deadline(settings: Settings, pool: asyncpg.Pool) -> None:
    order_id = _order()
    async with _silent_server() as port:
        silent = on_localstripe(settings, f"http://127.0.0.1:{port}", stripe_timeout_s=0.5)
        look_up = gateway(silent, pool).find_authorization(
            idempotency_key(order_id, "authorize"), order_id
        )
        with pytest.raises(ProviderUnavailable):  # not a hang (wait_for's TimeoutError)
            await asyncio.wait_for(look_up, 30)
