"""After the sale with COMMERCE_PAYMENT_PROVIDER=stripe against localstripe: the post-sale
workflows on the worker's Stripe ports, on a task queue of their own, started as the API starts
them; the money read back from localstripe's charges and refunds, and every order reconciled
against Stripe's records at the end."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from typing import Any

import asyncpg
import pytest
from temporalio.client import Client

from activities.providers import ProviderUnavailable
from activities.stripe_payments import StripeGateway
from commerce.settings import Settings
from domain.status import ShipmentStatus
from tests.integration.saga_support import event_types, running_worker, stock_of
from tests.integration.stripe_after_sale_support import (
    carrier_reports,
    charge_of,
    completed_order,
    issued_refunds,
    load,
    ours,
    refunds_at_stripe,
    request,
    stripe_mismatches,
)
from tests.integration.stripe_support import captured, gateway, on_localstripe, payment_intents_of
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

FAST = StepTiming(step_max_attempts=3, step_initial_retry_ms=50)


@pytest.fixture
def stripe_settings(settings: Settings, localstripe: str) -> Settings:
    return on_localstripe(settings, localstripe)


class RefundsButLosesTheAnswer(StripeGateway):
    """Stripe refunds; the first answer is lost on the way back."""

    lost = False

    async def refund(self, *args: Any, **kwargs: Any) -> str:
        refund_id = await super().refund(*args, **kwargs)
        if not self.lost:
            self.lost = True
            raise ProviderUnavailable("connection reset after Stripe refunded")
        return refund_id


def _stripe_ports(
    settings: Settings, pool: asyncpg.Pool, kind: type[StripeGateway] | None = None
) -> Any:
    ports = ports_for(settings, pool)
    assert isinstance(ports.payments, StripeGateway)  # what COMMERCE_PAYMENT_PROVIDER chose
    if kind is not None:
        ports = dataclasses.replace(ports, payments=gateway(settings, pool, kind=kind))
    return ports


async def _refund(client: Client, queue: str, order_id: str, amount: int) -> tuple[str, Decision]:
    request_id = str(uuid.uuid4())
    wid = refund_workflow_id(request_id)
    body = RefundRequest(order_id, request_id, amount, "goodwill", timing=FAST)
    return wid, await request(client, queue, REFUND_WORKFLOW, wid, body)


async def _approved_return(
    client: Client, queue: str, order_id: str, sku: str, quantity: int
) -> str:
    return_id = str(uuid.uuid4())
    wid = return_workflow_id(return_id)
    body = ReturnRequest(order_id, return_id, [ReturnItem(sku, quantity)], "too many", timing=FAST)
    assert (await request(client, queue, RETURN_WORKFLOW, wid, body)).accepted
    handle = client.get_workflow_handle(wid)
    assert (await handle.execute_update(UPDATE_APPROVE_RETURN, result_type=Decision)).accepted
    return return_id


async def test_a_cancel_before_dispatch_refunds_the_capture_in_full_at_stripe_and_restocks(
    temporal_client: Client, pool: asyncpg.Pool, stripe_settings: Settings, localstripe: str
) -> None:
    async with running_worker(temporal_client, pool, _stripe_ports(stripe_settings, pool)) as queue:
        order_id, sku = await completed_order(temporal_client, queue, pool)
        assert await stock_of(pool, sku) == (2, 0)
        wid = cancellation_workflow_id(order_id)
        body = CancellationRequest(order_id, "changed my mind", timing=FAST)
        assert (await request(temporal_client, queue, CANCELLATION_WORKFLOW, wid, body)).accepted
        assert await asyncio.wait_for(temporal_client.get_workflow_handle(wid).result(), 60) == (
            "cancelled"
        )

    order = await load(pool, order_id)
    assert (order.status, order.captured_amount, order.refunded_total) == ("cancelled", 4500, 4500)
    assert {"ShipmentCancelled", "ReservationReleased", "RefundIssued", "OrderCancelled"} <= set(
        await event_types(pool, order_id)
    )
    assert await stock_of(pool, sku) == (5, 0)
    [intent] = await payment_intents_of(localstripe, order_id)
    assert intent["status"] == "succeeded" and captured(intent) == (4500, 4500)
    refunds = await refunds_at_stripe(localstripe, intent["latest_charge"]["id"])
    assert ours(refunds) == {f"order-{order_id}:refund": 4500}
    issued = [r for r in refunds if r["metadata"]]
    assert [r["id"] for r in issued] == await issued_refunds(pool, order_id)
    assert await stripe_mismatches(pool, stripe_settings, [order_id]) == []


async def test_a_cancel_after_dispatch_is_refused_and_stripe_keeps_the_capture(
    temporal_client: Client, pool: asyncpg.Pool, stripe_settings: Settings, localstripe: str
) -> None:
    async with running_worker(temporal_client, pool, _stripe_ports(stripe_settings, pool)) as queue:
        order_id, _ = await completed_order(temporal_client, queue, pool)
        await carrier_reports(pool, order_id, ShipmentStatus.DISPATCHED)
        wid = cancellation_workflow_id(order_id)
        body = CancellationRequest(order_id, "too late", timing=FAST)
        decision = await request(temporal_client, queue, CANCELLATION_WORKFLOW, wid, body)

    assert (decision.accepted, decision.status) == (False, 409)
    assert "request a return" in decision.reason
    [intent] = await payment_intents_of(localstripe, order_id)
    assert captured(intent) == (4500, 0)
    assert await stripe_mismatches(pool, stripe_settings, [order_id]) == []


async def test_a_return_of_one_of_three_units_refunds_one_units_price_at_stripe(
    temporal_client: Client, pool: asyncpg.Pool, stripe_settings: Settings, localstripe: str
) -> None:
    async with running_worker(temporal_client, pool, _stripe_ports(stripe_settings, pool)) as queue:
        order_id, sku = await completed_order(temporal_client, queue, pool)
        await carrier_reports(pool, order_id, ShipmentStatus.DELIVERED)
        return_id = await _approved_return(temporal_client, queue, order_id, sku, 1)
        handle = temporal_client.get_workflow_handle(return_workflow_id(return_id))
        received = await handle.execute_update(
            UPDATE_RECEIVE_RETURN, ReturnReceipt(), result_type=Decision
        )
        assert received.accepted
        assert await asyncio.wait_for(handle.result(), 60) == "refunded"

    order = await load(pool, order_id)
    assert (order.status, order.refunded_total) == ("completed", 1500)
    assert await stock_of(pool, sku) == (3, 0)
    [intent] = await payment_intents_of(localstripe, order_id)
    assert captured(intent) == (4500, 1500)
    refunds = await refunds_at_stripe(localstripe, intent["latest_charge"]["id"])
    assert ours(refunds) == {f"order-{order_id}:refund-return-{return_id}": 1500}
    assert await stripe_mismatches(pool, stripe_settings, [order_id]) == []


async def test_an_operator_refund_is_one_refund_at_stripe(
    temporal_client: Client, pool: asyncpg.Pool, stripe_settings: Settings, localstripe: str
) -> None:
    async with running_worker(temporal_client, pool, _stripe_ports(stripe_settings, pool)) as queue:
        order_id, _ = await completed_order(temporal_client, queue, pool)
        wid, decision = await _refund(temporal_client, queue, order_id, 700)
        assert decision.accepted
        assert await asyncio.wait_for(temporal_client.get_workflow_handle(wid).result(), 60) == (
            "issued"
        )
        over = (await _refund(temporal_client, queue, order_id, 4500 - 700 + 1))[1]

    assert (over.accepted, over.status) == (False, 409)
    order = await load(pool, order_id)
    assert order.refunded_total == 700
    charge = await charge_of(localstripe, order_id)
    request_id = wid.removeprefix("refund-")
    refunds = await refunds_at_stripe(localstripe, charge["id"])
    assert ours(refunds) == {f"order-{order_id}:refund-{request_id}": 700}
    assert await stripe_mismatches(pool, stripe_settings, [order_id]) == []


async def test_twenty_concurrent_refunds_and_a_return_never_refund_more_than_stripe_captured(
    temporal_client: Client, pool: asyncpg.Pool, stripe_settings: Settings, localstripe: str
) -> None:
    async with running_worker(temporal_client, pool, _stripe_ports(stripe_settings, pool)) as queue:
        order_id, sku = await completed_order(temporal_client, queue, pool)
        await carrier_reports(pool, order_id, ShipmentStatus.DELIVERED)
        return_id = await _approved_return(temporal_client, queue, order_id, sku, 1)
        returned = temporal_client.get_workflow_handle(return_workflow_id(return_id))
        receive = returned.execute_update(
            UPDATE_RECEIVE_RETURN, ReturnReceipt(), result_type=Decision
        )
        answers = await asyncio.gather(
            receive, *(_refund(temporal_client, queue, order_id, 400) for _ in range(20))
        )
        refunds = answers[1:]
        accepted = [wid for wid, decision in refunds if decision.accepted]
        outcomes = await asyncio.gather(
            *(temporal_client.get_workflow_handle(wid).result() for wid in accepted)
        )
        assert await asyncio.wait_for(returned.result(), 60) == "refunded"

    assert set(outcomes) == {"issued"}
    refused = [d for _, d in refunds if not d.accepted]
    assert refused and {d.status for d in refused} == {409}
    order = await load(pool, order_id)
    # 20 x 400 ask for more than the 4500 captured: what is left is less than one more refund.
    assert 4500 - 400 < order.refunded_total <= 4500
    charge = await charge_of(localstripe, order_id)  # it embeds only its 10 latest refunds
    assert (charge["amount"], charge["amount_refunded"]) == (4500, order.refunded_total)
    at_stripe = ours(await refunds_at_stripe(localstripe, charge["id"]))
    assert len(at_stripe) == len(accepted) + 1  # every accepted refund and the return's, once
    assert sum(at_stripe.values()) == order.refunded_total
    assert await stripe_mismatches(pool, stripe_settings, [order_id]) == []


async def test_a_refund_whose_answer_is_lost_is_taken_once_at_stripe(
    temporal_client: Client, pool: asyncpg.Pool, stripe_settings: Settings, localstripe: str
) -> None:
    ports = _stripe_ports(stripe_settings, pool, RefundsButLosesTheAnswer)
    async with running_worker(temporal_client, pool, ports) as queue:
        order_id, _ = await completed_order(temporal_client, queue, pool)
        wid, decision = await _refund(temporal_client, queue, order_id, 900)
        assert decision.accepted
        outcome = await asyncio.wait_for(temporal_client.get_workflow_handle(wid).result(), 60)

    assert outcome == "issued"
    assert ports.payments.lost  # the first answer was lost indeed
    order = await load(pool, order_id)
    assert order.refunded_total == 900
    refunds = await refunds_at_stripe(localstripe, (await charge_of(localstripe, order_id))["id"])
    request_id = wid.removeprefix("refund-")
    assert ours(refunds) == {f"order-{order_id}:refund-{request_id}": 900}
    assert [r["id"] for r in refunds] == await issued_refunds(pool, order_id)
    assert await stripe_mismatches(pool, stripe_settings, [order_id]) == []
