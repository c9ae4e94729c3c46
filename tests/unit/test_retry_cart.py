"""The retry cart rule: which endings give the customer the order's lines back, the order refusing
to name a retry cart for any other ending, and the cart's lines at the catalog's prices now."""

import pytest

from domain import rules
from domain.cart import Cart, CatalogPrice
from domain.errors import InvalidTransition
from domain.order import Order
from domain.status import OrderStatus
from tests.unit.order_scenarios import LINES, placed
from workflows.contract import AUTHORIZE_PAYMENT, STEPS

S = OrderStatus


def test_the_rule_names_the_sagas_payment_step() -> None:
    assert rules.AUTHORIZE_STEP == AUTHORIZE_PAYMENT


@pytest.mark.parametrize(
    ("ending", "step", "expired", "gives"),
    [
        (S.FAILED, "authorize_payment", False, True),  # declined, 3-D Secure failed, limit
        *((S.FAILED, step, False, False) for step in STEPS if step != AUTHORIZE_PAYMENT),
        (S.CANCELLED, "cancel", True, True),  # the customer never completed the payment action
        (S.CANCELLED, "cancel", False, False),  # the customer's own cancel
        (S.COMPLETED, "authorize_payment", False, False),
    ],
)
def test_only_an_order_whose_payment_was_never_authorized_gives_its_cart_back(
    ending: OrderStatus, step: str, expired: bool, gives: bool
) -> None:
    assert rules.gives_cart_back(ending, step=step, payment_action_expired=expired) is gives


def test_a_declined_order_names_its_retry_cart() -> None:
    order = placed()
    assert order.gives_cart_back(S.FAILED, "authorize_payment")
    order.fail("the card was declined", "authorize_payment", "rc-1")
    assert (order.status, order.retry_cart_id) == (S.FAILED, "rc-1")
    assert order.pending_events[-1].to_data()["retry_cart_id"] == "rc-1"


def test_an_expired_payment_action_names_its_retry_cart_on_the_cancel() -> None:
    order = placed()
    order.require_payment_action("pi-1", "3ds", "pi-1_secret")
    order.expire_payment_action(1800)
    order.request_cancellation("the payment was not completed within 1800 s")
    order.void_payment()
    order.mark_cancelled("the payment was not completed within 1800 s", "rc-1")
    assert (order.status, order.retry_cart_id) == (S.CANCELLED, "rc-1")


def test_an_order_that_failed_after_authorization_refuses_a_retry_cart() -> None:
    order = placed()
    order.authorize_payment("auth-1", order.total)
    order.start_compensation("out of stock", "reserve_inventory")
    order.void_payment()
    before = order.snapshot()
    with pytest.raises(InvalidTransition, match="gives no cart back"):
        order.fail("out of stock", "reserve_inventory", "rc-1")
    assert order.snapshot() == before


def test_a_customers_cancel_refuses_a_retry_cart() -> None:
    order = placed()
    order.request_cancellation("changed my mind")
    with pytest.raises(InvalidTransition, match="gives no cart back"):
        order.mark_cancelled("changed my mind", "rc-1")


def test_an_order_stream_from_before_retry_carts_names_none() -> None:
    order = placed()
    order.fail("the card was declined", "authorize_payment")
    data = order.pending_events[-1].to_data()
    del data["retry_cart_id"]  # as stored before the field existed
    events = [*order.pending_events[:-1], type(order.pending_events[-1])(**data)]
    assert Order.rehydrate(events).retry_cart_id is None


def test_the_retry_cart_holds_the_lines_at_todays_prices_and_names_those_no_longer_sold() -> None:
    mug, tea = LINES  # ordered at 1250 and 499
    prices = {mug.sku: CatalogPrice(sku=mug.sku, name="Mug", unit_price=1300, currency="USD")}

    cart = Cart.given_back("rc-1", "c-1", "USD", LINES, prices)

    assert [(line.sku, line.quantity, line.unit_price) for line in cart.lines] == [
        (mug.sku, 2, 1300), (tea.sku, 1, 499),
    ]  # fmt: skip
    assert cart.subtotal == 2 * 1300 + 499
    assert cart.unsold_skus(prices) == [tea.sku]
