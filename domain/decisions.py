"""What every command of the order aggregate does alike: refuse, or record an event."""

from domain import events as ev
from domain.errors import InvalidTransition
from domain.order_state import OrderState
from domain.status import OrderStatus


class Decisions(OrderState):
    """Base of the order's commands; new events wait in `pending_events` to be stored."""

    def __init__(self, placed: ev.OrderPlaced) -> None:
        super().__init__(placed)
        self.pending_events: list[ev.DomainEvent] = []

    def _record(self, event: ev.DomainEvent) -> None:
        self.apply(event)
        self.pending_events.append(event)

    def _require(self, event: type[ev.DomainEvent], *allowed: OrderStatus) -> None:
        self._refuse_if(self.status not in allowed, event)

    def _refuse_if(self, refused: bool, event: type[ev.DomainEvent], detail: str = "") -> None:
        if refused:
            raise InvalidTransition(self.status, event.type, detail)
