"""What the saga's activities act through, built once per worker process (worker.py).

The ports know nothing of the activity classes that use them: worker.py binds those.
"""

from __future__ import annotations

from dataclasses import dataclass

from activities.providers import Notifier, PaymentGateway, ShippingCarrier
from eventstore.inventory import Inventory
from eventstore.orders import OrderRepository
from eventstore.spending import SpendingLimits


@dataclass(frozen=True, slots=True)
class SagaPorts:
    """The order streams, stock, spending limits and the three providers."""

    orders: OrderRepository
    inventory: Inventory
    spending: SpendingLimits
    payments: PaymentGateway
    shipping: ShippingCarrier
    notifier: Notifier
