"""What the Temporal UI shows for a saga and each of its activities, part of the saga's contract
(user metadata: a summary, encrypted like every payload and readable through the codec server),
so an operator sees "authorize 25.98 USD" rather than an activity type and a sealed blob."""

from __future__ import annotations

# ISO 4217 currencies without minor units (amounts are already whole units).
_NO_DECIMALS = frozenset({"JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF", "PYG"})

_STEPS = {
    "authorize_payment": "authorize {amount}",
    "reserve_inventory": "reserve the order's stock",
    "create_shipment": "create the shipment with the carrier",
    "confirm_order": "confirm the order",
    "capture_payment": "capture {amount}",
    "send_notifications": "complete the order",
    "reauthorize_payment": "void and authorize the amended total anew",
    "adjust_payment_for_amendment": "keep the authorization for the amended total",
    "void_payment": "void the authorization",
    "release_inventory": "give the order's stock back",
    "cancel_shipment": "cancel the shipment with the carrier",
    "refund_payment": "refund what is left of the capture",
    "resolve_capture": "ask the gateway whether the capture happened",
    "undo_unrecorded_step": "find and undo a stalled step's unrecorded effect",
    "record_saga_event": "record {what}",
    "check_payment_action": "ask the gateway about the customer's 3-D Secure",
    "expire_payment_action": "record that the customer did not pay in time",
    "propose_amendment": "offer the lines in stock",
    "accept_amendment": "record the customer's acceptance",
    "expire_amendment": "record that the offer expired",
}


def money(amount: int, currency: str) -> str:
    """Minor units as the customer reads them: 2598 USD is "25.98 USD"."""
    if not currency:
        return f"{amount} (minor units)"
    if currency in _NO_DECIMALS:
        return f"{amount} {currency}"
    return f"{amount // 100}.{amount % 100:02d} {currency}"


def activity_summary(activity: str, amount: int, currency: str, what: str = "") -> str:
    """One line for an activity of the saga."""
    template = _STEPS.get(activity, activity.replace("_", " "))
    return template.format(amount=money(amount, currency), what=what.replace("_", " "))


def saga_summary(order_id: str, items: int, total: int, currency: str) -> str:
    """The saga's line in the workflow list: `Order 34d2… · 2 items · 25.98 USD`."""
    units = f"{items} item{'s' if items != 1 else ''} · " if items else ""
    return f"Order {order_id[:8]}… · {units}{money(total, currency)}"
