"""Payments that need the customer (3-D Secure), and money given back after a capture."""

from dataclasses import dataclass

from domain.event_base import DomainEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class RefundIssued(DomainEvent):
    """The payment provider returned `amount` (minor units) of the capture to the customer;
    `refund_id` is the provider's reference."""

    refund_id: str
    amount: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentActionRequired(DomainEvent):
    """The payment provider needs the customer to act before it authorizes (3-D Secure, SCA):
    the storefront completes `action_type` with `client_secret`; `authorization_id` is the
    provider's pending authorization (a PaymentIntent), voided if the order does not go on."""

    authorization_id: str
    action_type: str
    client_secret: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentActionExpired(DomainEvent):
    """The customer did not complete the payment action within `timeout_s`; the order is
    cancelled."""

    timeout_s: int
