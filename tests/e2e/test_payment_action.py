"""3-D Secure through the HTTP API on the sandbox gateway: the order shows `awaiting_payment` and
its `payment_action`; the bank's answer (the sandbox control, standing in for the gateway's
webhook) completes it or fails it."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import Caller, CreateProduct
from tests.e2e.orders_support import checkout_body, filled_cart, wait_for_status

pytestmark = pytest.mark.usefixtures("saga_worker")


async def _awaiting(http: httpx.AsyncClient, who: Caller, create_product: CreateProduct) -> str:
    sku = str((await create_product(stock=5))["sku"])
    cart_id = await filled_cart(http, who, (sku, 1))
    body = checkout_body(cart_id, "tok_3ds")
    placed = await http.post("/api/v1/orders/", json=body, headers=who.headers)
    assert placed.status_code == 202, placed.text
    assert placed.json()["payment_action"] is None  # not asked for yet
    order = await wait_for_status(http, who, placed.json()["id"], {"awaiting_payment"})
    action = order["payment_action"]
    assert action["type"] == "use_stripe_sdk" and action["client_secret"].endswith("_secret")
    assert all("client_secret" not in entry for entry in order["history"])
    return str(order["id"])


@pytest.mark.parametrize(("authenticated", "status"), [(True, "completed"), (False, "failed")])
async def test_the_banks_answer_to_3d_secure_completes_or_fails_the_order(
    http: httpx.AsyncClient,
    customer: Caller,
    admin: Caller,
    create_product: CreateProduct,
    authenticated: bool,
    status: str,
) -> None:
    order_id = await _awaiting(http, customer, create_product)
    answer = await http.post(
        f"/api/v1/admin/sandbox/payments/{order_id}/action",
        json={"authenticated": authenticated},
        headers=admin.headers,
    )
    assert answer.status_code == 202, answer.text
    order = await wait_for_status(http, customer, order_id)
    assert (order["status"], order["payment_action"]) == (status, None)
    again = await http.post(
        f"/api/v1/admin/sandbox/payments/{order_id}/action",
        json={"authenticated": True},
        headers=admin.headers,
    )
    assert again.status_code == 404


async def test_a_customer_may_cancel_while_the_payment_awaits_them(
    http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct
) -> None:
    order_id = await _awaiting(http, customer, create_product)
    cancel = await http.post(f"/api/v1/orders/{order_id}/cancel", headers=customer.headers)
    assert cancel.status_code == 202, cancel.text
    order = await wait_for_status(http, customer, order_id)
    assert order["status"] == "cancelled"
    assert "PaymentVoided" in [entry["type"] for entry in order["history"]]
