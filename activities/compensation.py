"""Undoing the saga's effects, and recording each change of its course in the order's stream."""

from __future__ import annotations

import logging

from temporalio import activity

from activities.recording import OrderSteps, business_failures_are_final, idempotency_key
from domain.order import Order
from domain.status import OrderStatus
from workflows.saga_inputs import SagaEventInput, SagaEventKind, StepInput

log = logging.getLogger(__name__)
# The order's end waits this many attempts of its recording (about 15 s) for the cart store;
# then it ends without a retry cart rather than wait on a store that does not answer.
RETRY_CART_ATTEMPTS = 5


class CompensationActivities(OrderSteps):
    """Void the authorization, release the reservation, cancel the shipment; record outcomes
    (a failed or cancelled order also gives back what it held against the spending limit)."""

    @activity.defn(name="cancel_shipment")
    async def cancel_shipment(self, step: StepInput) -> None:
        order = await self._load(step.order_id)
        if order.shipment_id and not order.shipment_cancelled:
            await self._ports.shipping.cancel_shipment(
                idempotency_key(order.order_id, "cancel_shipment"),
                order.order_id,
                order.shipment_id,
            )
            order.cancel_shipment()
            await self._save(order)

    @activity.defn(name="release_inventory")
    async def release_inventory(self, step: StepInput) -> None:
        order = await self._load(step.order_id)
        if order.reservation_id and not order.reservation_released:
            await self._ports.inventory.release(order.order_id)
            order.release_reservation()
            await self._save(order)

    @activity.defn(name="void_payment")
    async def void_payment(self, step: StepInput) -> None:
        """Release the authorization; one that was captured is refunded instead, not voided."""
        order = await self._load(step.order_id)
        authorization = order.authorization_to_void
        if authorization and not order.payment_voided and order.capture_id is None:
            await self._ports.payments.void(
                idempotency_key(order.order_id, "void"), order.order_id, authorization
            )
            order.void_payment()
            await self._save(order)

    @activity.defn(name="refund_payment")
    async def refund_payment(self, step: StepInput) -> None:
        """Give back whatever is left of the capture (a cancel after capture refunds in full)."""
        order = await self._load(step.order_id)
        left = order.net_captured
        if order.capture_id is not None and left > 0:
            with business_failures_are_final():
                refund_id = await self._ports.payments.refund(
                    idempotency_key(order.order_id, "refund"), order.order_id,
                    order.capture_id, left,
                )  # fmt: skip
            order.refund_payment(refund_id, left, order.cancellation_reason or "order undone")
            await self._save(order)

    @activity.defn(name="record_saga_event")
    async def record_saga_event(self, change: SagaEventInput) -> None:
        """Record the change in the order's stream; an order ending because its payment was never
        authorized gives the customer its lines back first, in a retry cart its end names."""
        if change.kind in (SagaEventKind.FAILED, SagaEventKind.CANCELLED):
            # Before the event: a retry after a crash in between still releases the hold.
            await self._ports.spending.release(change.order_id)
        order = await self._load(change.order_id)
        if not _already_recorded(order, change):
            if change.kind is SagaEventKind.COMPLETED:
                await self._complete(order, change.delivery_timeout_s)
            else:
                _decide(order, change, await self._retry_cart(order, change))
            await self._save(order)

    async def _retry_cart(self, order: Order, change: SagaEventInput) -> str | None:
        """The retry cart the order's end names (made once: its id is the order's), or None."""
        ending = _ENDINGS.get(change.kind)
        carts = self._ports.carts
        if ending is None or carts is None or not order.gives_cart_back(ending, change.step):
            return None
        try:
            return await carts.give_back(order.order_id, order.customer_id, order.currency,
                                         order.lines)  # fmt: skip
        except Exception:
            if activity.info().attempt < RETRY_CART_ATTEMPTS:
                raise
            log.exception("order %s ends without a retry cart: the cart store did not answer",
                          order.order_id)  # fmt: skip
            return None


_ENDINGS = {
    SagaEventKind.FAILED: OrderStatus.FAILED,
    SagaEventKind.CANCELLED: OrderStatus.CANCELLED,
}


def _already_recorded(order: Order, change: SagaEventInput) -> bool:
    """A retried recording finds its event already in the stream."""
    kind = SagaEventKind
    match change.kind:
        case kind.STALLED:
            return order.status == "stalled"
        case kind.RESUMED:
            return order.status != "stalled"
        case kind.COMPENSATION_STARTED:
            return order.status == "compensating" or order.is_terminal
        case kind.CANCELLATION_REQUESTED:
            return order.cancellation_reason is not None or order.is_terminal
        case kind.FAILED | kind.CANCELLED | kind.COMPLETED:
            return order.is_terminal
        case kind.CLEANUP_DEFERRED:
            return bool(order.cleanup_pending) or order.is_terminal
        case kind.CLEANUP_COMPLETED:
            return not order.cleanup_pending
    return False


def _decide(order: Order, change: SagaEventInput, retry_cart_id: str | None = None) -> None:
    kind = SagaEventKind
    match change.kind:
        case kind.STALLED:
            order.stall(change.step, change.reason)
        case kind.RESUMED:
            order.resume(change.step)
        case kind.COMPENSATION_STARTED:
            order.start_compensation(change.reason, change.step)
        case kind.CANCELLATION_REQUESTED:
            order.request_cancellation(change.reason)
        case kind.FAILED:
            order.fail(change.reason, change.step, retry_cart_id)
        case kind.CANCELLED:
            order.mark_cancelled(change.reason, retry_cart_id)
        case kind.COMPLETED:
            order.complete()
        case kind.CLEANUP_DEFERRED:
            order.defer_cleanup(change.steps)
        case kind.CLEANUP_COMPLETED:
            order.complete_cleanup()
