"""Partial availability: record the amended order offered to the customer and its answer, and
replace the authorization with one for the amended total."""

from __future__ import annotations

from temporalio import activity

from activities.recording import OrderSteps, business_failures_are_final, idempotency_key
from workflows.saga_inputs import AmendmentInput, StepInput, StepResult


class AmendmentActivities(OrderSteps):
    """Propose, accept or expire an amendment; reauthorize the payment for its total."""

    @activity.defn(name="propose_amendment")
    async def propose_amendment(self, proposal: AmendmentInput) -> None:
        order = await self._load(proposal.order_id)
        if order.amendment is None:
            order.propose_amendment(proposal.available_skus)
            await self._save(order)

    @activity.defn(name="accept_amendment")
    async def accept_amendment(self, step: StepInput) -> None:
        order = await self._load(step.order_id)
        if order.amendment_pending:
            order.accept_amendment()
            await self._save(order)

    @activity.defn(name="expire_amendment")
    async def expire_amendment(self, expiry: AmendmentInput) -> None:
        order = await self._load(expiry.order_id)
        if order.amendment_pending:
            order.expire_amendment(expiry.timeout_s)
            await self._save(order)

    @activity.defn(name="adjust_payment_for_amendment")
    async def adjust_payment_for_amendment(self, step: StepInput) -> StepResult:
        """The accepted amendment lowered the total: a gateway that can capture less keeps the
        original authorization (capture will take the amended total and release the rest), the
        spending-limit hold drops to the new total; any other gateway voids and re-authorizes."""
        if not self._ports.payments.partial_capture:
            return await self.reauthorize_payment(step)
        order = await self._load(step.order_id)
        await self._ports.spending.lower(order.order_id, order.total)
        return StepResult(attempt=activity.info().attempt)

    @activity.defn(name="reauthorize_payment")
    async def reauthorize_payment(self, step: StepInput) -> StepResult:
        """Void the original authorization, then authorize the amended total under a key of its
        own: the provider never holds more than the order can cost, nor two authorizations."""
        order = await self._load(step.order_id)
        if order.authorized_amount != order.total:
            assert order.authorization_id is not None
            with business_failures_are_final():
                await self._ports.payments.void(
                    idempotency_key(order.order_id, "void-superseded"),
                    order.order_id, order.authorization_id,
                )  # fmt: skip
                await self._ports.spending.lower(order.order_id, order.total)
                authorization_id = await self._ports.payments.authorize(
                    idempotency_key(order.order_id, "authorize-amended"),
                    order.order_id, order.total, order.currency, step.payment_token,
                )  # fmt: skip
            order.reauthorize_payment(authorization_id, order.total)
            await self._save(order)
        return StepResult(attempt=activity.info().attempt)
