"""Orders driven into each reachable state, and every command with valid arguments."""

from collections.abc import Callable

from domain.events import OrderLine, ShippingAddress
from domain.order import Order

LINES = (
    OrderLine(sku="SKU-1", name="Mug", quantity=2, unit_price=1250),
    OrderLine(sku="SKU-2", name="Tea", quantity=1, unit_price=499),
)
ADDRESS = ShippingAddress(
    name="Ada Lovelace", line1="1 Analytical St", city="London", postal_code="N1 9GU", country="GB"
)


def placed() -> Order:
    return Order.place("o-1", "c-1", "cart-1", "USD", LINES, ADDRESS)


Command = Callable[[Order], None]

# Every command, by name, with arguments a saga would pass in a valid call.
COMMANDS: dict[str, Command] = {
    "authorize_payment": lambda o: o.authorize_payment("auth-1", o.total),
    "reserve_inventory": lambda o: o.reserve_inventory("res-1"),
    "create_shipment": lambda o: o.create_shipment("ship-1", "TRACK-1"),
    "confirm": lambda o: o.confirm(),
    "capture_payment": lambda o: o.capture_payment("cap-1", o.total),
    "record_notifications": lambda o: o.record_notifications(("email",)),
    "complete": lambda o: o.complete(),
    "stall": lambda o: o.stall("step", "timeout"),
    "resume": lambda o: o.resume(o.stalled_step or "step"),
    "start_compensation": lambda o: o.start_compensation("declined", "capture_payment"),
    "request_cancellation": lambda o: o.request_cancellation("changed my mind"),
    "void_payment": lambda o: o.void_payment(),
    "release_reservation": lambda o: o.release_reservation(),
    "cancel_shipment": lambda o: o.cancel_shipment(),
    "fail": lambda o: o.fail("declined", "authorize_payment"),
    "mark_cancelled": lambda o: o.mark_cancelled("changed my mind"),
    "propose_amendment": lambda o: o.propose_amendment(["SKU-1"]),
    "accept_amendment": lambda o: o.accept_amendment(),
    "expire_amendment": lambda o: o.expire_amendment(86400),
    "reauthorize_payment": lambda o: o.reauthorize_payment("auth-2", o.total),
    "record_found_capture": lambda o: o.record_found_capture("cap-1", o.total),
    "require_payment_action": lambda o: o.require_payment_action("pi-1", "3ds", "pi-1_secret"),
    "expire_payment_action": lambda o: o.expire_payment_action(1800),
    "refund_payment": lambda o: o.refund_payment("ref-1", o.net_captured or 1, "cancelled"),
    "defer_cleanup": lambda o: o.defer_cleanup(["create_shipment"]),
    "request_refund": lambda o: o.request_refund("r-1", 100, "goodwill"),
    "settle_refund": lambda o: o.settle_refund("r-1", "re_1"),
    "fail_refund": lambda o: o.fail_refund("r-1", "declined"),
    "complete_cleanup": lambda o: o.complete_cleanup(),
}

FORWARD = [
    "authorize_payment",
    "reserve_inventory",
    "create_shipment",
    "confirm",
    "capture_payment",
    "complete",
]


def drive(*commands: str) -> Order:
    order = placed()
    for name in commands:
        COMMANDS[name](order)
    return order


ALL_UNDO = ("cancel_shipment", "release_reservation", "void_payment")
FORWARD_ONLY = {"stall", "start_compensation", "request_cancellation"}
# What a completed order still allows: a cancel until dispatch, refunds of its capture.
AFTER_SALE = {"request_cancellation", "request_refund"}
# A capture may be in doubt once the order is confirmed: found later, it is recorded.
IN_DOUBT = "record_found_capture"

# scenario name -> (commands that lead there, commands allowed there)
SCENARIOS: dict[str, tuple[tuple[str, ...], set[str]]] = {
    "pending": ((), {"authorize_payment", "require_payment_action", "fail", *FORWARD_ONLY}),
    "awaiting_payment": (
        ("require_payment_action",),
        {
            "authorize_payment",
            "expire_payment_action",
            "start_compensation",
            "request_cancellation",
        },
    ),
    "payment_authorized": (
        tuple(FORWARD[:1]),
        {"reserve_inventory", "propose_amendment", *FORWARD_ONLY},
    ),
    "awaiting_customer": (
        (*FORWARD[:1], "propose_amendment"),
        {"accept_amendment", "expire_amendment", "start_compensation", "request_cancellation"},
    ),
    "amendment_accepted": (
        (*FORWARD[:1], "propose_amendment", "accept_amendment"),
        # A gateway that captures less keeps the authorization: reserving goes on at once.
        {"reauthorize_payment", "reserve_inventory", *FORWARD_ONLY},
    ),
    "amendment_reauthorized": (
        (*FORWARD[:1], "propose_amendment", "accept_amendment", "reauthorize_payment"),
        {"reserve_inventory", *FORWARD_ONLY},
    ),
    "amendment_expired": (
        (*FORWARD[:1], "propose_amendment", "expire_amendment"),
        {"start_compensation", "request_cancellation"},
    ),
    "inventory_reserved": (tuple(FORWARD[:2]), {"create_shipment", *FORWARD_ONLY}),
    "shipment_created": (tuple(FORWARD[:3]), {"confirm", *FORWARD_ONLY}),
    "confirmed": (tuple(FORWARD[:4]), {"capture_payment", *FORWARD_ONLY}),
    "payment_captured": (
        tuple(FORWARD[:5]),
        {"record_notifications", "complete", "stall", "request_cancellation"},
    ),
    "notified": (
        (*FORWARD[:5], "record_notifications"),
        {"complete", "stall", "request_cancellation"},
    ),
    "completed": (tuple(FORWARD), AFTER_SALE),
    "refund_requested": (
        (*FORWARD, "request_refund"),
        {"settle_refund", "fail_refund", "request_cancellation"},
    ),
    "stalled_before_capture": (
        (*FORWARD[:2], "stall"),
        {"resume", "start_compensation", "request_cancellation"},
    ),
    "stalled_at_capture": (
        (*FORWARD[:4], "stall"),
        {"resume", "start_compensation", "request_cancellation", IN_DOUBT},
    ),
    "stalled_after_capture": ((*FORWARD[:5], "stall"), {"resume", "request_cancellation"}),
    "compensating_nothing_done": (("start_compensation",), {"fail", "defer_cleanup"}),
    "compensating_after_failure": (
        (*FORWARD[:4], "start_compensation"),
        {"fail", "defer_cleanup", IN_DOUBT, *ALL_UNDO},
    ),
    "compensating_after_cancel": (
        (*FORWARD[:4], "request_cancellation"),
        {"fail", "mark_cancelled", "defer_cleanup", IN_DOUBT, *ALL_UNDO},
    ),
    "cancelling_after_capture": (
        (*FORWARD[:5], "request_cancellation"),
        {
            "refund_payment",
            "request_refund",
            "cancel_shipment",
            "release_reservation",
            "defer_cleanup",
        },
    ),
    "all_undone": (
        (*FORWARD[:4], "start_compensation", *ALL_UNDO),
        {"fail", "defer_cleanup", IN_DOUBT},
    ),
    "cancelled_with_cleanup_pending": (
        (*FORWARD[:3], "request_cancellation", "defer_cleanup", "mark_cancelled"),
        {"complete_cleanup", *ALL_UNDO},
    ),
    "failed": (("fail",), set()),
    "cancelled": (("request_cancellation", "mark_cancelled"), set()),
}
