"""The stack as `make run` starts it with COMMERCE_PAYMENT_PROVIDER=stripe: `commerce infra`
starts localstripe, and an order placed over HTTP with a Stripe PaymentMethod completes with no
step by hand; localstripe's signed event about it reaches the API's webhook; a declined card's
lines come back in a retry cart whose checkout completes."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from commerce.embedded import free_port
from tests.drills.conftest import ADDRESS, call, create_product, shopper, wait_until
from tests.drills.stack import Stack
from tests.integration.stripe_support import captured, payment_intents_of

pytestmark = pytest.mark.slow


async def test_an_order_placed_over_http_completes_through_localstripe(drill_root: Path) -> None:
    stripe_port = free_port()
    settings = {
        "COMMERCE_PAYMENT_PROVIDER": "stripe",
        "COMMERCE_EMBEDDED_STRIPE_PORT": str(stripe_port),
    }
    async with Stack(drill_root, settings=settings) as stack:
        sku = await create_product(stack, stock=5, price=1250)
        who = shopper(stack)
        cart = await call(stack.http, "POST", "/api/v1/cart/", json={}, headers=who.headers)
        cart_id = cart.json()["id"]
        line = {"sku": sku, "quantity": 2}
        await call(
            stack.http, "POST", f"/api/v1/cart/{cart_id}/items", json=line, headers=who.headers
        )
        body = {"cart_id": cart_id, "payment_token": "pm_card_visa", "shipping_address": ADDRESS}
        key = {"Idempotency-Key": f"stripe-{uuid.uuid4()}"}
        placed = await call(
            stack.http, "POST", "/api/v1/orders/", json=body, headers={**who.headers, **key}
        )
        assert placed.status_code in (200, 202), placed.text
        order_id = placed.json()["id"]

        async def completed() -> bool:
            answer = await call(
                stack.http, "GET", f"/api/v1/orders/{order_id}", headers=who.headers
            )
            assert answer.json()["status"] not in ("failed", "cancelled"), answer.text
            return bool(answer.json()["status"] == "completed")

        await wait_until(completed, 90, f"order {order_id} completed")
        [intent] = await payment_intents_of(f"http://127.0.0.1:{stripe_port}", order_id)
        assert captured(intent) == (2500, 0)

        pool = await stack.pool()

        async def event_received() -> bool:
            found = await pool.fetchval(
                "SELECT count(*) FROM stripe_webhook_events WHERE payment_intent_id = $1",
                intent["id"],
            )
            return bool(found)

        await wait_until(event_received, 30, "localstripe's payment_intent.succeeded received")

        # A declined card: the worker gives the lines back in a retry cart, which then completes.
        cart = await call(stack.http, "POST", "/api/v1/cart/", json={}, headers=who.headers)
        await call(stack.http, "POST", f"/api/v1/cart/{cart.json()['id']}/items", json=line,
                   headers=who.headers)  # fmt: skip
        body = {**body, "cart_id": cart.json()["id"], "payment_token": "pm_card_chargeCustomerFail"}
        declined = await call(stack.http, "POST", "/api/v1/orders/", json=body, headers=who.headers)
        declined_id = declined.json()["id"]

        async def ended(order_id: str, status: str) -> bool:
            answer = await call(
                stack.http, "GET", f"/api/v1/orders/{order_id}", headers=who.headers
            )
            return bool(answer.json()["status"] == status)

        await wait_until(lambda: ended(declined_id, "failed"), 90, f"order {declined_id} failed")
        order = await call(stack.http, "GET", f"/api/v1/orders/{declined_id}", headers=who.headers)
        active = await call(stack.http, "GET", "/api/v1/cart/active", headers=who.headers)
        assert active.json()["id"] == order.json()["retry_cart_id"] is not None, order.text
        body = {**body, "cart_id": active.json()["id"], "payment_token": "pm_card_visa"}
        retried = await call(stack.http, "POST", "/api/v1/orders/", json=body, headers=who.headers)
        assert retried.status_code == 202 and retried.json()["id"] != declined_id, retried.text
        retried_id = retried.json()["id"]
        await wait_until(lambda: ended(retried_id, "completed"), 90, f"{retried_id} completed")
