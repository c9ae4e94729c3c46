"""The post-sale workflows' activities: record each request as the domain decides it, and carry
it out (the carrier, the stock, the payment gateway), idempotently, keyed by the request."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from temporalio import activity

from activities.providers import ProviderUnavailable
from activities.recording import OrderSteps, idempotency_key
from domain.errors import InvalidReturn, InvalidTransition, RefundDeclined
from domain.order import Order
from domain.return_events import ReturnLine
from workflows.after_sale_inputs import (
    CancellationRequest,
    Decision,
    RefundRequest,
    ReturnItem,
    ReturnRequest,
    ReturnStep,
)


def refund_request_id(return_id: str) -> str:
    """The refund a received return asks for: one per return."""
    return f"return-{return_id}"


def _lines(items: list[ReturnItem]) -> tuple[ReturnLine, ...]:
    return tuple(ReturnLine(sku=item.sku, quantity=item.quantity) for item in items)


class AfterSaleActivities(OrderSteps):
    """Cancel after completion, refunds and returns."""

    async def _decide(self, order_id: str, decide: Callable[[Order], bool]) -> Decision:
        """Run `decide` on the order (True: already decided, nothing to record) and store what it
        recorded; the domain's refusal is the answer (409, or 422 for an invalid return)."""
        order = await self._load(order_id)
        try:
            if not decide(order):
                await self._save(order)
        except InvalidTransition as refused:
            return Decision(False, 409, refused.detail or str(refused))
        except InvalidReturn as invalid:
            return Decision(False, 422, str(invalid))
        return Decision(True)

    @activity.defn(name="request_cancellation_after_sale")
    async def request_cancellation_after_sale(self, request: CancellationRequest) -> Decision:
        def decide(order: Order) -> bool:
            if order.cancellation_reason is not None:
                return True
            order.request_cancellation(request.reason)
            return False

        return await self._decide(request.order_id, decide)

    @activity.defn(name="request_refund")
    async def request_refund(self, request: RefundRequest) -> Decision:
        def decide(order: Order) -> bool:
            known = request.request_id in order.pending_refunds
            if known or request.request_id in order.refund_outcomes:
                return True
            order.request_refund(request.request_id, request.amount, request.reason)
            return False

        return await self._decide(request.order_id, decide)

    @activity.defn(name="issue_refund")
    async def issue_refund(self, request: RefundRequest) -> str:
        """Refund the requested amount at the gateway (key: the request) and record the outcome:
        "issued", or "failed" when the gateway refuses it."""
        order = await self._load(request.order_id)
        pending = order.pending_refunds.get(request.request_id)
        if pending is None:
            return order.refund_outcomes.get(request.request_id, "failed")
        assert order.capture_id is not None
        key = idempotency_key(order.order_id, f"refund-{request.request_id}")
        try:
            refund_id = await self._ports.payments.refund(
                key, order.order_id, order.capture_id, pending.amount
            )
        except RefundDeclined as declined:
            order.fail_refund(request.request_id, str(declined))
            await self._save(order)
            return "failed"
        order.settle_refund(request.request_id, refund_id)
        await self._save(order)
        return "issued"

    @activity.defn(name="request_return")
    async def request_return(self, request: ReturnRequest) -> Decision:
        def decide(order: Order) -> bool:
            if request.return_id in order.returns:
                return True
            order.request_return(
                request.return_id, _lines(request.items), request.reason,
                now=datetime.now(UTC), window_days=request.window_days,
            )  # fmt: skip
            return False

        return await self._decide(request.order_id, decide)

    @activity.defn(name="approve_return")
    async def approve_return(self, step: ReturnStep) -> Decision:
        return await self._move(step, "approved", lambda o: o.approve_return(step.return_id))

    @activity.defn(name="create_return_label")
    async def create_return_label(self, step: ReturnStep) -> str:
        """Ask the carrier for an approved return's label (idempotency key: the return) and
        record its tracking number (ReturnLabelCreated). Answers the tracking number, or "" when
        the return no longer waits for its goods (received or closed meanwhile)."""
        order = await self._load(step.order_id)
        current = order.returns[step.return_id]
        if current.tracking_number is not None:
            return current.tracking_number
        if current.status != "approved":
            return ""
        key = idempotency_key(order.order_id, f"return-label-{step.return_id}")
        tracking_number = await self._ports.shipping.create_return_label(
            key, order.order_id, step.return_id
        )
        if not tracking_number:  # the carrier's fault, not the return's: ask again
            raise ProviderUnavailable(f"the carrier gave return {step.return_id} no label")
        order.label_return(step.return_id, tracking_number)
        await self._save(order)
        return tracking_number

    @activity.defn(name="reject_return")
    async def reject_return(self, step: ReturnStep) -> Decision:
        return await self._move(
            step, "rejected", lambda o: o.reject_return(step.return_id, step.reason)
        )

    @activity.defn(name="receive_return")
    async def receive_return(self, step: ReturnStep) -> Decision:
        def receive(order: Order) -> None:
            items = step.items
            if items is None:  # a carrier's report: every line the return asked for came back
                wanted = order.returns[step.return_id].lines
                items = [ReturnItem(line.sku, line.quantity) for line in wanted]
            order.receive_return(step.return_id, _lines(items))

        return await self._move(step, "received", receive)

    @activity.defn(name="close_return")
    async def close_return(self, step: ReturnStep) -> Decision:
        return await self._move(
            step, "closed", lambda o: o.close_return(step.return_id, step.reason)
        )

    async def _move(
        self, step: ReturnStep, reached: str, move: Callable[[Order], None]
    ) -> Decision:
        def decide(order: Order) -> bool:
            current = order.returns.get(step.return_id)
            if current is not None and current.status == reached:
                return True
            move(order)
            return False

        return await self._decide(step.order_id, decide)

    @activity.defn(name="restock_return")
    async def restock_return(self, step: ReturnStep) -> None:
        order = await self._load(step.order_id)
        received = order.returns[step.return_id].received
        lines = [(line.sku, line.quantity) for line in received]
        await self._ports.inventory.restock(order.order_id, step.return_id, lines)

    @activity.defn(name="request_return_refund")
    async def request_return_refund(self, step: ReturnStep) -> RefundRequest:
        """Set aside the received lines' share of the order (the whole rest when the whole order
        came back); the refund request `issue_refund` then carries out."""
        order = await self._load(step.order_id)
        request_id = refund_request_id(step.return_id)
        amount = order.return_refund(step.return_id)
        known = request_id in order.pending_refunds or request_id in order.refund_outcomes
        if not known and amount > 0:
            reason = f"return {step.return_id}"
            order.request_refund(request_id, amount, reason, return_id=step.return_id)
            await self._save(order)
        return RefundRequest(order.order_id, request_id, amount, f"return {step.return_id}")
