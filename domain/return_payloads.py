"""The public `return.*` events' payloads: each return event with the order as it stood then.

Every payload names the return, the lines it asked for (sku, name, quantity), its status after
the event and its return label's tracking number (null until the carrier issued one); some add
what that event adds (a reason, the lines received). No payment data, no address.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from domain import events as ev
from domain.order_state import OrderState


def _items(order: OrderState, lines: Iterable[ev.ReturnLine]) -> list[dict[str, Any]]:
    names = {line.sku: line.name for line in order.lines}
    return [{"sku": line.sku, "name": names.get(line.sku, line.sku), "quantity": line.quantity}
            for line in lines]  # fmt: skip


def return_fact(order: OrderState, event: Any) -> dict[str, Any]:
    """What every return event says: the return, the lines it asked for, its label's tracking
    number (null until the carrier issued one), and its status after this event."""
    current = order.returns[event.return_id]
    return {
        "customer_id": order.customer_id,
        "return_id": current.return_id,
        "status": current.status,
        "items": _items(order, current.lines),
        "tracking_number": current.tracking_number,
    }


def return_requested(order: OrderState, event: ev.ReturnRequested) -> dict[str, Any]:
    return {**return_fact(order, event), "reason": event.reason}


def return_rejected(order: OrderState, event: ev.ReturnRejected) -> dict[str, Any]:
    return {**return_fact(order, event), "reason": event.reason}


def return_received(order: OrderState, event: ev.ReturnReceived) -> dict[str, Any]:
    return {**return_fact(order, event), "received": _items(order, event.lines)}


def return_closed(order: OrderState, event: ev.ReturnClosed) -> dict[str, Any]:
    return {**return_fact(order, event), "reason": event.reason}
