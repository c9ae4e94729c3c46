"""The saga's decisions that more than one place must take alike.

The HTTP API (to answer 409 at once), the workflow's update validators (to accept or refuse an
update) and the order aggregate (to record the event) all ask these functions, each with the
state it knows, so they can never disagree about whether an order may be cancelled, retried or
its amendment accepted. Each answers the reason for a refusal, or None when the action is allowed.
"""

from __future__ import annotations

from domain.status import TERMINAL_STATUSES, OrderStatus, ShipmentStatus

S = OrderStatus
# The saga's payment step, by the name it records (workflows.contract.AUTHORIZE_PAYMENT).
AUTHORIZE_STEP = "authorize_payment"
# The parcel has left (or ended): a cancel is too late, a return is the way back.
_DISPATCHED = frozenset(
    {ShipmentStatus.DISPATCHED, ShipmentStatus.DELIVERED, ShipmentStatus.LOST,
     ShipmentStatus.RETURNED}
)  # fmt: skip


def cancellation_refusal(
    status: OrderStatus, *, cancelling: bool = False, shipment: ShipmentStatus | None = None
) -> str | None:
    """Why an order in `status` cannot be cancelled now, or None.

    A cancel is accepted from checkout until the carrier reports the parcel dispatched
    (`shipment`: the carrier's last stage): before capture the saga undoes its steps; after
    capture (or with a capture in doubt) it also refunds the capture in full; after completion
    it cancels the shipment, restocks and refunds in full. `cancelling` is True once a cancel was
    accepted (the saga may not have recorded it yet). Source: API.md, "Cancel: accepted until
    the parcel is dispatched".
    """
    if status is S.COMPLETED and shipment in _DISPATCHED:
        return "the parcel was already dispatched: request a return"
    if status in TERMINAL_STATUSES - {S.COMPLETED}:
        return f"the order can no longer be cancelled ({status})"
    if cancelling:
        return "the order is already being cancelled"
    if status is S.COMPENSATING:
        return "the order is already being undone"
    return None


def retry_refusal(status: OrderStatus, *, retry_requested: bool, cancelling: bool) -> str | None:
    """Why a saga's stalled step cannot be retried now, or None: only a stalled saga is retried,
    once per stall, and never after a cancel was accepted (the cancel wins)."""
    if status is not S.STALLED:
        return f"the saga is not stalled ({status})"
    if retry_requested:
        return "a retry of the stalled step is already under way"
    if cancelling:
        return "the order is being cancelled"
    return None


def amendment_acceptance_refusal(
    status: OrderStatus, *, amendment_pending: bool, cancelling: bool
) -> str | None:
    """Why the customer cannot accept the amended order now, or None: only while an offer is
    pending, and not once a cancel (or the offer's expiry) was decided."""
    if cancelling:
        return "the order is being cancelled"
    if status is not S.AWAITING_CUSTOMER or not amendment_pending:
        return f"no amendment is pending ({status})"
    return None


def gives_cart_back(ending: OrderStatus, *, step: str, payment_action_expired: bool) -> bool:
    """Whether an order ending in `ending` gives the customer its lines back in a new active cart
    (the retry cart): only when the payment was never authorized, so nothing was ever charged and
    trying again with another card is the way on. That is a failure at the authorize step (`step`:
    declined, a failed 3-D Secure check, the shop's spending limit, a gateway outage nobody retried)
    or a cancel because the customer never completed the payment action. A failure after
    authorization (stock, address, capture) or the customer's own cancel gives none. Source:
    issue 12, item 5; API.md ("A failed order whose payment was declined names retry_cart_id")."""
    if ending is S.FAILED:
        return step == AUTHORIZE_STEP
    return ending is S.CANCELLED and payment_action_expired
