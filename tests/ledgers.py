"""The ledger invariants every drill, the fault matrix and the money tests end with.

`ledger_violations` reads what really happened — the order streams, the sandbox providers'
ledger (every authorization, capture, void, refund, shipment once per idempotency key) and the
stock table — and lists every way in which they break the service's promise:

- money: captured - refunded at the provider equals the order's final charge (its total less
  refunds after the sale when completed, 0 when failed or cancelled), and our events say the
  same amounts as the provider;
- authorizations: none left open on a failed or cancelled order once its cleanup is done, and
  exactly the captured one on a completed order;
- shipments: none left standing on a failed or cancelled order once its cleanup is done;
- return labels: at most one at the carrier per return, at least one per label recorded;
- events: each step's event at most once per stream, `OrderPlaced` exactly once;
- stock: on hand = before - units sold by completed orders, nothing reserved once every order
  ended;
- reconciliation (`commerce/reconcile.py`): each authorization, capture, void and refund our
  events name is the provider's, by reference and amount, and the provider holds nothing we did
  not record.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

import asyncpg

from activities.sandbox_records import SandboxPaymentRecords
from commerce.reconcile import Reconciler
from domain.order import Order
from eventstore.orders import domain_events
from eventstore.store import EventStore

ONCE_PER_STREAM = (
    "OrderPlaced",
    "PaymentAuthorized",
    "InventoryReserved",
    "ShipmentCreated",
    "OrderConfirmed",
    "PaymentCaptured",
    "NotificationsSent",
    "OrderCompleted",
    "OrderFailed",
    "OrderCancelled",
    "CleanupDeferred",
    "CleanupCompleted",
)


async def ledger_violations(
    pool: asyncpg.Pool,
    order_ids: Iterable[str],
    stock_before: Mapping[str, int] | None = None,
) -> list[str]:
    """Every broken invariant among `order_ids`, one line each (empty when all hold).

    `stock_before` maps each sku the orders bought to its on-hand quantity before them; it is
    only checked when given and every order has ended.
    """
    ids = list(order_ids)
    streams = await EventStore(pool).read_streams([f"order-{i}" for i in ids])
    ledger = await pool.fetch(
        "SELECT order_id, operation, amount FROM sandbox_ledger WHERE order_id = ANY($1::text[])",
        ids,
    )
    operations: dict[str, Counter[str]] = {i: Counter() for i in ids}
    amounts: dict[str, Counter[str]] = {i: Counter() for i in ids}
    for row in ledger:
        operations[row["order_id"]][row["operation"]] += 1
        amounts[row["order_id"]][row["operation"]] += row["amount"] or 0

    problems: list[str] = []
    sold: Counter[str] = Counter()
    all_ended = True
    for order_id in ids:
        recorded = streams[f"order-{order_id}"]
        if not recorded:
            problems.append(f"{order_id}: no events")
            continue
        types = Counter(r.type for r in recorded)
        for event_type in ONCE_PER_STREAM:
            if types[event_type] > 1 or (event_type == "OrderPlaced" and types[event_type] != 1):
                problems.append(f"{order_id}: {types[event_type]} x {event_type}")
        order = Order.rehydrate(domain_events(recorded))
        ops, money = operations[order_id], amounts[order_id]
        problems += _money(order, ops, money)
        problems += _return_labels(order, ops)
        if not order.is_terminal or order.cleanup_pending:
            all_ended = False
            continue
        problems += _left_behind(order, ops)
        if order.status == "completed":
            for line in order.lines:
                sold[line.sku] += line.quantity
    if stock_before is not None and all_ended:
        problems += await _stock(pool, stock_before, sold)
    return problems + await reconciliation_mismatches(pool, ids)


async def reconciliation_mismatches(pool: asyncpg.Pool, order_ids: Iterable[str]) -> list[str]:
    """What `commerce reconcile` reports for these orders against the sandbox gateway, one line
    per mismatch."""
    report = await Reconciler(pool, SandboxPaymentRecords(pool)).reconcile_orders(list(order_ids))
    return [
        f"{m.order_id}: reconcile: {m.kind.value} {m.operation} {m.reference}"
        f" (ours {m.recorded_amount}, provider {m.provider_amount}): {m.detail}"
        for m in report.mismatches
    ]


def _money(order: Order, ops: Counter[str], money: Counter[str]) -> list[str]:
    charged = money["capture"] - money["refund"]
    problems = []
    if order.captured_amount != money["capture"] or order.refunded_total != money["refund"]:
        problems.append(
            f"{order.order_id}: events say captured {order.captured_amount} refunded"
            f" {order.refunded_total}, the provider {money['capture']} and {money['refund']}"
        )
    kept = order.total - order.refunded_total  # refunds after the sale give part of it back
    if order.status == "completed" and charged != kept:
        problems.append(f"{order.order_id}: completed, charged {charged}, kept {kept}")
    if order.status in ("failed", "cancelled") and charged != 0:
        problems.append(f"{order.order_id}: {order.status} but {charged} is still charged")
    if ops["capture"] > 1:
        problems.append(f"{order.order_id}: {ops['capture']} captures")
    return problems


def _return_labels(order: Order, ops: Counter[str]) -> list[str]:
    labelled = sum(1 for r in order.returns.values() if r.tracking_number is not None)
    if labelled <= ops["return_label"] <= len(order.returns):
        return []
    return [f"{order.order_id}: {ops['return_label']} return labels at the carrier for"
            f" {len(order.returns)} returns, {labelled} of them labelled"]  # fmt: skip


def _left_behind(order: Order, ops: Counter[str]) -> list[str]:
    """Authorizations and shipments still standing once an ended order's cleanup is done."""
    completed = order.status == "completed"
    open_authorizations = ops["authorize"] - ops["void"] - ops["capture"]
    standing_shipments = ops["ship"] - ops["cancel_shipment"]
    problems = []
    if open_authorizations != 0:
        problems.append(f"{order.order_id}: {order.status} with {open_authorizations} open auth")
    if standing_shipments != (1 if completed else 0):
        problems.append(f"{order.order_id}: {order.status} with {standing_shipments} shipments")
    return problems


async def _stock(pool: asyncpg.Pool, before: Mapping[str, int], sold: Counter[str]) -> list[str]:
    rows = await pool.fetch(
        "SELECT sku, on_hand, reserved FROM stock WHERE sku = ANY($1::text[])", list(before)
    )
    problems = []
    for row in rows:
        expected = before[row["sku"]] - sold[row["sku"]]
        if (row["on_hand"], row["reserved"]) != (expected, 0):
            problems.append(
                f"stock of {row['sku']} is (on_hand {row['on_hand']}, reserved"
                f" {row['reserved']}), expected ({expected}, 0)"
            )
    return problems


async def assert_ledgers_balance(
    pool: asyncpg.Pool, order_ids: Iterable[str], stock_before: Mapping[str, int] | None = None
) -> None:
    problems = await ledger_violations(pool, order_ids, stock_before)
    assert not problems, "ledger invariants broken:\n" + "\n".join(problems)
