"""A soak held to the issue's rule, nothing may grow per order except the data itself: result
rows of section "soak" (every sample kept, for `--json`) and the text `commerce bench --soak`
prints, each target with "ok" or "MISSED" and one verdict line.
"""

from __future__ import annotations

import dataclasses
import itertools
import statistics
from collections.abc import Sequence
from typing import Any

from commerce.bench.measure import Measurement, Row
from commerce.bench.soak import Soak

# Issue 16's soak targets. An order must cost the same at order 5,000 as at order 500: latency,
# memory and bytes that climb with the orders already placed are a leak or a scan that will
# end the service, however fast it looks in a short run.
MAX_P50_RATIO = 1.15  # last 10%'s p50 within 15% of the first 10%'s (two slices minutes apart
#                       on a shared machine move by about that much with nothing growing)
MAX_RSS_GROWTH = 0.05  # RSS growth below 5% from the warm sample to the end ...
RSS_WARM_ORDERS = 1_000  # ... the sample at order 1,000 (half way in a soak under 2,000): by
#                          then the worker's workflow cache (250 by default) and the pools are
#                          full, so what still grows is kept per order
MAX_BYTES_RATIO = 1.10  # bytes stored per order in the last 10% within 10% of the first's:
#                         every order writes the same events and rows; pages fill unevenly
LATENCY = "latency (checkout → completed)"
STORES = {  # sample field: (row name, column in the samples table)
    "event_store_bytes": ("event store (events, indexes, TOAST)", "events B/order"),
    "database_bytes": ("PostgreSQL database (pg_database_size)", "database B/order"),
    "temporal_db_bytes": ("Temporal dev server SQLite (pages in use)", "Temporal B/order"),
}


def soak_rows(soak: Soak) -> list[Row]:
    """The orders, latency, per-process RSS and per-store bytes rows, each with its target."""
    return [_orders(soak), _latency(soak), *_rss(soak), *_bytes(soak)]


def _row(kind: str, name: str, target: str, met: bool | None, **figures: Any) -> Row:
    row: Row = {"section": "soak", "kind": kind, "name": name, **figures, "target": target}
    if met is not None:
        row["target_met"] = met
    return row


def _orders(soak: Soak) -> Row:
    done = sum(s.ops for s in soak.slices)
    failed = sum(s.errors for s in soak.slices)
    elapsed = sum(s.elapsed_s for s in soak.slices)
    first_error = next((s.first_error for s in soak.slices if s.first_error), None)
    return _row(
        "orders", "orders completed", "every order completed", failed == 0,
        count=done, errors=failed, concurrency=soak.concurrency, warm_up=soak.warm_up,
        rate=round(done / elapsed, 2) if elapsed else 0.0, elapsed_s=round(elapsed, 1),
        first_error=first_error, samples=[dataclasses.asdict(s) for s in soak.samples],
    )  # fmt: skip


def _slice(orders: int, measured: Measurement) -> dict[str, Any]:
    return {"orders": orders, "count": measured.ops, "errors": measured.errors,
            "rate": round(measured.rate(), 2), "p50_ms": round(measured.percentile_ms(50), 1),
            "p99_ms": round(measured.percentile_ms(99), 1),
            "latencies_ms": [round(1000 * s, 1) for s in measured.latencies_s]}  # fmt: skip


def _ratio(last: float | None, first: float | None) -> float | None:
    return round(last / first, 3) if last is not None and first else None


def _latency(soak: Soak) -> Row:
    slices = [_slice(s.orders, m) for s, m in zip(soak.samples[1:], soak.slices, strict=True)]
    first, last = slices[0], slices[-1]
    p50_ratio = _ratio(last["p50_ms"], first["p50_ms"])
    return _row(
        "latency", LATENCY, f"last-10% p50 <= {MAX_P50_RATIO:g}x first-10%",
        p50_ratio is not None and p50_ratio <= MAX_P50_RATIO, slices=slices,
        first={"p50_ms": first["p50_ms"], "p99_ms": first["p99_ms"]},
        last={"p50_ms": last["p50_ms"], "p99_ms": last["p99_ms"]},
        p50_ratio=p50_ratio, p99_ratio=_ratio(last["p99_ms"], first["p99_ms"]),
        p50_trend_ms_per_1000=_trend([(s["orders"], s["p50_ms"]) for s in slices]),
    )  # fmt: skip


def _trend(points: list[tuple[int, float]]) -> float | None:
    """Least-squares slope of p50 against orders placed, per 1,000 orders: every slice weighs,
    where the first-to-last ratio rests on two slices and so on the machine's noise in each."""
    if len({orders for orders, _ in points}) < 2:
        return None
    xs, ys = zip(*points, strict=True)
    return round(1000 * statistics.linear_regression(xs, ys).slope, 1)


def _rss(soak: Soak) -> list[Row]:
    total = soak.samples[-1].orders
    warm = next(s for s in soak.samples if s.orders >= min(RSS_WARM_ORDERS, total // 2))
    end = soak.samples[-1]
    rows = []
    for name, pid in soak.pids.items():
        growth = end.rss_mib[name] / warm.rss_mib[name] - 1 if warm.rss_mib[name] else None
        rows.append(_row(
            "rss", f"{name} RSS (VmRSS)",
            f"growth < {MAX_RSS_GROWTH:.0%} from order {warm.orders} to {end.orders}",
            growth is not None and growth < MAX_RSS_GROWTH, process=name, pid=pid,
            samples=[{"orders": s.orders, "rss_mib": s.rss_mib[name]} for s in soak.samples],
            from_orders=warm.orders, from_mib=warm.rss_mib[name], end_mib=end.rss_mib[name],
            growth=None if growth is None else round(growth, 4),
        ))  # fmt: skip
    return rows


def _bytes(soak: Soak) -> list[Row]:
    rows = []
    for key, (name, column) in STORES.items():
        sizes = [getattr(s, key) for s in soak.samples]
        if None in sizes:  # a dev server without a file: nothing to weigh
            continue
        windows = [
            {"orders": after.orders, "bytes": grown, "bytes_per_order": round(grown / m.ops, 1)}
            for after, m, grown in zip(
                soak.samples[1:], soak.slices, (b - a for a, b in itertools.pairwise(sizes)),
                strict=True,
            )
            if m.ops
        ]  # fmt: skip
        first, last = windows[0]["bytes_per_order"], windows[-1]["bytes_per_order"]
        ratio = _ratio(last, first)
        met = ratio <= MAX_BYTES_RATIO if ratio is not None else last <= first
        rows.append(_row(
            "bytes", f"{name} bytes per order",
            f"last-10% <= {MAX_BYTES_RATIO:g}x first-10%", met, column=column, windows=windows,
            first=first, last=last, ratio=ratio,
        ))  # fmt: skip
    return rows


def soak_lines(rows: Sequence[Row]) -> str:
    """The samples, one line per 10% of the orders; each target with ok or MISSED; the verdict."""
    soak = {(row["kind"], row.get("process") or row["name"]): row
            for row in rows if row.get("section") == "soak"}  # fmt: skip
    orders, latency = soak["orders", "orders completed"], soak["latency", LATENCY]
    head = (f"# soak: {orders['count']:,} orders completed, {orders['errors']} failed, at "
            f"concurrency {orders['concurrency']} after {orders['warm_up']} warm-up orders; "
            f"{orders['elapsed_s']:,.0f} s, {orders['rate']:,.1f} orders/s")  # fmt: skip
    trend = latency["p50_trend_ms_per_1000"]
    slope = (
        [] if trend is None else [f"# p50 trend over the slices: {trend:+,.0f} ms per 1,000 orders"]
    )
    lines = [head, *_samples(orders, latency, soak), *slope, "", *_targets(list(soak.values()))]
    return "\n".join(lines)


def _samples(orders: Row, latency: Row, soak: dict[tuple[str, str], Row]) -> list[str]:
    processes = [row for (kind, _), row in soak.items() if kind == "rss"]
    stores = [row for (kind, _), row in soak.items() if kind == "bytes"]
    header = ("orders", "s", "orders/s", "p50 ms", "p99 ms",
              *(f"{row['process']} MiB" for row in processes),
              *(row["column"] for row in stores))  # fmt: skip
    lines = [header]
    for n, sample in enumerate(orders["samples"]):
        timed = latency["slices"][n - 1] if n else {}
        stored = [next((w for w in row["windows"] if w["orders"] == sample["orders"]), None)
                  for row in stores]  # fmt: skip
        lines.append((
            f"{sample['orders']:,}", f"{sample['elapsed_s']:,.0f}", _num(timed.get("rate")),
            _num(timed.get("p50_ms"), 0), _num(timed.get("p99_ms"), 0),
            *(_num(mib, 1) for mib in sample["rss_mib"].values()),
            *(_num(w["bytes_per_order"], 0) if w else "-" for w in stored),
        ))  # fmt: skip
    return _aligned(lines)


def _targets(rows: Sequence[Row]) -> list[str]:
    lines = [("measurement", "from", "to", "change", "target", "")]
    for row in rows:
        if row["kind"] == "orders":
            figures = ("", f"{row['count']:,} of {row['count'] + row['errors']:,}",
                       f"{row['errors']} failed")  # fmt: skip
        elif row["kind"] == "latency":
            first, last = row["first"], row["last"]
            figures = (f"p50 {first['p50_ms']:,.0f} / p99 {first['p99_ms']:,.0f} ms",
                       f"p50 {last['p50_ms']:,.0f} / p99 {last['p99_ms']:,.0f} ms",
                       f"p50 {_x(row['p50_ratio'])}, p99 {_x(row['p99_ratio'])}")  # fmt: skip
        elif row["kind"] == "rss":
            growth = "-" if row["growth"] is None else f"{row['growth']:+.1%}"
            figures = (f"{row['from_mib']:,.1f} MiB", f"{row['end_mib']:,.1f} MiB", growth)
        else:
            figures = (f"{row['first']:,.0f} B", f"{row['last']:,.0f} B", _x(row["ratio"]))
        verdict = ("ok" if row["target_met"] else "MISSED") if "target_met" in row else ""
        lines.append((row["name"], *figures, row["target"], verdict))
    missed = [row["name"] for row in rows if row.get("target_met") is False]
    verdict = (
        "MISSED: " + "; ".join(missed) if missed else "ok, nothing grew per order but the data"
    )
    return [*_aligned(lines), f"soak verdict: {verdict}"]


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _x(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.2f}x"


def _aligned(lines: Sequence[tuple[str, ...]]) -> list[str]:
    """Columns padded to their widest cell: text left, figures right, a rule under the header."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    text = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                      for i, (c, w) in enumerate(zip(line, widths, strict=True))).rstrip()
            for line in lines]  # fmt: skip
    return [text[0], "  ".join("-" * w for w in widths), *text[1:]]
