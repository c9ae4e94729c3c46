"""Reconciliation: our record of an order's money against what the payment provider says
happened to it, and the kinds of disagreement between the two.

Pure rules, no I/O. Both sides name each movement by the provider's reference (authorization,
capture and refund ids); amounts are minor units.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from domain.payment_history import AUTHORIZATION, CAPTURE, REFUND, VOID, PaymentHistory
from domain.provider_payments import (
    AuthorizationStatus,
    ProviderAuthorization,
    ProviderMovement,
    ProviderPayments,
)


class MismatchKind(StrEnum):
    """How our records and the provider's disagree."""

    # The provider holds or moved money we did not record: a capture, a refund, or an
    # authorization it still holds (or took) that no event of ours names.
    UNRECORDED = "unrecorded"
    # We recorded an authorization, capture, void or refund the provider has no trace of.
    NO_PROVIDER_EFFECT = "no_provider_effect"
    # Both sides know the movement, with different amounts.
    AMOUNT_DIFFERS = "amount_differs"
    # The provider still holds an authorization of an order that ended (completed, failed or
    # cancelled, its cleanup done).
    OPEN_AUTHORIZATION = "open_authorization"


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One disagreement: `operation` is authorization, capture, void or refund; `reference` the
    provider's id of it; the amounts are ours and the provider's (None where a side has none), in
    minor units of `currency` (the order's; None for an order we never placed)."""

    order_id: str
    kind: MismatchKind
    operation: str
    reference: str
    recorded_amount: int | None
    provider_amount: int | None
    currency: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class OrderStanding:
    """Where the order stands, beyond its money. `closed`: completed, failed or cancelled.
    `settled`: nothing of ours can still move its money (closed with no cleanup waiting on a
    provider and no refund under way, or an order we never placed)."""

    closed: bool
    settled: bool

    @property
    def ended(self) -> bool:
        """Closed and settled: no authorization may be held for it any more."""
        return self.closed and self.settled


NEVER_PLACED = OrderStanding(closed=False, settled=True)


def order_mismatches(
    ours: PaymentHistory | None, theirs: ProviderPayments, standing: OrderStanding
) -> list[Mismatch]:
    """Every way in which the provider's record of one order disagrees with ours.

    Money the provider moved that we did not record is only judged on a settled order: on an
    order in flight it may be the effect of a step whose event is on its way (the saga resolves
    such steps itself). A record of ours without a provider effect, or with another amount, is
    judged on every order, as we record an effect only after the provider made it.
    """
    found = _Comparison(theirs.order_id, ours.currency if ours else None, standing)
    found.authorizations(ours, theirs.authorizations)
    found.movements(CAPTURE, ours.captures() if ours else {}, theirs.captures)
    found.movements(REFUND, ours.refunds() if ours else {}, theirs.refunds)
    return found.mismatches


class _Comparison:
    def __init__(self, order_id: str, currency: str | None, standing: OrderStanding) -> None:
        self.order_id = order_id
        self.currency = currency
        self.standing = standing
        self.mismatches: list[Mismatch] = []

    def _found(
        self,
        kind: MismatchKind,
        operation: str,
        reference: str,
        ours: int | None,
        theirs: int | None,
        detail: str,
    ) -> None:
        self.mismatches.append(
            Mismatch(self.order_id, kind, operation, reference, ours, theirs, self.currency, detail)
        )

    def authorizations(
        self, ours: PaymentHistory | None, provider: Iterable[ProviderAuthorization]
    ) -> None:
        recorded = ours.authorizations() if ours else {}
        granted = ours.granted() if ours else frozenset()
        voided = ours.voided() if ours else frozenset()
        at_provider = {a.authorization_id: a for a in provider}
        for reference in sorted(recorded.keys() | at_provider.keys()):
            theirs = at_provider.get(reference)
            if theirs is None:
                self._found(
                    MismatchKind.NO_PROVIDER_EFFECT, AUTHORIZATION, reference,
                    recorded[reference], None,
                    "we recorded an authorization the provider does not have",
                )  # fmt: skip
            elif theirs.status is AuthorizationStatus.OPEN and self.standing.ended:
                self._open_on_ended_order(
                    reference, recorded.get(reference), reference in voided, theirs
                )
            elif reference not in recorded:
                self._unrecorded_authorization(theirs)
            else:
                self._compare_authorization(
                    reference,
                    recorded[reference],
                    reference in granted,
                    reference in voided,
                    theirs,
                )

    def _open_on_ended_order(
        self, reference: str, ours: int | None, voided: bool, theirs: ProviderAuthorization
    ) -> None:
        record = "we recorded it voided" if voided else "we recorded it"
        self._found(
            MismatchKind.OPEN_AUTHORIZATION, AUTHORIZATION, reference, ours, theirs.amount,
            f"the provider still holds {theirs.amount} of an order that ended;"
            f" {record if ours is not None else 'we have no record of it'}",
        )  # fmt: skip

    def _unrecorded_authorization(self, theirs: ProviderAuthorization) -> None:
        took = theirs.status in (AuthorizationStatus.OPEN, AuthorizationStatus.CAPTURED)
        if took and self.standing.settled:
            self._found(
                MismatchKind.UNRECORDED, AUTHORIZATION, theirs.authorization_id, None,
                theirs.amount, f"the provider has an authorization ({theirs.status}) we did not record",
            )  # fmt: skip

    def _compare_authorization(
        self, reference: str, ours: int, granted: bool, voided: bool, theirs: ProviderAuthorization
    ) -> None:
        if ours != theirs.amount:
            self._found(
                MismatchKind.AMOUNT_DIFFERS, AUTHORIZATION, reference, ours, theirs.amount,
                f"authorized {ours} by our records, {theirs.amount} at the provider",
            )  # fmt: skip
        never_granted = theirs.status in (
            AuthorizationStatus.REQUIRES_ACTION,
            AuthorizationStatus.FAILED,
        )
        if granted and never_granted:
            self._found(
                MismatchKind.NO_PROVIDER_EFFECT, AUTHORIZATION, reference, ours, theirs.amount,
                f"we recorded the authorization granted; at the provider it is {theirs.status}",
            )  # fmt: skip
        if voided and theirs.status not in (AuthorizationStatus.VOIDED, AuthorizationStatus.FAILED):
            self._found(
                MismatchKind.NO_PROVIDER_EFFECT, VOID, reference, ours, theirs.amount,
                f"we recorded a void; at the provider the authorization is {theirs.status}",
            )  # fmt: skip
        elif not voided and theirs.status is AuthorizationStatus.VOIDED and self.standing.settled:
            self._found(
                MismatchKind.UNRECORDED, VOID, reference, ours, theirs.amount,
                "the provider voided an authorization we did not record voided",
            )  # fmt: skip

    def movements(
        self, operation: str, recorded: dict[str, int], provider: tuple[ProviderMovement, ...]
    ) -> None:
        """Captures or refunds, matched by the provider's reference."""
        at_provider: dict[str, int] = {}
        for movement in provider:
            at_provider[movement.reference] = at_provider.get(movement.reference, 0) + (
                movement.amount
            )
        for reference in sorted(recorded.keys() | at_provider.keys()):
            ours, theirs = recorded.get(reference), at_provider.get(reference)
            if ours is None:
                if self.standing.settled:
                    self._found(
                        MismatchKind.UNRECORDED, operation, reference, None, theirs,
                        f"the provider made a {operation} of {theirs} we did not record",
                    )  # fmt: skip
            elif theirs is None:
                self._found(
                    MismatchKind.NO_PROVIDER_EFFECT, operation, reference, ours, None,
                    f"we recorded a {operation} of {ours} the provider does not have",
                )  # fmt: skip
            elif ours != theirs:
                self._found(
                    MismatchKind.AMOUNT_DIFFERS, operation, reference, ours, theirs,
                    f"{operation} of {ours} by our records, {theirs} at the provider",
                )  # fmt: skip
