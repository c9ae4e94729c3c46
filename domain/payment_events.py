"""Money given back after a capture."""

from dataclasses import dataclass

from domain.event_base import DomainEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class RefundIssued(DomainEvent):
    """The payment provider returned `amount` (minor units) of the capture to the customer;
    `refund_id` is the provider's reference."""

    refund_id: str
    amount: int
    reason: str
