"""The saga's forward steps. Each does one side effect, idempotently, keyed by order and step."""

from __future__ import annotations

from temporalio import activity

from activities.providers import PaymentActionRequired
from activities.recording import OrderSteps, business_failures_are_final, idempotency_key
from domain.status import OrderStatus
from workflows.saga_inputs import ExpiryInput, PaymentActionOutcome, StepInput, StepResult


def _done() -> StepResult:
    return StepResult(attempt=activity.info().attempt)


class FulfillmentActivities(OrderSteps):
    """Authorize, reserve, ship, confirm, capture, notify: one activity per step."""

    @activity.defn(name="authorize_payment")
    async def authorize_payment(self, step: StepInput) -> StepResult:
        """Authorize the total; when the gateway needs the customer first (3-D Secure), record
        the payment action and answer `awaiting_payment` (the saga waits for the outcome)."""
        order = await self._load(step.order_id)
        if order.status is OrderStatus.AWAITING_PAYMENT:
            return StepResult(activity.info().attempt, awaiting_payment=True)
        if order.authorization_id is None:
            try:
                with business_failures_are_final():
                    # The spending limit is held before money moves (a repeat holds no more).
                    await self._ports.spending.hold(
                        order.order_id, order.customer_id, order.currency, order.total
                    )
                    authorization_id = await self._ports.payments.authorize(
                        idempotency_key(order.order_id, "authorize"),
                        order.order_id, order.total, order.currency, step.payment_token,
                    )  # fmt: skip
            except PaymentActionRequired as action:
                order.require_payment_action(
                    action.authorization_id, action.action_type, action.client_secret
                )
                await self._save(order)
                return StepResult(activity.info().attempt, awaiting_payment=True)
            order.authorize_payment(authorization_id, order.total)
            await self._save(order)
        return _done()

    @activity.defn(name="check_payment_action")
    async def check_payment_action(self, step: StepInput) -> PaymentActionOutcome:
        """Ask the gateway how a payment awaiting the customer stands; an authorization is
        recorded (the amount must be the order's total)."""
        order = await self._load(step.order_id)
        action = order.payment_action
        if order.authorization_id is not None or action is None:
            return PaymentActionOutcome("authorized")
        state = await self._ports.payments.authorization_state(
            order.order_id, action.authorization_id
        )
        if state.status == "authorized":
            order.authorize_payment(action.authorization_id, state.amount)
            await self._save(order)
        return PaymentActionOutcome(state.status, state.reason)

    @activity.defn(name="expire_payment_action")
    async def expire_payment_action(self, expiry: ExpiryInput) -> None:
        order = await self._load(expiry.order_id)
        if order.status is OrderStatus.AWAITING_PAYMENT and not order.payment_action_expired:
            order.expire_payment_action(expiry.timeout_s)
            await self._save(order)

    @activity.defn(name="reserve_inventory")
    async def reserve_inventory(self, step: StepInput) -> StepResult:
        order = await self._load(step.order_id)
        if order.reservation_id is None:
            with business_failures_are_final():
                reservation_id = await self._ports.inventory.reserve(
                    order.order_id, [(line.sku, line.quantity) for line in order.lines]
                )
            order.reserve_inventory(reservation_id)
            await self._save(order)
        return _done()

    @activity.defn(name="create_shipment")
    async def create_shipment(self, step: StepInput) -> StepResult:
        order = await self._load(step.order_id)
        if order.shipment_id is None:
            with business_failures_are_final():
                shipment = await self._ports.shipping.create_shipment(
                    idempotency_key(order.order_id, "ship"),
                    order.order_id, order.shipping_address, order.lines,
                )  # fmt: skip
            order.create_shipment(shipment.shipment_id, shipment.tracking_number)
            await self._save(order)
        return _done()

    @activity.defn(name="confirm_order")
    async def confirm_order(self, step: StepInput) -> StepResult:
        order = await self._load(step.order_id)
        if order.status == "shipment_created":
            order.confirm()
            await self._save(order)
        return _done()

    @activity.defn(name="capture_payment")
    async def capture_payment(self, step: StepInput) -> StepResult:
        order = await self._load(step.order_id)
        if order.capture_id is None:
            assert order.authorization_id is not None
            with business_failures_are_final():
                capture_id = await self._ports.payments.capture(
                    idempotency_key(order.order_id, "capture"),
                    order.order_id, order.authorization_id, order.total,
                )  # fmt: skip
            order.capture_payment(capture_id, order.total)
            await self._save(order)
        # The goods are sold once the money is taken; committing twice is a no-op.
        await self._ports.inventory.commit(order.order_id)
        return _done()

    @activity.defn(name="send_notifications")
    async def send_notifications(self, step: StepInput) -> StepResult:
        """Complete the order. The customer is told by the event dispatcher, which follows the
        event store (OrderCompleted included), so this step no longer calls the notifier; its
        name and result stay, so running sagas and recorded histories need no new version."""
        order = await self._load(step.order_id)
        if not order.is_terminal:
            await self._complete(order, step.delivery_timeout_s)
            await self._save(order)
        return _done()
