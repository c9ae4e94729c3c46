"""Orders through the HTTP API one stage at a time for every shopper at once (open a cart, add a
line, check out and wait for the saga), so that the work of each stage can be counted apart."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import httpx
from temporalio.client import Client

from commerce.bench.orders import ADDRESS, expect
from workflows.contract import SagaOutcome, order_workflow_id


@dataclass
class Shopper:
    """One customer's order: their request headers, then their cart's and order's ids."""

    headers: dict[str, str]
    cart_id: str = ""
    order_id: str = ""


async def each(
    shoppers: Sequence[Shopper], concurrency: int, stage: Callable[[Shopper], Awaitable[None]]
) -> None:
    lanes = asyncio.Semaphore(concurrency)

    async def one(shopper: Shopper) -> None:
        async with lanes:
            await stage(shopper)

    await asyncio.gather(*(one(s) for s in shoppers))


async def open_carts(
    http: httpx.AsyncClient, shoppers: Sequence[Shopper], concurrency: int
) -> None:
    async def open_cart(shopper: Shopper) -> None:
        cart = await expect(await http.post("/api/v1/cart/", json={}, headers=shopper.headers), 201)
        shopper.cart_id = cart["id"]

    await each(shoppers, concurrency, open_cart)


async def add_line(
    http: httpx.AsyncClient, shoppers: Sequence[Shopper], sku: str, concurrency: int
) -> None:
    async def add(shopper: Shopper) -> None:
        path, item = f"/api/v1/cart/{shopper.cart_id}/items", {"sku": sku, "quantity": 1}
        await expect(await http.post(path, json=item, headers=shopper.headers), 200)

    await each(shoppers, concurrency, add)


async def check_out(
    http: httpx.AsyncClient, temporal: Client, shoppers: Sequence[Shopper], concurrency: int
) -> None:
    """Checkout over HTTP, then the saga's outcome (a Temporal long poll); raises unless every
    order completed."""

    async def checkout(shopper: Shopper) -> None:
        body = {"cart_id": shopper.cart_id, "payment_token": "tok_ok", "shipping_address": ADDRESS}
        headers = shopper.headers | {"Idempotency-Key": f"work-{shopper.cart_id}"}
        placed = await expect(await http.post("/api/v1/orders/", json=body, headers=headers), 202)
        shopper.order_id = placed["id"]
        handle = temporal.get_workflow_handle(
            order_workflow_id(shopper.order_id), result_type=SagaOutcome
        )
        outcome = await handle.result()
        if outcome.status != "completed":
            raise RuntimeError(f"order {shopper.order_id} ended {outcome.status}")

    await each(shoppers, concurrency, checkout)
