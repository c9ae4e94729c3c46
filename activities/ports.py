"""What the saga's activities act through, built once per worker process (worker.py).

The ports know nothing of the activity classes that use them: worker.py binds those.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from activities.providers import Notifier, PaymentGateway, ShippingCarrier
from domain.values import OrderLine
from eventstore.delivery_deadlines import DeliveryDeadlines
from eventstore.inventory import Inventory
from eventstore.orders import OrderRepository
from eventstore.spending import SpendingLimits


class RetryCarts(Protocol):
    """The customers' carts, as far as the saga touches them: giving an order's lines back."""

    async def give_back(
        self, order_id: str, customer_id: str, currency: str, lines: tuple[OrderLine, ...]
    ) -> str:
        """The id of the retry cart of `order_id`, made the first time it is asked for (then the
        customer's active cart, holding `lines` at the catalog's current prices) and the same id
        on every later call, however concurrent. Raises the cart store's errors while it is
        unreachable."""
        ...


@dataclass(frozen=True, slots=True)
class SagaPorts:
    """The order streams, stock, spending limits, the three providers, and the carts (None: this
    worker gives no cart back; `commerce worker` always has them, see worker.ports_for)."""

    orders: OrderRepository
    inventory: Inventory
    spending: SpendingLimits
    payments: PaymentGateway
    shipping: ShippingCarrier
    notifier: Notifier
    carts: RetryCarts | None = None
    deadlines: DeliveryDeadlines | None = None  # None: no delivery is watched (some tests)
