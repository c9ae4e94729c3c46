"""What the saga needs from payment, shipping and notification providers.

A real gateway plugs in by implementing these protocols; every call carries an idempotency key,
so a retried activity never authorizes, captures or ships twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from domain.events import OrderLine, ShippingAddress


class ProviderUnavailable(Exception):
    """A transient provider failure (outage, timeout): Temporal retries the step with backoff."""


class PaymentActionRequired(Exception):
    """The gateway needs the customer to act (3-D Secure, SCA) before it authorizes:
    `authorization_id` is the pending authorization (a PaymentIntent), `client_secret` what the
    storefront completes it with, `action_type` what kind of action (e.g. "use_stripe_sdk")."""

    def __init__(self, authorization_id: str, action_type: str, client_secret: str) -> None:
        super().__init__(f"payment {authorization_id} needs the customer ({action_type})")
        self.authorization_id = authorization_id
        self.action_type = action_type
        self.client_secret = client_secret


@dataclass(frozen=True, slots=True)
class AuthorizationState:
    """Where a pending authorization stands at the gateway: "authorized" (for `amount` minor
    units), "requires_action" (the customer has not finished) or "failed" (with `reason`)."""

    status: str
    amount: int = 0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Capture:
    """A capture as the provider holds it: its reference and the amount taken (minor units)."""

    capture_id: str
    amount: int


@dataclass(frozen=True, slots=True)
class Shipment:
    shipment_id: str
    tracking_number: str


class PaymentGateway(Protocol):
    # True when capture may take less than was authorized (the rest is released): an amended
    # order is then captured from its original authorization instead of voided and authorized
    # anew.
    partial_capture: bool

    async def authorize(
        self, key: str, order_id: str, amount: int, currency: str, payment_token: str
    ) -> str:
        """Authorization id; raises PaymentDeclined, PaymentActionRequired (the customer must
        act first; then `authorization_state` tells the outcome) or ProviderUnavailable."""
        ...

    async def authorization_state(self, order_id: str, authorization_id: str) -> AuthorizationState:
        """Where an authorization that awaited the customer stands now (ProviderUnavailable
        while the gateway cannot say)."""
        ...

    async def capture(self, key: str, order_id: str, authorization_id: str, amount: int) -> str:
        """Capture id; raises CaptureDeclined or ProviderUnavailable."""
        ...

    async def void(self, key: str, order_id: str, authorization_id: str) -> None: ...

    async def find_authorization(self, key: str, order_id: str) -> str | None:
        """The authorization made under `key`, if any: one whose answer may never have arrived.
        Raises ProviderUnavailable when the gateway cannot say."""
        ...

    async def find_capture(self, key: str, order_id: str) -> Capture | None:
        """The capture made under `key`, if any (an in-doubt capture is resolved forward by
        it). Raises ProviderUnavailable when the gateway cannot say."""
        ...

    async def refund(self, key: str, order_id: str, capture_id: str, amount: int) -> str:
        """Refund id; gives back `amount` minor units of the capture. Raises RefundDeclined
        (more than is left of the capture) or ProviderUnavailable."""
        ...


class ShippingCarrier(Protocol):
    async def create_shipment(
        self, key: str, order_id: str, address: ShippingAddress, lines: tuple[OrderLine, ...]
    ) -> Shipment:
        """Raises AddressRejected or ProviderUnavailable."""
        ...

    async def cancel_shipment(self, key: str, order_id: str, shipment_id: str) -> None: ...

    async def find_shipment(self, key: str, order_id: str) -> str | None:
        """The shipment created under `key`, if any; raises ProviderUnavailable when down."""
        ...

    async def create_return_label(self, key: str, order_id: str, return_id: str) -> str:
        """The tracking number of a prepaid label the customer sends return `return_id` back
        with; the carrier reports that parcel on the same webhook as outgoing ones. The same
        `key` again answers the same label. Raises ProviderUnavailable."""
        ...


@dataclass(frozen=True, slots=True)
class Notification:
    """One message to a customer about an order: `kind` is the public event type it tells of
    (`order.completed`, ...); `text` and `html` are the same message in two forms."""

    customer_id: str
    order_id: str
    kind: str
    subject: str
    text: str
    html: str


class Notifier(Protocol):
    async def notify(self, key: str, message: Notification) -> list[str]:
        """The channels the customer was told on. The same `key` again sends nothing twice.
        Raises ProviderUnavailable while the provider is down."""
        ...
