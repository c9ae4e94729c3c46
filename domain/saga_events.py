"""Events of the saga's unhappy paths: stalls, cancellation, compensation, failure."""

from dataclasses import dataclass

from domain.event_base import DomainEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class SagaStalled(DomainEvent):
    """A step spent its retry budget and waits for an operator."""

    step: str
    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SagaResumed(DomainEvent):
    """An operator retried the stalled step."""

    step: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CompensationStarted(DomainEvent):
    """Undoing began; `step` is the step that failed, or "cancel"."""

    reason: str
    step: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CancellationRequested(DomainEvent):
    """The customer asked to cancel before payment was captured."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentVoided(DomainEvent):
    """The authorization was released without taking money."""

    authorization_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReservationReleased(DomainEvent):
    """Reserved stock went back on sale."""

    reservation_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ShipmentCancelled(DomainEvent):
    """The shipping provider dropped the parcel."""

    shipment_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UnrecordedEffectUndone(DomainEvent):
    """A stalled step had taken effect without its answer ever being recorded (an authorization,
    a held reservation, a shipment); compensation found it by its key and undid it."""

    step: str
    reference: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderFailed(DomainEvent):
    """The order ended because `step` failed for `reason`. `retry_cart_id`: the cart that gives
    the customer the order's lines back when payment was never authorized (domain.rules)."""

    reason: str
    step: str
    retry_cart_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderCancelled(DomainEvent):
    """The order ended at the customer's request, or because an offer or a payment action went
    unanswered; `retry_cart_id` as for OrderFailed (a payment action that expired)."""

    reason: str
    retry_cart_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CleanupDeferred(DomainEvent):
    """The order ended while some undoing still waits on a provider (voiding an authorization,
    cancelling a shipment, looking for a stalled step's unrecorded effect); the saga carries on
    with `steps` in the background. Never money taken: a capture is refunded before the end."""

    steps: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class CleanupCompleted(DomainEvent):
    """The undoing deferred by CleanupDeferred is done; nothing of the order is left behind."""

    steps: tuple[str, ...]
