"""After the sale: refunds decided against what is left of the capture, and returns (RMA).

Every refund is first *requested* (RefundRequested sets its amount aside), then issued or failed
at the provider. The decision is one append to the order's stream at its expected version, so
concurrent refunds, returns and cancels are decided one at a time and can never together refund
more than was captured.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from domain import events as ev
from domain.decisions import Decisions
from domain.errors import InvalidReturn
from domain.return_events import ReturnLine
from domain.status import OrderStatus, ShipmentStatus

S = OrderStatus


class AfterSale(Decisions):
    """Refunds and returns of an order whose saga completed (refunds also while it is undone)."""

    # Refunds.

    def request_refund(
        self, request_id: str, amount: int, reason: str, return_id: str = ""
    ) -> None:
        """Set `amount` (minor units, > 0) aside for a refund; refused over what is refundable
        (captured - refunded - refunds under way)."""
        self._require(ev.RefundRequested, S.COMPLETED, S.COMPENSATING)
        known = request_id in self.pending_refunds or request_id in self.refund_outcomes
        self._refuse_if(known, ev.RefundRequested, f"refund {request_id} was already requested")
        self._refuse_if(amount <= 0, ev.RefundRequested, f"a refund of {amount} is not positive")
        left = self.refundable
        self._refuse_if(amount > left, ev.RefundRequested, f"only {left} can still be refunded")
        self._record(
            ev.RefundRequested(order_id=self.order_id, refund_id=request_id, amount=amount,
                               reason=reason, return_id=return_id)
        )  # fmt: skip

    def settle_refund(self, request_id: str, provider_refund_id: str) -> None:
        """The provider refunded the requested amount (its reference: `provider_refund_id`)."""
        request = self.pending_refunds.get(request_id)
        self._refuse_if(request is None, ev.RefundIssued, f"no refund {request_id} is under way")
        assert request is not None
        self._record(
            ev.RefundIssued(
                order_id=self.order_id, refund_id=provider_refund_id, amount=request.amount,
                reason=request.reason, request_id=request_id, return_id=request.return_id,
            )
        )  # fmt: skip

    def fail_refund(self, request_id: str, reason: str) -> None:
        """The provider refused the refund: its amount is refundable again."""
        known = request_id in self.pending_refunds
        self._refuse_if(not known, ev.RefundFailed, f"no refund {request_id} is under way")
        self._record(ev.RefundFailed(order_id=self.order_id, request_id=request_id, reason=reason))

    # Returns.

    def request_return(
        self,
        return_id: str,
        lines: Iterable[ReturnLine],
        reason: str,
        *,
        now: datetime,
        window_days: int,
    ) -> None:
        """A customer's return of some of a delivered order's lines, within `window_days` of the
        delivery the carrier reported. Raises InvalidTransition (not delivered, outside the
        window) or InvalidReturn (no line, more than was bought and not yet returned)."""
        asked = tuple(lines)
        self._require(ev.ReturnRequested, S.COMPLETED)
        self._check_returnable(asked)  # the request itself first: 422 before any 409
        delivered = self.shipment_stage is ShipmentStatus.DELIVERED and self.delivered_at
        self._refuse_if(not delivered, ev.ReturnRequested, "the order was not delivered")
        assert self.delivered_at is not None
        late = now - datetime.fromisoformat(self.delivered_at) > timedelta(days=window_days)
        self._refuse_if(late, ev.ReturnRequested, f"outside the {window_days}-day return window")
        self._refuse_if(return_id in self.returns, ev.ReturnRequested, "already requested")
        self._record(
            ev.ReturnRequested(order_id=self.order_id, return_id=return_id, lines=asked,
                               reason=reason)
        )  # fmt: skip

    def approve_return(self, return_id: str) -> None:
        self._require_return(ev.ReturnApproved, return_id, "requested")
        self._record(ev.ReturnApproved(order_id=self.order_id, return_id=return_id))

    def label_return(self, return_id: str, tracking_number: str) -> None:
        """The carrier's return label of an approved return (one per return): the goods come
        back under `tracking_number`. Raises InvalidTransition when the return is not approved
        (any more) or already has a label."""
        self._require_return(ev.ReturnLabelCreated, return_id, "approved")
        labelled = self.returns[return_id].tracking_number
        self._refuse_if(labelled is not None, ev.ReturnLabelCreated,
                        f"return {return_id} already has label {labelled}")  # fmt: skip
        self._refuse_if(not tracking_number, ev.ReturnLabelCreated, "no tracking number")
        self._record(ev.ReturnLabelCreated(order_id=self.order_id, return_id=return_id,
                                           tracking_number=tracking_number))  # fmt: skip

    def reject_return(self, return_id: str, reason: str) -> None:
        self._require_return(ev.ReturnRejected, return_id, "requested")
        self._record(ev.ReturnRejected(order_id=self.order_id, return_id=return_id, reason=reason))

    def receive_return(self, return_id: str, lines: Iterable[ReturnLine]) -> None:
        """The goods came back: at most what the return asked for, sku by sku."""
        received = tuple(line for line in lines if line.quantity > 0)
        self._require_return(ev.ReturnReceived, return_id, "approved")
        asked = {line.sku: line.quantity for line in self.returns[return_id].lines}
        too_many = [line.sku for line in received if line.quantity > asked.get(line.sku, 0)]
        if too_many or not received:
            raise InvalidReturn(f"return {return_id} did not ask for {too_many or 'nothing'}")
        self._record(ev.ReturnReceived(order_id=self.order_id, return_id=return_id,
                                       lines=received))  # fmt: skip

    def close_return(self, return_id: str, reason: str) -> None:
        """An approved return whose goods never came: closed without refund."""
        self._require_return(ev.ReturnClosed, return_id, "approved")
        self._record(ev.ReturnClosed(order_id=self.order_id, return_id=return_id, reason=reason))

    def return_parcel_report(self, return_id: str, status: ShipmentStatus) -> tuple[str, str]:
        """What the carrier's report on a return's parcel (its label's tracking number) does:
        ("receive", why) when the parcel was delivered to the shop and the return waits for its
        goods; ("ignored", why) for a parcel still on its way, lost or sent back (the return
        waits, and is closed if nothing comes) or goods already received; ("refused", why) when
        the return ended without goods (rejected, closed) or was never approved: an operator
        takes it from there."""
        current = self.returns[return_id].status
        if current in ("received", "refunded"):
            return "ignored", f"return {return_id} was already received"
        if current != "approved":
            return "refused", f"return {return_id} is {current}"
        if status is not ShipmentStatus.DELIVERED:
            return "ignored", f"return parcel {status}: return {return_id} waits for its goods"
        return "receive", f"return {return_id} delivered to the shop: restocked, then refunded"

    def return_refund(self, return_id: str) -> int:
        """What a received return refunds (minor units): its lines' unit price times the units
        received; everything still refundable when the whole order has come back."""
        received = self.returns[return_id].received
        prices = {line.sku: line.unit_price for line in self.lines}
        share = sum(prices[line.sku] * line.quantity for line in received)
        back = self._units_returned(received_only=True)
        whole = all(back.get(line.sku, 0) >= line.quantity for line in self.lines)
        return self.refundable if whole else min(share, self.refundable)

    def _check_returnable(self, asked: tuple[ReturnLine, ...]) -> None:
        if not asked or any(line.quantity < 1 for line in asked):
            raise InvalidReturn("a return needs at least one unit of one line")
        bought = _units(self.lines)
        returned = self._units_returned()
        wanted = _units(asked)
        over = {
            sku: f"{quantity} of {bought.get(sku, 0) - returned.get(sku, 0)}"
            for sku, quantity in wanted.items()
            if quantity > bought.get(sku, 0) - returned.get(sku, 0)
        }
        if over:
            raise InvalidReturn(f"more than was bought and not yet returned: {over}")

    def _units_returned(self, received_only: bool = False) -> dict[str, int]:
        units: dict[str, int] = {}
        for ret in self.returns.values():
            counted = {line.sku: line.quantity for line in ret.received}
            for sku, quantity in (counted if received_only else ret.units_out).items():
                units[sku] = units.get(sku, 0) + quantity
        return units

    def _require_return(self, event: type[ev.DomainEvent], return_id: str, status: str) -> None:
        ret = self.returns.get(return_id)
        self._refuse_if(ret is None, event, f"no return {return_id}")
        assert ret is not None
        self._refuse_if(ret.status != status, event, f"return {return_id} is {ret.status}")


def _units(lines: Iterable[ReturnLine] | Iterable[ev.OrderLine]) -> dict[str, int]:
    """Units by sku, adding up lines of the same sku."""
    units: dict[str, int] = {}
    for line in lines:
        units[line.sku] = units.get(line.sku, 0) + line.quantity
    return units
