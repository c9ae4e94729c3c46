"""The delivery sweep: marks completed orders whose parcel was not delivered by their deadline
overdue (DeliveryOverdue), so no workflow and no timer per order waits for a delivery.

It runs in the worker, one leader among the worker processes (an advisory lock, as the
projector). Every order completed since the delivery-sweep patch has its deadline in
`delivery_deadlines` (kept by the completing activity before OrderCompleted); the sweep takes
the due ones every COMMERCE_DELIVERY_SWEEP_S seconds, lets the order decide (a final carrier
report or a cancel meanwhile means nothing is late), and settles them. A late carrier report
still lands: the carrier webhook records it on the order whatever the sweep did.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from activities.metrics import count_appended
from domain.order import Order
from eventstore.delivery_deadlines import DeliveryDeadlines
from eventstore.leadership import Leadership
from eventstore.orders import OrderRepository
from eventstore.store import ConcurrencyError, EventStore

log = logging.getLogger("commerce.delivery_sweep")
_LOCK_CLASS = 0x64656C76  # advisory lock namespace of delivery-sweep leadership
_NAME = "delivery-sweep"


def is_late(order: Order) -> bool:
    """The order's parcel is awaited and was not yet marked overdue."""
    return (
        order.status == "completed"
        and order.delivery_due_at is not None
        and not order.shipment_is_terminal
        and not order.delivery_overdue
    )


class DeliverySweep:
    """Marks due deliveries overdue, `batch` orders at a time, every `interval_s` seconds."""

    def __init__(self, pool: asyncpg.Pool, interval_s: float, batch: int = 100) -> None:
        self._pool = pool
        self._orders = OrderRepository(EventStore(pool))
        self._leadership = Leadership(pool, _LOCK_CLASS, _NAME)
        self._interval_s = interval_s
        self._batch = batch

    async def run_once(self) -> list[str]:
        """One pass if this process leads; the orders it marked overdue."""
        if not await self._leadership.acquire():
            return []
        deadlines = DeliveryDeadlines(self._pool)
        marked: list[str] = []
        while due := await deadlines.due(self._batch):
            settled = []
            for order_id in due:
                if await self._mark(order_id):
                    marked.append(order_id)
                settled.append(order_id)
            await deadlines.settle(settled)
            if len(due) < self._batch:
                break
        return marked

    async def _mark(self, order_id: str) -> bool:
        for _ in range(5):  # a carrier report appended meanwhile: decide again on fresh state
            order = await self._orders.load(order_id)
            if order is None or not is_late(order):
                return False
            assert order.delivery_due_at is not None
            order.mark_delivery_overdue(order.delivery_due_at)
            appended = list(order.pending_events)
            try:
                await self._orders.save(order, {"actor": "delivery-sweep"})
            except ConcurrencyError:
                continue
            count_appended(appended)
            return True
        raise ConcurrencyError(f"order-{order_id}", 0, 0)

    async def close(self) -> None:
        """Give up leadership."""
        await self._leadership.release()

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Sweep until `stop` is set; a non-leader keeps trying to lead."""
        try:
            while not stop.is_set():
                try:
                    await self.run_once()
                except Exception as error:  # PostgreSQL unreachable: the next pass retries
                    log.warning("delivery sweep failed; retrying: %s", error or type(error))
                    await self._leadership.release()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._interval_s)
        finally:
            await self._leadership.release()
