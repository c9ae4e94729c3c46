"""`commerce reconcile [--since DATE] [--json]`: exit 0 when our records and the payment
provider's agree, 1 when any mismatch is found, 2 when reconciliation could not run."""

from __future__ import annotations

import sys
from datetime import datetime

import asyncpg
from pydantic import TypeAdapter, ValidationError

from commerce.connections import Unreachable, create_pool
from commerce.reconcile import (
    REPORT_JSON,
    Reconciler,
    ReconciliationReport,
    ReconciliationUnavailable,
    payment_records,
)
from commerce.settings import Settings

CLEAN, MISMATCHES, COULD_NOT_RUN = 0, 1, 2
_MOMENT = TypeAdapter(datetime)


def parse_since(text: str) -> datetime:
    """A date (`2025-06-01`, midnight UTC) or an RFC 3339 time; raises ValueError."""
    try:
        return _MOMENT.validate_python(text)
    except ValidationError as error:
        raise ValueError(f"--since {text!r} is not a date or an RFC 3339 time") from error


async def run_reconcile(settings: Settings, since: str | None, as_json: bool) -> int:
    try:
        moment = parse_since(since) if since else None
        pool = await create_pool(settings)
    except (ValueError, Unreachable) as error:
        print(f"commerce reconcile: {error}", file=sys.stderr)
        return COULD_NOT_RUN
    try:
        report = await Reconciler(pool, payment_records(settings, pool)).reconcile(moment)
    except ReconciliationUnavailable as error:
        print(f"commerce reconcile: the payment provider did not answer: {error}", file=sys.stderr)
        return COULD_NOT_RUN
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        print(f"commerce reconcile: the database failed: {error}", file=sys.stderr)
        return COULD_NOT_RUN
    finally:
        await pool.close()
    print(REPORT_JSON.dump_json(report, indent=2).decode() if as_json else _text(report))
    return CLEAN if report.clean else MISMATCHES


def _text(report: ReconciliationReport) -> str:
    scope = f"placed since {report.since.isoformat()}" if report.since else "all orders"
    lines = [
        f"{report.orders_checked} order(s) reconciled ({scope}), {report.orders_in_flight} still"
        f" in flight: {len(report.mismatches) or 'no'} mismatch(es)"
    ]
    if report.mismatches:
        lines.append("  ".join(f"{k} {n}" for k, n in report.counts.items()))
        for m in report.mismatches:
            amounts = (
                f"ours {_amount(m.recorded_amount)}, provider {_amount(m.provider_amount)}"
                f" {m.currency or ''}".rstrip()
            )
            lines.append(
                f"{m.kind.value:<20} order {m.order_id}  {m.operation} {m.reference}"
                f"  ({amounts}): {m.detail}"
            )
    return "\n".join(lines)


def _amount(value: int | None) -> str:
    return "-" if value is None else str(value)
