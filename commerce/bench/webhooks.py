"""Webhook lag: how long after an event is recorded a live endpoint has it, while a second
subscription's endpoint is dead (nothing listens), beside the same endpoint alone.

A local receiver subscribes to `order.placed` and `order.completed`; a second subscription (all
events) points at a closed port. Orders go through the HTTP API and the saga; each event's lag is
the receiver's arrival time minus the event's `timestamp`. Ours (dead endpoint active) and the
baseline (dead endpoint paused) run in halves, ours, baseline, baseline, ours; after each half the
bench waits until the live endpoint has every event of it, so each lag belongs to one half.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import httpx
from temporalio.client import Client

from commerce.bench.measure import Measurement, Operation, Row, comparison, drive
from commerce.bench.orders import placing_orders
from commerce.embedded import free_port
from commerce.settings import Settings
from commerce.tokens import mint_token
from commerce.webhook_receiver import Received, WebhookReceiver

TIMEOUT_S = 600.0
# After a half's last order, how long its events may take to arrive before the missing ones are
# counted as failures (the target is a p99 lag under a second): the row says so, the run goes on.
DELIVERY_WAIT_S = 60.0
EVENTS_PER_ORDER = 2  # order.placed, order.completed
TARGET_P99_MS = 1000.0
OURS = "webhooks: live endpoint's lag, a dead endpoint beside it"
BASE = "live endpoint's lag, alone"


def _lags(received: list[Received]) -> list[float]:
    return [
        r.at - datetime.fromisoformat(r.event["timestamp"].replace("Z", "+00:00")).timestamp()
        for r in received
    ]


class _Phases:
    """Runs halves of orders with the dead subscription active or paused, and measures lags."""

    def __init__(self, http: httpx.AsyncClient, admin: dict[str, str], dead_id: str,
                 live: WebhookReceiver, order: Operation, concurrency: int) -> None:  # fmt: skip
        self._http, self._admin, self._dead_id = http, admin, dead_id
        self._live, self._order, self._concurrency = live, order, concurrency
        self._placed = 0

    async def half(self, label: str, count: int, dead_active: bool) -> Measurement:
        answer = await self._http.patch(f"/api/v1/admin/webhooks/{self._dead_id}",
                                        json={"active": dead_active}, headers=self._admin)  # fmt: skip
        answer.raise_for_status()
        seen = len(self._live.received)
        started = time.perf_counter()
        placed = await drive(label, count, self._concurrency, self._shifted(), TIMEOUT_S)
        self._placed += count
        expected = seen + EVENTS_PER_ORDER * placed.ops
        try:
            got = await self._live.wait_for(lambda r: len(r) >= expected, DELIVERY_WAIT_S)
        except TimeoutError:
            got = list(self._live.received)
        missing = max(expected - len(got), 0)
        lost = f"{missing} event(s) not delivered within {DELIVERY_WAIT_S:g} s" if missing else None
        lags = _lags(got[seen:])
        return Measurement(len(lags), placed.errors + missing, time.perf_counter() - started,
                           lags, placed.first_error or lost)  # fmt: skip

    def _shifted(self) -> Operation:
        start = self._placed

        async def order(index: int) -> float | None:
            return await self._order(start + index)

        return order


def _merged(first: Measurement, second: Measurement) -> Measurement:
    return Measurement(first.ops + second.ops, first.errors + second.errors,
                       first.elapsed_s + second.elapsed_s, first.latencies_s + second.latencies_s,
                       first.first_error or second.first_error)  # fmt: skip


async def _subscribe(http: httpx.AsyncClient, admin: dict[str, str], **body: Any) -> str:
    answer = await http.post("/api/v1/admin/webhooks", json=body, headers=admin)
    if answer.status_code != 201:
        raise RuntimeError(f"subscribing: {answer.status_code} {answer.text[:200]}")
    return str(answer.json()["id"])


async def bench_webhooks(settings: Settings, temporal: Client, quick: bool) -> list[Row]:
    """The live endpoint's lag with 1,000 orders (`--quick`: 20) beside a dead endpoint."""
    count, concurrency = (20, 10) if quick else (1000, 50)
    admin = {"Authorization": f"Bearer {mint_token(settings, 'bench-admin', ['admin'])}"}
    base_url = f"http://127.0.0.1:{settings.api_port}"
    async with (
        WebhookReceiver() as live,
        httpx.AsyncClient(base_url=base_url, timeout=60) as http,
        placing_orders(settings, temporal, concurrency) as stocked,
    ):
        await _subscribe(http, admin, url=live.url,
                         event_types=["order.placed", "order.completed"])  # fmt: skip
        dead_id = await _subscribe(http, admin, url=f"http://127.0.0.1:{free_port()}/hooks",
                                   event_types=["*"])  # fmt: skip
        phases = _Phases(http, admin, dead_id, live, await stocked(2 * count + 10), concurrency)
        half = count // 2
        ours_1 = await phases.half("webhooks, dead endpoint beside", half, dead_active=True)
        base_1 = await phases.half("webhooks, alone", half, dead_active=False)
        base_2 = await phases.half("webhooks, alone", count - half, dead_active=False)
        ours_2 = await phases.half("webhooks, dead endpoint beside", count - half, dead_active=True)
    ours, base = _merged(ours_1, ours_2), _merged(base_1, base_2)
    row = comparison("webhooks", OURS, "events/s", concurrency, ours, BASE, base, min_ratio=0.0)
    met = row["p99_ms"] < TARGET_P99_MS and not ours.errors
    row |= {"orders": count, "target": f"p99 lag < {TARGET_P99_MS / 1000:g} s", "target_met": met}
    return [row]
