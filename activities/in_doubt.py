"""Steps whose answer was lost (the provider acted, the saga never heard): found at the provider
by the step's own idempotency key and resolved — forward for a capture (it is recorded, since
money moved), undone for the reversible steps (an authorization, a reservation, a shipment)."""

from __future__ import annotations

from temporalio import activity

from activities.recording import OrderSteps, idempotency_key
from domain.order import Order
from workflows.saga_inputs import StepInput, UnrecordedStepInput


class InDoubtActivities(OrderSteps):
    """Ask the provider (or the stock table) what a stalled step did, by its key or order."""

    @activity.defn(name="resolve_capture")
    async def resolve_capture(self, step: StepInput) -> bool:
        """True when the order's capture happened: recorded already, or found at the gateway
        under the capture's idempotency key (then recorded, as the amount the gateway took).
        Raises ProviderUnavailable while the gateway cannot say: nothing may be undone until
        it does."""
        order = await self._load(step.order_id)
        if order.capture_id is not None:
            return True
        found = await self._ports.payments.find_capture(
            idempotency_key(order.order_id, "capture"), order.order_id
        )
        if found is None:
            return False
        order.record_found_capture(found.capture_id, found.amount)
        await self._save(order)
        return True

    @activity.defn(name="undo_unrecorded_step")
    async def undo_unrecorded_step(self, stalled: UnrecordedStepInput) -> None:
        """Undo what a stalled step may have done although its answer was never recorded: the
        provider (or the stock table) is asked by the step's own idempotency key or order."""
        order = await self._load(stalled.order_id)
        if order.status == "completed" or stalled.step in order.unrecorded_undone:
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
