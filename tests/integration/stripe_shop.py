"""A shop on Stripe (localstripe) for whole-shop reconciliation tests: real sagas and post-sale
workflows on the worker's Stripe ports, driven into each way an order's money can end, and
money moved at Stripe behind the service's back."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
from temporalio.client import Client, WorkflowHandle

from commerce.settings import Settings
from domain.status import ShipmentStatus
from tests.integration.saga_support import ADDRESS, add_product, place_order, running_worker
from tests.integration.shop_support import WAITS, until_status
from tests.integration.stripe_after_sale_support import carrier_reports, request
from tests.integration.stripe_support import (
    AUTH,
    DECLINED,
    NEEDS_3DS,
    VISA,
    authenticate,
    card,
    gateway,
    payment_intents_of,
)
from tests.integration.test_stripe_saga import CapturesButLosesTheAnswer
from worker import ports_for
from workflows.after_sale_contract import (
    CANCELLATION_WORKFLOW,
    REFUND_WORKFLOW,
    RETURN_WORKFLOW,
    UPDATE_APPROVE_RETURN,
    UPDATE_RECEIVE_RETURN,
    CancellationRequest,
    Decision,
    RefundRequest,
    ReturnItem,
    ReturnReceipt,
    ReturnRequest,
    StepTiming,
    cancellation_workflow_id,
    refund_workflow_id,
    return_workflow_id,
)
from workflows.contract import UPDATE_ACCEPT_AMENDMENT, CancelRequest, OrderFulfillmentInput
from workflows.contract import order_workflow_id as workflow_id
from workflows.order_fulfillment import OrderFulfillmentWorkflow

STEPS = StepTiming(step_max_attempts=3, step_initial_retry_ms=50)


@dataclass
class StripeShop:
    """Sagas on one database paying at localstripe: a plain worker, and one whose capture
    answers are lost (a saga that stalls after Stripe captured)."""

    client: Client
    pool: asyncpg.Pool
    api_base: str
    queue: str
    losing_queue: str

    async def _run(
        self,
        lines: list[tuple[str, int]],
        token: str = VISA,
        *,
        queue: str | None = None,
        postal_code: str = "12345",
        steer: Callable[[WorkflowHandle[Any, Any]], Awaitable[None]] | None = None,
    ) -> str:
        address = dataclasses.replace(ADDRESS, postal_code=postal_code)
        order_id = await place_order(self.pool, lines, address)
        handle = await self.client.start_workflow(
            OrderFulfillmentWorkflow.run,
            OrderFulfillmentInput(order_id, "customer-1", token, WAITS),
            id=workflow_id(order_id),
            task_queue=queue or self.queue,
        )
        if steer is not None:
            await steer(handle)
        await asyncio.wait_for(handle.result(), 60)
        return order_id

    async def completed(self, quantity: int = 2) -> str:
        return await self._run([(await add_product(self.pool, on_hand=5), quantity)])

    async def declined(self) -> str:
        return await self._run([(await add_product(self.pool, on_hand=5), 1)], DECLINED)

    async def failed_after_authorization(self) -> str:
        """The carrier refuses the address: the PaymentIntent is cancelled."""
        sku = await add_product(self.pool, on_hand=5)
        return await self._run([(sku, 1)], postal_code="00000")

    async def cancelled_awaiting_payment(self) -> str:
        async def cancel(handle: WorkflowHandle[Any, Any]) -> None:
            await until_status(handle, "awaiting_payment")
            await handle.execute_update(OrderFulfillmentWorkflow.cancel, CancelRequest("no"))

        sku = await add_product(self.pool, on_hand=5)
        return await self._run([(sku, 1)], await card(self.api_base, NEEDS_3DS), steer=cancel)

    async def authenticated(self) -> str:
        """3-D Secure passed at Stripe: the PaymentIntent is authorized, then captured."""

        async def passes(handle: WorkflowHandle[Any, Any]) -> None:
            await until_status(handle, "awaiting_payment")
            [intent] = await payment_intents_of(self.api_base, handle.id.removeprefix("order-"))
            await authenticate(self.api_base, intent["id"], intent["client_secret"])
            await handle.signal(OrderFulfillmentWorkflow.payment_updated)

        sku = await add_product(self.pool, on_hand=5)
        return await self._run([(sku, 1)], await card(self.api_base, NEEDS_3DS), steer=passes)

    async def amended(self) -> str:
        """One line short: the amended total is captured, the rest of the PaymentIntent
        released (localstripe books that rest as a refund without metadata)."""

        async def accept(handle: WorkflowHandle[Any, Any]) -> None:
            await until_status(handle, "awaiting_customer")
            await handle.execute_update(UPDATE_ACCEPT_AMENDMENT)

        kept, short = await add_product(self.pool, on_hand=5), await add_product(self.pool, 1)
        return await self._run([(kept, 2), (short, 2)], steer=accept)

    async def cancelled_after_capture(self) -> str:
        """Stalled after Stripe captured, then cancelled: the capture is refunded in full."""

        async def cancel(handle: WorkflowHandle[Any, Any]) -> None:
            await until_status(handle, "stalled")
            await handle.execute_update(OrderFulfillmentWorkflow.cancel, CancelRequest("late"))

        sku = await add_product(self.pool, on_hand=5)
        return await self._run([(sku, 1)], queue=self.losing_queue, steer=cancel)

    async def cancelled_after_sale(self) -> str:
        order_id = await self.completed()
        wid = cancellation_workflow_id(order_id)
        body = CancellationRequest(order_id, "changed my mind", timing=STEPS)
        assert (await request(self.client, self.queue, CANCELLATION_WORKFLOW, wid, body)).accepted
        await self.client.get_workflow_handle(wid).result()
        return order_id

    async def returned(self) -> str:
        """One of three units returned and refunded."""
        sku = await add_product(self.pool, on_hand=5)
        order_id = await self._run([(sku, 3)])
        await carrier_reports(self.pool, order_id, ShipmentStatus.DELIVERED)
        return_id = str(uuid.uuid4())
        wid = return_workflow_id(return_id)
        body = ReturnRequest(order_id, return_id, [ReturnItem(sku, 1)], "too many", timing=STEPS)
        assert (await request(self.client, self.queue, RETURN_WORKFLOW, wid, body)).accepted
        handle = self.client.get_workflow_handle(wid)
        assert (await handle.execute_update(UPDATE_APPROVE_RETURN, result_type=Decision)).accepted
        receipt = ReturnReceipt()
        assert (
            await handle.execute_update(UPDATE_RECEIVE_RETURN, receipt, result_type=Decision)
        ).accepted
        await handle.result()
        return order_id

    async def refunded(self, amount: int = 700) -> str:
        order_id = await self.completed()
        request_id = str(uuid.uuid4())
        wid = refund_workflow_id(request_id)
        body = RefundRequest(order_id, request_id, amount, "goodwill", timing=STEPS)
        assert (await request(self.client, self.queue, REFUND_WORKFLOW, wid, body)).accepted
        await self.client.get_workflow_handle(wid).result()
        return order_id


@asynccontextmanager
async def running_stripe_shop(
    client: Client, pool: asyncpg.Pool, settings: Settings, api_base: str
) -> AsyncIterator[StripeShop]:
    """`settings` choose Stripe (`on_localstripe`)."""
    ports = ports_for(settings, pool)
    losing = dataclasses.replace(
        ports, payments=gateway(settings, pool, True, CapturesButLosesTheAnswer)
    )
    async with AsyncExitStack() as stack:
        queue = await stack.enter_async_context(running_worker(client, pool, ports))
        losing_queue = await stack.enter_async_context(running_worker(client, pool, losing))
        yield StripeShop(client, pool, api_base, queue, losing_queue)


async def payment_intent_at_stripe(
    api_base: str, order_id: str, amount: int, capture: bool
) -> tuple[str, str]:
    """A PaymentIntent made at Stripe directly for `order_id` (by its metadata), authorized and,
    when `capture`, captured: (its id, its charge's id)."""
    body = {"amount": str(amount), "currency": "usd", "payment_method": VISA,
            "capture_method": "manual", "payment_method_types[]": "card",
            "metadata[order_id]": order_id}  # fmt: skip
    async with httpx.AsyncClient(base_url=api_base, headers=AUTH, timeout=10) as http:
        made = await http.post("/v1/payment_intents", data=body)
        made.raise_for_status()
        intent_id = made.json()["id"]
        (await http.post(f"/v1/payment_intents/{intent_id}/confirm")).raise_for_status()
        if capture:
            (await http.post(f"/v1/payment_intents/{intent_id}/capture")).raise_for_status()
        intent = (await http.get(f"/v1/payment_intents/{intent_id}")).json()
    charge = intent["latest_charge"]
    return intent_id, charge if isinstance(charge, str) else charge["id"]
