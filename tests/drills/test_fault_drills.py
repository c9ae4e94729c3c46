"""Fault drills: the real processes (`commerce infra`, `api`, `worker`) as a user starts them, a
fault injected while orders are in flight, then proof from the ledgers that every order completed
once — one event per step, one authorization and one capture, stock sold exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import pytest

from tests.drills.conftest import (
    Traffic,
    admin_headers,
    assert_ledgers,
    call,
    count_events,
    create_product,
    last_events,
    on_hand,
    place_order,
    place_orders,
    wait_completed,
    wait_until,
)
from tests.drills.stack import Stack, stopped_cleanly

pytestmark = pytest.mark.slow

STOCK = 10_000


async def _authorized_at_least(stack: Stack, ids: list[str], n: int) -> bool:
    return await count_events(stack, ids, "PaymentAuthorized") >= n


async def test_killed_only_worker_is_replaced_and_all_50_orders_complete(drill_root: Path) -> None:
    async with Stack(drill_root) as stack:
        sku = await create_product(stack, STOCK)
        before = (await on_hand(stack, sku))[0]
        traffic = Traffic()
        placing = asyncio.create_task(place_orders(stack, sku, 50, traffic, concurrency=15))
        try:
            await wait_until(
                lambda: _authorized_at_least(stack, list(traffic.orders), 5),
                60, "5 orders to be authorized", watch=placing,
            )  # fmt: skip
            (worker,) = stack.worker_children
            await stack.kill(worker)
            latest = await last_events(stack, list(traffic.orders))
            in_flight = [i for i, e in latest.items() if e != "OrderCompleted"]
            await stack.start_worker()
            ids = await placing
        finally:
            placing.cancel()
            with contextlib.suppress(BaseException):
                await placing
        assert len(in_flight) >= 5, f"too few orders in flight when the worker died: {latest}"
        await wait_completed(stack, ids, timeout_s=90)
        await assert_ledgers(stack, traffic, sku, before)


async def test_api_restarted_mid_load_loses_and_doubles_no_order(drill_root: Path) -> None:
    async with Stack(drill_root) as stack:
        sku = await create_product(stack, STOCK)
        before = (await on_hand(stack, sku))[0]
        traffic = Traffic()
        placing = asyncio.create_task(place_orders(stack, sku, 60, traffic, concurrency=10))
        try:
            await wait_until(
                lambda: _accepted(traffic, 15), 60, "15 accepted orders", watch=placing
            )
            assert stack.api is not None
            code = await stack.stop(stack.api)
            assert stopped_cleanly(code), f"the API exited {code} on SIGTERM"
            stopped_with = len(traffic.orders)
            await asyncio.sleep(1.0)  # clients meet refused connections meanwhile
            await stack.start_api()
            ids = await placing
        finally:
            placing.cancel()
            with contextlib.suppress(BaseException):
                await placing
        assert stopped_with < len(ids), "every order was placed before the API stopped"
        assert traffic.transport_retries > 0, "no request met the stopped API"
        assert len(traffic.keys) == len(set(traffic.keys.values())) == 60
        await wait_completed(stack, ids, timeout_s=90)
        await assert_ledgers(stack, traffic, sku, before)


async def _accepted(traffic: Traffic, n: int) -> bool:
    return len(traffic.orders) >= n


async def test_postgres_killed_mid_saga_is_restarted_and_every_order_completes(
    drill_root: Path,
) -> None:
    # A budget that outlasts a PostgreSQL restart: 10 attempts from 200 ms, doubling.
    settings = {"COMMERCE_SAGA_STEP_MAX_ATTEMPTS": "10"}
    async with Stack(drill_root, settings=settings) as stack:
        sku = await create_product(stack, STOCK)
        before = (await on_hand(stack, sku))[0]
        # Checkouts meet the restart too: the client repeats them (same key) on a 500.
        traffic = Traffic(retry_statuses={500, 502, 503, 504})
        placing = asyncio.create_task(place_orders(stack, sku, 40, traffic, concurrency=10))
        try:
            await wait_until(
                lambda: _authorized_at_least(stack, list(traffic.orders), 5),
                60, "5 orders to be authorized", watch=placing,
            )  # fmt: skip
            latest = await last_events(stack, list(traffic.orders))
            in_flight = [i for i, e in latest.items() if e != "OrderCompleted"]
            old = stack.kill_postgres()

            async def restarted() -> bool:
                with contextlib.suppress(OSError, ValueError, IndexError):
                    return stack.postmaster_pid() != old
                return False

            killed_at = time.monotonic()
            await wait_until(restarted, 60, "the supervisor to start PostgreSQL again")
            back_at = time.monotonic()
            ids = await placing
            placed_at = time.monotonic()
        finally:
            placing.cancel()
            with contextlib.suppress(BaseException):
                await placing
        assert stack.infra is not None and stack.infra.alive, "commerce infra ended"
        assert b"postgres exited" in stack.infra.log_path.read_bytes()
        assert len(in_flight) >= 5, f"too few orders in flight when PostgreSQL died: {latest}"
        await wait_completed(stack, ids, timeout_s=120)
        print(
            f"PostgreSQL back {back_at - killed_at:.1f}s after the kill; all placed after"
            f" {placed_at - killed_at:.1f}s, completed after {time.monotonic() - killed_at:.1f}s;"
            f" {traffic.status_retries} answer(s) and {traffic.transport_retries} error(s) retried"
        )
        await assert_ledgers(stack, traffic, sku, before)


async def test_everything_stopped_mid_flight_resumes_on_the_same_data(drill_root: Path) -> None:
    async with Stack(drill_root) as stack:
        sku = await create_product(stack, STOCK)
        before = (await on_hand(stack, sku))[0]
        admin = admin_headers(stack)
        traffic = Traffic()

        shipping = "/api/v1/admin/sandbox/providers/shipping"
        down = await call(stack.http, "PUT", shipping, json={"available": False}, headers=admin)
        assert down.status_code == 200, down.text
        stalled = await place_order(stack, sku, 1, traffic)

        async def is_stalled() -> bool:
            answer = await stack.http.get(f"/api/v1/admin/sagas/{stalled}", headers=admin)
            return answer.status_code == 200 and answer.json()["status"] == "stalled"

        await wait_until(is_stalled, 60, f"order {stalled} to stall")
        up = await call(stack.http, "PUT", shipping, json={"available": True}, headers=admin)
        assert up.status_code == 200, up.text

        # The worker stops first (as it would in any shutdown), so some sagas are surely mid-way.
        placing = asyncio.create_task(place_orders(stack, sku, 30, traffic, concurrency=10))
        try:
            await wait_until(
                lambda: _authorized_at_least(stack, list(traffic.orders), 6),
                60, "5 more orders to be authorized", watch=placing,
            )  # fmt: skip
            (worker,) = stack.worker_children
            worker_code = await stack.stop(worker)
            others = await placing
        finally:
            placing.cancel()
            with contextlib.suppress(BaseException):
                await placing
        latest = await last_events(stack, others)
        in_flight = [i for i, e in latest.items() if e != "OrderCompleted"]
        codes = {worker.name: worker_code, **await stack.stop_all()}
        assert all(map(stopped_cleanly, codes.values())), f"exit codes on SIGTERM: {codes}"
        assert stack.survivors() == [], "processes survived stopping everything"
        assert len(in_flight) >= 5, f"too few orders in flight when everything stopped: {latest}"

        await stack.start_all(workers=1)
        await wait_completed(stack, others, timeout_s=90)
        assert (await last_events(stack, [stalled]))[stalled] == "SagaStalled"
        await wait_until(is_stalled, 30, f"order {stalled} to show stalled after the restart")
        retry = await call(
            stack.http, "POST", f"/api/v1/admin/sagas/{stalled}/retry", headers=admin
        )
        assert retry.status_code == 202, retry.text
        await wait_completed(stack, [stalled], timeout_s=60)
        await assert_ledgers(stack, traffic, sku, before)
        history = [h["type"] for h in (await stack.http.get(
            f"/api/v1/orders/{stalled}", headers=traffic.orders[stalled].headers
        )).json()["history"]]  # fmt: skip
        assert "SagaStalled" in history and "SagaResumed" in history, history


async def test_three_workers_one_killed_every_few_seconds_during_200_orders(
    drill_root: Path,
) -> None:
    async with Stack(drill_root, workers=3) as stack:
        sku = await create_product(stack, STOCK)
        before = (await on_hand(stack, sku))[0]
        traffic = Traffic()
        kills: list[float] = []
        started = time.monotonic()
        placing = asyncio.create_task(place_orders(stack, sku, 200, traffic, concurrency=20))

        async def chaos() -> None:
            for _ in range(5):  # bounded: 5 kills, one every 3 s (plus a worker's start)
                await asyncio.sleep(3.0)
                if placing.done() and await _all_completed(stack, traffic):
                    return
                victim = stack.worker_children[0]  # the oldest
                await stack.kill(victim)
                kills.append(time.monotonic() - started)
                await stack.start_worker()

        progress: list[tuple[int, int]] = []

        async def sample() -> None:
            for _ in range(100):
                await asyncio.sleep(2.0)
                done = await count_events(stack, list(traffic.orders), "OrderCompleted")
                progress.append((round(time.monotonic() - started), done))

        sampler = asyncio.create_task(sample())
        monkey = asyncio.create_task(chaos())
        try:
            ids = await placing
            placed_at = time.monotonic() - started
            await wait_completed(stack, ids, timeout_s=120)
            if monkey.done() and monkey.exception() is not None:
                raise AssertionError("killing and replacing workers failed") from monkey.exception()
            print(
                f"200 orders placed after {placed_at:.1f}s, completed after"
                f" {time.monotonic() - started:.1f}s; workers killed at {kills}; {progress}"
            )
        finally:
            sampler.cancel()
            monkey.cancel()
            with contextlib.suppress(BaseException):
                await monkey
            placing.cancel()
            with contextlib.suppress(BaseException):
                await placing
        assert len(kills) >= 3, f"only {len(kills)} worker(s) killed at {kills}"
        await assert_ledgers(stack, traffic, sku, before)


async def _all_completed(stack: Stack, traffic: Traffic) -> bool:
    latest = await last_events(stack, list(traffic.orders))
    return all(e == "OrderCompleted" for e in latest.values())
