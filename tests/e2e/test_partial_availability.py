"""Partial availability through HTTP: some lines out of stock → an amended order is offered;
accepted it completes with the amended lines and total, cancelled or unanswered it is cancelled;
the payment ledger never charges beyond the amended total nor leaves an authorization open."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from commerce.settings import Settings
from tests.e2e.conftest import Caller, CreateProduct
from tests.e2e.orders_support import checkout_body, filled_cart, wait_for_status

pytestmark = pytest.mark.usefixtures("saga_worker")


async def _stock(http: httpx.AsyncClient, admin: Caller, sku: str) -> tuple[int, int, int]:
    product = (await http.get(f"/api/v1/admin/products/{sku}", headers=admin.headers)).json()
    return product["on_hand"], product["reserved"], product["available"]


async def _payments(pool: asyncpg.Pool, order_id: str) -> list[tuple[str, int | None, str]]:
    """(operation, amount, reference or voided reference) of every payment effect, in order."""
    rows = await pool.fetch(
        "SELECT operation, amount, coalesce(detail, '') AS detail, reference FROM sandbox_ledger"
        " WHERE order_id = $1 AND provider = 'payment' ORDER BY created_at",
        order_id,
    )
    return [
        (r["operation"], r["amount"], r["detail"] if r["operation"] == "void" else r["reference"])
        for r in rows
    ]


async def _order_with_a_short_line(
    http: httpx.AsyncClient, customer: Caller, admin: Caller, create_product: CreateProduct
) -> tuple[dict[str, object], str, str]:
    """An order of 2 x mug (in stock) and 3 x tea (only 1 left), awaiting the customer."""
    mug = str((await create_product(price=1250, stock=10, name="Mug"))["sku"])
    tea = str((await create_product(price=499, stock=3, name="Tea"))["sku"])
    cart_id = await filled_cart(http, customer, (mug, 2), (tea, 3))
    await http.put(
        f"/api/v1/admin/products/{tea}",
        json={"name": "Tea", "price": 499, "currency": "USD", "stock": 1},
        headers=admin.headers,
    )
    placed = await http.post(
        "/api/v1/orders/", json=checkout_body(cart_id), headers=customer.headers
    )
    assert placed.status_code == 202, placed.text
    order = await wait_for_status(
        http, customer, placed.json()["id"], {"awaiting_customer", "failed", "cancelled"}
    )
    return order, mug, tea


async def test_short_line_is_offered_dropped_and_accepting_completes_the_amended_order(
    http: httpx.AsyncClient, customer: Caller, admin: Caller, create_product: CreateProduct,
    pool: asyncpg.Pool,
) -> None:  # fmt: skip
    order, mug, tea = await _order_with_a_short_line(http, customer, admin, create_product)
    assert order["status"] == "awaiting_customer"
    offer = order["amendment"]
    assert offer["status"] == "proposed" and offer["dropped_skus"] == [tea]
    assert [(i["sku"], i["quantity"]) for i in offer["items"]] == [(mug, 2)]
    assert (offer["subtotal"], offer["total"], offer["original_total"]) == (2500, 2500, 3997)
    assert order["total"] == 3997  # the original stands until accepted

    accepted = await http.post(
        f"/api/v1/orders/{order['id']}/accept-amendment", headers=customer.headers
    )
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["amendment"]["status"] == "accepted"
    done = await wait_for_status(http, customer, str(order["id"]))

    assert done["status"] == "completed"
    assert [(i["sku"], i["quantity"]) for i in done["items"]] == [(mug, 2)]
    assert (done["subtotal"], done["total"]) == (2500, 2500)
    history = [h["type"] for h in done["history"]]
    assert history[:5] == [
        "OrderPlaced", "PaymentAuthorized", "AmendmentProposed", "AmendmentAccepted",
        "InventoryReserved",
    ]  # fmt: skip
    # The sandbox captures less than it authorized, as Stripe does: one authorization, one
    # capture of the amended total, the rest released — no void, no second authorization.
    ledger = await _payments(pool, str(order["id"]))
    assert ledger == [("authorize", 3997, ledger[0][2]), ("capture", 2500, ledger[1][2])]
    assert await _stock(http, admin, mug) == (8, 0, 8)
    assert await _stock(http, admin, tea) == (1, 0, 1)


async def test_cancelling_while_awaiting_voids_and_restores_everything(
    http: httpx.AsyncClient, customer: Caller, admin: Caller, create_product: CreateProduct,
    pool: asyncpg.Pool,
) -> None:  # fmt: skip
    order, mug, tea = await _order_with_a_short_line(http, customer, admin, create_product)
    assert order["status"] == "awaiting_customer"

    cancel = await http.post(
        f"/api/v1/orders/{order['id']}/cancel", json={"reason": "no"}, headers=customer.headers
    )
    assert cancel.status_code == 202, cancel.text
    done = await wait_for_status(http, customer, str(order["id"]))

    assert done["status"] == "cancelled" and done["amendment"]["status"] == "declined"
    assert done["total"] == 3997
    ledger = await _payments(pool, str(order["id"]))
    assert ledger == [("authorize", 3997, ledger[0][2]), ("void", None, ledger[0][2])]
    assert await _stock(http, admin, mug) == (10, 0, 10)
    assert await _stock(http, admin, tea) == (1, 0, 1)
    again = await http.post(
        f"/api/v1/orders/{order['id']}/accept-amendment", headers=customer.headers
    )
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")


async def test_an_unanswered_amendment_expires_and_cancels_the_order(
    http: httpx.AsyncClient, customer: Caller, admin: Caller, create_product: CreateProduct,
    pool: asyncpg.Pool, settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(settings, "amendment_timeout_s", 2)  # read by checkout into the policy
    order, mug, _ = await _order_with_a_short_line(http, customer, admin, create_product)
    assert order["status"] == "awaiting_customer"

    done = await wait_for_status(http, customer, str(order["id"]), timeout_s=30)

    assert done["status"] == "cancelled" and done["amendment"]["status"] == "expired"
    assert "AmendmentExpired" in [h["type"] for h in done["history"]]
    ledger = await _payments(pool, str(order["id"]))
    assert [op for op, _, _ in ledger] == ["authorize", "void"]
    assert await _stock(http, admin, mug) == (10, 0, 10)


async def test_accepting_when_no_amendment_is_pending_is_409(
    http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct
) -> None:
    sku = str((await create_product(stock=5))["sku"])
    cart_id = await filled_cart(http, customer, (sku, 1))
    placed = await http.post(
        "/api/v1/orders/", json=checkout_body(cart_id), headers=customer.headers
    )
    order = await wait_for_status(http, customer, placed.json()["id"])
    assert order["status"] == "completed" and order["amendment"] is None

    answer = await http.post(
        f"/api/v1/orders/{order['id']}/accept-amendment", headers=customer.headers
    )

    assert answer.status_code == 409
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "no amendment" in answer.json()["detail"]
