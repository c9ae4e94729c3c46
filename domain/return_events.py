"""Returns (RMA) of a delivered order: asked for by the customer, approved or rejected by an
operator, sent back under a return label from the carrier, the goods received (restocked and
refunded), or closed when they never arrive."""

from dataclasses import dataclass

from domain.event_base import DomainEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class ReturnLine:
    """`quantity` units of `sku` going back."""

    sku: str
    quantity: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ReturnRequested(DomainEvent):
    """The customer asks to return these lines of a delivered order."""

    return_id: str
    lines: tuple[ReturnLine, ...]
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReturnApproved(DomainEvent):
    """An operator accepted the return: the shop waits for the goods."""

    return_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReturnLabelCreated(DomainEvent):
    """The carrier issued a return label for an approved return: the customer sends the goods
    back under `tracking_number`, and the carrier's `delivered` report on it receives them."""

    return_id: str
    tracking_number: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReturnRejected(DomainEvent):
    """An operator refused the return."""

    return_id: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReturnReceived(DomainEvent):
    """These quantities came back (at most what was asked for); they are restocked and their
    share of the order refunded."""

    return_id: str
    lines: tuple[ReturnLine, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReturnClosed(DomainEvent):
    """The return ended without goods: never received within the receive timeout."""

    return_id: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Return:
    """A return as the order knows it: `status` is requested, approved, rejected, received,
    refunded or closed; `received` what came back; `tracking_number` the return label's (None
    until the carrier issued one, and for returns approved before labels were asked for)."""

    return_id: str
    lines: tuple[ReturnLine, ...]
    reason: str
    status: str = "requested"
    received: tuple[ReturnLine, ...] = ()
    tracking_number: str | None = None

    @property
    def units_out(self) -> dict[str, int]:
        """Units this return takes out of what may still be returned, by sku."""
        if self.status in ("rejected", "closed"):
            return {}
        counted = self.received if self.status in ("received", "refunded") else self.lines
        return {line.sku: line.quantity for line in counted}
