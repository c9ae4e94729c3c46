"""Shared pieces of the fault drills: placing orders over HTTP (retrying refused connections with
the same Idempotency-Key), waiting for sagas with clear failure messages, and the ledger checks
every drill ends with (the last of them `commerce reconcile`, run as an operator runs it)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.drills.stack import Stack
from tests.ledgers import assert_ledgers_balance

STEP_EVENTS = (
    "PaymentAuthorized",
    "InventoryReserved",
    "ShipmentCreated",
    "OrderConfirmed",
    "PaymentCaptured",
    "OrderCompleted",
)
FAILED_EVENTS = ("OrderFailed", "OrderCancelled")
ADDRESS = {
    "name": "Drill Shopper",
    "line1": "1 Chaos Lane",
    "city": "Springfield",
    "postal_code": "12345",
    "country": "US",
}
RETRY_STATUSES = {502, 503, 504}
DB_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)


@pytest.fixture
def drill_root(tmp_path: Path) -> Path:
    return tmp_path


@dataclass
class Shopper:
    subject: str
    headers: dict[str, str]


def shopper(stack: Stack) -> Shopper:
    subject = f"drill-{uuid.uuid4().hex[:12]}"
    return Shopper(subject, {"Authorization": f"Bearer {stack.token(subject, ['customer'])}"})


def admin_headers(stack: Stack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.token('drill-ops', ['customer', 'admin'])}"}


@dataclass
class Traffic:
    """What the client saw: accepted orders, and how often it had to try again."""

    orders: dict[str, Shopper] = field(default_factory=dict)  # order id -> who placed it
    keys: dict[str, str] = field(default_factory=dict)  # idempotency key -> order id
    units: int = 0
    transport_retries: int = 0
    status_retries: int = 0
    accepted_codes: Counter[int] = field(default_factory=Counter)
    # Answers tried again with the same request; a drill that restarts the database adds 500.
    retry_statuses: set[int] = field(default_factory=lambda: set(RETRY_STATUSES))


async def call(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    traffic: Traffic | None = None,
    deadline_s: float = 60.0,
    **kwargs: Any,
) -> httpx.Response:
    """One request, tried again (same body and headers) while the API is away or restarting."""
    deadline = time.monotonic() + deadline_s
    last: str = ""
    while time.monotonic() < deadline:
        try:
            answer = await http.request(method, url, **kwargs)
        except httpx.TransportError as error:
            last = f"{type(error).__name__}: {error}"
            if traffic is not None:
                traffic.transport_retries += 1
        else:
            retry = traffic.retry_statuses if traffic is not None else RETRY_STATUSES
            if answer.status_code not in retry:
                return answer
            last = f"{answer.status_code}: {answer.text[:200]}"
            if traffic is not None:
                traffic.status_retries += 1
        await asyncio.sleep(0.1)
    raise AssertionError(f"{method} {url} got no answer within {deadline_s:.0f}s (last: {last})")


async def create_product(stack: Stack, stock: int, price: int = 1500) -> str:
    sku = f"DRILL-{uuid.uuid4().hex[:10]}"
    body = {"name": "Drill widget", "price": price, "currency": "USD", "stock": stock}
    answer = await call(
        stack.http, "PUT", f"/api/v1/admin/products/{sku}", json=body, headers=admin_headers(stack)
    )
    assert answer.status_code == 201, answer.text
    return sku


async def place_order(
    stack: Stack, sku: str, quantity: int, traffic: Traffic, deadline_s: float = 60.0
) -> str:
    """New customer, new cart, one line (set idempotently), checkout with an Idempotency-Key;
    every request is retried while the API is unreachable. Returns the accepted order's id."""
    who = shopper(stack)
    http = stack.http
    cart = await call(
        http, "POST", "/api/v1/cart/", traffic, deadline_s, json={}, headers=who.headers
    )
    assert cart.status_code == 201, cart.text
    cart_id = cart.json()["id"]
    line = await call(
        http, "POST", f"/api/v1/cart/{cart_id}/items", traffic, deadline_s,
        json={"sku": sku, "quantity": quantity}, headers=who.headers,
    )  # fmt: skip
    assert line.status_code == 200, line.text
    key = f"drill-{uuid.uuid4()}"
    body = {"cart_id": cart_id, "payment_token": "tok_ok", "shipping_address": ADDRESS}
    placed = await call(
        http, "POST", "/api/v1/orders/", traffic, deadline_s,
        json=body, headers={**who.headers, "Idempotency-Key": key},
    )  # fmt: skip
    assert placed.status_code in (200, 202), (
        f"checkout answered {placed.status_code}: {placed.text}"
    )
    order = placed.json()
    order_id = str(order["id"])
    traffic.accepted_codes[placed.status_code] += 1
    traffic.orders[order_id] = who
    traffic.keys[key] = order_id
    # What the order holds (a retried add-to-cart whose first answer was lost may add twice).
    traffic.units += sum(int(item["quantity"]) for item in order["items"])
    return order_id


async def place_orders(
    stack: Stack,
    sku: str,
    count: int,
    traffic: Traffic,
    concurrency: int = 15,
    quantity: Callable[[int], int] = lambda i: 1 + i % 2,
    deadline_s: float = 90.0,
) -> list[str]:
    """`count` orders, `concurrency` at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> str:
        async with gate:
            return await place_order(stack, sku, quantity(i), traffic, deadline_s)

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def last_events(stack: Stack, order_ids: Iterable[str]) -> dict[str, str]:
    """The last event type of each order's stream ('' when it has none yet)."""
    ids = list(order_ids)
    pool = await stack.pool()
    rows = await pool.fetch(
        "SELECT DISTINCT ON (stream_id) stream_id, event_type FROM events"
        " WHERE stream_id = ANY($1::text[]) ORDER BY stream_id, stream_version DESC",
        [f"order-{i}" for i in ids],
    )
    found = {r["stream_id"].removeprefix("order-"): r["event_type"] for r in rows}
    return {i: found.get(i, "") for i in ids}


async def count_events(stack: Stack, order_ids: Iterable[str], event_type: str) -> int:
    """How many of these orders have an event of this type (tolerates a database restart)."""
    try:
        pool = await stack.pool()
        return int(
            await pool.fetchval(
                "SELECT count(DISTINCT stream_id) FROM events"
                " WHERE stream_id = ANY($1::text[]) AND event_type = $2",
                [f"order-{i}" for i in order_ids],
                event_type,
            )
        )
    except DB_ERRORS:
        return 0


async def wait_until(
    condition: Callable[[], Awaitable[bool]],
    timeout_s: float,
    what: str,
    poll_s: float = 0.1,
    watch: asyncio.Task[Any] | None = None,
) -> None:
    """Poll `condition`; fail after `timeout_s`, or at once when the `watch`ed task failed."""
    deadline = time.monotonic() + timeout_s
    while not await condition():
        if watch is not None and watch.done() and watch.exception() is not None:
            raise AssertionError(f"failed while waiting for {what}") from watch.exception()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        await asyncio.sleep(poll_s)


async def wait_completed(
    stack: Stack, order_ids: Iterable[str], timeout_s: float = 90.0, poll_s: float = 0.1
) -> None:
    """Every order's stream ends with OrderCompleted; fails at once on a failed/cancelled order,
    and after `timeout_s` with every stuck order and where it is."""
    ids = list(order_ids)
    deadline = time.monotonic() + timeout_s
    latest: dict[str, str] = {}
    while True:
        try:
            latest = await last_events(stack, ids)
        except DB_ERRORS:
            pass  # the database may be restarting: poll again
        else:
            failed = {i: e for i, e in latest.items() if e in FAILED_EVENTS}
            assert not failed, f"orders ended without completing: {failed}"
            if all(e == "OrderCompleted" for e in latest.values()) and len(latest) == len(ids):
                return
        if time.monotonic() > deadline:
            stuck = {i: latest.get(i, "?") for i in ids if latest.get(i) != "OrderCompleted"}
            details = await saga_details(stack, list(stuck)[:5])
            raise AssertionError(
                f"{len(stuck)} of {len(ids)} orders not completed after {timeout_s:.0f}s"
                f" (order id -> last event): {stuck}\nsagas: {details}"
            )
        await asyncio.sleep(poll_s)


async def saga_details(stack: Stack, order_ids: list[str]) -> dict[str, Any]:
    """The admin saga view of some orders, for failure messages (best effort)."""
    details: dict[str, Any] = {}
    for order_id in order_ids:
        try:
            answer = await stack.http.get(
                f"/api/v1/admin/sagas/{order_id}", headers=admin_headers(stack), timeout=5
            )
            body = answer.json()
            details[order_id] = {
                "status": body.get("status"),
                "current_step": body.get("current_step"),
                "steps": [
                    (s["name"], s["status"], s["attempts"], s["last_error"])
                    for s in body.get("steps", [])
                    if s["status"] != "pending"
                ],
            }
        except Exception as error:
            details[order_id] = f"unavailable: {type(error).__name__}: {error}"
    return details


async def on_hand(stack: Stack, sku: str) -> tuple[int, int]:
    pool = await stack.pool()
    row = await pool.fetchrow("SELECT on_hand, reserved FROM stock WHERE sku = $1", sku)
    assert row is not None, f"no stock row for {sku}"
    return int(row["on_hand"]), int(row["reserved"])


async def assert_ledgers(stack: Stack, traffic: Traffic, sku: str, on_hand_before: int) -> None:
    """Every order completed (read through the API) with exactly one event per step, one
    authorization and one capture, nothing undone, and stock sold exactly once."""
    ids = list(traffic.orders)
    pool = await stack.pool()

    gate = asyncio.Semaphore(10)

    async def status(order_id: str) -> str:
        async with gate:
            answer = await call(
                stack.http, "GET", f"/api/v1/orders/{order_id}",
                headers=traffic.orders[order_id].headers,
            )  # fmt: skip
            assert answer.status_code == 200, answer.text
            return str(answer.json()["status"])

    statuses = dict(zip(ids, await asyncio.gather(*(status(i) for i in ids)), strict=True))
    not_completed = {i: s for i, s in statuses.items() if s != "completed"}
    assert not not_completed, f"orders not completed according to the API: {not_completed}"

    rows = await pool.fetch(
        "SELECT stream_id, event_type, count(*) AS n FROM events"
        " WHERE stream_id = ANY($1::text[]) GROUP BY stream_id, event_type",
        [f"order-{i}" for i in ids],
    )
    counts: dict[str, Counter[str]] = {i: Counter() for i in ids}
    for r in rows:
        counts[r["stream_id"].removeprefix("order-")][r["event_type"]] = int(r["n"])
    wrong = {
        i: {t: c[t] for t in ("OrderPlaced", *STEP_EVENTS) if c[t] != 1}
        for i, c in counts.items()
        if any(c[t] != 1 for t in ("OrderPlaced", *STEP_EVENTS))
    }
    assert not wrong, f"orders without exactly one event per step (type -> count): {wrong}"

    placed_streams = await pool.fetchval(
        "SELECT count(*) FROM events WHERE event_type = 'OrderPlaced'"
    )
    assert placed_streams == len(ids), (
        f"{placed_streams} orders in the event store, {len(ids)} accepted by the API"
    )
    per_customer = await pool.fetch(
        "SELECT data->>'customer_id' AS customer, count(*) AS n FROM events"
        " WHERE event_type = 'OrderPlaced' GROUP BY 1 HAVING count(*) > 1"
    )
    assert not per_customer, f"one key made several orders: {[dict(r) for r in per_customer]}"

    ledger = await pool.fetch(
        "SELECT order_id, operation, count(*) AS n FROM sandbox_ledger"
        " WHERE order_id = ANY($1::text[]) GROUP BY order_id, operation",
        ids,
    )
    operations: dict[str, Counter[str]] = {i: Counter() for i in ids}
    for r in ledger:
        operations[r["order_id"]][r["operation"]] = int(r["n"])
    bad = {
        i: dict(ops)
        for i, ops in operations.items()
        if ops["authorize"] != 1 or ops["capture"] != 1 or ops["void"] or ops["cancel_shipment"]
    }
    assert not bad, f"sandbox ledger not one authorize + one capture per order: {bad}"

    stock = await on_hand(stack, sku)
    assert stock == (on_hand_before - traffic.units, 0), (
        f"stock (on_hand, reserved) is {stock}; expected"
        f" ({on_hand_before - traffic.units}, 0) after {traffic.units} unit(s) sold"
    )
    await assert_ledgers_balance(pool, ids, {sku: on_hand_before})
    await assert_reconciled(stack, len(ids))


async def assert_reconciled(stack: Stack, orders: int) -> None:
    """`commerce reconcile --json` against the drill's servers exits 0: every one of the
    `orders` in the shop agrees with the payment provider's ledger."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "commerce.cli", "reconcile", "--json",
        env=stack.environment(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, (
        f"commerce reconcile exited {process.returncode}:\n{out.decode()}{err.decode()}"
    )
    report = json.loads(out)
    assert (report["orders_checked"], report["orders_in_flight"]) == (orders, 0), report
