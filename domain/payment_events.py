"""Payments that need the customer (3-D Secure), and money given back after a capture."""

from dataclasses import dataclass

from domain.event_base import DomainEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class RefundRequested(DomainEvent):
    """`amount` (minor units) of the capture is set aside to be refunded, decided against what is
    left of it (captured - refunded - other refunds under way), so concurrent refunds can never
    together exceed the capture. `refund_id` is ours (the provider call's idempotency key);
    `return_id` names the return it pays for, if any."""

    refund_id: str
    amount: int
    reason: str
    return_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RefundIssued(DomainEvent):
    """The payment provider returned `amount` (minor units) of the capture to the customer;
    `refund_id` is the provider's reference, `request_id` the RefundRequested it settles (empty
    for the saga's own refund of a cancelled order, decided without a request)."""

    refund_id: str
    amount: int
    reason: str
    request_id: str = ""  # the RefundRequested it settles ("" for a saga's cancel refund)
    return_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RefundFailed(DomainEvent):
    """The provider refused the requested refund: its amount is no longer set aside."""

    request_id: str
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
