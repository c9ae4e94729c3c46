"""The reconciliation rules: our payment history of an order against the provider's records,
each kind of disagreement found, and nothing reported that an order in flight explains."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from domain.order import Order
from domain.payment_history import PaymentHistory, payment_history
from domain.provider_payments import (
    AuthorizationStatus,
    ProviderAuthorization,
    ProviderMovement,
    ProviderPayments,
)
from domain.reconciliation import (
    NEVER_PLACED,
    Mismatch,
    MismatchKind,
    OrderStanding,
    order_mismatches,
)
from tests.unit.order_scenarios import FORWARD, drive

ENDED = OrderStanding(closed=True, settled=True)
IN_FLIGHT = OrderStanding(closed=False, settled=False)
S = AuthorizationStatus


def _history(order: Order) -> PaymentHistory:
    return payment_history((e, datetime(2025, 6, 1, tzinfo=UTC)) for e in order.pending_events)


def _provider(
    auths: Sequence[tuple[str, int, AuthorizationStatus]],
    captures: Sequence[tuple[str, int]] = (),
    refunds: Sequence[tuple[str, int]] = (),
) -> ProviderPayments:
    return ProviderPayments(
        order_id="o-1",
        authorizations=tuple(ProviderAuthorization(*a) for a in auths),
        captures=tuple(ProviderMovement(*c) for c in captures),
        refunds=tuple(ProviderMovement(*r) for r in refunds),
    )


def _kinds(found: list[Mismatch]) -> list[tuple[MismatchKind, str, str]]:
    return [(m.kind, m.operation, m.reference) for m in found]


def test_a_completed_order_the_provider_agrees_with_has_no_mismatch() -> None:
    order = drive(*FORWARD)
    theirs = _provider([("auth-1", order.total, S.CAPTURED)], [("cap-1", order.total)])
    assert order_mismatches(_history(order), theirs, ENDED) == []


def test_a_capture_the_provider_made_that_we_never_recorded_is_unrecorded() -> None:
    order = drive("authorize_payment", "start_compensation", "void_payment", "fail")
    theirs = _provider([("auth-1", order.total, S.VOIDED)], [("cap-x", 500)])

    found = order_mismatches(_history(order), theirs, ENDED)
    assert _kinds(found) == [(MismatchKind.UNRECORDED, "capture", "cap-x")]
    assert (found[0].recorded_amount, found[0].provider_amount) == (None, 500)
    assert found[0].currency == "USD"


def test_money_the_provider_moved_is_not_judged_while_the_order_is_in_flight() -> None:
    order = drive(*FORWARD[:4])  # confirmed: the capture's event may be on its way
    theirs = _provider([("auth-1", order.total, S.CAPTURED)], [("cap-1", order.total)])
    assert order_mismatches(_history(order), theirs, IN_FLIGHT) == []


def test_a_refund_we_recorded_that_the_provider_lacks_is_reported_even_in_flight() -> None:
    order = drive(*FORWARD)
    order.request_refund("r-1", 300, "goodwill")
    order.settle_refund("r-1", "re_1")
    theirs = _provider([("auth-1", order.total, S.CAPTURED)], [("cap-1", order.total)])

    for standing in (ENDED, IN_FLIGHT):
        found = order_mismatches(_history(order), theirs, standing)
        assert _kinds(found) == [(MismatchKind.NO_PROVIDER_EFFECT, "refund", "re_1")]
        assert found[0].recorded_amount == 300


def test_amounts_that_differ_are_reported_for_authorizations_captures_and_refunds() -> None:
    order = drive(*FORWARD)
    order.request_refund("r-1", 300, "goodwill")
    order.settle_refund("r-1", "re_1")
    theirs = _provider(
        [("auth-1", order.total + 1, S.CAPTURED)], [("cap-1", order.total - 1)], [("re_1", 299)]
    )

    found = order_mismatches(_history(order), theirs, ENDED)
    assert _kinds(found) == [
        (MismatchKind.AMOUNT_DIFFERS, "authorization", "auth-1"),
        (MismatchKind.AMOUNT_DIFFERS, "capture", "cap-1"),
        (MismatchKind.AMOUNT_DIFFERS, "refund", "re_1"),
    ]
    assert [(m.recorded_amount, m.provider_amount) for m in found][2] == (300, 299)


def test_an_authorization_still_held_for_an_ended_order_is_open() -> None:
    order = drive("authorize_payment", "start_compensation", "void_payment", "fail")
    theirs = _provider([("auth-1", order.total, S.OPEN)])

    found = order_mismatches(_history(order), theirs, ENDED)
    assert _kinds(found) == [(MismatchKind.OPEN_AUTHORIZATION, "authorization", "auth-1")]
    assert "we recorded it voided" in found[0].detail


def test_a_void_we_recorded_on_an_order_in_flight_that_the_provider_never_made() -> None:
    order = drive("authorize_payment", "start_compensation", "void_payment")
    theirs = _provider([("auth-1", order.total, S.OPEN)])

    found = order_mismatches(_history(order), theirs, IN_FLIGHT)
    assert _kinds(found) == [(MismatchKind.NO_PROVIDER_EFFECT, "void", "auth-1")]


def test_an_authorization_held_while_the_order_is_in_flight_is_expected() -> None:
    order = drive("authorize_payment")
    theirs = _provider([("auth-1", order.total, S.OPEN)])
    assert order_mismatches(_history(order), theirs, IN_FLIGHT) == []


def test_an_authorization_we_recorded_granted_that_the_provider_never_granted() -> None:
    order = drive("require_payment_action")
    order.authorize_payment("pi-1", order.total)
    theirs = _provider([("pi-1", order.total, S.FAILED)])

    found = order_mismatches(_history(order), theirs, IN_FLIGHT)
    assert _kinds(found) == [(MismatchKind.NO_PROVIDER_EFFECT, "authorization", "pi-1")]


def test_a_payment_the_customer_never_completed_agrees_once_voided() -> None:
    order = drive("require_payment_action", "request_cancellation", "void_payment")
    order.mark_cancelled("no")
    theirs = _provider([("pi-1", order.total, S.VOIDED)])
    assert order_mismatches(_history(order), theirs, ENDED) == []


def test_records_we_hold_that_the_provider_lacks_entirely() -> None:
    order = drive(*FORWARD)
    found = order_mismatches(_history(order), _provider([]), ENDED)
    assert _kinds(found) == [
        (MismatchKind.NO_PROVIDER_EFFECT, "authorization", "auth-1"),
        (MismatchKind.NO_PROVIDER_EFFECT, "capture", "cap-1"),
    ]


def test_money_held_for_an_order_we_never_placed_is_unrecorded() -> None:
    theirs = _provider([("auth-9", 700, S.OPEN), ("auth-8", 100, S.VOIDED)], [("cap-9", 50)])
    found = order_mismatches(None, theirs, NEVER_PLACED)
    assert {m.currency for m in found} == {None}
    assert _kinds(found) == [
        (MismatchKind.UNRECORDED, "authorization", "auth-9"),
        (MismatchKind.UNRECORDED, "capture", "cap-9"),
    ]
