"""Undoing the saga's effects, and recording each change of its course in the order's stream."""

from __future__ import annotations

from temporalio import activity

from activities.inputs import SagaEventInput, SagaEventKind, StepInput, UnrecordedStepInput
from activities.recording import OrderSteps, idempotency_key
from domain.order import Order


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
        order = await self._load(step.order_id)
        if order.authorization_id and not order.payment_voided:
            await self._ports.payments.void(
                idempotency_key(order.order_id, "void"), order.order_id, order.authorization_id
            )
            order.void_payment()
            await self._save(order)

    @activity.defn(name="undo_unrecorded_step")
    async def undo_unrecorded_step(self, stalled: UnrecordedStepInput) -> None:
        """Undo what a stalled step may have done although its answer was never recorded: the
        provider (or the stock table) is asked by the step's own idempotency key or order."""
        order = await self._load(stalled.order_id)
        if order.is_terminal or stalled.step in order.unrecorded_undone:
            return
        reference = await self._undo_unrecorded_effect(order, stalled.step)
        if reference is not None:
            order.undo_unrecorded(stalled.step, reference)
            await self._save(order)

    async def _undo_unrecorded_effect(self, order: Order, step: str) -> str | None:
        ports, order_id = self._ports, order.order_id
        if step == "authorize_payment" and order.authorization_id is None:
            found = await ports.payments.find_authorization(
                idempotency_key(order_id, "authorize"), order_id
            )
            if found is not None:
                await ports.payments.void(idempotency_key(order_id, "void"), order_id, found)
            return found
        if step == "reserve_inventory" and order.reservation_id is None:
            return order_id if await ports.inventory.release(order_id) else None
        if step == "create_shipment" and order.shipment_id is None:
            found = await ports.shipping.find_shipment(idempotency_key(order_id, "ship"), order_id)
            if found is not None:
                await ports.shipping.cancel_shipment(
                    idempotency_key(order_id, "cancel_shipment"), order_id, found
                )
            return found
        return None

    @activity.defn(name="record_saga_event")
    async def record_saga_event(self, change: SagaEventInput) -> None:
        if change.kind in (SagaEventKind.FAILED, SagaEventKind.CANCELLED):
            # Before the event: a retry after a crash in between still releases the hold.
            await self._ports.spending.release(change.order_id)
        order = await self._load(change.order_id)
        if not _already_recorded(order, change):
            _decide(order, change)
            await self._save(order)


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
    return False


def _decide(order: Order, change: SagaEventInput) -> None:
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
            order.fail(change.reason, change.step)
        case kind.CANCELLED:
            order.mark_cancelled(change.reason)
        case kind.COMPLETED:
            order.complete()
