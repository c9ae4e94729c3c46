"""Domain error types; adapters map them to HTTP and Temporal errors in one place each."""

from typing import Any


class DomainError(Exception):
    """Base of every error raised by the domain model."""


class InvalidTransition(DomainError):
    """A command is not allowed in the aggregate's current status."""

    def __init__(self, status: str, event_type: str, detail: str = "") -> None:
        self.status = status
        self.event_type = event_type
        self.detail = detail
        message = f"cannot record {event_type} while order is {status}"
        super().__init__(f"{message}: {detail}" if detail else message)

    # Exceptions cross process boundaries (Temporal, multiprocessing) by pickle,
    # which would otherwise re-call __init__ with the formatted message only.
    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.status, self.event_type, self.detail))


class InvalidMoney(DomainError):
    """An amount or currency is malformed."""


class CurrencyMismatch(DomainError):
    """Arithmetic between amounts in different currencies."""


class AmountMismatch(DomainError):
    """A payment amount differs from the order total."""


class EmptyOrder(DomainError):
    """An order needs at least one line."""


class InvalidQuantity(DomainError):
    """A line quantity is outside the allowed range."""


class CartNotActive(DomainError):
    """A converted cart can no longer be changed."""


class CartLineNotFound(DomainError, KeyError):
    """The cart has no line for the given sku."""

    def __str__(self) -> str:
        return Exception.__str__(self)


class UnknownEventType(DomainError, KeyError):
    """A stored event's type name has no registered event class."""

    def __str__(self) -> str:
        return Exception.__str__(self)


class BusinessRuleViolation(DomainError):
    """A failure the business expects; the saga compensates instead of retrying."""

    default_message = "business rule violated"
    # What the saga needs to know beyond the message (carried as Temporal error details).
    details: tuple[Any, ...] = ()

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)


class PaymentDeclined(BusinessRuleViolation):
    """The payment provider refused to authorize the amount; `decline_code` is the gateway's
    reason (`card_declined`, `insufficient_funds`...), shown to the customer, when it gave one."""

    default_message = "the payment was declined"

    def __init__(self, message: str | None = None, decline_code: str | None = None) -> None:
        super().__init__(message)
        self.decline_code = decline_code
        self.details = (decline_code,) if decline_code else ()

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.decline_code))


class OutOfStock(BusinessRuleViolation):
    """Not enough stock is available to reserve every line."""

    default_message = "an item is out of stock"


class PartiallyOutOfStock(OutOfStock):
    """Some lines are short but others are available in full; `available_skus` names the
    latter, so the saga can offer the customer an amended order instead of failing."""

    def __init__(self, message: str | None, available_skus: tuple[str, ...]) -> None:
        super().__init__(message)
        self.available_skus = available_skus
        self.details = (list(available_skus),)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.available_skus))


class AddressRejected(BusinessRuleViolation):
    """The shipping provider cannot deliver to the address."""

    default_message = "the shipping address was rejected"


class CaptureDeclined(BusinessRuleViolation):
    """The payment provider refused to capture an authorized amount."""

    default_message = "the payment capture was declined"


class SpendingLimitExceeded(BusinessRuleViolation):
    """The order would take the customer past the shop's cumulative spending limit."""

    default_message = "the order exceeds the customer's spending limit"


class RefundDeclined(BusinessRuleViolation):
    """The payment provider refused a refund (e.g. more than is left of the capture)."""

    default_message = "the refund was declined"


class InvalidReturn(DomainError):
    """A return asks for more of a sku than was bought and not yet returned, or for none."""
