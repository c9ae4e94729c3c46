"""The payments view over HTTP: every authorization, capture, void and refund of an order with
the provider's references, from the order's events, and its totals."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
from temporalio.client import Client

from tests.e2e.conftest import Caller
from tests.integration.shop_support import running_shop


async def _references(pool: asyncpg.Pool, order_id: str, operation: str) -> list[str]:
    rows = await pool.fetch(
        "SELECT reference FROM sandbox_ledger WHERE order_id = $1 AND operation = $2"
        " ORDER BY created_at",
        order_id,
        operation,
    )
    return [r["reference"] for r in rows]


async def test_a_cancel_after_capture_shows_the_capture_refunded_in_full(
    temporal_client: Client, pool: asyncpg.Pool, http: httpx.AsyncClient, admin: Caller
) -> None:
    async with running_shop(temporal_client, pool) as shop:
        order_id = await shop.cancelled_after_capture()

    answer = await http.get(f"/api/v1/admin/orders/{order_id}/payments", headers=admin.headers)
    assert answer.status_code == 200, answer.text
    view = answer.json()
    assert (view["status"], view["currency"]) == ("cancelled", "USD")
    assert [(t["type"], t["status"], t["amount"]) for t in view["transactions"]] == [
        ("authorization", "succeeded", 1500),
        ("capture", "succeeded", 1500),
        ("refund", "succeeded", 1500),
    ]
    authorization, capture, refund = view["transactions"]
    assert [authorization["reference"]] == await _references(pool, order_id, "authorize")
    assert [capture["reference"]] == await _references(pool, order_id, "capture")
    assert [refund["reference"]] == await _references(pool, order_id, "refund")
    assert capture["authorization_id"] == authorization["reference"]
    assert authorization["at"] <= capture["at"] <= refund["at"]
    assert refund["event"] == "RefundIssued"
    totals = {k: view[k] for k in ("authorized", "captured", "refunded", "refund_pending", "net")}
    assert totals == {
        "authorized": 1500, "captured": 1500, "refunded": 1500, "refund_pending": 0, "net": 0,
    }  # fmt: skip


async def test_an_amended_order_shows_one_authorization_captured_for_less(
    temporal_client: Client, pool: asyncpg.Pool, http: httpx.AsyncClient, admin: Caller
) -> None:
    async with running_shop(temporal_client, pool) as shop:
        order_id = await shop.amended()

    view = (
        await http.get(f"/api/v1/admin/orders/{order_id}/payments", headers=admin.headers)
    ).json()
    rows = [(t["type"], t["amount"], t["reference"]) for t in view["transactions"]]
    # The sandbox captures less than it authorized: the amended total is taken from the
    # original authorization and the rest released (no void, no second authorization).
    [authorization] = await _references(pool, order_id, "authorize")
    assert rows == [
        ("authorization", 6000, authorization),
        ("capture", 3000, (await _references(pool, order_id, "capture"))[0]),
    ]
    assert (view["captured"], view["net"]) == (3000, 3000)


async def test_the_payments_view_is_for_admins_and_known_orders(
    http: httpx.AsyncClient, admin: Caller, customer: Caller
) -> None:
    no_such_order = uuid.uuid4()
    unknown = await http.get(
        f"/api/v1/admin/orders/{no_such_order}/payments", headers=admin.headers
    )
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    refused = await http.get(
        f"/api/v1/admin/orders/{no_such_order}/payments", headers=customer.headers
    )
    assert refused.status_code == 403
    nul = await http.get("/api/v1/admin/orders/a%00b/payments", headers=admin.headers)
    assert nul.status_code == 422
