"""The sandbox's admin switches exist only for providers that are simulated."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from api.app import create_app
from commerce.settings import Settings
from tests.e2e.conftest import Caller

SWITCHES = "/api/v1/admin/sandbox/providers"


@pytest.fixture
async def stripe_api(settings: Settings, localstripe: str) -> AsyncIterator[httpx.AsyncClient]:
    """The API with COMMERCE_PAYMENT_PROVIDER=stripe (payments no longer simulated)."""
    app = create_app(
        settings.model_copy(update={"payment_provider": "stripe", "stripe_api_base": localstripe})
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://commerce.test") as http:
            yield http


async def test_with_stripe_there_is_no_payment_switch_but_shipping_keeps_its_own(
    stripe_api: httpx.AsyncClient, admin: Caller
) -> None:
    down = {"available": False}
    payment = await stripe_api.put(f"{SWITCHES}/payment", json=down, headers=admin.headers)
    assert payment.status_code == 404
    assert payment.headers["content-type"] == "application/problem+json"

    shipping = await stripe_api.put(f"{SWITCHES}/shipping", json=down, headers=admin.headers)
    up = await stripe_api.put(
        f"{SWITCHES}/shipping", json={"available": True}, headers=admin.headers
    )
    assert (shipping.status_code, up.status_code) == (200, 200)


async def test_with_the_sandbox_every_switch_is_there(
    http: httpx.AsyncClient, admin: Caller
) -> None:
    answer = await http.put(f"{SWITCHES}/payment", json={"available": True}, headers=admin.headers)
    assert answer.status_code == 200
